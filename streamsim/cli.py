"""``streamsim``: the workbench's commands. Bad input exits 2 with one line naming the problem."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from streamsim.errors import StreamsimError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line: ``streamsim: error: ...`` and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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

    serve = sub.add_parser("serve", help="run the embedded moto server in the foreground")
    serve.add_argument(
        "--port", type=_port, default=0, help="port on 127.0.0.1 (default: a free one)"
    )
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
    trig.set_defaults(func=_trigger)
    return parser


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=None,
        help="DynamoDB endpoint (default: $STREAMSIM_ENDPOINT_URL, else an embedded moto server)",
    )
    parser.add_argument(
        "--region", default=None, help="AWS region (default: $STREAMSIM_REGION, else eu-central-1)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow an endpoint beyond 127.0.0.0/8 ('aws' for real AWS)",
    )


def open_backend_from(args: argparse.Namespace) -> Any:
    from streamsim.backend import open_backend

    return open_backend(args.endpoint_url, args.region, allow_remote=args.allow_remote)


def _walkthrough(args: argparse.Namespace) -> int:
    from streamsim.walkthrough import run_walkthrough

    with open_backend_from(args) as backend:
        run_walkthrough(backend, retries=not args.no_retries)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from streamsim.backend import EmbeddedServer

    server = EmbeddedServer(port=args.port)
    server.start()
    print(f"streamsim: moto server listening at {server.endpoint_url}", flush=True)
    print(f"  export STREAMSIM_ENDPOINT_URL={server.endpoint_url}", flush=True)
    print("  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _trigger(args: argparse.Namespace) -> int:
    from streamsim.clock import WallClock
    from streamsim.handlers.loading import load_handler
    from streamsim.tables import latest_stream_arn
    from streamsim.trigger.capture import Capture
    from streamsim.trigger.config import EventSourceMapping
    from streamsim.trigger.engine import Trigger

    handler = load_handler(args.handler)
    if args.config:
        mapping = EventSourceMapping.from_file(args.config)
    else:
        mapping = EventSourceMapping(starting_position=args.starting_position or "LATEST")
    if args.starting_position:
        mapping = EventSourceMapping.from_aws(
            {**mapping.to_aws(), "StartingPosition": args.starting_position}
        )
    with open_backend_from(args) as backend:
        from botocore.exceptions import ClientError

        try:
            stream_arn = latest_stream_arn(backend.client("dynamodb"), args.table)
        except ClientError as exc:
            raise StreamsimError(
                f"table {args.table!r}: {exc.response['Error'].get('Message', exc)}"
            ) from exc
        if stream_arn is None:
            raise StreamsimError(f"table {args.table!r} has no enabled stream")
        clock = WallClock()
        capture = Capture(on_attempt=_print_log_lines)
        trigger = Trigger(
            mapping,
            handler,
            streams=backend.client("dynamodbstreams"),
            stream_arn=stream_arn,
            clock=clock,
            capture=capture,
            region=backend.region,
        )
        print(
            f"streamsim: trigger on {stream_arn} ({mapping.starting_position}); Ctrl-C to stop",
            flush=True,
        )
        try:
            trigger.run_for(args.duration if args.duration is not None else 10 * 365 * 86400)
        finally:
            trigger.close()
    return 0


def _print_log_lines(row: Any) -> None:
    for line in row.log_lines:
        print(line, flush=True)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range 0-65535")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


if __name__ == "__main__":
    sys.exit(main())
