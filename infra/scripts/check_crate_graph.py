#!/usr/bin/env python3
"""Fails when a crate depends on one it may not (README.md, "Which crate may depend on which").

The layers, bottom up: runcrew-shared (infrastructure) <- runcrew-model (the domain) <-
runcrew-erasure (the one place that knows every area) <- the function crates. A function
crate never depends on another function crate: each area's types and rules live in the
model, so a new area adds no edges between functions. runcrew-build, the functions' build
scripts' helper, depends on none of ours, nor does runcrew-nss, under runcrew-shared (the
what a static binary's start tells glibc). The local gateway, the bench and the
workspace tests sit above everything and may depend on anything.
"""

import json
import subprocess
import sys
from pathlib import Path

# What each layer may depend on among our own crates (dev-dependencies included, so a test
# cannot reach into another function crate either).
ALLOWED = {
    "nss": set(),
    "shared": {"nss"},
    "build": set(),
    "model": {"shared"},
    "erasure": {"shared", "model"},
    "function": {"shared", "model", "erasure", "build", "lambda-fake"},
    "tool": None,  # local gateway, bench, tests: anything
}


def layer(manifest: Path, root: Path) -> str:
    relative = manifest.parent.relative_to(root).as_posix()
    if relative == "shared":
        return "shared"
    if relative == "shared/model":
        return "model"
    if relative == "shared/erasure":
        return "erasure"
    if relative == "shared/build":
        return "build"
    if relative == "shared/nss":
        return "nss"
    if relative.startswith("functions/"):
        return "function"
    if relative == "tests/lambda-fake":
        return "lambda-fake"
    return "tool"


def main() -> int:
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    root = Path(metadata["workspace_root"])
    ours = {p["name"]: p for p in metadata["packages"]}
    layers = {name: layer(Path(p["manifest_path"]), root) for name, p in ours.items()}
    problems = []
    for name, package in sorted(ours.items()):
        allowed = ALLOWED.get(layers[name])
        if allowed is None:
            continue
        for dependency in package["dependencies"]:
            target = dependency["name"]
            if target not in ours:
                continue
            if layers[target] not in allowed:
                problems.append(
                    f"{name} ({layers[name]}) depends on {target} ({layers[target]}); "
                    f"a {layers[name]} crate may depend only on: {', '.join(sorted(allowed)) or 'none of ours'}"
                )
    edge_problems = len(problems)
    # Every function crate links its Lambda binaries at a fixed address (shared/build says
    # why); a new area that forgets its build script would start slower and no test notice.
    for name, package in sorted(ours.items()):
        if layers[name] == "function" and not any(
            d["name"] == "runcrew-build" and d.get("kind") == "build" for d in package["dependencies"]
        ):
            problems.append(
                f"{name} (function) has no build script calling runcrew_build::link_lambda_binaries(): "
                "add build.rs and `[build-dependencies] runcrew-build.workspace = true`"
            )
    for problem in problems:
        print(problem, file=sys.stderr)
    if edge_problems:
        print("move the shared type or rule into runcrew-model (shared/model)", file=sys.stderr)
    if problems:
        return 1
    functions = sorted(n for n, l in layers.items() if l == "function")
    print(f"crate graph ok: {len(functions)} function crates, none depends on another, each links through runcrew-build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
