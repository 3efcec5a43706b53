"""``streamsim policy``: the least-privilege IAM policy for the trigger and the badge handler.

What the function's execution role needs, and nothing more:

- the blog's four stream actions (DescribeStream, GetRecords, GetShardIterator, ListStreams) on
  the table's stream, as AWS's own example writes them [IAM];
- what the badge handler calls (streamsim.game.handler): Query on the Plays table, PutItem on
  Achievements, and, for the ``incremental`` strategy, GetItem and PutItem on PlayerState
  (``batched``: BatchGetItem too);
- the on-failure destination, when the mapping has one: sqs:SendMessage, sns:Publish, or
  s3:PutObject and s3:ListBucket [E].

CloudWatch Logs permissions (AWSLambdaBasicExecutionRole) are not included: the handler does
not need them to work. ``allows`` evaluates the printed policy, so a test can check every call
a real run makes against it.
[IAM] docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-lamda-process-dynamodb-streams.html
[E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
"""

from __future__ import annotations

import argparse
import json
import os
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
) -> dict[str, Any]:
    """The policy document for a mapping on ``table``'s stream and the badge handler.

    A mapping's EventSourceArn, when set, names the stream exactly; otherwise every stream of
    the table (``stream/*``: a re-enabled stream gets a new label).
    """
    for name, value in (("table", table), ("achievements table", achievements_table)):
        if not _TABLE_NAME.match(value):
            raise ConfigError(
                f"{name} {value!r} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)"
            )
    if strategy in ("incremental", "batched") and not _TABLE_NAME.match(state_table):
        raise ConfigError(f"state table {state_table!r} is not a DynamoDB table name")
    _check_account(region, account)
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
    return {"Version": "2012-10-17", "Statement": statements}


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``streamsim policy``."""
    parser.add_argument(
        "--table",
        default=None,
        help="the table whose stream the trigger reads (default: the config's EventSourceArn, "
        "else Plays)",
    )
    parser.add_argument(
        "--region",
        default=None,
        help="AWS region (default: the config's EventSourceArn, $STREAMSIM_REGION, eu-central-1)",
    )
    parser.add_argument(
        "--account",
        default=None,
        help=f"AWS account id (default: the config's EventSourceArn, else {EXAMPLE_ACCOUNT}, a placeholder)",
    )
    parser.add_argument(
        "--config",
        metavar="ESM.json",
        help="event-source-mapping JSON; default: streamsim run's mapping (SQS on-failure queue)",
    )
    parser.add_argument(
        "--strategy",
        choices=sorted(HANDLER_ACTIONS),
        default="read-all",
        help="the badge handler's strategy (default read-all, as streamsim deploy's; streamsim "
        "run's default is batched; incremental and batched also keep PlayerState)",
    )


def main(args: argparse.Namespace) -> int:
    """Print the policy JSON on stdout (notes on stderr)."""
    import sys

    from streamsim.aws.trigger.config import EventSourceMapping

    mapping = EventSourceMapping.from_file(args.config) if args.config else None
    if mapping is not None:
        from streamsim.workbench.attach import print_warnings

        print_warnings(mapping.warnings)
    # arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL (checked by EventSourceMapping)
    arn = (mapping.event_source_arn if mapping else None) or ""
    _, _, _, arn_region, arn_account, resource = (arn.split(":", 5) + [""] * 6)[:6]
    arn_table = resource.split("/")[1] if resource.count("/") >= 1 else ""
    for name, given, named in (
        ("table", args.table, arn_table),
        ("region", args.region, arn_region),
        ("account", args.account, arn_account),
    ):
        if given and named and given != named:
            raise ConfigError(
                f"--{name} {given} differs from the config's EventSourceArn ({named})"
            )
    region = args.region or arn_region or os.environ.get("STREAMSIM_REGION") or "eu-central-1"
    account = args.account or arn_account or EXAMPLE_ACCOUNT
    table = args.table or arn_table or "Plays"
    _check_account(region, account)  # before they go into the default mapping's queue ARN
    if mapping is None:
        from streamsim.workbench.runconfig import DEFAULT_QUEUE, default_mapping

        mapping = default_mapping(f"arn:aws:sqs:{region}:{account}:{DEFAULT_QUEUE}")
    policy = build_policy(
        table=table, region=region, account=account, mapping=mapping, strategy=args.strategy
    )
    print(json.dumps(policy, indent=2))
    if account == EXAMPLE_ACCOUNT and not args.account:
        print(
            f"streamsim: note: account {EXAMPLE_ACCOUNT} is a placeholder: pass --account",
            file=sys.stderr,
        )
    return 0


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


def _check_account(region: str, account: str) -> None:
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
