"""``streamsim trigger``'s logic: attach a mapping to a table's stream on a backend, honour every
field of its config, and say at the end where every record went.

Kept out of cli.py: the mapping from ``--config`` and ``--starting-position``, the table's stream
(with a way forward when the embedded server, which starts empty, has no such table), the
on-failure destination on the same endpoint (SQS, SNS, S3 [E]), the config warnings, and the
account printed when the trigger stops.
[E] docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from streamsim.aws.trigger.config import DestinationType, EventSourceMapping
from streamsim.aws.trigger.destinations import (
    Destination,
    S3Destination,
    SnsDestination,
    SqsDestination,
)
from streamsim.errors import ConfigError


def mapping_from(config: str | None, starting_position: str | None) -> EventSourceMapping:
    """The mapping from a ``--cli-input-json`` file (or AWS's defaults with LATEST), with
    ``--starting-position`` overriding the file's StartingPosition."""
    if config is None:
        return EventSourceMapping(starting_position=starting_position or "LATEST")
    mapping = EventSourceMapping.from_file(config)
    if starting_position:
        mapping = EventSourceMapping.from_aws(
            {**mapping.to_aws(), "StartingPosition": starting_position}
        )
    return mapping


def print_warnings(notes: tuple[str, ...] | list[str], out: TextIO | None = None) -> None:
    """Config warnings, one line each, as every command prints them."""
    for note in notes:
        print(f"streamsim: warning: {note}", file=out or sys.stderr, flush=True)


@contextmanager
def warnings_printed_once(already: tuple[str, ...] = ()) -> Iterator[None]:
    """Inside: a Trigger's MappingWarning is printed as ``streamsim: warning: …`` (once; not
    again if in ``already``, printed by the command itself) instead of Python's warning form."""
    import warnings

    from streamsim.aws.trigger.engine import MappingWarning

    printed = set(already)
    with warnings.catch_warnings():
        warnings.simplefilter("always", MappingWarning)
        original = warnings.showwarning

        def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
            if not issubclass(category, MappingWarning):
                original(message, category, *args, **kwargs)
            elif str(message) not in printed:
                printed.add(str(message))
                print_warnings([str(message)])

        warnings.showwarning = show
        yield


def table_stream(backend: Any, table: str) -> str:
    """The table's stream ARN; a missing table on the embedded server explains how to share a
    server instead (each command's embedded server starts empty)."""
    from botocore.exceptions import ClientError

    from streamsim.aws.tables import latest_stream_arn

    try:
        stream_arn = latest_stream_arn(backend.client("dynamodb"), table)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException" and backend.info.embedded:
            raise ConfigError(
                f"table {table!r} does not exist: without --endpoint-url this command starts its "
                "own embedded server, which is empty. Share one server instead: run "
                "'streamsim serve' in another terminal, create and fill the table against the "
                "endpoint it prints, and pass --endpoint-url <that endpoint> (or export "
                "STREAMSIM_ENDPOINT_URL)"
            ) from None
        raise ConfigError(f"table {table!r}: {exc.response['Error'].get('Message', exc)}") from None
    if stream_arn is None:
        raise ConfigError(f"table {table!r} has no enabled stream")
    return stream_arn


def open_destination(
    backend: Any, mapping: EventSourceMapping, mapping_id: str
) -> Destination | None:
    """The mapping's on-failure destination on the same endpoint, checked to exist [E]."""
    from botocore.exceptions import ClientError

    arn = mapping.on_failure_destination
    if arn is None or mapping.destination_config is None:
        return None
    kind = mapping.destination_config.destination_type
    try:
        if kind is DestinationType.SQS:
            return SqsDestination(backend.client("sqs"), arn)
        if kind is DestinationType.SNS:
            return SnsDestination(backend.client("sns"), arn)
        return S3Destination(backend.client("s3"), arn, mapping_id)
    except ClientError as exc:
        where = (
            "the embedded server (it starts empty)"
            if backend.info.embedded
            else (backend.endpoint_url or "the endpoint")
        )
        raise ConfigError(
            f"DestinationConfig.OnFailure.Destination {arn} does not exist on {where}: "
            f"create the {kind.value.upper()} destination first "
            f"({exc.response.get('Error', {}).get('Code', 'error')})"
        ) from None


def stop_report(capture: Any, handler: str, destination_arn: str | None) -> list[str]:
    """What happened to every record read, and where it went (printed when the trigger stops)."""
    ends = Counter(d.disposition for d in capture.dispositions)
    read = {(r.shard_id, r.sequence_number) for r in capture.records}
    finished = {(d.shard_id, d.sequence_number) for d in capture.dispositions}
    in_flight = len(read - finished)
    lines = [
        f"streamsim: trigger stopped: {len(read)} records read, "
        f"{len(capture.attempts)} invocations",
        f"  processed    {ends['processed']:>7}  by {handler}",
        f"  filtered     {ends['filtered']:>7}  matched no FilterCriteria pattern "
        "(checkpointed past, never delivered)",
    ]
    if destination_arn is not None:
        lines.append(
            f"  destination  {ends['destination']:>7}  on-failure records sent to "
            f"{destination_arn} ({len(capture.destination_messages)} messages)"
        )
    else:
        lines.append(f"  destination  {ends['destination']:>7}  (no on-failure destination set)")
    why = (
        "lost: the on-failure destination could not be reached"
        if destination_arn is not None
        else "lost: no on-failure destination"
    )
    lines.append(f"  discarded    {ends['discarded']:>7}  {why}")
    lines.append(
        f"  in flight    {in_flight:>7}  read but not finished at stop (not checkpointed: a "
        "restart delivers them again)"
    )
    if capture.poll_errors:
        lines.append(f"  stream/destination errors: {len(capture.poll_errors)} (retried)")
    return lines
