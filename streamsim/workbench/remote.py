"""A run on a deployed stack: write the plays to its table, then collect what its Lambda did.

``streamsim run --stack NAME`` writes the synthetic plays to the stack's Plays table at the
chosen rate (the same population, schedule and play API as a local run) and saves them in a
run folder with ``remote.json``. ``streamsim collect --stack NAME --run DIR`` then reads the
function's delivery lines (streamsim.game.deliveries) from CloudWatch Logs, the on-failure
queue (received, not deleted: the messages come back after their visibility timeout) and
CloudWatch's IteratorAge, and writes the run folder's tables, so ``load_run``, the analysis
and notebooks 02-05 read a real run as they read a local one. ``config.json["clocks"]`` says
which clock each column is on (``CLOCKS``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from streamsim.aws.backend import Backend
from streamsim.errors import BackendError, ConfigError, RunFolderError
from streamsim.game.deliveries import MARKER, VERSION

#: Which clock stamps each column of a collected run.
CLOCKS = {
    "written_at, acked_at": "this machine's wall clock (the writer)",
    "created_at": "DynamoDB Streams ApproximateCreationDateTime: whole seconds, rounded down",
    "read_at": "not observable on AWS: the record's first invocation start (function clock)",
    "invoked_at, completed_at, first_invoked_at, processed at": "the function's wall clock",
    "awarded_at": "the function's wall clock",
    "iterator_age": "CloudWatch AWS/Lambda IteratorAge, per minute (milliseconds)",
}
#: What whole-second stream timestamps do to the latency percentiles.
PERCENTILE_NOTE = (
    "created_at is rounded down to the second, so it is 0-1 s early (0.5 s on average): "
    "write_to_stream_record and stream_record_to_read are off by up to a second and their "
    "percentiles below about 1 s mean nothing; write_to_first_invocation, write_to_processed and "
    "write_to_achievement compare this machine's clock with the function's (NTP skew: ms)"
)
#: Keeps an on-failure message invisible to other readers while collect reads the queue.
VISIBILITY_SECONDS = 60


@dataclass(frozen=True)
class StackRefs:
    """Where a deployed stack keeps what a run needs (names from ``deploy up --stack``)."""

    stack: str
    plays: str
    achievements: str
    function: str
    queue: str
    log_group: str
    stream_arn: str

    @classmethod
    def of(cls, backend: Backend, stack: str) -> StackRefs:
        from botocore.exceptions import ClientError

        from streamsim.aws.tables import latest_stream_arn
        from streamsim.workbench.deploy.template import StackSettings

        names = StackSettings(name=stack).names()
        try:
            arn = latest_stream_arn(backend.client("dynamodb"), names["plays"])
        except ClientError:
            arn = None
        if arn is None:
            raise BackendError(
                f"stack {stack} has no table {names['plays']} with a stream: deploy it first "
                f"(streamsim deploy up --stack {stack})"
            )
        return cls(
            stack=stack,
            plays=names["plays"],
            achievements=names["achievements"],
            function=names["function"],
            queue=names["queue"],
            log_group=f"/aws/lambda/{names['function']}",
            stream_arn=arn,
        )


# ---- streamsim run --stack --------------------------------------------------------------


def run_on_stack(args: argparse.Namespace) -> int:
    """``streamsim run --stack NAME``: write the plays to the stack, save them in a run folder."""
    from streamsim.aws.backend import open_backend
    from streamsim.workbench.run import PlayWriter, _population, new_run_id
    from streamsim.workbench.runconfig import RUNS_DIR, RunConfig, with_overrides

    for option in ("config", "strategy", "faults"):
        if getattr(args, option, None):
            raise ConfigError(
                f"--{option} does not apply with --stack: the deployed stack's settings do "
                "(change them with streamsim deploy up)"
            )
    config = with_overrides(
        RunConfig(),
        players=args.players,
        days=args.days,
        rate=args.rate,
        seed=args.seed,
        writers=getattr(args, "writers", None),
    )
    run_id = new_run_id()
    folder = Path(args.out) if args.out else RUNS_DIR / run_id
    with open_backend(args.endpoint_url, args.region, allow_remote=args.allow_remote) as backend:
        _probe(backend)
        refs = StackRefs.of(backend, args.stack)
        writer = PlayWriter(backend, refs.plays, _population(config), config)
        started = time.time()
        writer.start()
        writer.join()
        ended = time.time()
        info = backend.info.to_dict()
        region = backend.region
    folder.mkdir(parents=True, exist_ok=True)
    plays = pd.DataFrame(writer.written)
    plays["played_at"] = pd.to_datetime(plays["played_at"], utc=True)
    plays.to_parquet(folder / "plays.parquet", index=False)
    remote = {
        "run_id": run_id,
        "stack": args.stack,
        "region": region,
        "backend": info,
        "players": config.players,
        "days": config.days,
        "rate": config.rate,
        "seed": config.seed,
        "writing_started": started,
        "writing_ended": ended,
        "send_failures": writer.send_failures(),
    }
    (folder / "remote.json").write_text(json.dumps(remote, indent=2))
    print(f"wrote {len(plays)} plays to {refs.plays} at {config.rate:g}/s into {folder}")
    print(f"next: streamsim collect --stack {args.stack} --run {folder} (after the stream drains)")
    return 0


# ---- streamsim collect ------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``streamsim collect``."""
    parser.add_argument("--stack", required=True, help="the deployed stack")
    parser.add_argument(
        "--run", required=True, metavar="DIR", help="the run folder `streamsim run --stack` wrote"
    )
    parser.add_argument("--endpoint-url", default=None, help="'aws' for real AWS, or local")
    parser.add_argument("--region", default=None, help="AWS region (default: the run's)")
    parser.add_argument("--allow-remote", action="store_true", help="allow real AWS")


def main(args: argparse.Namespace) -> int:
    """Collect into the run folder; print the summary."""
    from streamsim.aws.backend import open_backend
    from streamsim.workbench.runreport import print_summary

    folder = Path(args.run)
    remote = _read_remote(folder)
    if remote["stack"] != args.stack:
        raise ConfigError(f"run {folder} was written to stack {remote['stack']}, not {args.stack}")
    endpoint = args.endpoint_url or remote["backend"]["endpoint_url"]
    if remote["backend"]["name"] == "aws" and not args.endpoint_url:
        endpoint = "aws"
    with open_backend(
        endpoint, args.region or remote["region"], allow_remote=args.allow_remote
    ) as backend:
        _probe(backend)
        summary = collect(backend, args.stack, folder, remote)
    print_summary(summary, folder)
    return 0


def _probe(backend: Backend) -> None:
    """A local endpoint where nothing listens: one line naming it (exit 2), not a traceback."""
    from streamsim.aws.backend import probe_endpoint

    if backend.endpoint_url is not None:
        probe_endpoint(backend.endpoint_url)


def collect(backend: Backend, stack: str, folder: Path, remote: dict[str, Any]) -> dict[str, Any]:
    """Read the stack's deliveries, queue and IteratorAge; write the run folder; return summary."""
    from streamsim.game.achievements import scan_achievements
    from streamsim.workbench.analysis import summarize
    from streamsim.workbench.runfolder import TABLES, Run, save_run

    refs = StackRefs.of(backend, stack)
    start, end = remote["writing_started"] - 60, time.time() + 60
    deliveries = read_deliveries(backend.client("logs"), refs.log_group, start, end)
    messages = read_queue(backend.client("sqs"), refs.queue)
    ages = read_iterator_age(backend.client("cloudwatch"), refs.function, start, end)
    plays = pd.read_parquet(folder / "plays.parquet")
    tables = run_tables(plays, deliveries, messages, refs.stream_arn)
    tables["achievements"] = pd.DataFrame(
        scan_achievements(backend.client("dynamodb"), table=refs.achievements),
        columns=list(TABLES["achievements"]),
    )
    tables["achievements"]["played_at"] = pd.to_datetime(
        tables["achievements"]["played_at"], utc=True
    )
    env = (
        backend.client("lambda")
        .get_function_configuration(FunctionName=refs.function)
        .get("Environment", {})
        .get("Variables", {})
    )
    config = {
        **{k: remote[k] for k in ("run_id", "players", "days", "rate", "seed")},
        "stack": stack,
        "strategy": env.get("BADGE_STRATEGY", "read-all"),
        "rules": json.loads(env["BADGE_RULES"]) if env.get("BADGE_RULES") else [],
        "backend": remote["backend"],
        "tables": {"plays": refs.plays, "achievements": refs.achievements},
        "clock": "aws",
        "clocks": CLOCKS,
        "percentile_note": PERCENTILE_NOTE,
        "send_failures": remote["send_failures"],
        "handler_stats": None,
        "faults": None,
        "collected_at": time.time(),
        "deliveries": len(deliveries),
    }
    summary = summarize(Run(folder, config, {}, tables, messages))
    summary["send_failures"] = len(remote["send_failures"])
    summary["percentile_note"] = PERCENTILE_NOTE
    save_run(folder, tables, config, summary, messages)
    deliveries.to_parquet(folder / "deliveries.parquet", index=False)
    ages.to_parquet(folder / "iterator_age.parquet", index=False)
    return summary


def read_deliveries(logs: Any, log_group: str, start: float, end: float) -> pd.DataFrame:
    """The function's delivery lines between ``start`` and ``end`` (epoch seconds)."""
    rows: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": int(start * 1000),
        "endTime": int(end * 1000),
    }
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except Exception as exc:  # noqa: BLE001 - botocore ClientError and kin
            raise BackendError(f"cannot read the log group {log_group}: {exc}") from None
        for event in page.get("events", []):
            row = parse_delivery(event.get("message", ""))
            if row is not None:
                rows.append(row)
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    return deliveries_frame(rows)


def parse_delivery(message: str) -> dict[str, Any] | None:
    """A delivery line's fields, or None for any other log line."""
    text = message.strip()
    if not text.startswith("{") or MARKER not in text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if doc.get(MARKER) != VERSION:
        raise RunFolderError(
            f"delivery line of version {doc.get(MARKER)!r}; collect reads {VERSION}"
        )
    return {k: doc.get(k) for k in _DELIVERY_COLUMNS} | {"outcome": doc.get("Outcome")}


_DELIVERY_COLUMNS = (
    "request_id",
    "position",
    "batch_size",
    "sequence_number",
    "approximate_creation_date_time",
    "event_name",
    "keys",
    "event_source_arn",
    "invocation_start",
    "invocation_end",
)


def deliveries_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Delivery rows as a frame (keys as JSON text), duplicates of one log line dropped."""
    frame = pd.DataFrame(rows, columns=[*_DELIVERY_COLUMNS, "outcome"])
    frame["keys"] = frame["keys"].map(
        lambda k: json.dumps(k, sort_keys=True, separators=(",", ":"))
    )
    return frame.drop_duplicates(["request_id", "position"]).reset_index(drop=True)


def read_queue(sqs: Any, queue: str) -> list[dict[str, Any]]:
    """The on-failure messages (bodies), read without deleting them."""
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    seen: dict[str, dict[str, Any]] = {}
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=VISIBILITY_SECONDS
        ).get("Messages", [])
        fresh = [m for m in got if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen[message["MessageId"]] = json.loads(message["Body"])
    return list(seen.values())


def read_iterator_age(cloudwatch: Any, function: str, start: float, end: float) -> pd.DataFrame:
    """IteratorAge per minute (Maximum and Average, milliseconds) [METRICS]."""
    got = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="IteratorAge",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=datetime.fromtimestamp(start, timezone.utc),
        EndTime=datetime.fromtimestamp(end, timezone.utc),
        Period=60,
        Statistics=["Maximum", "Average"],
    )
    rows = [
        {
            "minute": point["Timestamp"],
            "maximum_ms": point.get("Maximum"),
            "average_ms": point.get("Average"),
        }
        for point in got.get("Datapoints", [])
    ]
    return pd.DataFrame(rows, columns=["minute", "maximum_ms", "average_ms"]).sort_values("minute")


def run_tables(
    plays: pd.DataFrame,
    deliveries: pd.DataFrame,
    messages: list[dict[str, Any]],
    stream_arn: str,
) -> dict[str, pd.DataFrame]:
    """The run folder's plays, records, attempts and dispositions from deliveries (pure).

    A batch is named by its first record: a retry of it is a new request id with the same first
    sequence number (attempt 2, 3, ...). The shard is not in Lambda's event: ``shard_id`` is
    ``unknown``. A record processed in any attempt is ``processed`` at the end of the first such
    attempt; one in the range of an on-failure message, never processed, is ``destination``;
    any other delivered record is still being retried and has no disposition yet.
    """
    d = deliveries.copy()
    d["seq"] = d["sequence_number"].astype(str)
    first_start = d.groupby("seq")["invocation_start"].min()
    records = d.drop_duplicates("seq").assign(
        shard_id="unknown",
        event_name=lambda f: f["event_name"],
        created_at=lambda f: f["approximate_creation_date_time"].astype(float),
        read_at=lambda f: f["seq"].map(first_start).astype(float),
        clock="aws",
    )[["shard_id", "sequence_number", "event_name", "keys", "created_at", "read_at", "clock"]]

    by_request = d.sort_values("position").groupby("request_id", sort=False)
    attempts = by_request.agg(
        first_sequence_number=("seq", "first"),
        last_sequence_number=("seq", "last"),
        records=("batch_size", "first"),
        invoked_at=("invocation_start", "first"),
        completed_at=("invocation_end", "first"),
        outcomes=("outcome", lambda o: set(o)),
    ).reset_index()
    attempts["outcome"] = attempts["outcomes"].map(
        lambda o: "error" if "error" in o else "partial" if "failed" in o else "success"
    )
    attempts = attempts.drop(columns=["outcomes"]).sort_values("invoked_at")
    first = attempts["first_sequence_number"].map(int)
    attempts["batch_id"] = first.rank(method="dense").astype(int)
    attempts["attempt"] = attempts.groupby("batch_id").cumcount() + 1
    attempts["retry"] = attempts["attempt"] - 1
    attempts["shard_id"] = "unknown"
    attempts["clock"] = "aws"
    attempts = attempts.reset_index(drop=True)

    ranges = [
        (
            int(m["DDBStreamBatchInfo"]["startSequenceNumber"]),
            int(m["DDBStreamBatchInfo"]["endSequenceNumber"]),
            m,
        )
        for m in messages
        if m.get("DDBStreamBatchInfo", {}).get("streamArn") == stream_arn
    ]
    rows = []
    for seq, group in d.groupby("seq"):
        ok = group[group["outcome"] == "ok"]
        row: dict[str, Any] = {
            "sequence_number": seq,
            "first_invoked_at": float(group["invocation_start"].min()),
            "clock": "aws",
        }
        if len(ok):
            done = float(ok["invocation_end"].min())
            row |= {
                "disposition": "processed",
                "at": done,
                "attempts": int((group["invocation_start"] <= done).sum()),
                "condition": None,
            }
        else:
            hit = next((m for lo, hi, m in ranges if lo <= int(seq) <= hi), None)
            if hit is None:
                continue
            row |= {
                "disposition": "destination",
                "at": pd.Timestamp(hit.get("timestamp")).timestamp(),
                "attempts": len(group),
                "condition": hit.get("requestContext", {}).get("condition"),
            }
        rows.append(row)
    dispositions = pd.DataFrame(
        rows,
        columns=[
            "sequence_number",
            "disposition",
            "at",
            "attempts",
            "condition",
            "clock",
            "first_invoked_at",
        ],
    )
    return {"plays": plays, "records": records, "attempts": attempts, "dispositions": dispositions}


def _read_remote(folder: Path) -> dict[str, Any]:
    file = folder / "remote.json"
    if not (folder / "plays.parquet").is_file() or not file.is_file():
        raise RunFolderError(
            f"{folder} is not a run on a stack: write one with streamsim run --stack NAME --out DIR"
        )
    try:
        remote = json.loads(file.read_text())
    except ValueError as exc:
        raise RunFolderError(f"{file} is corrupted: {exc}") from None
    if not isinstance(remote, dict) or "stack" not in remote:
        raise RunFolderError(f"{file} is corrupted: no stack")
    return dict(remote)
