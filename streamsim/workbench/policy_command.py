"""``streamsim policy``'s options and output: the policy streamsim.workbench.policy builds, for
the local run's defaults, a config, or (``--stack``) the role of a stack ``streamsim deploy
template`` makes (streamsim.workbench.deploy.template.stack_policy; a module of its own so that
the template, which imports the policy, and this command do not import each other)."""

from __future__ import annotations

import argparse
import json
import os

from streamsim.errors import ConfigError
from streamsim.workbench.policy import (
    DEFAULT_FUNCTION,
    EXAMPLE_ACCOUNT,
    HANDLER_ACTIONS,
    build_policy,
    check_account,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``streamsim policy``."""
    parser.add_argument(
        "--table",
        default=None,
        help="the table whose stream the trigger reads (default: the config's EventSourceArn, "
        "else Plays)",
    )
    parser.add_argument(
        "--function",
        default=None,
        help="the function whose log group it writes (default: the config's FunctionName, "
        f"else {DEFAULT_FUNCTION})",
    )
    parser.add_argument(
        "--stack",
        default=None,
        metavar="NAME",
        help="the role of the stack `streamsim deploy template --name NAME` makes from the "
        "same --config and --strategy (its tables, function and queue)",
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
    named_function = (mapping.function_short_name if mapping else None) or ""
    for name, given, named in (
        ("table", args.table, arn_table),
        ("region", args.region, arn_region),
        ("account", args.account, arn_account),
        ("function", args.function, named_function),
    ):
        if given and named and given != named:
            raise ConfigError(
                f"--{name} {given} differs from the config's "
                f"{'FunctionName' if name == 'function' else 'EventSourceArn'} ({named})"
            )
    if args.stack and (args.table or args.function):
        raise ConfigError("--stack names the table and the function: drop --table/--function")
    region = args.region or arn_region or os.environ.get("STREAMSIM_REGION") or "eu-central-1"
    account = args.account or arn_account or EXAMPLE_ACCOUNT
    check_account(region, account)  # before they go into the default mapping's queue ARN
    if args.stack:
        from streamsim.workbench.deploy.template import StackSettings, stack_policy
        from streamsim.workbench.runconfig import default_mapping

        settings = StackSettings(name=args.stack, strategy=args.strategy)
        policy = stack_policy(
            mapping or default_mapping(), settings, region=region, account=account
        )
        function = settings.names()["function"]
    else:
        if mapping is None:
            from streamsim.workbench.runconfig import DEFAULT_QUEUE, default_mapping

            mapping = default_mapping(f"arn:aws:sqs:{region}:{account}:{DEFAULT_QUEUE}")
        policy = build_policy(
            table=args.table or arn_table or "Plays",
            region=region,
            account=account,
            mapping=mapping,
            strategy=args.strategy,
            function=args.function,
        )
        function = args.function or named_function or DEFAULT_FUNCTION
    print(json.dumps(policy, indent=2))
    if account == EXAMPLE_ACCOUNT and not args.account:
        print(
            f"streamsim: note: account {EXAMPLE_ACCOUNT} is a placeholder: pass --account",
            file=sys.stderr,
        )
    print(
        f"streamsim: note: the function writes to log group /aws/lambda/{function}, which must "
        "exist (streamsim deploy template creates it): the policy grants no logs:CreateLogGroup",
        file=sys.stderr,
    )
    return 0
