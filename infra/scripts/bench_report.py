#!/usr/bin/env python3
"""Renders BENCHMARKS.md from what infra/scripts/bench measured (target/bench/)."""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import elf  # noqa: E402  (beside this script)

out = Path(sys.argv[1])
root = Path(__file__).resolve().parents[2]
release = root / "target" / "release"
functions = out.joinpath("functions").read_text().split()
needs = json.loads(out.joinpath("needs.json").read_text())


def starts(name):
    """The JSON lines of `out/name`, one start or one median each; none when an older run
    did not write the file."""
    path = out / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


cold = {d["label"]: d for d in starts("coldstart.jsonl")}
# every start of the interleaved rounds, in order: the n-th start of each label is round n
rounds = {}
for d in starts("coldstart-samples.jsonl"):
    rounds.setdefault(d["label"], []).append(d)


def paired(label, key):
    """The median over rounds of `label`'s figure over `floor-aws`'s in the same round: the
    machine's slow and fast spells then land on both sides of each ratio. None for a label
    not started in every round beside the floor (the erasure runs on its own)."""
    mine, floor = rounds.get(label, []), rounds.get("floor-aws", [])
    if len(mine) < 2 or len(mine) != len(floor):
        return None
    ratios = sorted(float(m[key]) / float(f[key]) for m, f in zip(mine, floor))
    return ratios[max(-(-len(ratios) // 2) - 1, 0)]  # nearest rank, as the medians above


# the pass through the timing relay (the cold request less the table's answer); older runs lack it
timed = {d["label"]: d for d in starts("coldstart-timed.jsonl")}


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=root).stdout.strip()
    except OSError:
        return "?"


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def mem_gib():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def zip_size(path):
    target = out / (path.name + ".zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return target.stat().st_size


def mb(n):
    return f"{n / 1_000_000:.2f}"


def floor_for(binary):
    """The floor a function is compared with: the hello-world when it builds no AWS client,
    else the AWS floor trimmed as the functions are (`-lean`) and built with the same
    clients (DynamoDB, and S3 and SQS when it uses the bucket or the queue)."""
    if binary.startswith("floor-"):
        return binary
    n = needs.get(binary, {})
    # the bucket's addresses alone (`Needs::file_urls`) still link the S3 client to sign
    bucket = n.get("blobs") or n.get("file_urls")
    if not (n.get("store") or bucket or n.get("queue")):
        return "floor-hello"
    extra = [c for c, used in (("s3", bucket), ("sqs", n.get("queue"))) if used]
    return "-".join(["floor-aws-lean"] + extra)


def start_floor_for(binary):
    """The floor a function's start is compared with: its floor without the S3 client, which
    the functions build on first use (`S3Blobs`), not at start; they still link it, so
    their size is held to the floor with it."""
    if binary.startswith("floor-"):
        return binary
    return floor_for(binary).replace("-s3", "")


def verdict(ok):
    return "yes" if ok else "**no**"


def release_profile():
    """The workspace release profile as one line, read from Cargo.toml (not restated)."""
    p = tomllib.loads((root / "Cargo.toml").read_text())["profile"]["release"]
    lto = p.get("lto", False)
    lto = {"fat": "fat LTO", True: "fat LTO", "thin": "thin LTO"}.get(lto, "no cross-crate LTO")
    return (f"{lto}, {p.get('codegen-units', 16)} codegen unit(s), strip={p.get('strip', 'none')}, "
            f"panic={p.get('panic', 'unwind')}, opt-level {p.get('opt-level', 3)}")


def criterion_medians(folder):
    """{benchmark id: median ns} of the criterion results under `folder`."""
    medians = {}
    for bench in sorted(folder.rglob("new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads(bench.with_name("estimates.json").read_text())
        medians[meta["full_id"]] = est["median"]["point_estimate"]
    return medians


def duration(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def seconds(n):
    n = int(n)
    return f"{n // 60} min {n % 60} s"


lines = []
w = lines.append
commit = out.joinpath("commit").read_text().strip()
dirty = " (with uncommitted changes)" if out.joinpath("changes").read_text().strip() else ""
w("# Benchmarks")
w("")
w(f"Produced by `infra/scripts/bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
  f"commit `{commit}`{dirty}. Every figure below comes from that one run; "
  "ratios compare figures of the same run, since this shared 2-core machine is noisy "
  "(between runs, the same binary's init moves by about 0.3 ms).")
w("")
w(f"- machine: {cpu_model()}, {os.cpu_count()} cores, {mem_gib()}, {platform.system()} {platform.release()} ({platform.machine()})")
w(f"- toolchain: {sh('rustc', '--version')}; profile `release`: {release_profile()}")
build_s = int(out.joinpath('build_seconds').read_text())
total_s = int(out.joinpath('total_seconds').read_text())
w(f"- release build of every binary: {seconds(build_s)}; the whole command: {seconds(total_s)} (target: under 20 minutes on 2 cores)")
w("")
summary_at = len(lines)

# ---- sizes
aws = release / "floor-aws"
aws_size = aws.stat().st_size
w("## 1. Binary size (x86_64 release; the Lambda zip holds one file, `bootstrap`)")
w("")
w("Target: no larger than the AWS floor with the same clients + 20%. `floor-aws` builds "
  "aws-config and a DynamoDB client; `floor-aws-s3`, `-sqs` and `-s3-sqs` add the S3 and SQS "
  "clients for the functions that use the bucket or the queue; the `-lean` floors start as "
  "every function does (`runcrew_shared::aws`, a current-thread runtime) and are the ones "
  "the functions are held to.")
w("")
w("| binary | size MB | zip MB | floor | vs floor | within target |")
w("|---|---|---|---|---|---|")
floors = ["floor-hello", "floor-aws", "floor-aws-s3", "floor-aws-sqs", "floor-aws-s3-sqs",
          "floor-aws-lean", "floor-aws-lean-s3", "floor-aws-lean-sqs", "floor-aws-lean-s3-sqs",
          "floor-aws-lean-pie", "floor-aws-lean-dynamic", "floor-2022", "floor-aws-bundled-roots"]
misses = {"size": [], "init": [], "cold": [], "rss": [], "trips": [],
          "lean_init": [], "lean_cold": [], "y2022_init": [], "y2022_cold": [],
          "paired_init": [], "paired_cold": []}
paired_seen = {"init": [], "cold": []}  # the paired ratios of the functions held to them
binary_sizes = {}  # name → bytes, for the size table and init against size
zip_sizes = {}  # name → bytes of its Lambda zip, made once
for name in floors + functions:
    p = release / name
    if not p.exists():
        continue
    size = binary_sizes[name] = p.stat().st_size
    # a function with no AWS client is held to the AWS floor, as the target says
    floor = floor_for(name).replace("floor-hello", "floor-aws-lean")
    if not (release / floor).exists():
        floor = "floor-aws" if floor.startswith("floor-aws") else floor
    floor_size = (release / floor).stat().st_size
    ok = size <= floor_size * 1.2
    if not name.startswith("floor") and not ok:
        misses["size"].append(f"`{name}` {size / floor_size:.2f}× `{floor}`")
    zip_sizes[name] = zip_size(p)
    w(f"| `{name}` | {mb(size)} | {mb(zip_sizes[name])} | "
      f"{'—' if name.startswith('floor') else '`' + floor + '`'} | "
      f"{'—' if name.startswith('floor') else f'{size / floor_size:.2f}×'} | "
      f"{'—' if name.startswith('floor') else verdict(ok)} |")
w("")
starts = {n: elf.read(release / n) for n in binary_sizes}
fixed = sorted(n for n in binary_sizes if starts[n] and starts[n].fixed_address)
moving = sorted(n for n in binary_sizes if n not in fixed)
fixed_functions = [n for n in fixed if not n.startswith("floor")]
w(f"Linked at a fixed address (`runcrew-build`; README, \"Cold starts\"): {len(fixed_functions)} of "
  f"{len([n for n in binary_sizes if not n.startswith('floor')])} functions and "
  f"{', '.join(f'`{n}`' for n in fixed if n.startswith('floor')) or 'no floor'}. Position-independent, "
  f"as rustc links by default: {', '.join(f'`{n}`' for n in moving) or 'none'}. A fixed-address "
  "binary has no relocation table (`.rela.dyn`), about 0.8 MB of a function.")
w("")
static = sorted(n for n in binary_sizes if starts[n] and starts[n].statically_linked)
static_functions = [n for n in static if not n.startswith("floor")]
w(f"Statically linked, with no dynamic loader (`infra/scripts/sam-build`; README, \"Cold starts\"): "
  f"{len(static_functions)} of {len([n for n in binary_sizes if not n.startswith('floor')])} "
  f"functions and {', '.join(f'`{n}`' for n in static if n.startswith('floor')) or 'no floor'}; "
  f"the other floors are dynamically linked, as rustc links by default."
  + (f" The C library inside the binary: `floor-aws-lean` is "
     f"{(binary_sizes['floor-aws-lean'] - binary_sizes['floor-aws-lean-dynamic']) / 1e6:.2f} MB "
     "larger than `floor-aws-lean-dynamic`."
     if {"floor-aws-lean", "floor-aws-lean-dynamic"} <= binary_sizes.keys() else ""))
w("")

# ---- cold starts
fh, fa = cold["floor-hello"], cold["floor-aws"]
y2022 = cold.get("floor-2022")  # issue 20's yardstick, absent from older runs
lean_pie = cold.get("floor-aws-lean-pie")  # the fixed-address link's counterpart, likewise
lean_dynamic = cold.get("floor-aws-lean-dynamic")  # the static link's counterpart, likewise
w(f"## 2–3. Cold start and peak memory (median of {fa['runs']} starts)")
w("")
if fa.get("interleaved"):
    w(f"The starts are interleaved: {fa['runs']} rounds, each starting every binary once (the "
      "erasure, `users-me-delete`, runs last on its own), so a burst of background work on "
      "this shared machine lands on one start of many binaries rather than on every start "
      "of one.")
    w("")
w("Each start: exec of the binary → its first `GET /runtime/invocation/next` (**init**) → its "
  "first response (**cold request**), against a loopback Runtime API (`infra/bench`, "
  "`bench-coldstart`, which takes any Lambda binary and event) with DynamoDB Local as the table "
  "and moto as the bucket and the push queue. Peak RSS is `VmHWM` after the first response. "
  "The floors are built with the same profile: `floor-hello` (plain lambda_http) for "
  "functions that build no AWS client, `floor-aws` (aws-config's default chains + a DynamoDB "
  "client, one GetItem per request) and its variants with the S3 and SQS clients, each also "
  "as `-lean`: the same clients built the way every function builds them "
  "(`runcrew_shared::aws`: on Lambda the configuration from the environment and an HTTPS "
  "client trusting the Amazon roots compiled in; a current-thread runtime; linked "
  "statically, at a fixed address, as the deploy links the functions), "
  "`floor-aws-lean-pie`, the lean floor linked position-independent as rustc links a static "
  "build (`-static-pie`): the difference is what the fixed-address link saves, and "
  "`floor-aws-lean-dynamic`, the lean floor dynamically linked (at a fixed address): the "
  "difference is what the static link saves. Every start has "
  "`SSL_CERT_FILE` at the one bundle, as template.yaml sets it (but the platform-roots row "
  "of the TLS table). `floor-2022` is issue 20's yardstick, a lean function as AWS's Rust "
  "samples wrote it in early 2022: `aws-config` and `aws-sdk-dynamodb` 0.7, `lambda_http` "
  "0.5, the default chains, one GetItem per request, the same release profile "
  "(`infra/bench/floor-2022`, a workspace of its own).")
w("")
w("Targets: init ≤ 1.3× its floor; cold request ≤ 1.3× its AWS floor's (for functions whose "
  "first request is one DynamoDB read and no call to the bucket, as the floor's: section 4's "
  "store and bucket calls); peak RSS ≤ 16 MB. And against the untrimmed "
  "`floor-aws` of the same run (issue 20): every function with an AWS client starts (init) "
  "in ≤ 0.7× its init, and the one-read functions answer their cold request in ≤ 0.75× its "
  "cold request; and, the comparison the issue's title makes, no later than `floor-2022` "
  "(init for every function with an AWS client, the cold request for the one-read ones).")
w("")
w("| binary | floor | init ms | init / floor | cold request ms | cold / its AWS floor | init / `floor-aws` | cold / `floor-aws` | peak RSS MB | status | targets met |")
w("|---|---|---|---|---|---|---|---|---|---|---|")
for label in floors[:-1] + functions:
    d = cold.get(label)
    if not d:
        continue
    floor = cold.get(start_floor_for(label), fa)
    init, c = float(d["init_ms"]), float(d["cold_ms"])
    rss = d["peak_rss_kib"] / 1024
    ratio_init = init / float(floor["init_ms"])
    aws_floor = start_floor_for(label).startswith("floor-aws")
    cold_floor = floor if aws_floor else cold.get("floor-aws-lean", fa)
    ratio_cold = c / float(cold_floor["cold_ms"])
    # against the untrimmed floor-aws (issue 20)
    vs_init, vs_cold = init / float(fa["init_ms"]), c / float(fa["cold_ms"])
    if label.startswith("floor"):
        met = "—"
    else:
        one_read = needs.get(label, {}).get("one_read", False)
        if ratio_init > 1.3:
            misses["init"].append(f"`{label}` {ratio_init:.2f}×")
        if rss > 16:
            misses["rss"].append(f"`{label}` {rss:.1f} MB")
        if one_read and ratio_cold > 1.3:
            misses["cold"].append(f"`{label}` {ratio_cold:.2f}×")
        lean_ok = True
        if aws_floor and vs_init > 0.7:
            misses["lean_init"].append(f"`{label}` {vs_init:.2f}×")
            lean_ok = False
        if aws_floor and one_read and vs_cold > 0.75:
            misses["lean_cold"].append(f"`{label}` {vs_cold:.2f}×")
            lean_ok = False
        # the same ratios taken round by round (informative: the targets are the above)
        pi, pc = paired(label, "init_ms"), paired(label, "cold_ms")
        if aws_floor and pi is not None:
            paired_seen["init"].append(pi)
            if pi > 0.7:
                misses["paired_init"].append(f"`{label}` {pi:.2f}×")
        if aws_floor and one_read and pc is not None:
            paired_seen["cold"].append(pc)
            if pc > 0.75:
                misses["paired_cold"].append(f"`{label}` {pc:.2f}×")
        # the 2022-era yardstick, reported beside the ratios rather than folded into them
        if y2022 and aws_floor and init > float(y2022["init_ms"]):
            misses["y2022_init"].append(f"`{label}` {init / float(y2022['init_ms']):.2f}×")
        if y2022 and aws_floor and one_read and c > float(y2022["cold_ms"]):
            misses["y2022_cold"].append(f"`{label}` {c / float(y2022['cold_ms']):.2f}×")
        ok = ratio_init <= 1.3 and rss <= 16 and (not one_read or ratio_cold <= 1.3) and lean_ok
        met = verdict(ok)
    w(f"| `{label}` | `{start_floor_for(label)}` | {d['init_ms']} | {ratio_init:.2f}× | "
      f"{d['cold_ms']} | {ratio_cold:.2f}× | {vs_init:.2f}× | {vs_cold:.2f}× | {rss:.1f} | "
      f"{d['status']} | {met} |")
w("")
# the cold request less DynamoDB Local's answer, from the pass through the timing relay
one_reads = [f for f in functions if f in timed and needs.get(f, {}).get("one_read")
             and start_floor_for(f).startswith("floor-aws")]
own_floors = [f for f in ("floor-aws", "floor-aws-lean", "floor-aws-lean-pie", "floor-aws-lean-dynamic", "floor-2022") if f in timed]
own_ratios = []  # (cold request without the table's answer / floor-aws's, function)
if "floor-aws" in timed and one_reads:
    tfa, ty = timed["floor-aws"], timed.get("floor-2022")
    w("### The cold request without the table's answer")
    w("")
    w(f"A pass of its own ({tfa['runs']} rounds, after the starts above): a loopback relay "
      "between each start and DynamoDB Local (`bench-coldstart --time-table`, "
      "`runcrew_bench::table_timer`) times the table's answers, from the last byte of a "
      "request to the first byte of its answer. DynamoDB Local answers a GetItem that finds "
      "nothing, the floors' request, sooner than a Query, a write or an item it must find, "
      "and its answer moves by milliseconds from start to start; the rest of the cold "
      "request (exec, init, the handler and the SDK's work on both sides of the call) is the "
      "binary's. The relay's own hops lengthen every start in this pass (the table's answer "
      "most, as the relay needs the CPU that the start and DynamoDB Local share on this "
      "machine), so its figures compare with each other, not with the table above.")
    w("")
    w("| binary | cold request ms | the table's answer ms | without it ms | × `floor-aws`'s | × `floor-2022`'s |")
    w("|---|---|---|---|---|---|")
    own_fa = float(tfa["own_ms"])
    own_y = float(ty["own_ms"]) if ty else None
    for f in own_floors + one_reads:
        d = timed[f]
        own = float(d["own_ms"])
        if f in one_reads:
            own_ratios.append((own / own_fa, f))
        w(f"| `{f}` | {d['cold_ms']} | {d['table_ms']} | {d['own_ms']} | {own / own_fa:.2f}× | "
          f"{f'{own / own_y:.2f}×' if own_y else '—'} |")
    w("")
    over = [f"`{f}` {r:.2f}×" for r, f in sorted(own_ratios, reverse=True) if r > 0.75]
    w(f"Without the table's answer, the one-read functions' cold request is "
      f"{min(own_ratios)[0]:.2f}–{max(own_ratios)[0]:.2f}× `floor-aws`'s"
      + (f"; over 0.75×: {', '.join(over)}." if over else ", all within 0.75×."))
    w("")
w("TLS roots: with its default set-up the AWS SDK loads the platform roots when its first "
  "client is built (rustls-native-certs reads every file under `/etc/ssl/certs`, or the one "
  "bundle `SSL_CERT_FILE` names) and parses them again for the first connection. The "
  "alternatives, the same `floor-aws` otherwise: Mozilla's roots compiled in "
  "(`webpki-root-certs`, handed to the SDK's trust store as PEM), and the lean floor's five "
  "Amazon roots compiled in:")
w("")
w("| start | init ms | cold request ms |")
w("|---|---|---|")
for label, name in [("platform roots (every file under `/etc/ssl/certs`)", "floor-aws, platform roots"),
                    ("`SSL_CERT_FILE` at the one bundle", "floor-aws"),
                    ("Mozilla's roots compiled in", "floor-aws + bundled roots"),
                    ("`floor-aws-lean`: Amazon's roots compiled in, no chains, current-thread", "floor-aws-lean")]:
    d = cold.get(name)
    if d:
        w(f"| {label} | {d['init_ms']} | {d['cold_ms']} |")
w("")
sentry_rows = [(f, f"{f} + SENTRY_DSN") for f in ("healthz", "courses-get", "users-me-get")]
if any(cold.get(with_) for _, with_ in sentry_rows):
    w("Error reports: the same binaries as a deploy with reports on runs them (`SENTRY_DSN` "
      "set and production's 10% trace sampling) and without, as every row above runs. The "
      "functions link no Sentry client: `error-reports` reads their error and traced lines "
      "from the log group (functions/reports), so the two columns differ by noise only.")
    w("")
    w("| binary | init ms without | init ms with | cold request ms without | cold request ms with | peak RSS MB with |")
    w("|---|---|---|---|---|---|")
    for without, with_ in sentry_rows:
        a, b = cold.get(without), cold.get(with_)
        if a and b:
            w(f"| `{without}` | {a['init_ms']} | {b['init_ms']} | {a['cold_ms']} | "
              f"{b['cold_ms']} | {b['peak_rss_kib'] / 1024:.1f} |")
    w("")
breakdown = out / "init-breakdown.md"
if breakdown.exists():
    w("### Where a cold start goes")
    w("")
    w("`bench-init` starts a process that does what an AWS function does before and during "
      "its first request, step by step, and times each step (wall clock from the spawn to "
      "`main`, then the monotonic clock), against the same DynamoDB Local. The Lambda "
      "runtime's own part (its client to the Runtime API and the first poll) is the same in "
      "every variant and is what `floor-hello` measures above; the spawn-to-`main` step is "
      "this 20 MB tool's own, larger than a function's.")
    w("")
    w(breakdown.read_text().strip())
    w("")
    w("The SDK's default set-up spends its time in the provider chains and the roots: "
      "`aws_config::defaults(..).load()` walks the region and credential chains and reads the "
      "profile files, and the first client built loads and parses the platform roots, which "
      "the first connection parses again. Inside Lambda the region and the role's "
      "credentials are environment variables the chain would stop at anyway, and every AWS "
      "endpoint chains to an Amazon root, so `runcrew_shared::aws` builds the configuration "
      "from them directly with the five Amazon roots compiled in. A current-thread runtime "
      "starts no worker threads, and the first call's wake-ups stay on one thread.")
    w("")

# ---- routes
w("## 4. Per-route warm latency and store round trips")
w("")
w("Target: read routes ≤ 2 store round trips. Counted in the adapter (`CountingStore`): one "
  "call is one request to DynamoDB (a transaction is one TransactWriteItems); **sequential "
  "rounds** counts calls one after another (calls made together, `tokio::join!`, share a "
  "round), which is what the route's latency pays. A `GET` route's writes are its audit "
  "record or rate limit, not reads. **Bucket calls** (`CountingBlobs`): the most requests "
  "one call made to the bucket; signing a URL is none.")
w("")
w(out.joinpath("routes.md").read_text().strip())
w("")
for binary, n in sorted(needs.items()):
    if n.get("route", "").startswith("GET ") and n.get("reads", [0, 0])[1] > 2:
        misses["trips"].append(f"`{binary}` {n['reads'][1]} reads")

# ---- throughput
def wrk(name):
    text = out.joinpath(name).read_text()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    return (rps.group(1) if rps else "?", p99.group(1) if p99 else "?",
            total.group(1) if total else "?", errors)


w("## 4b. Projector throughput")
w("")
w("`bench-projector` (release): 2,000 runs by 50 runners on 20 courses written first, then the "
  "table's stream read from its start in batches of 100 (the template's `BatchSize`) and "
  "handed to the projector as Lambda would; only that part is timed. Store calls counted in "
  "the adapter. The embedded store is a file (fsync per write); DynamoDB Local runs on the "
  "same machine, so its figures are a floor on round trips, not AWS latency.")
w("")
w(out.joinpath("projector.md").read_text().strip())
w("")

w("## 4c. Push throughput")
w("")
w("`bench-push` (release): 1,000 push jobs, each for its own person with one Android device, "
  "handed to the `push` function's handler in batches of 10 (the template's `BatchSize`), "
  "against a fake Google on 127.0.0.1 (token endpoint and FCM, `runcrew-fcm-fake`) and the "
  "in-memory table. Per job: settings and devices read, a claim written, one FCM request. "
  "The fake shares the machine, so sends per second are a bound of our side, not FCM's.")
w("")
w(out.joinpath("push.md").read_text().strip())
w("")

w("## 4d. Strava import throughput")
w("")
w("`bench-strava` (release): one athlete with 1,000 runs on the Strava fake (127.0.0.1), "
  "imported by `strava-import`'s own code as a sync-all: pages of 200 newest first, each run "
  "written with its import key, path and totals in one transaction, into the in-memory table.")
w("")
w(out.joinpath("strava.md").read_text().strip())
w("")

w("## 5. Local gateway throughput")
w("")
w("`runcrew-local` (release) on 127.0.0.1 with the embedded store, `wrk -t2 -c32 --latency` for "
  "20 s per route, load generator and gateway sharing the machine's cores. Target: ≥ 10,000 "
  "requests/s on the read route on 2 cores. Every `POST /v1/runs` writes a run (a transaction "
  "of five items with an fsync), its leaderboard check and records.")
w("")
w("| route | requests/s | p99 latency | requests | errors |")
w("|---|---|---|---|---|")
gateway_rps = None
for route, name in [("GET /v1/courses/{courseId}", "wrk-get-course.txt"), ("POST /v1/runs", "wrk-post-run.txt")]:
    rps, p99, total, errors = wrk(name)
    if gateway_rps is None:
        gateway_rps = rps
    w(f"| `{route}` | {rps} | {p99} | {total} | {errors} |")
w("")

# ---- criterion
w("## 6. Micro-benchmarks (criterion, median)")
w("")
w("| benchmark | median |")
w("|---|---|")
for bench_id, ns in criterion_medians(root / "target" / "criterion").items():
    w(f"| {bench_id} | {duration(ns)} |")
w("")
opt = root / "target" / "bench-opt-levels" / "results.jsonl"
w("## Profile variants: opt-level 3, s, z, fat LTO, and mixed")
w("")
variant_trade = {}  # variant -> (share of users-get's size taken off, (slowdown, slowest path))
if opt.exists():
    results = [json.loads(line) for line in opt.read_text().splitlines() if line.strip()]
    order = {"3": 0, "s": 1, "z": 2, "fat": 3, "mixed": 4}
    results.sort(key=lambda d: (d["label"], order.get(d["variant"], 9)))
    variants = sorted({d["variant"] for d in results}, key=lambda v: order.get(v, 9))
    old_commit = opt.with_name("commit").read_text().strip() if opt.with_name("commit").exists() else "?"
    commits = sorted({d.get("commit", old_commit) for d in results})
    w(f"From `infra/scripts/bench-opt-levels` (commit {', '.join(f'`{c}`' for c in commits)}, "
      "same machine, its own run): each variant built in its own target folder. `3` is the "
      "opt-level 3 profile; `s` and `z` change only the opt-level; `fat` is opt-level 3 with "
      "fat LTO; `mixed` builds the dependencies at opt-level s except those whose CPU work a "
      "request waits on (image codecs and resizing, tiny-skia, deflate, aws-lc), which stay "
      "at 3 like the workspace's own crates.")
    w("")
    w("| binary | variant | size MB | zip MB | init ms | cold request ms | peak RSS MB | build s | one function's link s |")
    w("|---|---|---|---|---|---|---|---|---|")
    for d in results:
        # the variant builds may have been cleaned away since; their zip size then is unknown
        zipped = mb(zip_size(Path(d["binary"]))) if Path(d["binary"]).exists() else "–"
        w(f"| `{d['label']}` | {d['variant']} | {mb(d['size'])} | {zipped} | "
          f"{d['init_ms']} | {d['cold_ms']} | {d['peak_rss_kib'] / 1024:.1f} | "
          f"{d['build_seconds']}{'' if d.get('clean_build', True) else ' (incremental)'} | "
          f"{d['link_ms'] / 1000:.1f} |")
    w("")
    w("Speed (criterion medians of the same hot paths, per variant):")
    w("")
    medians = {}
    for v in variants:
        for bench_id, ns in criterion_medians(opt.parent / f"criterion-{v}").items():
            medians.setdefault(bench_id, {})[v] = ns
    w("| benchmark | " + " | ".join(f"{v}" for v in variants) + " |")
    w("|---|" + "---|" * len(variants))
    for bench_id, by_variant in sorted(medians.items()):
        base = by_variant.get("3")
        cells = []
        for v in variants:
            ns = by_variant.get(v)
            if ns is None:
                cells.append("–")
                continue
            shown = duration(ns)
            if base and v != "3":
                shown += f" ({ns / base:.2f}×)"
            cells.append(shown)
        w(f"| {bench_id} | " + " | ".join(cells) + " |")
    # per variant beside 3: the share of users-get's size it takes off, and its slowest path
    sizes = {d["variant"]: d["size"] for d in results if d["label"] == "users-get"}
    for v in variants:
        slowest = max(((ns[v] / ns["3"], b) for b, ns in medians.items() if v in ns and "3" in ns),
                      default=None)
        if v != "3" and v in sizes and "3" in sizes and slowest:
            variant_trade[v] = (1 - sizes[v] / sizes["3"], slowest)
else:
    w("Not measured in this run: `infra/scripts/bench-opt-levels` (a release build of every "
      "dependency per variant) writes the figures this section shows.")
w("")
# ---- the targets at a glance, computed from the tables above, placed after the header
def listed(items):
    return "all met" if not items else f"{len(items)} missed: " + ", ".join(items)


rps = float(gateway_rps) if gateway_rps not in (None, "?") else 0.0
glance = [
    "## Targets at a glance",
    "",
    f"- release binary ≤ its AWS floor + 20%: {listed(misses['size'])}",
    f"- init ≤ 1.3× its floor: {listed(misses['init'])}",
    f"- cold request of the one-read functions ≤ 1.3× its AWS floor: {listed(misses['cold'])}",
    f"- init of every function with an AWS client ≤ 0.7× the untrimmed `floor-aws`'s "
    f"({fa['init_ms']} ms): {listed(misses['lean_init'])}",
    f"- cold request of the one-read functions ≤ 0.75× the untrimmed `floor-aws`'s "
    f"({fa['cold_ms']} ms): {listed(misses['lean_cold'])}",
] + ([
    "- the same two, each start over `floor-aws`'s in the same round (median over the "
    f"rounds; {min(paired_seen['init']):.2f}–{max(paired_seen['init']):.2f}× and "
    f"{min(paired_seen['cold']):.2f}–{max(paired_seen['cold']):.2f}×): init "
    f"{listed(misses['paired_init'])}; cold request {listed(misses['paired_cold'])}",
] if paired_seen["init"] and paired_seen["cold"] else []) + ([
    f"- init of every function with an AWS client ≤ the 2022-era `floor-2022`'s "
    f"({y2022['init_ms']} ms, {float(y2022['init_ms']) / float(fa['init_ms']):.2f}× "
    f"`floor-aws`): {listed(misses['y2022_init'])}",
    f"- cold request of the one-read functions ≤ the 2022-era `floor-2022`'s "
    f"({y2022['cold_ms']} ms, {float(y2022['cold_ms']) / float(fa['cold_ms']):.2f}× "
    f"`floor-aws`): {listed(misses['y2022_cold'])}",
] if y2022 else []) + ([
    "- the same without DynamoDB Local's answer (the timed pass, section 2–3), ≤ 0.75× "
    "`floor-aws`'s: "
    + listed([f"`{f}` {r:.2f}×" for r, f in sorted(own_ratios, reverse=True) if r > 0.75]),
] if own_ratios else []) + [
    f"- peak RSS ≤ 16 MB: {listed(misses['rss'])}",
    f"- read (`GET`) routes ≤ 2 store reads: {listed(misses['trips'])}",
    f"- local gateway ≥ 10,000 requests/s on `GET /v1/courses/{{courseId}}`: "
    f"{rps:,.0f} ({'met' if rps >= 10_000 else '**missed**'})",
    f"- this command under 20 minutes on 2 cores: {seconds(total_s)} "
    f"({'met' if total_s < 1200 else '**missed**'})",
    "",
    "Why each miss happens and what would fix it: the last section.",
    "",
]
lines[summary_at:summary_at] = glance

w("## Where a target is missed, why, and what would fix it")
w("")
explained = False
size_names = " ".join(misses["size"])
if "thumbnails" in size_names:
    explained = True
    w("- **`thumbnails` size**: it decodes JPEG, PNG and WebP (image) and draws maps "
      "(tiny-skia) on top of its clients; those are its job. Splitting photo and map "
      "thumbnails into two functions would trim each, at the price of a second trigger.")
other_size = [m for m in misses["size"] if "thumbnails" not in m]
if other_size:
    explained = True
    w(f"- **Size of {', '.join(other_size)}**: more than the floor's clients: these link the "
      "handlers' own code, the JSON envelope and validation, `jsonwebtoken`, `serde_dynamo` and "
      "the operations they call (a floor constructs clients but calls one operation). Most of "
      "it is operations a function never calls: the bucket and the table are ports (`dyn "
      "Blobs`, `dyn Store`), and a trait object's vtable links every method of its adapter, "
      "so a function that only signs a URL still links S3's put, get, head, list and delete "
      "(`aws_sdk_s3` is 0.18 MB of `.text` in `floor-aws-lean-s3` and 0.77 MB in "
      "`courses-get`, `cargo bloat --crates`); the functions that call a provider (logins, "
      "Strava, FCM) also link `reqwest`. The opt-level does not close this: the floor is "
      "built with the same profile and shrinks by the same share (variants section). What "
      "would: ports split by what a function calls. The bucket's addresses are one "
      "(`FileUrls`, `Needs::file_urls`): `courses-get`, `courses-list`, `users-me-favorites` "
      "and `uploads-create` only sign and name files, hold that port alone, and are 0.53 MB "
      "smaller for it (`courses-get` 13.78 → 13.24 MB, by hand at `b556df1`); the table (`dyn Store`) and the "
      "queue could be split the same way, for about 0.2 MB a function.")
jwks_miss = [m for m in misses["init"] if m.startswith("`jwks`")]
if jwks_miss and "openid-configuration" in cold:
    explained = True
    keys_ms = float(cold["jwks"]["init_ms"]) - float(cold["openid-configuration"]["init_ms"])
    w(f"- **`jwks` init** ({jwks_miss[0]}): it loads the signing keys to publish their public "
      f"halves: reading the PEM file and its ASN.1 structure (no aws-lc key check since "
      f"`b11c1cd`) is the {keys_ms:.2f} ms by which it exceeds `openid-configuration`, the "
      f"same code without the keys, against a {float(fh['init_ms']):.1f} ms hello-world. In AWS it also reads the key "
      "secret, so there its fair floor is `floor-aws`.")
other_init = [m for m in misses["init"] if m not in jwks_miss]
if other_init:
    explained = True
    w(f"- **Init over 1.3×** ({', '.join(other_init)}): a function's init does the floor's "
      "work plus reading its configuration and installing the JSON logger; the functions "
      "without an AWS client compare with a 2 ms hello-world, where 0.5 ms of our own is "
      "already 1.25×. Single figures also move with this shared machine (the same binary by "
      "about 0.3 ms between runs); a miss that sits beside same-code neighbours well inside "
      "the target is that noise.")
if misses["cold"]:
    explained = True
    w(f"- **Cold request over 1.3×** ({', '.join(misses['cold'])}): see section 4 for the "
      "round trips of its first request.")
if misses["lean_init"] or misses["lean_cold"]:
    explained = True
    lean = cold.get("floor-aws-lean", fa)
    sdk_functions = [f for f in functions if start_floor_for(f).startswith("floor-aws") and f in cold]
    over = sorted(float(cold[f]["init_ms"]) - float(lean["init_ms"]) for f in sdk_functions)
    over_ms = over[len(over) // 2] if over else 0.0
    # How init grows with the binary: least squares over the functions with an AWS client
    # and the lean floors, whose starts do the same work but for the pages they touch.
    points = [(binary_sizes[f] / 1e6, float(cold[f]["init_ms"]))
              for f in sdk_functions + [f for f in cold if f.startswith("floor-aws-lean") and f not in ("floor-aws-lean-pie", "floor-aws-lean-dynamic")]
              if f in binary_sizes]
    slope = None
    try:
        sizes_mb, inits_ms = zip(*points)
        slope = statistics.linear_regression(sizes_mb, inits_ms).slope
        r = statistics.correlation(sizes_mb, inits_ms)
    except (ValueError, statistics.StatisticsError):
        pass  # too few binaries, or all of one size or one init: no fit to report
    yardstick = (
        f"The issue's own yardstick, the 2022-era `floor-2022`, is at "
        f"{float(y2022['init_ms']) / float(fa['init_ms']):.2f}× `floor-aws`'s init and "
        f"{float(y2022['cold_ms']) / float(fa['cold_ms']):.2f}× its cold request in this run. "
        if y2022 else "")
    w(f"- **Against the untrimmed `floor-aws`** (init: {', '.join(misses['lean_init']) or 'all met'}; "
      f"cold request: {', '.join(misses['lean_cold']) or 'all met'}): what is left of a start "
      f"is mostly not the SDK's. {yardstick}`floor-hello`, which builds no client at all, starts in "
      f"{float(fh['init_ms']) / float(fa['init_ms']):.2f}× `floor-aws`'s init on this machine "
      "(an exec here costs about 1.5 ms: `perf stat env -i /bin/true` takes 1.7 ms of CPU), and "
      f"`floor-aws-lean`, the same trims with one DynamoDB client, {float(lean['init_ms']) / float(fa['init_ms']):.2f}×. "
      f"A function adds {over_ms:.2f} ms over `floor-aws-lean` (median): its configuration and "
      "logger (0.06 ms in process) and the first touch of a larger binary's pages"
      + (f": across the {len(points)} binaries with an AWS client, init grows by "
         f"{slope:.2f} ms per MB of binary (least squares, r = {r:.2f})" if slope is not None else "")
      + ". Its cold request adds its handler's first run and DynamoDB Local's answer, which "
      "moves by a millisecond between starts"
      + (f" (without the table's answer, in the timed pass of section 2–3, the one-read "
         f"functions' cold request is {min(own_ratios)[0]:.2f}–{max(own_ratios)[0]:.2f}× "
         "`floor-aws`'s)" if own_ratios else "")
      + ". The ratio to the untrimmed floor also moves "
      "with the machine: the chains and roots the trims remove cost less when it runs fast. "
      "What would take more off: fewer pages touched at start, that is smaller binaries "
      "(ports split by operation, as for size above; fat LTO and opt-level `s` are rejected "
      "below for their cost)."
      + (f" The link counts too: `floor-aws-lean` linked position-independent "
         f"(`floor-aws-lean-pie`) starts in {float(lean_pie['init_ms']):.3f} ms against "
         f"{float(lean['init_ms']):.3f} ms at a fixed address, and answers at "
         f"{float(lean_pie['cold_ms']):.3f} against {float(lean['cold_ms']):.3f} ms: before "
         "`main` a position-independent binary rewrites the pointers in its data, "
         "a copy-on-write fault per page of `.data.rel.ro` (README, \"Cold starts\")."
         if lean_pie else "")
      + (f" And so does the static link: `floor-aws-lean` dynamically linked "
         f"(`floor-aws-lean-dynamic`) starts in {float(lean_dynamic['init_ms']):.3f} ms and "
         f"answers at {float(lean_dynamic['cold_ms']):.3f} ms: before `main` the dynamic "
         "loader is mapped, then opens, maps and binds libc, libm and libgcc_s."
         if lean_dynamic else ""))
if misses["y2022_init"] or misses["y2022_cold"]:
    explained = True
    w(f"- **Later than the 2022-era function** (init: {', '.join(misses['y2022_init']) or 'all met'}; "
      f"cold request: {', '.join(misses['y2022_cold']) or 'all met'}): the 2022 SDK's start "
      "walks the default chains (which stop at the environment, as on Lambda) and reads the "
      "one `SSL_CERT_FILE` bundle, and its binary is smaller (section 1): what a function does "
      "beyond it is the size cost described in the bullet above, and its handler's first run.")
if misses["trips"]:
    explained = True
    w(f"- **Read routes over 2 reads** ({', '.join(misses['trips'])}): a near search "
      "(`courses-list`'s sample) reads each geohash cell the circle reaches, up to 9, all in "
      "one round of parallel Queries (see its sequential rounds); DynamoDB has no spatial "
      "index, so fewer reads need coarser cells that read more items. The export reads "
      "everything the account owns; it is not a hot path.")
if misses["rss"]:
    explained = True
    w(f"- **Peak RSS over 16 MB** ({', '.join(misses['rss'])}).")
if rps < 10_000:
    explained = True
    w("- **Gateway throughput** under 10,000 requests/s: the load generator shares the 2 "
      "cores with the gateway.")
if total_s >= 1200:
    explained = True
    w("- **Run time of this command** over 20 minutes: the release build dominates it "
      f"({seconds(build_s)}).")
if not explained:
    w("Every target is met in this run.")
w("")
w("Choices these figures led to:")
w("")
w(f"- **No cross-crate LTO** in the release profile: with fat LTO each of the {len(functions)} "
  "function binaries re-optimises the whole AWS SDK when it links (68–73 s each, measured "
  "on 2 cores: over 40 minutes of link work per deploy, and this command could not finish "
  "in 20). Without it a function links in about 6 s; the variants section has the size and "
  "speed it costs.")
if variant_trade:
    trades = "; ".join(f"`{v}` takes {off:.0%} off `users-get` and makes {path} {slow:.1f}× slower"
                       for v, (off, (slow, path)) in variant_trade.items())
    w("- **opt-level 3**: the floors are built with the same profile and shrink by the same "
      "share, so no opt-level closes a size ratio; what each variant trades (variants "
      f"section): {trades}. One plain profile is kept.")
w("- **TLS roots**: the AWS clients trust the five Amazon Trust Services roots compiled "
  "into the binary (valid until 2037–2040; every AWS endpoint chains to one of them), which "
  "costs no file read and refuses any certificate not issued for AWS. The third-party "
  "clients (social login, Strava, FCM, Mapbox) keep the platform bundle, so "
  "`SSL_CERT_FILE` stays set in template.yaml (Amazon Linux 2023's bundle path), where "
  "the runtime's security updates refresh it.")
static_floor, dynamic_floor = cold.get("floor-aws-lean"), cold.get("floor-aws-lean-dynamic")
if static_floor and dynamic_floor and {"floor-aws-lean", "floor-aws-lean-dynamic"} <= binary_sizes.keys():
    grown = binary_sizes["floor-aws-lean"] - binary_sizes["floor-aws-lean-dynamic"]
    w("- **Statically linked**: the functions carry glibc and start with no dynamic loader "
      "(README, \"Cold starts\"). The lean floor, the same way against dynamically linked: init "
      f"{float(static_floor['init_ms']):.3f} against {float(dynamic_floor['init_ms']):.3f} ms, "
      f"cold request {float(static_floor['cold_ms']):.3f} against "
      f"{float(dynamic_floor['cold_ms']):.3f} ms, peak RSS "
      f"{static_floor['peak_rss_kib'] / 1024:.1f} against {dynamic_floor['peak_rss_kib'] / 1024:.1f} MB; "
      f"the price is {grown / 1e6:.2f} MB more binary (zip "
      f"{(zip_sizes['floor-aws-lean'] - zip_sizes['floor-aws-lean-dynamic']) / 1e6:.2f} MB), "
      "the C library's code, whose pages are read only when touched. A plain `sam build` "
      "(dynamically linked) keeps the smaller binary and the slower start.")
w("- **No `EnvFilter`**: `RUST_LOG` is read as a list of targets and levels "
  "(`tracing_subscriber::filter::Targets`), which needs no regular expressions; lambda_http "
  "is built without its `tracing` feature, which pulled them in.")
w("")
# Figures measured by hand, each with its command, until the bench measures them itself.
by_hand = root / "infra" / "bench" / "measured-by-hand.md"
if by_hand.exists():
    w(by_hand.read_text().rstrip())
    w("")
print("\n".join(lines))
