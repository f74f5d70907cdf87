"""Checks what operating template.yaml relies on, on the template as CloudFormation will see
it (SAM-expanded, as check_template.py does) and on its nested monitoring templates:

- infra/monitoring.yaml and infra/dashboard.yaml are what infra/scripts/gen_monitoring.py
  writes from this template.yaml (so a new function or queue has its alarms);
- every AWS::Lambda::Function but the CodeDeploy hook is published under an alias (whose
  versions carry ConfigRevision, so a parameter change can reach it), has a CodeDeploy
  deployment group that runs the pre-traffic hook, and that group rolls back on an alarm
  watching the function's Lambda Errors, through the nested stack's outputs and parameters
  (or an alarm of this stack);
- every dead-letter or failure queue has an alarm; every alarm says what it means and
  notifies someone;
- no function's environment holds a `{{resolve:secretsmanager...}}` (or ssm-secure) value;
- the nested stacks receive exactly the parameters they declare;
- each stack stays under CloudFormation's limits (500 resources, 200 parameters, 200
  outputs, 1 MB of template) - the counts are printed;
- infra/edge-waf.yaml passes cfn-lint.

    python infra/scripts/check_operations.py [template.yaml]

Exit 0 when all hold; otherwise each problem is printed with what to change.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_monitoring  # noqa: E402
from check_template import expand, lint  # noqa: E402

MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_TEMPLATE_BYTES = 1_048_576
SECRET_REFERENCES = ("{{resolve:secretsmanager", "{{resolve:ssm-secure")
EDGE_TEMPLATE = "infra/edge-waf.yaml"


def of_type(resources: dict, kind: str) -> dict:
    return {k: v for k, v in resources.items() if v.get("Type") == kind}


def is_hook(function: dict) -> bool:
    name = function.get("Properties", {}).get("FunctionName")
    if isinstance(name, dict):
        name = name.get("Fn::Sub")
    return isinstance(name, str) and name.startswith("CodeDeployHook_")


def ref_name(value) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def names_function(value, function: str) -> bool:
    """`{"Ref": function}`, or an Fn::If one branch of which is."""
    if ref_name(value) == function:
        return True
    if isinstance(value, dict) and "Fn::If" in value:
        return any(names_function(branch, function) for branch in value["Fn::If"][1:])
    return False


def watches_errors_of(alarm: dict, matches) -> bool:
    """An alarm on AWS/Lambda Errors whose FunctionName dimension `matches`."""
    props = alarm.get("Properties", {})
    stats = [props] + [m.get("MetricStat", {}).get("Metric", {}) for m in props.get("Metrics", [])]
    for stat in stats:
        if stat.get("Namespace") == "AWS/Lambda" and stat.get("MetricName") == "Errors":
            for dimension in stat.get("Dimensions", []):
                if dimension.get("Name") == "FunctionName" and matches(dimension.get("Value")):
                    return True
    return False


class Checker:
    def __init__(self, path: str):
        self.path = Path(path).resolve()
        self.base = self.path.parent
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def run(self) -> int:
        try:
            expanded, nested_files = expand(str(self.path))
        except Exception as error:  # the translator's InvalidDocumentException
            print(f"SAM expansion failed: {error} (run check_template.py for details)")
            return 1
        self.template = expanded
        self.resources = expanded["Resources"]
        self.sam = yaml_parse(self.path.read_text(encoding="utf-8"))
        self.nested: dict[str, dict] = {}
        for name, file in nested_files.items():
            if file.exists():
                self.nested[name] = yaml_parse(file.read_text(encoding="utf-8"))
            else:
                self.fail(f"nested stack {name}: its template {file} does not exist")
        self.check_generated()
        self.check_limits()
        self.check_nested_parameters()
        self.check_functions()
        self.check_failure_queues()
        self.check_alarm_texts()
        self.check_environment()
        self.check_bucket_references()
        self.check_edge()
        if self.problems:
            print(f"\noperations check FAILED ({len(self.problems)} problem(s)):")
            for problem in self.problems:
                print(f"  - {problem}")
            return 1
        print("operations check ok")
        return 0

    # --- the parts ------------------------------------------------------------------------

    def check_generated(self) -> None:
        try:
            files = gen_monitoring.generate(self.path)
        except gen_monitoring.Problem as problem:
            self.fail(f"gen_monitoring: {problem}")
            return
        for relative, text in files.items():
            target = self.base / relative
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                self.fail(
                    f"{relative} is not what {self.path.name} gives (a function, queue or alarm"
                    f" text changed): run `python infra/scripts/gen_monitoring.py {self.path.name}`"
                )

    def check_limits(self) -> None:
        size = len(json.dumps(self.template, separators=(",", ":")))
        self.limit("main stack (expanded)", self.template, size)
        for name, template in self.nested.items():
            size = len(json.dumps(template, separators=(",", ":")))
            self.limit(f"nested stack {name}", template, size)

    def limit(self, what: str, template: dict, size: int) -> None:
        counts = {
            "resources": (len(template.get("Resources", {})), MAX_RESOURCES),
            "parameters": (len(template.get("Parameters", {})), MAX_PARAMETERS),
            "outputs": (len(template.get("Outputs", {})), MAX_OUTPUTS),
            "bytes": (size, MAX_TEMPLATE_BYTES),
        }
        print(f"{what}: " + ", ".join(f"{n} {k} (limit {m})" for k, (n, m) in counts.items()))
        for kind, (count, most) in counts.items():
            if count >= most if kind == "resources" else count > most:
                self.fail(f"{what} has {count} {kind}; keep it {'under' if kind == 'resources' else 'at most'} {most} (CloudFormation's limit)")

    def check_nested_parameters(self) -> None:
        for name, template in self.nested.items():
            declared = template.get("Parameters", {})
            passed = self.resources[name].get("Properties", {}).get("Parameters", {})
            for parameter, spec in declared.items():
                if parameter not in passed and "Default" not in spec:
                    self.fail(f"stack {name} needs parameter {parameter}: add `{parameter}: ...` under {name}.Properties.Parameters in {self.path.name}")
            for parameter in passed:
                if parameter not in declared:
                    self.fail(f"stack {name} declares no parameter {parameter} (passed in {self.path.name}); run gen_monitoring.py or remove it")

    def alarm_on_errors(self, function: str, alarm_name) -> bool:
        """Does this DeploymentGroup alarm name resolve to an alarm on the function's Errors?"""
        # an alarm of this stack: {"Ref": alarm}
        local = ref_name(alarm_name)
        if local:
            alarm = self.resources.get(local, {})
            return watches_errors_of(alarm, lambda v: names_function(v, function))
        # an output of a nested stack: {"Fn::GetAtt": [stack, "Outputs.X"]}
        getatt = alarm_name.get("Fn::GetAtt") if isinstance(alarm_name, dict) else None
        if not getatt:
            return False
        if isinstance(getatt, str):
            getatt = getatt.split(".", 1)
        stack, attribute = getatt
        template = self.nested.get(stack)
        if not template or not attribute.startswith("Outputs."):
            return False
        output = template.get("Outputs", {}).get(attribute[len("Outputs.") :])
        alarm_id = ref_name(output.get("Value")) if output else None
        alarm = template.get("Resources", {}).get(alarm_id or "", {})
        passed = self.resources[stack].get("Properties", {}).get("Parameters", {})
        return watches_errors_of(alarm, lambda v: ref_name(v) in passed and names_function(passed[ref_name(v)], function))

    def how_to_wire(self, function: str, alarms: list) -> str:
        """What is missing between the function's deployment group and its errors alarm."""
        output = f"{function}ErrorsAlarm"
        steps = []
        named = [a.get("Name") for a in alarms]
        if {"Fn::GetAtt": ["Monitoring", f"Outputs.{output}"]} not in named:
            steps.append(f"give it `DeploymentPreference: {{Alarms: [!GetAtt Monitoring.Outputs.{output}]}}` in {self.path.name}")
        passed = self.resources.get("Monitoring", {}).get("Properties", {}).get("Parameters", {})
        if not names_function(passed.get(f"{function}Name"), function):
            steps.append(f"pass `{function}Name: !Ref {function}` to Monitoring (its Parameters)")
        if output not in self.nested.get("Monitoring", {}).get("Outputs", {}):
            steps.append(f"run `python infra/scripts/gen_monitoring.py` (infra/monitoring.yaml has no output {output})")
        return "; ".join(steps) or "its alarm does not watch AWS/Lambda Errors of this function (run gen_monitoring.py)"

    def check_functions(self) -> None:
        functions = of_type(self.resources, "AWS::Lambda::Function")
        hooks = {k for k, v in functions.items() if is_hook(v)}
        aliases = of_type(self.resources, "AWS::Lambda::Alias")
        checked = 0
        if not hooks:
            self.fail("no CodeDeploy pre-traffic hook function (FunctionName CodeDeployHook_...)")
        for function, resource in functions.items():
            if function in hooks:
                continue
            checked += 1
            condition = resource.get("Condition")
            mine = [a for a, r in aliases.items() if ref_name(r["Properties"].get("FunctionName")) == function]
            if not mine:
                self.fail(f"{function} has no alias: the Globals AutoPublishAlias must reach it (no IgnoreGlobals)")
                continue
            alias = aliases[mine[0]]
            update = alias.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate", {})
            group = ref_name(update.get("DeploymentGroupName"))
            if not group or self.resources.get(group, {}).get("Type") != "AWS::CodeDeploy::DeploymentGroup":
                self.fail(f"{function} has no CodeDeploy deployment group: its DeploymentPreference is missing or disabled")
                continue
            version = alias["Properties"].get("FunctionVersion", {}).get("Fn::GetAtt", [""])[0]
            if "ConfigRevision" not in json.dumps(self.resources.get(version, {}).get("Properties", {}).get("Description")):
                self.fail(
                    f"{function}: its versions do not carry ConfigRevision, so a parameter change would"
                    f" never reach its live alias: add `VersionDescription: !Sub \"configuration ${{ConfigRevision}}\"`"
                )
            if ref_name(update.get("BeforeAllowTrafficHook")) not in hooks:
                self.fail(f"{function}'s deployment does not run the pre-traffic hook (Globals DeploymentPreference.Hooks.PreTraffic)")
            for what, other in (("alias", alias), ("deployment group", self.resources[group])):
                if other.get("Condition") != condition:
                    self.fail(f"{function} has Condition {condition} but its {what} has {other.get('Condition')} (DeploymentPreference.PassthroughCondition)")
            config = self.resources[group]["Properties"].get("AlarmConfiguration", {})
            alarms = config.get("Alarms", []) if config.get("Enabled", True) else []
            if not any(self.alarm_on_errors(function, a.get("Name")) for a in alarms):
                self.fail(f"{function}: no alarm on its Lambda Errors rolls its deploys back: " + self.how_to_wire(function, alarms))
        print(f"{checked} functions checked for an alias, a deployment group with the hook and an errors alarm ({len(hooks)} hook: {', '.join(sorted(hooks))})")

    def check_failure_queues(self) -> None:
        _, failure = gen_monitoring.queues(self.sam, strict=False)
        watched = set()
        for template_name, template in self.nested.items():
            passed = self.resources[template_name].get("Properties", {}).get("Parameters", {})
            for alarm in of_type(template.get("Resources", {}), "AWS::CloudWatch::Alarm").values():
                for dimension in alarm["Properties"].get("Dimensions", []):
                    if dimension.get("Name") == "QueueName":
                        value = passed.get(ref_name(dimension.get("Value")) or "")
                        getatt = value.get("Fn::GetAtt") if isinstance(value, dict) else None
                        if getatt:
                            watched.add(getatt[0] if isinstance(getatt, list) else getatt.split(".")[0])
        for queue in failure:
            if queue not in watched:
                self.fail(f"failure queue {queue} has no alarm on its depth (run gen_monitoring.py; pass {queue}Name to Monitoring)")
        print(f"{len(failure)} dead-letter and failure queues checked for an alarm")

    def check_alarm_texts(self) -> None:
        templates = {"main stack": self.resources, **{n: t.get("Resources", {}) for n, t in self.nested.items()}}
        count = 0
        for where, resources in templates.items():
            for name, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items():
                count += 1
                props = alarm["Properties"]
                if not props.get("AlarmDescription"):
                    self.fail(f"{where}: alarm {name} has no AlarmDescription (what it means, what to do)")
                if not props.get("AlarmActions"):
                    self.fail(f"{where}: alarm {name} notifies no one (AlarmActions)")
        print(f"{count} alarms in all")

    def check_environment(self) -> None:
        for name, function in of_type(self.resources, "AWS::Lambda::Function").items():
            variables = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
            for key, value in variables.items():
                text = json.dumps(value)
                for reference in SECRET_REFERENCES:
                    if reference in text:
                        self.fail(
                            f"{name}: environment variable {key} holds a {reference}:...}}}} value, which"
                            " anyone who can read the function's configuration sees: pass the secret's"
                            " name (…_SECRET_ID) and let the function read it with GetSecretValue"
                        )

    def check_bucket_references(self) -> None:
        for name, resource in self.sam["Resources"].items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = {k: v for k, v in resource.get("Properties", {}).items() if k != "Events"}
            text = json.dumps(props)
            if '"FilesBucket"' in text or "FilesBucket." in text:
                self.fail(
                    f"{name} refers to FilesBucket by !Ref or !GetAtt: name it by string"
                    " (arn:${AWS::Partition}:s3:::runcrew-${Environment}-files-${AWS::AccountId}),"
                    " or the bucket -> thumbnails alias -> deployment group -> Monitoring ->"
                    f" {name} chain is a dependency cycle"
                )

    def check_edge(self) -> None:
        distributions = of_type(self.resources, "AWS::CloudFront::Distribution")
        for name, resource in distributions.items():
            origins = resource["Properties"]["DistributionConfig"].get("Origins", [])
            verified = any(
                h.get("HeaderName", "").lower() == "x-origin-verify" for o in origins for h in o.get("OriginCustomHeaders", [])
            )
            if verified and "OriginVerifySecret" not in json.dumps(self.template.get("Rules", {})):
                self.fail(f"{name} sends X-Origin-Verify but no Rules assertion refuses an empty OriginVerifySecret")
        edge = self.base / EDGE_TEMPLATE
        if not edge.exists():
            self.fail(f"{EDGE_TEMPLATE} does not exist")
        elif not lint(str(edge), EDGE_TEMPLATE):
            self.fail(f"cfn-lint found problems in {EDGE_TEMPLATE}")


if __name__ == "__main__":
    sys.exit(Checker(sys.argv[1] if len(sys.argv) > 1 else "template.yaml").run())
