"""Checks template.yaml the way CloudFormation will see it.

cfn-lint alone no longer expands SAM resources, so bad !Ref/!Sub, wrong event types and
dependency cycles slip through. This expands the template with aws-sam-translator first,
then lints the resulting CloudFormation with cfn-lint, and lints the local templates of its
nested stacks (TemplateURL, which `sam package` uploads). Exit code 0 only when all are clean.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicyLoader:
    """Resolves managed policy names without calling IAM (no network in tests)."""

    def load(self):
        return {}


def package_like_sam(sam: dict) -> dict[str, Path]:
    """`sam package` replaces local CodeUri folders with S3 URIs, and uploads the local
    templates of nested stacks (TemplateURL) putting their S3 URLs in; the translator and
    cfn-lint want those. Returns {nested stack logical id: its local template file}."""
    globals_function = sam.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = "s3://packaged-by-sam/code.zip"
    nested = {}
    for name, resource in sam.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = f"s3://packaged-by-sam/{name}.zip"
        if resource.get("Type") == "AWS::CloudFormation::Stack":
            url = resource.get("Properties", {}).get("TemplateURL")
            if isinstance(url, str) and not url.startswith(("https://", "s3://")):
                nested[name] = Path(url)
                resource["Properties"]["TemplateURL"] = f"https://packaged-by-sam.s3.amazonaws.com/{name}.template"
    return nested


# CloudFormation hands the SAM macro a CommaDelimitedList as a list; so do we.
PARAMETERS = {"PublicBaseUrl": "https://api.example.com", "AllowedOrigins": ["https://app.example.com", "https://admin.example.com"]}


def expand(path: str) -> tuple[dict, dict[str, Path]]:
    """template.yaml as CloudFormation will see it after `sam package` and the SAM
    transform, and its nested stacks' local template files (absolute paths). Raises the
    translator's exception when SAM refuses the template."""
    with open(path, encoding="utf-8") as handle:
        sam = yaml_parse(handle.read())
    nested = package_like_sam(sam)
    base = Path(path).resolve().parent
    return transform(sam, PARAMETERS, OfflinePolicyLoader()), {k: base / v for k, v in nested.items()}


def lint(path: str, what: str, noise=lambda finding: False) -> bool:
    """cfn-lint on one CloudFormation file; prints its findings, True when clean."""
    run = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "json", "--", path],
        capture_output=True,
        text=True,
    )
    findings = [f for f in json.loads(run.stdout or "[]") if not noise(f)]
    for finding in findings:
        location = finding.get("Location", {})
        print(f"{finding['Rule']['Id']} {finding['Message']}\n  at {'/'.join(map(str, location.get('Path') or []))}")
    print(run.stderr, end="", file=sys.stderr)
    if findings or run.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):
        print(f"cfn-lint found problems in {what} (exit {run.returncode})")
        return False
    print(f"cfn-lint ok on {what}")
    return True


def main(path: str) -> int:
    try:
        expanded, nested = expand(path)
    except Exception as error:  # the translator raises its own InvalidDocumentException
        print(f"SAM expansion failed: {error}")
        for cause in getattr(error, "causes", []) or []:
            print(f"  - {cause.message}")
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(expanded, out, indent=1)
        expanded_path = out.name
    print(f"SAM expansion ok: {len(expanded.get('Resources', {}))} CloudFormation resources")
    ok = lint(expanded_path, "the expanded template", expanded_template_noise)
    for name, template in nested.items():
        if not template.exists():
            print(f"nested stack {name}: {template} does not exist")
            ok = False
            continue
        ok = lint(str(template), f"nested stack {name} ({template.name})") and ok
    return 0 if ok else 1


# The one function with a Condition (dev and stage only) and its route.
CONDITIONAL = ("ApiDescriptionFunction", "/openapi.json")


# Parameters SAM reads at transform time (CloudFormation hands the macro their values):
# the expanded template holds their value, not a reference, so cfn-lint calls them unused.
SAM_RESOLVED_PARAMETERS = ("DeploymentType",)


def expanded_template_noise(finding: dict) -> bool:
    path = [str(p) for p in finding.get("Location", {}).get("Path") or []]
    if finding.get("Rule", {}).get("Id") == "W2001" and path[:1] == ["Parameters"]:
        return any(name in path for name in SAM_RESOLVED_PARAMETERS)
    return sam_conditional_function_noise(finding)


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
