#!/usr/bin/env python3
"""Prints this run's cold starts beside BENCHMARKS.md's (infra/scripts/bench --cold-starts-only).

A change that moves code between crates must not make a function start slower or larger
than the machine's noise; the floors (hello-world binaries that did not change) measured in
the same run show how large that noise is today.
"""

import json
import statistics
import sys

import os

HEADER = "| binary | floor | init ms |"
SIZE_HEADER = "| binary | size MB | zip MB |"


def table(benchmarks: str, header: str) -> dict:
    """The rows of the BENCHMARKS.md table under `header`: label -> its cells."""
    rows, inside = {}, False
    for line in open(benchmarks, encoding="utf-8"):
        if line.startswith(header):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0].startswith("---"):
                continue
            rows[cells[0].strip("`")] = cells
    return rows


def recorded(benchmarks: str) -> dict:
    """The cold-start table: label -> (init ms, cold ms, peak RSS MB)."""
    return {
        label: (float(c[2]), float(c[4]), float(c[6]))
        for label, c in table(benchmarks, HEADER).items()
    }


def sizes(benchmarks: str, release_dir: str) -> None:
    """Each binary's size now beside the recorded one (MB of 10^6 bytes, as recorded)."""
    print("| binary | size MB: recorded → now |")
    print("|---|---|")
    ratios = []
    for label, cells in table(benchmarks, SIZE_HEADER).items():
        path = os.path.join(release_dir, label)
        if not os.path.exists(path):
            continue
        now = os.path.getsize(path) / 1e6
        ratios.append(now / float(cells[1]))
        print(f"| `{label}` | {float(cells[1]):.2f} → {now:.2f} |")
    if ratios:
        print(f"\n- sizes ({len(ratios)}): median now/recorded {statistics.median(ratios):.3f}×, largest {max(ratios):.3f}×\n")


def main() -> int:
    if len(sys.argv) > 3:
        sizes(sys.argv[1], sys.argv[3])
    before = recorded(sys.argv[1])
    now = {}
    for line in open(sys.argv[2], encoding="utf-8"):
        d = json.loads(line)
        now[d["label"]] = (float(d["init_ms"]), float(d["cold_ms"]), d["peak_rss_kib"] / 1024)
    print("| binary | init ms: recorded → now | cold request ms: recorded → now | peak RSS MB: recorded → now |")
    print("|---|---|---|---|")
    ratios = {"floor": [], "function": []}
    for label, (init, cold, rss) in now.items():
        if label not in before:
            continue
        b_init, b_cold, b_rss = before[label]
        kind = "floor" if label.startswith("floor") else "function"
        ratios[kind].append((init / b_init, cold / b_cold, rss / b_rss))
        print(f"| `{label}` | {b_init:.3f} → {init:.3f} | {b_cold:.3f} → {cold:.3f} | {b_rss:.1f} → {rss:.1f} |")
    print()
    for kind, values in ratios.items():
        if values:
            init, cold, rss = (statistics.median(v[i] for v in values) for i in range(3))
            print(f"- {kind}s ({len(values)}): median now/recorded: init {init:.2f}×, cold request {cold:.2f}×, peak RSS {rss:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
