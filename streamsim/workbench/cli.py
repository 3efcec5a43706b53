"""``streamsim``: the workbench's commands. Bad input exits 2 with one line naming the problem."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from streamsim.errors import StreamsimError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line: ``streamsim: error: ...`` and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command that was given, whose --help lists its options
        _chosen(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        result = args.func(args)
    except StreamsimError as exc:
        print(f"streamsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("streamsim: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost (sub)command parser the arguments chose."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest or "", None)
            if name in action.choices:
                return _chosen(action.choices[name], args)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="streamsim",
        description="A workbench for DynamoDB Streams pipelines: stream timing, retries, badges.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    walk = sub.add_parser(
        "walkthrough", help="reproduce the blog: JansTable, its stream, a trigger, a mistake"
    )
    _backend_options(walk)
    walk.add_argument("--no-retries", action="store_true", help="skip the 24 h retry part")
    walk.set_defaults(func=_walkthrough)

    serve = sub.add_parser("serve", help="run a local server (moto or MiniStack) in the foreground")
    serve.add_argument(
        "--port", type=_port, default=0, help="port on 127.0.0.1 (default: a free one)"
    )
    _server_option(serve)
    serve.set_defaults(func=_serve)

    trig = sub.add_parser(
        "trigger", help="attach a handler file to a table's stream and print its logs"
    )
    _backend_options(trig)
    trig.add_argument("--table", required=True, help="the table whose stream to read")
    trig.add_argument(
        "--handler", required=True, metavar="FILE.py:FUNCTION", help="the handler to call"
    )
    trig.add_argument(
        "--config",
        metavar="ESM.json",
        help="event-source-mapping JSON (aws lambda create-event-source-mapping --cli-input-json)",
    )
    trig.add_argument(
        "--starting-position",
        choices=["TRIM_HORIZON", "LATEST"],
        help="overrides the config's StartingPosition",
    )
    trig.add_argument(
        "--duration",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="stop after this long (default: until Ctrl-C)",
    )
    trig.add_argument(
        "--disabled-for",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="switch the mapping off (Enabled: false) for this long, then on again: it resumes "
        "where it stopped (a backlog experiment; with LATEST, start it before the writes)",
    )
    trig.add_argument(
        "--disabled-after",
        type=_non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="when --disabled-for starts, seconds after the trigger starts (default 0)",
    )
    trig.set_defaults(func=_trigger)
    run = sub.add_parser(
        "run", help="the main job: players -> stream -> trigger -> badges -> a run folder"
    )
    _backend_options(run)
    _server_option(run)
    run.add_argument(
        "--players", type=_positive_int, default=None, help="synthetic players (default 25)"
    )
    run.add_argument(
        "--days", type=_positive_int, default=None, help="simulated days of play (default 10)"
    )
    run.add_argument(
        "--rate", type=_positive_float, default=None, help="plays written per second (default 12)"
    )
    run.add_argument("--seed", type=_non_negative_int, default=None, help="random seed (default 1)")
    run.add_argument(
        "--writers",
        type=_positive_int,
        default=None,
        help="writer threads, plays split by player (1..16, default 2; 1 under client faults)",
    )
    run.add_argument(
        "--strategy",
        choices=["read-all", "incremental", "batched"],
        default=None,
        help="badge handler strategy (default batched; read-all is the blog's)",
    )
    run.add_argument(
        "--config",
        metavar="ESM.json",
        help="event-source-mapping JSON (aws lambda create-event-source-mapping --cli-input-json)",
    )
    run.add_argument("--out", metavar="DIR", help="the run folder (default data/runs/<run-id>)")
    run.add_argument("--force", action="store_true", help="replace an existing run folder")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--stack",
        help="write the plays to this deployed stack's table (streamsim deploy up), then "
        "`streamsim collect` reads what its Lambda did",
    )
    run.add_argument(  # fault injection (streamsim.workbench.faults)
        "--faults",
        action="append",
        metavar="SPEC[,SPEC]",
        help="inject faults, e.g. handler-errors=0.1,poison=1,throttle=0.05,unreachable=2@3,"
        "kill-trigger=2 (see 'streamsim faults'; repeatable)",
    )
    run.set_defaults(func=_run)

    sw = sub.add_parser(
        "sweep",
        help="a grid of trigger settings on the virtual clock, one row each",
        description="One virtual run per combination of the --grid values. p50_s ... max_s: "
        "write -> processed latency in virtual seconds; plays, invocations, retries, processed, "
        "sent_to_destination and lost are counts.",
    )
    sw.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="NAME=V1,V2",
        help="e.g. batch_size=1,10,100 (repeat for more settings)",
    )
    sw.add_argument(
        "--players", type=_positive_int, default=100, help="synthetic players (default 100)"
    )
    sw.add_argument(
        "--days", type=_positive_int, default=7, help="simulated days of play (default 7)"
    )
    sw.add_argument(
        "--rate",
        type=_positive_float,
        default=20.0,
        help="plays written per (virtual) second (default 20)",
    )
    sw.add_argument("--seed", type=_non_negative_int, default=1, help="random seed (default 1)")
    sw.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    sw.add_argument("--force", action="store_true", help="replace an existing --csv file")
    sw.set_defaults(func=_sweep)

    # Commands whose options live in their own modules: each module has
    # ``add_arguments(parser)`` and ``main(args) -> int``.
    for name, module, help_text in (
        (
            "report",
            "streamsim.workbench.report",
            "run the notebooks with report-sized parameters; write HTML to reports/",
        ),
        (
            "faults",
            "streamsim.workbench.faults.matrix",
            "run the fault-injection matrix and print the accounting table",
        ),
        (
            "policy",
            "streamsim.workbench.policy_command",
            "print the least-privilege IAM policy for a mapping and the badge handler",
        ),
        (
            "deploy",
            "streamsim.workbench.deploy.cli",
            "package, template, deploy (up) and tear down (down) the pipeline on AWS",
        ),
        (
            "collect",
            "streamsim.workbench.remote",
            "read a deployed stack's deliveries, on-failure queue and IteratorAge into a run folder",
        ),
        (
            "scale",
            "streamsim.workbench.scale.command",
            "a production-sized what-if run on the virtual clock (shards, throttling, cost)",
        ),
    ):
        command = sub.add_parser(name, help=help_text)
        _module_command(command, module)
    return parser


def _module_command(parser: argparse.ArgumentParser, module_name: str) -> None:
    import importlib

    module = importlib.import_module(module_name)
    module.add_arguments(parser)
    parser.set_defaults(func=module.main)


def _sweep(args: argparse.Namespace) -> int:
    import pandas as pd

    from streamsim.workbench.sweep import check_csv_target, check_grid, parse_grid, sweep
    from streamsim.workbench.virtual import Scenario

    def progress(done: int, total: int) -> None:
        print(f"sweep: {done}/{total} settings simulated", file=sys.stderr, flush=True)

    grid = parse_grid(args.grid)
    base = Scenario(players=args.players, days=args.days, rate=args.rate, seed=args.seed)
    check_grid(grid, base)  # before computing: names, values, the CSV's folder
    if args.csv:
        check_csv_target(Path(args.csv), force=args.force)
    rows: list[dict[str, Any]] = []
    interrupted = False
    try:
        table = sweep(grid, base, progress=progress, rows=rows)
    except KeyboardInterrupt:
        interrupted, table = True, pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(table.round(3).to_string(index=False) if len(table) else "(no row finished)")
    if args.csv:
        table.to_csv(args.csv, index=False)
    if interrupted:
        print(f"streamsim: interrupted after {len(rows)} rows", file=sys.stderr)
        return 130
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.stack:  # the deployed pipeline (streamsim.workbench.remote)
        from streamsim.workbench.remote import run_on_stack

        return run_on_stack(args)
    from streamsim.workbench.run import run_pipeline
    from streamsim.workbench.runconfig import RunConfig, with_overrides
    from streamsim.workbench.runreport import print_summary, progress_bar

    mapping = None
    if args.config:
        from streamsim.aws.trigger.config import EventSourceMapping

        mapping = EventSourceMapping.from_file(args.config)
        from streamsim.workbench.attach import print_warnings

        print_warnings(mapping.warnings)
    config = with_overrides(
        RunConfig(),
        players=args.players,
        days=args.days,
        rate=args.rate,
        seed=args.seed,
        writers=args.writers,
        strategy=args.strategy,
        mapping=mapping,
    )
    plan = None
    if args.faults:  # parsed before the backend opens: a bad spec is one line, exit 2
        from streamsim.workbench.faults.plan import FaultPlan

        plan = FaultPlan.parse(args.faults, seed=config.seed)
    from streamsim.workbench.faults.invariant import invariant_lines
    from streamsim.workbench.runguard import RunAborted, check_output, sigterm_interrupts

    if args.out:
        check_output(Path(args.out), force=args.force)  # before the backend opens
    try:
        from streamsim.workbench.attach import warnings_printed_once

        printed = mapping.warnings if mapping is not None else ()
        with sigterm_interrupts(), open_backend_from(args) as backend:
            from streamsim.workbench.handlers.loading import workbench_environment

            with (
                workbench_environment(backend),
                warnings_printed_once(printed),
                progress_bar(enabled=not args.no_progress) as progress,
            ):
                result = run_pipeline(
                    config,
                    backend,
                    out_dir=args.out,
                    progress=progress,
                    faults=plan,
                    force=args.force,
                )
    except RunAborted as aborted:
        summary = aborted.summary or {}
        if "accounting" in summary:
            print("\n".join(invariant_lines(summary)))
        else:
            print(f"invariant: NOT JUDGED  (the run {aborted.status} before it could be summed up)")
        if isinstance(aborted.cause, StreamsimError):  # bad input found during the run
            print(f"streamsim: error: {aborted.cause} ({aborted})", file=sys.stderr)
            return EXIT_USAGE
        print(f"streamsim: {aborted}", file=sys.stderr)
        return 130 if aborted.status == "interrupted" else 1
    print_summary(result.summary, result.path)
    from streamsim.workbench.requests import request_lines

    print("\n".join(request_lines(result.summary.get("requests"))))
    print("\n".join(invariant_lines(result.summary)))
    return 0 if result.summary["accounting"]["ok"] else 1


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=None,
        help="DynamoDB endpoint (default: $STREAMSIM_ENDPOINT_URL, else an embedded moto server)",
    )
    parser.add_argument(
        "--region",
        type=_region,
        default=None,
        help="AWS region (default: $STREAMSIM_REGION, else eu-central-1)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow an endpoint beyond 127.0.0.0/8 ('aws' for real AWS)",
    )


def _server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=["moto", "ministack"],
        default=None,
        help="the local server to start (default moto; ministack: 'make ministack' first)",
    )


def open_backend_from(args: argparse.Namespace) -> Any:
    """The backend the options name; a local endpoint where nothing listens is one line."""
    from streamsim.aws.backend import open_backend, probe_endpoint

    backend = open_backend(
        args.endpoint_url,
        args.region,
        allow_remote=args.allow_remote,
        server=getattr(args, "backend", None),
    )
    if not backend.info.embedded and backend.endpoint_url is not None:
        try:
            probe_endpoint(backend.endpoint_url)
        except BaseException:
            backend.close()
            raise
    return backend


def _walkthrough(args: argparse.Namespace) -> int:
    from streamsim.workbench.walkthrough import run_walkthrough

    with open_backend_from(args) as backend:
        run_walkthrough(backend, retries=not args.no_retries)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from streamsim.aws.backend import EmbeddedServer
    from streamsim.aws.servers import MiniStackProcess

    server: Any
    if args.backend == "ministack":
        if args.port:
            raise StreamsimError("--port is for moto; MiniStack takes a free port")
        server = MiniStackProcess()
    else:
        server = EmbeddedServer(port=args.port)
    server.start()
    name = args.backend or "moto"
    print(f"streamsim: {name} server listening at {server.endpoint_url}", flush=True)
    print(f"  export STREAMSIM_ENDPOINT_URL={server.endpoint_url}", flush=True)
    print("  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _trigger(args: argparse.Namespace) -> int:
    from streamsim.aws.trigger.capture import Capture
    from streamsim.aws.trigger.engine import Trigger
    from streamsim.clock import WallClock
    from streamsim.workbench import attach
    from streamsim.workbench.handlers.loading import load_handler

    if args.disabled_for is None and args.disabled_after:
        raise StreamsimError("--disabled-after needs --disabled-for (how long to switch it off)")
    mapping = attach.mapping_from(args.config, args.starting_position)
    from streamsim.workbench.handlers.loading import workbench_environment

    with open_backend_from(args) as backend, workbench_environment(backend):
        # The handler module's top-level code runs only now: after the endpoint checks, with
        # the workbench's endpoint and (locally) dummy credentials in its environment.
        handler = load_handler(args.handler)
        stream_arn = attach.table_stream(backend, args.table)
        clock = WallClock()
        capture = Capture(on_attempt=_print_log_lines)
        with attach.warnings_printed_once():  # every setting not emulated, one line each
            trigger = Trigger(
                mapping,
                handler,
                streams=backend.client("dynamodbstreams"),
                stream_arn=stream_arn,
                clock=clock,
                capture=capture,
                region=backend.region,
            )
        destination = attach.open_destination(backend, mapping, trigger.mapping_id)
        trigger.destination = destination
        if args.disabled_for is not None:
            trigger.disable_for(args.disabled_for, after=args.disabled_after)
        state = "" if mapping.enabled else "; disabled (Enabled: false): nothing is polled"
        print(
            f"streamsim: trigger on {stream_arn} ({mapping.starting_position}{state}); "
            "Ctrl-C to stop",
            flush=True,
        )
        try:
            trigger.run_for(args.duration if args.duration is not None else 10 * 365 * 86400)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how an open-ended trigger stops: report below
        finally:
            trigger.close()
        arn = destination.arn if destination is not None else None
        print("\n".join(attach.stop_report(capture, args.handler, arn)), flush=True)
    return 0


def _print_log_lines(row: Any) -> None:
    for line in row.log_lines:
        print(line, flush=True)


def _region(text: str) -> str:
    from streamsim.aws.backend import check_region
    from streamsim.errors import BackendError

    try:
        return check_region(text)
    except BackendError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range 0-65535")
    return value


def _int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {low}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, 0 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < math.inf:  # nan and inf too: a rate or duration must be a number
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number greater than 0")
    return value


def entry() -> None:
    """The ``streamsim`` executable: ``main``, then exit even if a hung handler thread is left
    (streamsim.workbench.runguard.exit_process)."""
    from streamsim.workbench.runguard import exit_process

    exit_process(main())


if __name__ == "__main__":
    entry()
