"""``streamsim policy``: the least-privilege IAM policy for the trigger and the badge handler.

Everything the deployed function's execution role needs, and nothing more (the stack's role is
exactly this policy, with no managed policy: streamsim.workbench.deploy.template):

- the blog's four stream actions (DescribeStream, GetRecords, GetShardIterator, ListStreams) on
  the table's stream, as AWS's own example writes them [IAM]: the event source mapping reads
  the stream with the function's execution role;
- what the badge handler calls (streamsim.game.handler): Query on the Plays table, PutItem on
  Achievements, and, for the ``incremental`` strategy, GetItem and PutItem on PlayerState
  (``batched``: BatchGetItem too);
- the on-failure destination, when the mapping has one: sqs:SendMessage, sns:Publish, or
  s3:PutObject and s3:ListBucket. Lambda sends the record of a discarded batch with the
  function's execution role, so the role, not the queue, carries the grant [E];
- the function's own logs: logs:CreateLogStream and logs:PutLogEvents on its log group
  ``/aws/lambda/FUNCTION`` (where the deliveries are recorded: streamsim.game.deliveries). That
  is AWS's managed AWSLambdaBasicExecutionRole [BASIC] narrowed from ``Resource: "*"`` to the
  one log group, and without its logs:CreateLogGroup: the stack creates the log group itself
  (``FunctionLogs`` in the template), so the function never has to. A function deployed some
  other way needs that log group created first (the command says so on stderr).

``allows`` evaluates the printed policy, so a test can check every call a real run makes
against it. The command itself (options, defaults, notes) is streamsim.workbench.policy_command.
[IAM] docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-lamda-process-dynamodb-streams.html
[E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html (on-failure destinations
    need the destination's send permission on the execution role)
[BASIC] docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
    (logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents on "*")
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from streamsim.errors import ConfigError

if TYPE_CHECKING:
    from streamsim.aws.trigger.config import EventSourceMapping

STREAM_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
#: What the badge handler calls on each of its tables, by strategy (streamsim.game.handler).
HANDLER_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "read-all": {
        "plays": ("dynamodb:Query",),
        "achievements": ("dynamodb:PutItem",),
    },
    "incremental": {
        "plays": ("dynamodb:Query",),
        "achievements": ("dynamodb:PutItem",),
        "state": ("dynamodb:GetItem", "dynamodb:PutItem"),
    },
    "batched": {  # streamsim.game.batched: one BatchGetItem per batch, GetItem on a conflict
        "plays": ("dynamodb:Query",),
        "achievements": ("dynamodb:PutItem",),
        "state": ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"),
    },
}
#: AWS's documentation account id: a placeholder until ``--account`` names yours.
EXAMPLE_ACCOUNT = "123456789012"
#: What the function needs of its log group: AWSLambdaBasicExecutionRole's actions [BASIC]
#: without logs:CreateLogGroup (the stack creates the group).
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
#: The function ``streamsim deploy template`` names by default (``<name>-badges``).
DEFAULT_FUNCTION = "streamsim-badges"

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ACCOUNT = re.compile(r"^\d{12}$")


def build_policy(
    *,
    table: str = "Plays",
    region: str = "eu-central-1",
    account: str = EXAMPLE_ACCOUNT,
    mapping: EventSourceMapping | None = None,
    strategy: str = "read-all",
    achievements_table: str = "Achievements",
    state_table: str = "PlayerState",
    function: str | None = None,
) -> dict[str, Any]:
    """The policy document for a mapping on ``table``'s stream and the badge handler.

    A mapping's EventSourceArn, when set, names the stream exactly; otherwise every stream of
    the table (``stream/*``: a re-enabled stream gets a new label). The log group is
    ``function``'s, else the mapping's FunctionName's, else ``DEFAULT_FUNCTION``'s.
    """
    for name, value in (("table", table), ("achievements table", achievements_table)):
        if not _TABLE_NAME.match(value):
            raise ConfigError(
                f"{name} {value!r} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)"
            )
    if strategy in ("incremental", "batched") and not _TABLE_NAME.match(state_table):
        raise ConfigError(f"state table {state_table!r} is not a DynamoDB table name")
    check_account(region, account)
    if strategy not in HANDLER_ACTIONS:
        raise ConfigError(f"strategy {strategy!r} is not one of {', '.join(HANDLER_ACTIONS)}")

    def table_arn(name: str) -> str:
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

    stream = (mapping.event_source_arn if mapping else None) or f"{table_arn(table)}/stream/*"
    names = {"plays": table, "achievements": achievements_table, "state": state_table}
    sids = {
        "plays": "BadgeHandlerReadsPlays",
        "achievements": "BadgeHandlerWritesAchievements",
        "state": "BadgeHandlerKeepsPlayerState",
    }
    statements: list[dict[str, Any]] = [
        {
            "Sid": "TriggerReadsTheStream",
            "Effect": "Allow",
            "Action": list(STREAM_ACTIONS),
            "Resource": stream,
        }
    ]
    for role, actions in HANDLER_ACTIONS[strategy].items():
        statements.append(
            {
                "Sid": sids[role],
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": table_arn(names[role]),
            }
        )
    destination = mapping.on_failure_destination if mapping else None
    if destination:
        statements += _destination_statements(destination)
    name = function or (mapping.function_short_name if mapping else None) or DEFAULT_FUNCTION
    statements.append(
        {
            "Sid": "FunctionWritesItsLogs",
            "Effect": "Allow",
            "Action": list(LOG_ACTIONS),
            "Resource": f"{log_group_arn(region, account, name)}:*",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def log_group_arn(region: str, account: str, function: str) -> str:
    """The ARN of the log group Lambda writes ``function``'s output to (``/aws/lambda/NAME``)."""
    return f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}"


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """True when an Allow statement of ``policy`` covers ``action`` on ``resource`` (IAM
    wildcards: ``*`` any run of characters, ``?`` one; actions ignore case)."""
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if any(_matches(a, action, ignore_case=True) for a in actions) and any(
            _matches(r, resource, ignore_case=False) for r in resources
        ):
            return True
    return False


def _destination_statements(arn: str) -> list[dict[str, Any]]:
    """What sending an on-failure record needs, by destination service [E]."""
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    grants = {
        "sqs": [("OnFailureDestination", "sqs:SendMessage", arn)],
        "sns": [("OnFailureDestination", "sns:Publish", arn)],
        "s3": [
            ("OnFailureDestinationObjects", "s3:PutObject", f"{arn}/*"),
            ("OnFailureDestinationBucket", "s3:ListBucket", arn),
        ],
    }.get(service)
    if grants is None:
        raise ConfigError(f"on-failure destination {arn!r} is not an SQS, SNS or S3 ARN")
    return [
        {"Sid": sid, "Effect": "Allow", "Action": [action], "Resource": resource}
        for sid, action, resource in grants
    ]


def check_account(region: str, account: str) -> None:
    """ConfigError unless ``region`` and ``account`` look like AWS's."""
    if not _REGION.match(region):
        raise ConfigError(f"region {region!r} is not an AWS region name (e.g. eu-central-1)")
    if not _ACCOUNT.match(account):
        raise ConfigError(f"account {account!r} is not a 12-digit AWS account id")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _matches(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None
