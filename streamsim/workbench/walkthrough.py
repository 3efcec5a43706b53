"""The blog, reproduced: JansTable, its stream, the trigger, an insert, an update, a mistake.

Part 1 runs live on the backend and the wall clock: the handler's log lines arrive as the blog
shows them (an INSERT with only NewImage, then a MODIFY with NewImage and OldImage). Part 2 is
the blog's "small mistake": the same writes, a handler that fails, AWS's default settings, and
the retries "with increasing intervals" for 24 hours, on the virtual clock.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from streamsim.aws.backend import Backend
from streamsim.aws.stream.memory import InMemoryStream
from streamsim.aws.tables import JANS_TABLE, create_table
from streamsim.aws.trigger.capture import AttemptRow, Capture
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.aws.trigger.engine import Trigger
from streamsim.clock import VirtualClock, WallClock
from streamsim.errors import ConfigError
from streamsim.workbench.handlers.blog import lambda_handler, lambda_handler_with_mistake

ITEM = {"JansPartition": {"S": "hello world"}}
UPDATED = {**ITEM, "moreData": {"S": "hello again"}}

KEY_CHANGE_NOTE = (
    "The blog's update example shows JansPartition itself changing ('hello world' -> 'hello "
    "world, update'). That cannot happen in place: JansPartition is the table's key, UpdateItem "
    "refuses to change a key attribute, and a PutItem with the new value creates a second item. "
    "Renaming an item is a delete plus an insert, so the stream shows a REMOVE and an INSERT, "
    "never a MODIFY whose OldImage and NewImage have different keys. Here the update adds "
    "moreData to the same item instead, which is a MODIFY with both images."
)


@dataclass
class WalkthroughResult:
    """What the walkthrough saw: the live part's capture and the virtual retry timeline."""

    live: Capture
    key_update_error: str | None
    retries: pd.DataFrame = field(default_factory=pd.DataFrame)
    dispositions: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The Lambda records the live handler received, in order."""
        import json

        out: list[dict[str, Any]] = []
        for row in self.live.attempts:
            for line in row.log_lines:
                if line.startswith("Received event: "):
                    out.extend(json.loads(line[len("Received event: ") :])["Records"])
        return out


def run_walkthrough(
    backend: Backend, out: Callable[[str], None] = print, *, retries: bool = True
) -> WalkthroughResult:
    """Run both parts, narrating through ``out``."""
    live, key_error = _live_part(backend, out)
    result = WalkthroughResult(live, key_error)
    if retries:
        result.retries, result.dispositions = _mistake_part(out)
    return result


def _live_part(backend: Backend, out: Callable[[str], None]) -> tuple[Capture, str | None]:
    dynamodb = backend.client("dynamodb")
    out(f"Backend: {backend.info.name} {backend.info.version} at {backend.info.endpoint_url}")
    existed = JANS_TABLE.name in dynamodb.list_tables()["TableNames"]  # a shared server's
    stream_arn = create_table(dynamodb, JANS_TABLE, exist_ok=True)
    if stream_arn is None:
        raise ConfigError(
            f"{JANS_TABLE.name} exists at {backend.endpoint_url} without a stream: enable "
            "NEW_AND_OLD_IMAGES on it, or delete it"
        )
    done = f"Using the existing {JANS_TABLE.name}" if existed else f"Created {JANS_TABLE.name}"
    out(
        f"1. {done} (partition key JansPartition, S) with a NEW_AND_OLD_IMAGES stream:\n"
        f"   {stream_arn}"
    )
    out("2. Attached a trigger (StartingPosition LATEST, BatchSize 100) to the blog's handler.")
    clock = WallClock()
    capture = Capture(on_attempt=lambda row: _print_lines(row, out))
    trigger = Trigger(
        EventSourceMapping(starting_position="LATEST"),
        lambda_handler,
        streams=backend.client("dynamodbstreams"),
        stream_arn=stream_arn,
        clock=clock,
        capture=capture,
        region=backend.region,
        function_name="JansTableTrigger",
    )
    key_error: list[str | None] = [None]

    def writes() -> Generator[Any, Any, None]:
        yield clock.sleep(0.5)  # the trigger has taken its LATEST iterator by now
        out('3. Inserted {"JansPartition": {"S": "hello world"}}')
        dynamodb.put_item(TableName="JansTable", Item=ITEM)
        yield clock.sleep(1.0)
        out('4. Updated it: SET moreData = "hello again"')
        dynamodb.update_item(
            TableName="JansTable",
            Key=ITEM,
            UpdateExpression="SET moreData = :m",
            ExpressionAttributeValues={":m": {"S": "hello again"}},
        )
        try:
            dynamodb.update_item(
                TableName="JansTable",
                Key=ITEM,
                UpdateExpression="SET JansPartition = :k",
                ExpressionAttributeValues={":k": {"S": "hello world, update"}},
            )
        except ClientError as exc:
            key_error[0] = exc.response["Error"].get("Message", str(exc))

    trigger.start()
    with trigger.invoker.output.installed():
        clock.run(until=clock.env.process(writes()))
    trigger.run_until_drained(timeout_seconds=30)
    trigger.close()
    out("5. About the blog's update example: " + KEY_CHANGE_NOTE)
    if key_error[0]:
        out(f"   (the backend refused the key change: {key_error[0]})")
    return capture, key_error[0]


def _mistake_part(out: Callable[[str], None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    out("")
    out("6. The blog's small mistake, on the virtual clock (24 hours pass in about a second):")
    out("   the handler concatenates the event dict to a string and raises TypeError.")
    clock = VirtualClock()
    stream = InMemoryStream("JansTable", clock=clock.now)
    stream.write(ITEM, ITEM)
    stream.write(ITEM, UPDATED, old_image=ITEM)
    trigger = Trigger(
        EventSourceMapping(starting_position="TRIM_HORIZON"),
        lambda_handler_with_mistake,
        streams=stream,
        stream_arn=stream.stream_arn,
        clock=clock,
        function_name="JansTableTrigger",
    )
    start = clock.now()
    trigger.run_until_drained(timeout_seconds=2 * 86_400)
    frames = trigger.capture.frames()
    attempts = frames["attempts"]
    timeline = pd.DataFrame(
        {
            "attempt": attempts["attempt"],
            "hours_after_write": (attempts["invoked_at"] - start) / 3600.0,
            "waited_seconds": attempts["backoff_seconds"],
            "outcome": attempts["outcome"],
            "error": attempts["error_type"],
        }
    )
    timeline.attrs["clock"] = "virtual"
    first = timeline.head(12)
    out("   attempt  at (virtual, h:mm:ss after the write)  waited before it")
    for row in first.itertuples():
        out(
            f"   {row.attempt:>7}  {_hms(row.hours_after_write * 3600):>10}  {row.waited_seconds:>8.0f} s"
        )
    out(
        f"   ... {len(timeline)} invocations in all; the last at {_hms(timeline['hours_after_write'].iloc[-1] * 3600)}."
    )
    dispositions = frames["dispositions"]
    conditions = ", ".join(sorted(set(dispositions["condition"].dropna())))
    out(
        "7. At 24 hours the records expire from the stream: the batch is discarded "
        f"({conditions}), the shard moves on, and with no on-failure destination the two "
        "changes are lost. The backoff (1 s doubling to 5 min) is streamsim's stated choice: "
        "AWS does not publish its retry intervals."
    )
    return timeline, dispositions


def _print_lines(row: AttemptRow, out: Callable[[str], None]) -> None:
    for line in row.log_lines:
        out(f"   [JansTableTrigger] {line}")


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
