"""The invocation itself: request ids, and the log lines the output capture records."""

from __future__ import annotations

import re
import uuid
from typing import Any

from streamsim.aws.stream.blocks import RecordBlock
from streamsim.aws.trigger.context import RequestIds
from streamsim.aws.trigger.invoke import BatchHandler, InvocationResult, Invoker, Outcome
from streamsim.aws.trigger.output import OutputCapture
from streamsim.clock import VirtualClock

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_request_ids_are_version_4_uuids_unique_per_invocation() -> None:
    first, second = RequestIds(), RequestIds()
    ids = [first() for _ in range(5000)] + [second() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:50] + ids[-50:]:
        assert _UUID4.match(text), text
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # The counted part wraps within its 48 bits: still the UUID's shape.
    ids_near_wrap = RequestIds()
    ids_near_wrap._counter = iter([(1 << 48) - 1, 1 << 48])  # type: ignore[assignment]
    assert [t[-12:] for t in (ids_near_wrap(), ids_near_wrap())] == ["ffffffffffff", "0" * 12]


class _Printing(BatchHandler):
    def handle_batch(self, batch: RecordBlock, context: Any) -> Any:
        print("in the batch handler")
        return {"batchItemFailures": []}


def _plain(event: dict[str, Any], context: Any) -> Any:
    print("in the handler")
    print()
    return None


def _invoke(invoker: Invoker) -> InvocationResult:
    steps = invoker.invoke(RecordBlock.empty("s"), VirtualClock())
    try:
        while True:
            next(steps)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def test_each_invocation_records_its_own_lines_and_request_id() -> None:
    output = OutputCapture()
    results = []
    with output.installed():
        for handler, failures in ((_Printing(), True), (_plain, True), (_plain, False)):
            invoker = Invoker(handler, "f", "arn", 60.0, failures, output=output)
            results += [_invoke(invoker), _invoke(invoker)]
    assert len({r.request_id for r in results}) == len(results)
    for r, said in zip(results, ["in the batch handler"] * 2 + ["in the handler"] * 4, strict=True):
        assert r.outcome is Outcome.SUCCESS
        assert r.log_lines == (
            f"START RequestId: {r.request_id} Version: $LATEST",
            said,
            f"END RequestId: {r.request_id}",
        )
    assert results[0].response == {"batchItemFailures": []}


def test_collecting_restores_the_outer_buffer() -> None:
    output = OutputCapture()
    with output.installed():
        with output.collect() as outer:
            print("outer")
            with output.collect() as inner:
                print("inner")
            print("outer again")
    assert inner.getvalue() == "inner\n"
    assert outer.getvalue() == "outer\nouter again\n"
