"""The CloudFormation template: the pipeline the local run emulates, from the same configs.

One source of truth: the ``AWS::Lambda::EventSourceMapping`` is the ESM JSON the local trigger
runs (``EventSourceMapping.to_aws()``; CloudFormation takes the CLI's property names [CFN-ESM],
except ``KmsKeyArn`` and Tags as a list of Key/Value pairs), the role's only policy is the one
``streamsim policy --stack NAME`` prints (``stack_policy``: streams, tables, on-failure queue
and the function's own log group; no managed policy), the function's
environment is what ``HandlerSettings.from_env`` reads, and the tables are streamsim.aws.tables'
schemas. The template is JSON (valid YAML, so ``template.yaml`` works): no YAML tags to get
wrong. Resources are named from a prefix (``<name>-Plays`` ...) so that the policy can name
them; region and account come from ``${AWS::Region}`` and ``${AWS::AccountId}``.

The mapping has a condition (parameter ``CreateMapping``, default ``true``): ``false`` deploys
everything but the mapping, so that a local trigger can stand in for Lambda on the deployed
stream (moto's own mapping would invoke on every write and consume the stream's records, and
moto ignores ``Enabled: false``: docs/deploy.md).

[CFN-ESM] docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-eventsourcemapping.html
[CFN-FN] …/aws-resource-lambda-function.html · [CFN-DDB] …/aws-resource-dynamodb-table.html
[CFN-ALARM] …/aws-resource-cloudwatch-alarm.html · [METRICS] docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from streamsim.aws.tables import ACHIEVEMENTS, PLAYER_STATE, PLAYS, TableSpec
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.errors import ConfigError
from streamsim.game.badges import DEFAULT_RULES, BadgeRule
from streamsim.game.deliveries import DELIVERIES_ENV
from streamsim.game.handler import DEFAULT_PLAYER_WORKERS, STRATEGIES
from streamsim.workbench.deploy.package import HANDLER
from streamsim.workbench.policy import build_policy

#: Sentinels that build_policy accepts, replaced by ``${AWS::Region}``/``${AWS::AccountId}``.
_REGION = "zz-region-0"
_ACCOUNT = "000000000000"
#: Lambda's Python runtime for the package (stdlib + boto3) [CFN-FN].
RUNTIME = "python3.12"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,39}$")


#: Strategies that keep a PlayerState item per player (streamsim.game.handler).
KEEPS_STATE = ("incremental", "batched")


@dataclass(frozen=True)
class StackSettings:
    """What the template depends on besides the mapping."""

    name: str = "streamsim"
    strategy: str = "read-all"
    rules: tuple[BadgeRule, ...] = DEFAULT_RULES
    memory_mb: int = 256
    #: The local run's function timeout (streamsim.workbench.runconfig): 60 s.
    timeout_seconds: int = 60
    #: IteratorAge alarm threshold: a minute behind the stream.
    iterator_age_alarm_ms: int = 60_000
    log_retention_days: int = 7

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"stack name {self.name!r} must start with a letter and have at most 40 of "
                "A-Z a-z 0-9 - (it prefixes the table, function and queue names)"
            )
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        # Lambda: 128-10,240 MB; timeout 1-900 s [CFN-FN].
        if not 128 <= self.memory_mb <= 10240:
            raise ConfigError(f"memory {self.memory_mb} MB is out of range 128-10240")
        if not 1 <= self.timeout_seconds <= 900:
            raise ConfigError(f"timeout {self.timeout_seconds} s is out of range 1-900")

    def names(self) -> dict[str, str]:
        """The physical names of the stack's resources."""
        return {
            "plays": f"{self.name}-Plays",
            "achievements": f"{self.name}-Achievements",
            "player_state": f"{self.name}-PlayerState",
            "function": f"{self.name}-badges",
            "queue": f"{self.name}-on-failure",
        }


def stack_mapping(mapping: EventSourceMapping, settings: StackSettings) -> EventSourceMapping:
    """The mapping as deployed: on the stack's stream, function and queue.

    Its own EventSourceArn and FunctionName are the stack's; an SQS on-failure destination
    becomes the stack's queue; SNS and S3 destinations are refused (the stack has a queue).
    """
    params = mapping.to_aws()
    params.pop("EventSourceArn", None)
    params.pop("FunctionName", None)
    destination = mapping.on_failure_destination
    if destination is not None and destination.split(":")[2] != "sqs":
        raise ConfigError(
            f"the stack's on-failure destination is an SQS queue; the config names {destination}"
        )
    queue = settings.names()["queue"]
    params["DestinationConfig"] = {
        "OnFailure": {"Destination": f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:{queue}"}
    }
    return EventSourceMapping.from_aws(params)


def stack_policy(
    mapping: EventSourceMapping,
    settings: StackSettings,
    *,
    region: str | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """The role's policy: ``build_policy`` on the stack's tables, function and queue.

    Without ``region`` and ``account``, on ``${AWS::Region}``/``${AWS::AccountId}`` (the
    template's); with them, filled in (what ``streamsim policy --stack`` prints).
    """
    names = settings.names()
    policy = build_policy(
        table=names["plays"],
        region=_REGION,
        account=_ACCOUNT,
        mapping=stack_mapping(mapping, settings),
        strategy=settings.strategy,
        achievements_table=names["achievements"],
        state_table=names["player_state"],
        function=names["function"],
    )
    templated = _sub(policy)
    if region is None or account is None:
        return dict(templated)
    return dict(resolve(templated, region, account))


def esm_properties(mapping: EventSourceMapping) -> dict[str, Any]:
    """CloudFormation properties of the mapping: ``to_aws()`` under CloudFormation's names."""
    props: dict[str, Any] = {}
    for key, value in mapping.to_aws().items():  # in order: the ignored settings keep theirs
        if key == "KMSKeyArn":
            props["KmsKeyArn"] = value
        elif key == "Tags":
            props["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(value.items())]
        else:
            props[key] = value
    return props


def mapping_from_properties(props: dict[str, Any]) -> EventSourceMapping:
    """The inverse of ``esm_properties``: the mapping a template (or a read-back) describes."""
    params: dict[str, Any] = {}
    for key, value in props.items():
        if key == "KmsKeyArn":
            params["KMSKeyArn"] = value
        elif key == "Tags":
            params["Tags"] = {t["Key"]: t["Value"] for t in value}
        else:
            params[key] = value
    return EventSourceMapping.from_aws(params)


def build_template(mapping: EventSourceMapping, settings: StackSettings) -> dict[str, Any]:
    """The template as a dict (``render`` makes the text)."""
    names = settings.names()
    deployed = stack_mapping(mapping, settings)
    esm = esm_properties(deployed)
    esm["EventSourceArn"] = {"Fn::GetAtt": ["PlaysTable", "StreamArn"]}
    esm["FunctionName"] = {"Ref": "BadgeFunction"}
    rules = [{"rule": r.name, "params": r.params()} for r in settings.rules]
    resources: dict[str, Any] = {
        "PlaysTable": _table(PLAYS.with_name(names["plays"])),
        "AchievementsTable": _table(ACHIEVEMENTS.with_name(names["achievements"])),
        "OnFailureQueue": {
            "Type": "AWS::SQS::Queue",
            # The longest retention (14 days): time to look at what failed.
            "Properties": {"QueueName": names["queue"], "MessageRetentionPeriod": 1_209_600},
        },
        "FunctionLogs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/lambda/{names['function']}",
                "RetentionInDays": settings.log_retention_days,
            },
        },
        "BadgeRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                # Exactly streamsim policy's, logs included: no managed policy.
                "Policies": [
                    {
                        "PolicyName": "streamsim-least-privilege",
                        "PolicyDocument": stack_policy(mapping, settings),
                    }
                ],
            },
        },
        "BadgeFunction": {
            "Type": "AWS::Lambda::Function",
            # The log group exists before the function runs: its role needs no CreateLogGroup.
            "DependsOn": ["FunctionLogs"],
            "Properties": {
                "FunctionName": names["function"],
                "Runtime": RUNTIME,
                "Handler": HANDLER,
                "MemorySize": settings.memory_mb,
                "Timeout": settings.timeout_seconds,
                "Role": {"Fn::GetAtt": ["BadgeRole", "Arn"]},
                "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
                "Environment": {
                    "Variables": {
                        "PLAYS_TABLE": names["plays"],
                        "ACHIEVEMENTS_TABLE": names["achievements"],
                        "PLAYER_STATE_TABLE": names["player_state"],
                        "BADGE_STRATEGY": settings.strategy,
                        # players of a batch evaluated at once (threads; read-all ignores it)
                        "BADGE_PLAYER_WORKERS": str(DEFAULT_PLAYER_WORKERS),
                        "BADGE_RULES": json.dumps(rules, separators=(",", ":")),
                        DELIVERIES_ENV: "emf",
                    }
                },
            },
        },
        "BadgeMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Condition": "WithMapping",
            # The role must allow reading the stream before the mapping is created.
            "DependsOn": ["BadgeRole"],
            "Properties": _sub(esm),
        },
        "IteratorAgeAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": f"{settings.name}-iterator-age",
                "AlarmDescription": "The badge function is behind the Plays stream (IteratorAge, "
                "the age of the last record of each batch when the function finished it).",
                "Namespace": "AWS/Lambda",
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "BadgeFunction"}}],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 5,
                "Threshold": settings.iterator_age_alarm_ms,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
        "OnFailureAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": f"{settings.name}-on-failure-messages",
                "AlarmDescription": "Plays were given up and described in the on-failure queue.",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": ["OnFailureQueue", "QueueName"]}}
                ],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
    }
    if settings.strategy in KEEPS_STATE:
        resources["PlayerStateTable"] = _table(PLAYER_STATE.with_name(names["player_state"]))
    outputs = {
        "PlaysTable": {"Value": {"Ref": "PlaysTable"}},
        "PlaysStreamArn": {"Value": {"Fn::GetAtt": ["PlaysTable", "StreamArn"]}},
        "AchievementsTable": {"Value": {"Ref": "AchievementsTable"}},
        "FunctionName": {"Value": {"Ref": "BadgeFunction"}},
        "OnFailureQueueUrl": {"Value": {"Ref": "OnFailureQueue"}},
        "OnFailureQueueArn": {"Value": {"Fn::GetAtt": ["OnFailureQueue", "Arn"]}},
        "LogGroup": {"Value": {"Ref": "FunctionLogs"}},
        "MappingJson": {"Value": json.dumps(esm_properties(deployed), sort_keys=True)},
    }
    if settings.strategy in KEEPS_STATE:
        outputs["PlayerStateTable"] = {"Value": {"Ref": "PlayerStateTable"}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"streamsim: the badge pipeline ({settings.strategy}), from streamsim deploy",
        "Parameters": {
            "CodeBucket": {"Type": "String", "Description": "S3 bucket of the Lambda zip"},
            "CodeKey": {"Type": "String", "Description": "S3 key of the Lambda zip"},
            "CreateMapping": {
                "Type": "String",
                "AllowedValues": ["true", "false"],
                "Default": "true",
                "Description": "false: no event source mapping (a local trigger stands in)",
            },
        },
        "Conditions": {"WithMapping": {"Fn::Equals": [{"Ref": "CreateMapping"}, "true"]}},
        "Resources": resources,
        "Outputs": outputs,
    }


def render(template: dict[str, Any]) -> str:
    """The template's text: JSON, which is also YAML."""
    return json.dumps(template, indent=2) + "\n"


def resolve(value: Any, region: str, account: str) -> Any:
    """``value`` with the template's ``Fn::Sub`` region/account placeholders filled in (tests,
    and comparing a template with what ``streamsim policy`` prints)."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return (
                value["Fn::Sub"]
                .replace("${AWS::Region}", region)
                .replace("${AWS::AccountId}", account)
            )
        return {k: resolve(v, region, account) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, region, account) for v in value]
    return value


def _sub(value: Any) -> Any:
    """Strings holding the sentinels become ``Fn::Sub`` on the stack's region and account."""
    if isinstance(value, dict):
        return {k: _sub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sub(v) for v in value]
    if isinstance(value, str) and (_REGION in value or _ACCOUNT in value):
        return {
            "Fn::Sub": value.replace(_REGION, "${AWS::Region}").replace(
                _ACCOUNT, "${AWS::AccountId}"
            )
        }
    return value


def _table(spec: TableSpec) -> dict[str, Any]:
    """An on-demand table with the spec's keys and stream [CFN-DDB]."""
    keys = [spec.partition_key] + ([spec.sort_key] if spec.sort_key else [])
    props: dict[str, Any] = {
        "TableName": spec.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in keys],
        "KeySchema": [
            {"AttributeName": n, "KeyType": kind}
            for (n, _), kind in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
    }
    if spec.stream_view_type is not None:
        props["StreamSpecification"] = {"StreamViewType": spec.stream_view_type.value}
    return {"Type": "AWS::DynamoDB::Table", "Properties": props}
