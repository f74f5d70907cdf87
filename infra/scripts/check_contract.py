"""The API contract, checked from outside the code (README.md, "The API contract").

1. openapi.yaml is valid OpenAPI 3.1 (openapi-spec-validator);
2. clients/typescript/runcrew-api.d.ts is what openapi-typescript generates from it today,
   and it compiles with `tsc --noEmit` beside a file that uses it;
3. the local gateway (the runcrew-local binary given) starts on a free port of 127.0.0.1
   with a fresh data folder, and answers the description at /openapi.json;
4. schemathesis runs every operation of that served description against the gateway with a
   dev-login token, a fixed seed and a fixed example budget (infra/contract/schemathesis.toml);
5. headless Chromium opens /docs and every operation is listed on the page.

The gateway is stopped by its PID whatever happens. Exit status 0 only when all five hold.
Usage: check_contract.py --gateway target/debug/runcrew-local [--max-examples N] [--seed S]
"""

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = ROOT / "openapi.yaml"
CLIENT = ROOT / "clients" / "typescript"
TYPES = CLIENT / "runcrew-api.d.ts"
SCHEMATHESIS_CONFIG = ROOT / "infra" / "contract" / "schemathesis.toml"
BIN = Path(sys.executable).parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def step(title):
    print(f"== contract: {title}", flush=True)


def check_valid(document):
    step("openapi.yaml is valid OpenAPI 3.1")
    if not str(document.get("openapi", "")).startswith("3.1"):
        sys.exit(f"openapi.yaml declares openapi {document.get('openapi')!r}, not 3.1.x")
    validate(document)
    count = sum(len(operations_of(item)) for item in document["paths"].values())
    print(f"   {count} operations, valid")


def operations_of(path_item):
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {m: op for m, op in path_item.items() if m in methods}


def check_typescript():
    step("TypeScript types are current and compile")
    # The generator runs exactly as `npm run generate` does, into a scratch file.
    script = json.loads((CLIENT / "package.json").read_text())["scripts"]["generate"]
    command = shlex.split(script)
    bin_dir = CLIENT / "node_modules" / ".bin"
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / TYPES.name
        command[0] = str(bin_dir / command[0])
        command[command.index("--output") + 1] = str(fresh)
        generated = subprocess.run(command, cwd=CLIENT, capture_output=True, text=True)
        if generated.returncode != 0:
            sys.exit(f"openapi-typescript failed:\n{generated.stderr}")
        if fresh.read_text() != TYPES.read_text():
            sys.exit(
                "clients/typescript/runcrew-api.d.ts is not what openapi.yaml generates; "
                "regenerate it: (cd clients/typescript && npm run generate)"
            )
    subprocess.run([str(bin_dir / "tsc"), "--noEmit", "-p", str(CLIENT)], check=True)
    print("   runcrew-api.d.ts is current; tsc --noEmit passes")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# The webhook verify token the gateway is given and schemathesis sends (schemathesis.toml).
STRAVA_VERIFY_TOKEN = "contract-verify-token"


def start_gateway(binary, data_dir, log):
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "PORT": str(port),
            "RUNCREW_DATA_DIR": str(data_dir),
            "API_DOCS": "true",
            # Fuzzing sends thousands of requests from one address: the limits that exist
            # to stop a real client would answer most of them 429 and test nothing else.
            "THROTTLE_RATE_LIMIT": "100000",
            "THROTTLE_BURST_LIMIT": "100000",
            "AUTH_THROTTLE_RATE_LIMIT": "100000",
            "AUTH_THROTTLE_BURST_LIMIT": "100000",
            "AUTH_RATE_LIMIT_PER_IP": "100000",
            "AUTH_RATE_LIMIT_PER_ACCOUNT": "100000",
            "RUST_LOG": "warn",
            # Longer than any run of the check, so no call is refused for an expired token.
            "ACCESS_TOKEN_TTL": "7200",
            # Strava set up (so its routes answer, not 503), at an address where nothing
            # listens: no generated request may depend on Strava answering.
            "STRAVA_CLIENT_ID": "163042",
            "STRAVA_CLIENT_SECRET": "contract-client-secret",
            "STRAVA_API_URL": "http://127.0.0.1:9/api/v3",
            "STRAVA_OAUTH_URL": "http://127.0.0.1:9/oauth",
            "STRAVA_WEBHOOK_VERIFY_TOKEN": STRAVA_VERIFY_TOKEN,
        }
    )
    process = subprocess.Popen(
        # started in its data folder, so a developer's .env at the root is not read
        [str(binary)], cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if process.poll() is not None:
            sys.exit(f"runcrew-local exited with {process.returncode}; see {log.name}")
        try:
            if request("GET", f"{base}/healthz")[0] == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit(f"runcrew-local did not answer /healthz in 30 s; see {log.name}")


def dev_token(base, name):
    status, body = request(
        "POST", f"{base}/v1/auth/login", {"provider": "dev", "token": name}
    )
    if status not in (200, 201):
        sys.exit(f"dev login as {name} answered {status}")
    return json.loads(body)["access_token"]


def check_served(base, document):
    step("the gateway serves the description at /openapi.json")
    status, body = request("GET", f"{base}/openapi.json")
    served = json.loads(body) if status == 200 else None
    if served is None or served.get("paths") != document["paths"]:
        sys.exit(f"/openapi.json answered {status}, not the description in openapi.yaml")
    print(f"   {base}/openapi.json")


def run_schemathesis(base, args):
    step(f"schemathesis (seed {args.seed}, {args.max_examples} examples per operation)")
    env = dict(os.environ)
    env["RUNCREW_TOKEN"] = dev_token(base, "schemathesis")
    env["STRAVA_WEBHOOK_VERIFY_TOKEN"] = STRAVA_VERIFY_TOKEN
    # Operations that end the caller's account or sessions run as people of their own, so
    # they cannot log the main caller out halfway through.
    env["RUNCREW_ERASED_TOKEN"] = dev_token(base, "schemathesis-erased")
    env["RUNCREW_LOGGED_OUT_TOKEN"] = dev_token(base, "schemathesis-logout")
    report = ROOT / "target" / "contract"
    report.mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(SCHEMATHESIS_CONFIG),
        "run",
        # The file, not the served copy (check_served compares the two): loaded from a URL,
        # schemathesis leaves out the operation that serves the description itself.
        str(DESCRIPTION),
        "--url",
        base,
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.max_examples),
        "--report",
        "junit",
        "--report-dir",
        str(report),
        "--no-color",
    ]
    result = subprocess.run(command, env=env)
    if result.returncode != 0:
        sys.exit(f"schemathesis found failures (exit {result.returncode}); report in {report}")


def check_docs_page(base, document):
    step("headless Chromium lists every operation on /docs")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed; infra/scripts/setup-tools installs it")
    status, _ = request("GET", f"{base}/docs")
    if status != 200:
        sys.exit(f"/docs answered {status}: Swagger UI is missing; infra/scripts/setup-tools installs it")
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                "--dump-dom",
                f"{base}/docs",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    listed = set(re.findall(r'id="operations-[^"]*?-([A-Za-z0-9_]+)"', dom))
    wanted = {
        op["operationId"]
        for item in document["paths"].values()
        for op in operations_of(item).values()
    }
    missing = sorted(wanted - listed)
    if missing:
        sys.exit(f"/docs does not list {len(missing)} operations: {', '.join(missing[:10])}")
    print(f"   {len(wanted)} operations listed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True, type=Path)
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--only", choices=["static", "live"], default=None)
    args = parser.parse_args()

    document = yaml.safe_load(DESCRIPTION.read_text())
    if args.only != "live":
        check_valid(document)
        check_typescript()
    if args.only == "static":
        return
    with tempfile.TemporaryDirectory() as data_dir:
        log_path = ROOT / "target" / "contract" / "gateway.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:
            process, base = start_gateway(args.gateway.resolve(), Path(data_dir), log)
            try:
                check_served(base, document)
                run_schemathesis(base, args)
                check_docs_page(base, document)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
