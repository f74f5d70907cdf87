"""Writes the monitoring nested stacks from template.yaml, so a new function or queue cannot
go without its alarms.

    python infra/scripts/gen_monitoring.py [template.yaml]           # (re)write both files
    python infra/scripts/gen_monitoring.py --check [template.yaml]   # exit 1 if either is stale

Two nested templates, because of how CloudFormation orders the main stack:

- infra/monitoring.yaml (`Monitoring`): the alarm topic, the errors and throttles alarm of
  every function, an alarm per dead-letter or failure queue, the table's throttled requests
  and system errors, FCM's third-party auth errors and the Strava budget. Its Outputs name
  each function's errors alarm, which that function's DeploymentPreference lists, so
  CodeDeploy rolls a canary back on it. It must not depend on the HTTP API: the API's
  integrations point at the functions' `live` aliases, whose updates wait for their
  deployment groups, which read these outputs (a cycle).
- infra/dashboard.yaml (`Dashboard`): the API's 5xx-rate and p99-latency alarms (they need
  the API id) and the CloudWatch dashboard.

The main template passes every parameter by hand (function names, queue names, ...);
infra/scripts/check_operations.py checks the wiring both ways and prints the lines to add.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
MONITORING = "infra/monitoring.yaml"
DASHBOARD = "infra/dashboard.yaml"

NAMESPACE = "RunCrew"
# DynamoDB publishes ThrottledRequests and SystemErrors per operation (dimensions TableName,
# Operation): the operations the adapters call (shared/src/store). A metric math alarm
# reads at most 10 metrics.
TABLE_OPERATIONS = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
]

# What each dead-letter or failure queue holding a message means, and what to do. A queue
# that receives failures (a RedrivePolicy's deadLetterTargetArn or an OnFailure
# destination) and is missing here stops the generator: write its two sentences first.
REDRIVE = (
    " To replay: fix the cause, then move the messages back with"
    " `aws sqs start-message-move-task --source-arn <this queue's ARN>`"
    " (README, Alarms)."
)
STREAM_REPLAY = (
    " Each message names the shard and sequence numbers of the records given up on: fix the"
    " cause, then replay those records (README, Alarms), and delete the message."
)
FAILURE_QUEUES = {
    "ThumbnailsDeadLetterQueue": (
        "An S3 event the thumbnails task failed three times is waiting in its dead-letter queue:"
        " a course map or photo thumbnail was not drawn."
        " Read the thumbnails log for the key, fix the cause, then re-upload or copy the object"
        " onto itself to raise the event again, and delete the message."
    ),
    "PushDeadLetterQueue": (
        "A push job failed ten receives and is waiting in the push dead-letter queue: some"
        " devices did not get a notification (the inbox still has it)." + REDRIVE
    ),
    "StravaDeadLetterQueue": (
        "A Strava job failed ten receives and is waiting in the Strava dead-letter queue: an"
        " import, sync or deauthorization did not happen." + REDRIVE
    ),
    "JobsDeadLetterQueue": (
        "A step of an erasure or course deletion failed five receives and is waiting in the jobs"
        " dead-letter queue: the job is stuck until it is moved back (erasures have a legal"
        " deadline)." + REDRIVE
    ),
    "ErrorReportsDeadLetterQueue": (
        "A batch of log lines error-reports could not send to Sentry three times is waiting in"
        " its dead-letter queue: some errors or traces are missing from Sentry (the log group"
        " still has every line). Check Sentry's status and quota and the error-reports log,"
        " then read the missing reports in Logs Insights (level = \"ERROR\" in the functions'"
        " log group) and delete the message."
    ),
    "FeedDeadLetterQueue": (
        "A feed step failed five receives and is waiting in the feed dead-letter queue; some"
        " feeds miss a run or keep an unfollowed one." + REDRIVE
    ),
    "ProjectorFailureQueue": (
        "The projector gave up on stream records; leaderboards or records may be wrong until"
        " they are replayed." + STREAM_REPLAY
    ),
    "FeedChangesFailureQueue": (
        "feed-changes gave up on stream records; some runs or follows did not reach the feeds"
        " until they are replayed." + STREAM_REPLAY
    ),
    "NotifierFailureQueue": (
        "The notifier gave up on stream records; some notifications were not delivered until"
        " they are replayed." + STREAM_REPLAY
    ),
    "EventChangesFailureQueue": (
        "event-changes gave up on stream records; waiters may not have moved up or participants"
        " not been told until they are replayed." + STREAM_REPLAY
    ),
}

TASK_EVENTS = {"SQS", "DynamoDB", "ScheduleV2"}


class Problem(Exception):
    """template.yaml lacks something the generator needs; the message says what."""


# --- reading template.yaml ---------------------------------------------------------------


def load(path: Path) -> dict:
    return yaml_parse(path.read_text(encoding="utf-8"))


def is_hook(resource: dict) -> bool:
    """The CodeDeploy pre-traffic hook: CodeDeploy's role may only invoke CodeDeployHook_*."""
    name = resource.get("Properties", {}).get("FunctionName")
    if isinstance(name, dict):
        name = name.get("Fn::Sub")
    return isinstance(name, str) and name.startswith("CodeDeployHook_")


def functions(template: dict) -> list[dict]:
    """Every AWS::Serverless::Function, in template order, with what the alarms need."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if not binary:
            raise Problem(f"{logical_id} has no Metadata.BuildProperties.Binary")
        events = {e.get("Type") for e in (props.get("Events") or {}).values()}
        if "HttpApi" in events:
            kind = "http"
        elif events & TASK_EVENTS:
            kind = "task"
        elif events:
            kind = "s3"
        else:
            kind = "plain"
        found.append(
            {
                "id": logical_id,
                "binary": binary,
                "kind": kind,
                "condition": resource.get("Condition"),
                "description": str(props.get("Description", binary)),
                "hook": is_hook(resource),
                # a log group of its own, instead of the functions' shared one (Globals)
                "own_logs": "LogGroup" in (props.get("LoggingConfig") or {}),
            }
        )
    return found


def _getatt_arn(value) -> str | None:
    """`!GetAtt Queue.Arn` (as yaml_parse reads it) -> "Queue"."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            target = target.split(".", 1)
        if len(target) == 2 and target[1] == "Arn":
            return target[0]
    return None


def _failure_targets(node, out: set) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "deadLetterTargetArn" or (
                key == "OnFailure" and isinstance(value, dict) and "Destination" in value
            ):
                target = _getatt_arn(value if key == "deadLetterTargetArn" else value["Destination"])
                if target:
                    out.add(target)
            _failure_targets(value, out)
    elif isinstance(node, list):
        for item in node:
            _failure_targets(item, out)


def queues(template: dict, strict: bool = True) -> tuple[list[str], list[str]]:
    """(work queues, failure queues) by logical id, in template order. A failure queue is one
    that a RedrivePolicy or an OnFailure destination sends messages to. Strict: every failure
    queue must have its text in FAILURE_QUEUES."""
    all_queues = [k for k, r in template["Resources"].items() if r.get("Type") == "AWS::SQS::Queue"]
    targets: set = set()
    _failure_targets(template["Resources"], targets)
    failure = [q for q in all_queues if q in targets]
    work = [q for q in all_queues if q not in targets]
    missing = [q for q in failure if q not in FAILURE_QUEUES]
    if missing and strict:
        raise Problem(
            "failure queue(s) without an alarm text: "
            + ", ".join(missing)
            + " - add what a message there means and what to do to FAILURE_QUEUES in"
            " infra/scripts/gen_monitoring.py"
        )
    return work, failure


# --- building the templates -------------------------------------------------------------


def sub(text: str):
    """`Fn::Sub` when the text has a ${variable}, else the text (cfn-lint W1020)."""
    return {"Fn::Sub": text} if "${" in text else text


def ref(name: str) -> dict:
    return {"Ref": name}


def metric(namespace: str, name: str, dimensions: dict, stat: str, period: int) -> dict:
    return {
        "Metric": {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        },
        "Stat": stat,
        "Period": period,
    }


def alarm(
    name: str,
    description,
    *,
    threshold: float,
    comparison: str = "GreaterThanThreshold",
    periods: int = 1,
    datapoints: int | None = None,
    condition: str | None = None,
    **shape,
) -> dict:
    props = {
        "AlarmName": sub(f"runcrew-${{Environment}}-{name}"),
        "AlarmDescription": description,
        **shape,
        "EvaluationPeriods": periods,
    }
    if datapoints:
        props["DatapointsToAlarm"] = datapoints
    props.update(
        {
            "Threshold": threshold,
            "ComparisonOperator": comparison,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("AlarmTopic")],
        }
    )
    resource = {"Type": "AWS::CloudWatch::Alarm"}
    if condition:
        resource["Condition"] = condition
    resource["Properties"] = props
    return resource


def function_alarms(fn: dict) -> dict:
    """The errors and throttles alarms of one function."""
    param = f"{fn['id']}Name"
    binary = fn["binary"]
    condition = f"Has{fn['id']}" if fn["condition"] else None
    if fn["own_logs"]:
        logs = "its own log group, named in its LoggingConfig; Logs Insights: filter level = \"ERROR\""
    else:
        logs = (
            "/runcrew/${Environment}/functions, its streams YYYY/MM/DD/"
            f"${{{param}}}[version]...; Logs Insights: filter @logStream like \"${{{param}}}\""
            ' and level = "ERROR"'
        )
    lambda_errors = metric("AWS/Lambda", "Errors", {"FunctionName": ref(param)}, "Sum", 60)
    if fn["kind"] in ("http", "task"):
        if fn["kind"] == "http":
            own = metric(NAMESPACE, "Latency", {"Function": binary, "StatusClass": "5xx"}, "SampleCount", 60)
            what = "Lambda errors or 5xx answers"
        else:
            own = metric(NAMESPACE, "Failed", {"Function": binary}, "Sum", 60)
            what = "Lambda errors or failed items (retried, then dead-lettered)"
        shape = {
            "Metrics": [
                {"Id": "errors", "MetricStat": lambda_errors, "ReturnData": False},
                {"Id": "own", "MetricStat": own, "ReturnData": False},
                {
                    "Id": "failures",
                    "Label": "Lambda errors + the function's own failures",
                    "Expression": "FILL(errors, 0) + FILL(own, 0)",
                    "ReturnData": True,
                },
            ]
        }
    else:
        what = "Lambda errors (failed invocations)"
        shape = {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": ref(param)}],
            "Statistic": "Sum",
            "Period": 60,
        }
    if fn["hook"]:
        todo = (
            " The pre-traffic hook itself crashed or timed out, so it may not have told CodeDeploy"
            " the outcome: a deploy waiting on it fails only after CodeDeploy's hook timeout (an"
            " hour). Stop it (aws deploy stop-deployment --auto-rollback-enabled, README), read"
            f" the hook's log ({logs}), fix it and deploy again."
        )
    else:
        todo = (
            " During a deploy CodeDeploy stops the shift to the new version and rolls this"
            " function back by itself. Otherwise: read its log"
            f" ({logs}) and its X-Ray traces, then"
            " fix forward or roll back (README, Release and roll back)."
        )
    description = fn["description"].replace("${", "${!")
    errors = alarm(
        f"{binary}-errors",
        sub(f"{binary} ({description}): {what} in 2 of the last 3 minutes.{todo}"),
        threshold=0,
        periods=3,
        datapoints=2,
        condition=condition,
        **shape,
    )
    throttles = alarm(
        f"{binary}-throttles",
        sub(
            f"{binary}: Lambda refused invocations for lack of concurrency in the last 5 minutes"
            " (API callers got errors; queue, stream and schedule work waits and is retried)."
            " Check ConcurrentExecutions and the account quota on the dashboard; raise the"
            " quota or this function's reserved concurrency, or find the runaway caller."
        ),
        threshold=0,
        condition=condition,
        Namespace="AWS/Lambda",
        MetricName="Throttles",
        Dimensions=[{"Name": "FunctionName", "Value": ref(param)}],
        Statistic="Sum",
        Period=300,
    )
    return {f"{fn['id']}Errors": errors, f"{fn['id']}Throttles": throttles}


def table_alarm(name: str, metric_name: str, description: str) -> dict:
    metrics = [
        {
            "Id": f"op{i}",
            "MetricStat": metric("AWS/DynamoDB", metric_name, {"TableName": ref("TableName"), "Operation": op}, "Sum", 300),
            "ReturnData": False,
        }
        for i, op in enumerate(TABLE_OPERATIONS)
    ]
    metrics.append(
        {
            "Id": "total",
            "Label": f"{metric_name}, all operations",
            "Expression": " + ".join(f"FILL(op{i}, 0)" for i in range(len(TABLE_OPERATIONS))),
            "ReturnData": True,
        }
    )
    return alarm(name, description, threshold=0, Metrics=metrics)


def monitoring(fns: list[dict], failure_queues: list[str]) -> dict:
    params: dict = {
        "Environment": {"Type": "String", "AllowedValues": ["dev", "stage", "prod"]},
        "AlarmEmail": {
            "Type": "String",
            "Default": "",
            "Description": "Subscribed to the alarm topic when set (confirm the e-mail SNS sends).",
        },
        "TableName": {"Type": "String"},
    }
    conditions: dict = {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]}}
    for fn in fns:
        param = {"Type": "String", "Description": f"Name of {fn['id']} ({fn['binary']})."}
        if fn["condition"]:
            param["Default"] = ""
            param["Description"] += f" Empty where its condition {fn['condition']} is false."
            conditions[f"Has{fn['id']}"] = {"Fn::Not": [{"Fn::Equals": [ref(f"{fn['id']}Name"), ""]}]}
        params[f"{fn['id']}Name"] = param
    for queue in failure_queues:
        params[f"{queue}Name"] = {"Type": "String"}

    resources: dict = {
        # CloudWatch cannot publish to a topic under the AWS-managed aws/sns key (its policy
        # cannot be changed to let CloudWatch use it): a key of our own that it may use.
        "AlarmTopicKey": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": sub("RunCrew ${Environment} alarm topic"),
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "CloudWatchAlarmsPublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                        },
                    ],
                },
            },
        },
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": sub("runcrew-${Environment}-alarms"),
                "DisplayName": sub("RunCrew ${Environment} alarms"),
                "KmsMasterKeyId": ref("AlarmTopicKey"),
            },
        },
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")},
        },
    }
    outputs: dict = {"AlarmTopicArn": {"Value": ref("AlarmTopic")}}
    for fn in fns:
        resources.update(function_alarms(fn))
        if not fn["hook"]:
            output = {
                "Description": f"The errors alarm {fn['id']}'s DeploymentPreference names.",
                "Value": ref(f"{fn['id']}Errors"),
            }
            if fn["condition"]:
                output = {"Condition": f"Has{fn['id']}", **output}
            outputs[f"{fn['id']}ErrorsAlarm"] = output
    for queue in failure_queues:
        resources[f"{queue}Alarm"] = alarm(
            f"{kebab(queue)}-not-empty",
            FAILURE_QUEUES[queue],
            threshold=0,
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": ref(f"{queue}Name")}],
            Statistic="Maximum",
            Period=300,
        )
    resources["TableThrottledRequestsAlarm"] = table_alarm(
        "table-throttled",
        "ThrottledRequests",
        sub(
            "The table ${TableName} throttled requests in the last 5 minutes (on demand: a hot"
            " partition key or the table's maximum throughput). The SDK retries them, but callers"
            " slow down and may time out. See the dashboard's table widgets for the operation;"
            " spread the hot key, or raise the on-demand maximum throughput if one is set."
        ),
    )
    resources["TableSystemErrorsAlarm"] = table_alarm(
        "table-system-errors",
        "SystemErrors",
        sub(
            "DynamoDB answered requests on ${TableName} with a 500 in the last 5 minutes (its"
            " side, not ours). Check the AWS Health Dashboard for DynamoDB in ${AWS::Region}; the"
            " SDK retries, so act only if it lasts (failed requests show as 5xx and task failures)."
        ),
    )
    resources["PushThirdPartyAuthAlarm"] = alarm(
        "push-third-party-auth",
        "FCM could not reach APNs or web push with the Firebase project's credentials"
        " (THIRD_PARTY_AUTH_ERROR): iPhones and browsers get no pushes, tokens are kept. Fix"
        " the APNs key or web push certificate in the Firebase console (Project settings,"
        " Cloud Messaging); nothing to redeploy.",
        threshold=0,
        Namespace=NAMESPACE,
        MetricName="FcmThirdPartyAuthErrors",
        Dimensions=[{"Name": "Function", "Value": "push"}],
        Statistic="Sum",
        Period=300,
    )
    for window, logical, when in (
        ("15min", "StravaBudget15MinAlarm", "the quarter hour (it resets at :00, :15, :30 and :45)"),
        ("daily", "StravaBudgetDailyAlarm", "the day (it resets at midnight UTC)"),
    ):
        resources[logical] = alarm(
            f"strava-budget-{window}",
            f"90% or more of the Strava app's {window} request budget is spent for {when}."
            " Imports will pause (nothing is lost: jobs wait for the window) and users see"
            " their runs late. If it happens often, ask Strava for a higher limit or slow the"
            " sync sweep down.",
            threshold=90,
            comparison="GreaterThanOrEqualToThreshold",
            Namespace=NAMESPACE,
            MetricName="StravaBudgetUsedPercent",
            Dimensions=[{"Name": "Window", "Value": window}],
            Statistic="Maximum",
            Period=300,
        )
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "RunCrew alarms (nested in template.yaml as Monitoring; generated by"
        " infra/scripts/gen_monitoring.py - do not edit by hand).",
        "Parameters": params,
        "Conditions": conditions,
        "Resources": resources,
        "Outputs": outputs,
    }


def kebab(logical_id: str) -> str:
    out = ""
    for i, ch in enumerate(logical_id):
        if ch.isupper() and i:
            out += "-"
        out += ch.lower()
    return out


def dashboard_body(fns: list[dict], work_queues: list[str], failure_queues: list[str]) -> str:
    """The dashboard's JSON, with ${...} for Fn::Sub."""
    region = "${AWS::Region}"
    api = ["AWS/ApiGateway"]
    tasks = [fn["binary"] for fn in fns if fn["kind"] == "task"]
    widgets: list[dict] = []

    def graph(title, metrics, x, y, w=8, h=6, stat="Sum", period=60, **extra):
        props = {"title": title, "region": region, "view": "timeSeries", "stat": stat, "period": period, "metrics": metrics}
        props.update(extra)
        widgets.append({"type": "metric", "x": x, "y": y, "width": w, "height": h, "properties": props})

    widgets.append(
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 2,
            "properties": {
                "markdown": "## RunCrew ${Environment}\nAlarms: CloudWatch, Alarms, filter `runcrew-${Environment}-` "
                "(they notify the SNS topic runcrew-${Environment}-alarms). What each means and what to do: its description, and README, Alarms."
            },
        }
    )
    y = 2
    graph(
        "API requests and errors",
        [
            api + ["Count", "ApiId", "${HttpApiId}", {"label": "requests"}],
            api + ["4xx", "ApiId", "${HttpApiId}", {"label": "4xx"}],
            api + ["5xx", "ApiId", "${HttpApiId}", {"label": "5xx", "color": "#d62728"}],
        ],
        0, y, w=12,
    )
    graph(
        "API latency (ms)",
        [
            api + ["Latency", "ApiId", "${HttpApiId}", {"stat": "p50", "label": "p50"}],
            api + ["Latency", "ApiId", "${HttpApiId}", {"stat": "p99", "label": "p99"}],
        ],
        12, y, w=12, stat="p99",
    )
    y += 6
    graph(
        "5xx answers by function",
        [[{"expression": f"SEARCH('{{{NAMESPACE},Function,StatusClass}} MetricName=\"Latency\" StatusClass=\"5xx\"', 'SampleCount', 60)", "id": "e1", "label": ""}]],
        0, y,
    )
    graph(
        "Handler p99 latency by function (ms)",
        [[{"expression": f"SEARCH('{{{NAMESPACE},Function,StatusClass}} MetricName=\"Latency\" StatusClass=\"2xx\"', 'p99', 300)", "id": "e1", "label": ""}]],
        8, y, stat="p99", period=300,
    )
    graph(
        "Lambda errors and throttles by function",
        [
            [{"expression": "SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Errors\" ${StackName}', 'Sum', 60)", "id": "e1", "label": "errors"}],
            [{"expression": "SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Throttles\" ${StackName}', 'Sum', 60)", "id": "e2", "label": "throttles"}],
        ],
        16, y,
    )
    y += 6
    for i, (name, stat, title) in enumerate(
        (("Processed", "Sum", "Task items processed"), ("Failed", "Sum", "Task items failed"), ("OldestRecordAgeMs", "Maximum", "Oldest item age when taken (ms)"))
    ):
        graph(title, [[NAMESPACE, name, "Function", t, {"label": t}] for t in tasks], 8 * i, y, stat=stat, period=300)
    y += 6
    graph(
        "Work queues: messages waiting",
        [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"${{{q}Name}}", {"label": q}] for q in work_queues],
        0, y, stat="Maximum", period=60,
    )
    graph(
        "Work queues: age of oldest message (s)",
        [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", f"${{{q}Name}}", {"label": q}] for q in work_queues],
        8, y, stat="Maximum", period=60,
    )
    graph(
        "Dead-letter and failure queues (should be 0)",
        [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"${{{q}Name}}", {"label": q}] for q in failure_queues],
        16, y, stat="Maximum", period=300,
    )
    y += 6
    ddb = ["AWS/DynamoDB"]
    graph(
        "Table: consumed capacity units",
        [
            ddb + ["ConsumedReadCapacityUnits", "TableName", "${TableName}", {"label": "read"}],
            ddb + ["ConsumedWriteCapacityUnits", "TableName", "${TableName}", {"label": "write"}],
        ],
        0, y,
    )
    problems = []
    for metric_name, prefix, total in (("ThrottledRequests", "qt", "throttled"), ("SystemErrors", "qs", "systemerrors")):
        for i, op in enumerate(TABLE_OPERATIONS):
            problems.append(ddb + [metric_name, "TableName", "${TableName}", "Operation", op, {"id": f"{prefix}{i}", "visible": False}])
        summed = " + ".join(f"FILL({prefix}{i}, 0)" for i in range(len(TABLE_OPERATIONS)))
        problems.append([{"expression": summed, "id": total, "label": metric_name}])
    graph("Table: throttled requests and system errors", problems, 8, y)
    graph(
        "Table: throttle events (table and indexes)",
        [
            ddb + ["ReadThrottleEvents", "TableName", "${TableName}", {"label": "read"}],
            ddb + ["WriteThrottleEvents", "TableName", "${TableName}", {"label": "write"}],
            [{"expression": "SEARCH('{AWS/DynamoDB,TableName,GlobalSecondaryIndexName} TableName=\"${TableName}\" (MetricName=\"ReadThrottleEvents\" OR MetricName=\"WriteThrottleEvents\")', 'Sum', 60)", "id": "g", "label": "index"}],
        ],
        16, y,
    )
    y += 6
    graph(
        "Strava request budget used (%)",
        [
            [NAMESPACE, "StravaBudgetUsedPercent", "Window", "15min", {"label": "15 min"}],
            [NAMESPACE, "StravaBudgetUsedPercent", "Window", "daily", {"label": "daily"}],
        ],
        0, y, w=12, stat="Maximum", period=300,
        annotations={"horizontal": [{"label": "alarm", "value": 90}]},
        yAxis={"left": {"min": 0, "max": 100}},
    )
    graph(
        "FCM third-party auth errors (APNs / web push credentials)",
        [[NAMESPACE, "FcmThirdPartyAuthErrors", "Function", "push"]],
        12, y, w=12, period=300,
    )
    return json.dumps({"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}, indent=1)


def dashboard(fns: list[dict], work_queues: list[str], failure_queues: list[str]) -> dict:
    params: dict = {
        "Environment": {"Type": "String", "AllowedValues": ["dev", "stage", "prod"]},
        "StackName": {"Type": "String", "Description": "The main stack's name: its functions' names start with it."},
        "HttpApiId": {"Type": "String"},
        "TableName": {"Type": "String"},
        "AlarmTopicArn": {"Type": "String"},
        "ApiErrorRatePercent": {
            "Type": "Number",
            "Default": 5,
            "Description": "The API 5xx alarm's threshold: percent of requests answered 5xx in a minute.",
        },
        "ApiLatencyP99Ms": {
            "Type": "Number",
            "Default": 1500,
            "Description": "The API latency alarm's threshold: p99 over 5 minutes, milliseconds.",
        },
    }
    for queue in work_queues + failure_queues:
        params[f"{queue}Name"] = {"Type": "String"}
    api_metric = lambda name, stat: metric("AWS/ApiGateway", name, {"ApiId": ref("HttpApiId")}, stat, 60)  # noqa: E731
    resources = {
        "ApiErrorRateAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": sub("runcrew-${Environment}-api-5xx-rate"),
                "AlarmDescription": sub(
                    "More than ${ApiErrorRatePercent}% of API requests were answered 5xx in 3 of the last"
                    " 5 minutes (minutes with fewer than 20 requests count as 0). Look at the dashboard"
                    " runcrew-${Environment}: 5xx answers by function and Lambda errors name the culprit;"
                    " if it started with a deploy, roll back (README, Release and roll back), else read"
                    " that function's log and traces."
                ),
                "Metrics": [
                    {"Id": "errors", "MetricStat": api_metric("5xx", "Sum"), "ReturnData": False},
                    {"Id": "requests", "MetricStat": api_metric("Count", "Sum"), "ReturnData": False},
                    {
                        "Id": "rate",
                        "Label": "5xx, percent of requests",
                        "Expression": "IF(FILL(requests, 0) >= 20, 100 * FILL(errors, 0) / requests, 0)",
                        "ReturnData": True,
                    },
                ],
                "EvaluationPeriods": 5,
                "DatapointsToAlarm": 3,
                "Threshold": ref("ApiErrorRatePercent"),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [ref("AlarmTopicArn")],
            },
        },
        "ApiLatencyAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": sub("runcrew-${Environment}-api-latency-p99"),
                "AlarmDescription": sub(
                    "The API's p99 latency was over ${ApiLatencyP99Ms} ms in 2 of the last 3 five-minute"
                    " periods. Look at the dashboard runcrew-${Environment}: handler p99 by function"
                    " and the table's throttles show where the time goes (X-Ray traces show the slow"
                    " calls); a slow third party shows as one route. Roll back if it began with a deploy."
                ),
                "Namespace": "AWS/ApiGateway",
                "MetricName": "Latency",
                "Dimensions": [{"Name": "ApiId", "Value": ref("HttpApiId")}],
                "ExtendedStatistic": "p99",
                "Period": 300,
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "Threshold": ref("ApiLatencyP99Ms"),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [ref("AlarmTopicArn")],
            },
        },
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": sub("runcrew-${Environment}"),
                "DashboardBody": sub(dashboard_body(fns, work_queues, failure_queues)),
            },
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "RunCrew dashboard and API alarms (nested in template.yaml as Dashboard;"
        " generated by infra/scripts/gen_monitoring.py - do not edit by hand).",
        "Parameters": params,
        "Resources": resources,
        "Outputs": {"DashboardName": {"Value": ref("Dashboard")}},
    }


# --- writing -----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

HEADER = "# Generated by infra/scripts/gen_monitoring.py from template.yaml. Do not edit by hand:\n# change the generator or template.yaml, then run it again.\n"


def render(doc: dict) -> str:
    return HEADER + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100000, allow_unicode=True)


def generate(template_path: Path) -> dict[str, str]:
    """{relative path: text} of the nested templates for this template.yaml."""
    template = load(template_path)
    fns = functions(template)
    work, failure = queues(template)
    return {MONITORING: render(monitoring(fns, failure)), DASHBOARD: render(dashboard(fns, work, failure))}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    template_path = Path(args[0] if args else ROOT / "template.yaml").resolve()
    base = template_path.parent
    try:
        files = generate(template_path)
    except Problem as problem:
        print(f"gen_monitoring: {problem}")
        return 1
    stale = []
    for relative, text in files.items():
        target = base / relative
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        if check:
            stale.append(relative)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        print(
            f"{', '.join(stale)} is not what {template_path.name} gives: run"
            f" `python infra/scripts/gen_monitoring.py {template_path.name}` and commit the result"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
