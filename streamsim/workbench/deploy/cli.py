"""``streamsim deploy package|template|plan|up|down``: the badge pipeline on AWS (docs/deploy.md).

``up`` and ``down`` talk to the endpoint named by ``--endpoint-url`` (``aws`` for real AWS,
refused without ``--allow-remote``, as every streamsim command is); ``up`` prints what it will
create and what that costs a month at ``--rate`` before it creates anything. ``plan`` prints the
same and talks to nothing. With ``--units-from RUN`` the estimate's request units per play are
a live run's (labelled "measured from RUN"), else the plan's settings ("not measured").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamsim.errors import ConfigError
from streamsim.game.badges import DEFAULT_RULES, BadgeRule, rule_from_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``deploy`` subcommands and their options."""
    sub = parser.add_subparsers(dest="deploy_command", metavar="STEP", required=True)
    package = sub.add_parser("package", help="build the Lambda zip and print its size")
    package.add_argument(
        "--out",
        default="dist/streamsim-badges.zip",
        metavar="FILE.zip",
        help="the zip to write (default dist/streamsim-badges.zip)",
    )
    package.set_defaults(func=_package)

    template = sub.add_parser("template", help="write the CloudFormation template")
    _template_options(template, name_option=True)
    template.add_argument(
        "--out", required=True, metavar="template.yaml", help="the template file to write"
    )
    template.set_defaults(func=_template)

    plan = sub.add_parser("plan", help="print what a stack creates and costs; create nothing")
    _template_options(plan, name_option=True)
    _estimate_options(plan)
    plan.add_argument("--region", default=None, help="AWS region (default $STREAMSIM_REGION)")
    plan.set_defaults(func=_plan)

    up = sub.add_parser("up", help="create or update a stack (prints resources and cost first)")
    _template_options(up, name_option=False)
    _stack_options(up)
    _estimate_options(up)
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="delete a stack and its uploaded packages")
    _stack_options(down)
    down.set_defaults(func=_down)


def main(args: argparse.Namespace) -> int:  # pragma: no cover - set_defaults picks the step
    return int(args.func(args))


def _template_options(parser: argparse.ArgumentParser, *, name_option: bool) -> None:
    parser.add_argument(
        "--config",
        metavar="ESM.json",
        help="event-source-mapping JSON the local trigger runs (default: streamsim run's)",
    )
    parser.add_argument(
        "--strategy",
        choices=["read-all", "incremental", "batched"],
        default="read-all",
        help="the badge handler's strategy (default read-all)",
    )
    parser.add_argument(
        "--rules", metavar="rules.json", help='JSON list of {"rule": ..., "params": {...}}'
    )
    parser.add_argument(
        "--memory", type=int, default=256, metavar="MB", help="function memory (default 256)"
    )
    if name_option:
        parser.add_argument(
            "--name", default="streamsim", help="prefix of the resource names (default streamsim)"
        )


def _estimate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=12.0,
        help="plays per second the cost estimate assumes (default 12, streamsim run's)",
    )
    parser.add_argument(
        "--units-from",
        metavar="RUN_FOLDER",
        help="request units per play measured in a live run of the same strategy (streamsim run)",
    )
    parser.add_argument(
        "--no-mapping",
        action="store_true",
        help="deploy without the event source mapping (a local trigger stands in for Lambda)",
    )


def _assumptions(args: argparse.Namespace, strategy: str) -> Any:
    """The plan's assumptions: ``--units-from``'s measured units, else the settings."""
    from streamsim.workbench.deploy.plan import Assumptions, assumptions_from_run

    if args.units_from:
        return assumptions_from_run(args.units_from, strategy)
    return Assumptions()


def _stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name (also the resources' prefix)")
    parser.add_argument(
        "--endpoint-url",
        default=None,
        help="'aws' for real AWS (with --allow-remote), or a local endpoint (moto: streamsim serve)",
    )
    parser.add_argument("--region", default=None, help="AWS region (default $STREAMSIM_REGION)")
    parser.add_argument("--allow-remote", action="store_true", help="allow real AWS")


def load_rules(path: str | None) -> tuple[BadgeRule, ...]:
    """Rules from a JSON file of rule specs (the function's BADGE_RULES); default rules if None."""
    if path is None:
        return DEFAULT_RULES
    try:
        specs = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read rules file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"rules file {path} is not JSON: {exc}") from None
    if not isinstance(specs, list) or not specs:
        raise ConfigError(f'rules file {path} must be a non-empty JSON list of {{"rule": ...}}')
    try:
        return tuple(rule_from_spec(s["rule"], s.get("params", {})) for s in specs)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"rules file {path}: each item needs a 'rule' name ({exc})") from None


def build_from_args(args: argparse.Namespace, name: str) -> tuple[dict[str, Any], Any, Any]:
    """(template, mapping, settings) from the command's options."""
    from streamsim.aws.trigger.config import EventSourceMapping
    from streamsim.workbench.deploy.template import StackSettings, build_template
    from streamsim.workbench.runconfig import default_mapping

    mapping = EventSourceMapping.from_file(args.config) if args.config else default_mapping()
    settings = StackSettings(
        name=name, strategy=args.strategy, rules=load_rules(args.rules), memory_mb=args.memory
    )
    return build_template(mapping, settings), mapping, settings


def _package(args: argparse.Namespace) -> int:
    from streamsim.workbench.deploy.package import HANDLER, build_package

    with _writing(args.out):
        built = build_package(args.out)
    print(f"{built.path}: {built.size_bytes:,} bytes, {len(built.files)} files, handler {HANDLER}")
    print(f"sha256 {built.sha256}")
    return 0


def _template(args: argparse.Namespace) -> int:
    from streamsim.workbench.deploy.template import render

    template, _, _ = build_from_args(args, args.name)
    with _writing(args.out):
        Path(args.out).write_text(render(template))
    print(f"wrote {args.out}: {len(template['Resources'])} resources")
    return 0


@contextlib.contextmanager
def _writing(out: str) -> Iterator[None]:
    """Writing the file ``--out`` names: a folder there, or a place that cannot be written, is
    one line naming the problem (exit 2), never a traceback."""
    from streamsim.workbench.runguard import OutputError

    if Path(out).is_dir():
        raise OutputError(f"--out {out} is a folder: name the file to write")
    try:
        yield
    except OSError as exc:
        raise OutputError(f"--out {out} cannot be written: {exc.strerror or exc}") from None


def _open(args: argparse.Namespace) -> Any:
    from streamsim.aws.backend import ENDPOINT_ENV, open_backend

    endpoint = args.endpoint_url or os.environ.get(ENDPOINT_ENV)
    if not endpoint:
        raise ConfigError(
            "deploy needs --endpoint-url: 'aws' for real AWS (with --allow-remote), or a "
            "running local endpoint such as `streamsim serve`'s"
        )
    backend = open_backend(endpoint, args.region, allow_remote=args.allow_remote)
    _probe(backend)
    return backend


def _probe(backend: Any) -> None:
    """A local endpoint where nothing listens is one line, before anything is printed or built."""
    from streamsim.aws.backend import probe_endpoint

    if backend.endpoint_url is not None:
        try:
            probe_endpoint(backend.endpoint_url)
        except BaseException:
            backend.close()
            raise


def _plan(args: argparse.Namespace) -> int:
    from streamsim.aws.backend import DEFAULT_REGION, REGION_ENV, check_region

    template, mapping, settings = build_from_args(args, args.name)
    assumptions = _assumptions(args, settings.strategy)
    region = check_region(args.region or os.environ.get(REGION_ENV) or DEFAULT_REGION)
    print(_plan_of(args, template, mapping, settings, region, assumptions))
    return 0


def _plan_of(
    args: argparse.Namespace,
    template: Any,
    mapping: Any,
    settings: Any,
    region: str,
    assumptions: Any,
) -> str:
    """The plan `deploy plan` and `deploy up` print (one text for the same arguments)."""
    from streamsim.workbench.deploy.plan import plan_text

    return plan_text(
        template,
        rate=args.rate,
        strategy=settings.strategy,
        mapping=mapping,
        memory_mb=settings.memory_mb,
        region=region,
        create_mapping=not args.no_mapping,
        assumptions=assumptions,
    )


def _up(args: argparse.Namespace) -> int:
    from streamsim.workbench.deploy import stack
    from streamsim.workbench.deploy.package import build_package
    from streamsim.workbench.deploy.template import render

    template, mapping, settings = build_from_args(args, args.stack)
    assumptions = _assumptions(args, settings.strategy)  # a bad run folder: before connecting
    with _open(args) as backend:  # probed: a dead local endpoint is refused before the plan
        print(_plan_of(args, template, mapping, settings, backend.region, assumptions), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            package = build_package(Path(tmp) / "streamsim-badges.zip")
            print(f"package: {package.size_bytes:,} bytes, sha256 {package.sha256[:12]}")
            deployed = stack.up(
                backend, args.stack, render(template), package, create_mapping=not args.no_mapping
            )
    if deployed.change_set_type == "NONE":
        print(f"stack {deployed.stack}: {deployed.status} (no changes to deploy)")
    else:
        print(f"stack {deployed.stack}: {deployed.status} ({deployed.change_set_type} change set)")
    print(f"package: s3://{deployed.code_bucket}/{deployed.code_key}")
    for key, value in sorted(deployed.outputs.items()):
        print(f"  {key} = {value}")
    return 0


def _down(args: argparse.Namespace) -> int:
    from streamsim.workbench.deploy import stack

    with _open(args) as backend:
        for line in stack.down(backend, args.stack):
            print(f"deleted {line}")
    return 0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):  # nan and inf too
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0 and finite")
    return value
