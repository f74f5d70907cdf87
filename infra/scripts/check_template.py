"""Checks template.yaml the way CloudFormation will see it.

cfn-lint alone no longer expands SAM resources, so bad !Ref/!Sub, wrong event types and
dependency cycles slip through. This expands the template with aws-sam-translator first,
then lints the resulting CloudFormation with cfn-lint. Exit code 0 only when both are clean.
"""
import json
import subprocess
import sys
import tempfile

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicyLoader:
    """Resolves managed policy names without calling IAM (no network in tests)."""

    def load(self):
        return {}


def package_like_sam(sam: dict) -> None:
    """`sam package` replaces local CodeUri folders with S3 URIs; the translator wants those."""
    globals_function = sam.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = "s3://packaged-by-sam/code.zip"
    for name, resource in sam.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = f"s3://packaged-by-sam/{name}.zip"


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        sam = yaml_parse(handle.read())
    package_like_sam(sam)
    # CloudFormation hands the SAM macro a CommaDelimitedList as a list; so do we.
    parameters = {"PublicBaseUrl": "https://api.example.com", "AllowedOrigins": ["https://app.example.com", "https://admin.example.com"]}
    try:
        expanded = transform(sam, parameters, OfflinePolicyLoader())
    except Exception as error:  # the translator raises its own InvalidDocumentException
        print(f"SAM expansion failed: {error}")
        for cause in getattr(error, "causes", []) or []:
            print(f"  - {cause.message}")
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(expanded, out, indent=1)
        expanded_path = out.name
    print(f"SAM expansion ok: {len(expanded.get('Resources', {}))} CloudFormation resources")
    lint = subprocess.run(
        [
            str(__import__("pathlib").Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "json",
            "--",
            expanded_path,
        ],
        capture_output=True,
        text=True,
    )
    findings = [f for f in json.loads(lint.stdout or "[]") if not sam_conditional_function_noise(f)]
    for finding in findings:
        location = finding.get("Location", {})
        print(f"{finding['Rule']['Id']} {finding['Message']}\n  at {'/'.join(map(str, location.get('Path') or []))}")
    print(lint.stderr, end="", file=sys.stderr)
    if findings or lint.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):
        print(f"cfn-lint found problems in the expanded template (exit {lint.returncode})")
        return 1
    print("cfn-lint ok on the expanded template")
    return 0


# The one function with a Condition (dev and stage only) and its route.
CONDITIONAL = ("ApiDescriptionFunction", "/openapi.json")


def sam_conditional_function_noise(finding: dict) -> bool:
    """W1028 ("this Fn::If branch is unreachable") on what SAM writes for the conditional
    function: the Globals' `!If [IsProd, ...]` copied into it and the If SAM wraps around
    its route in the API definition. Neither is ours to change; the same warning anywhere
    else still fails."""
    if finding.get("Rule", {}).get("Id") != "W1028":
        return False
    path = [str(p) for p in finding.get("Location", {}).get("Path") or []]
    return any(name in path for name in CONDITIONAL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
