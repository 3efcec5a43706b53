"""Invoking the handler: one call of ``handler(event, context)`` with its outcome and logs.

On the wall clock the handler runs in a worker thread and the trigger waits up to the function
timeout; a handler still running then is a timeout (Lambda would stop its sandbox; a Python
thread cannot be stopped, so its late result is ignored). On the virtual clock the handler runs
inline and its duration is a model (``base_duration_seconds`` plus what it declares with
``context.spend``), so a timeout is exact and instant.
"""

from __future__ import annotations

import json
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from streamsim.aws.stream.blocks import RecordBlock
from streamsim.aws.trigger.context import LambdaContext, RequestIds
from streamsim.aws.trigger.output import OutputCapture, log_lines
from streamsim.aws.trigger.response import BatchVerdict, judge_response
from streamsim.aws.trigger.windows import missing_state
from streamsim.clock import Clock

Handler = Callable[[dict[str, Any], Any], Any]


class BatchHandler(ABC):
    """A modelled handler that reads no event: given the batch itself (counts, sizes, which
    records), so no Lambda event record is built for it (``handle_batch``). Only a subclass is
    treated so: any other handler, whatever attributes it has, is called as
    ``handler(event, context)`` with the exact AWS event."""

    @abstractmethod
    def handle_batch(self, batch: RecordBlock, context: Any) -> Any: ...


#: Error types of invocations that returned normally but failed the batch (an invalid
#: ``batchItemFailures``, a tumbling-window response without ``state``): AWS's on-failure record
#: says ``"functionError": null`` for them [R test_dynamodb_report_batch_item_failures*].
RETURNED_ERRORS = frozenset({"InvalidBatchItemFailures", "MissingWindowState"})
#: ``responseContext.functionError`` of a raised error; the Invoke API also reports a timeout
#: as ``FunctionError: "Unhandled"`` (aws/aws-sdk-go#4872), so an on-failure record does too.
UNHANDLED = "Unhandled"


class Outcome(str, Enum):
    SUCCESS = "success"
    PARTIAL = "partial"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class InvocationResult:
    outcome: Outcome
    request_id: str
    invoked_at: float
    completed_at: float
    log_lines: tuple[str, ...]
    error_type: str | None = None
    error_message: str | None = None
    #: Lowest failed sequence number of a partial batch response.
    failed_from: str | None = None
    response: Any = field(default=None, repr=False)

    @property
    def function_error(self) -> str | None:
        """``responseContext.functionError`` as AWS writes it for this outcome: "Unhandled" for
        a raised error or a timeout, None (JSON null) when the function returned normally [R]."""
        failed = self.outcome in (Outcome.ERROR, Outcome.TIMEOUT)
        return UNHANDLED if failed and self.error_type not in RETURNED_ERRORS else None


@dataclass
class Invoker:
    """Calls one handler for the trigger; owns the worker threads of the wall clock."""

    handler: Handler
    function_name: str
    function_arn: str
    timeout_seconds: float
    report_batch_item_failures: bool
    memory_limit_in_mb: int = 128
    base_duration_seconds: float = 0.01
    output: OutputCapture = field(default_factory=OutputCapture)
    #: Tumbling windows: a response without a ``state`` object fails the invocation [T].
    require_state: bool = False
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    #: Each invocation's request id (``LambdaContext.aws_request_id``).
    _request_ids: RequestIds = field(default_factory=RequestIds, repr=False)

    def invoke(
        self, records: RecordBlock, clock: Clock, extra: dict[str, Any] | None = None
    ) -> Generator[Any, Any, InvocationResult]:
        """A simpy process step: invoke, wait for the outcome on ``clock``, return it.

        ``extra`` adds fields to the payload next to ``Records`` (the tumbling-window fields).
        The event (``{"Records": [...]}``) is built here, for a handler that reads it; a
        ``BatchHandler`` without ``extra`` gets the batch instead."""
        context = LambdaContext(
            function_name=self.function_name,
            invoked_function_arn=self.function_arn,
            memory_limit_in_mb=self.memory_limit_in_mb,
            timeout_seconds=self.timeout_seconds,
            clock=clock,
            started_at=clock.now(),
            aws_request_id=self._request_ids(),
        )
        event: Any
        if isinstance(self.handler, BatchHandler) and not extra:
            event = records  # a BatchHandler: given the batch (``_call``)
        else:
            event = {"Records": records.events()}
            if extra:
                event.update(extra)
        seqs = records
        invoked_at = context.started_at
        if clock.virtual:
            raw = self._call(event, context)
            duration = self.base_duration_seconds + context.spent_seconds
            if duration > self.timeout_seconds:
                yield clock.sleep(self.timeout_seconds)
                return self._timeout(context, invoked_at, clock.now(), raw[1])
            yield clock.sleep(duration)
            return self._result(raw, seqs, context, invoked_at, clock.now())
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="streamsim-handler")
        future = self._pool.submit(self._call, event, context)
        deadline = invoked_at + self.timeout_seconds
        while not future.done() and clock.now() < deadline:
            yield clock.sleep(min(0.005, max(0.0, deadline - clock.now())))
        if not future.done():
            return self._timeout(context, invoked_at, clock.now(), [])
        if future.cancelled():  # the trigger was closed with this invocation queued
            return self._result(
                (None, [], RuntimeError("invocation cancelled: the trigger was closed")),
                seqs,
                context,
                invoked_at,
                clock.now(),
            )
        return self._result(future.result(), seqs, context, invoked_at, clock.now())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _call(
        self, event: Any, context: LambdaContext
    ) -> tuple[Any, list[str], BaseException | None]:
        """Run the handler, capturing its printed output; never raises."""
        with self.output.collect() as buffer:
            # The runtime's own lines go straight to the buffer: a timed-out handler thread
            # that ends after the run (router removed) must not print them to the console.
            buffer.write(f"START RequestId: {context.aws_request_id} Version: $LATEST\n")
            try:
                if isinstance(event, RecordBlock):
                    assert isinstance(self.handler, BatchHandler)
                    response = self.handler.handle_batch(event, context)
                else:
                    response = self.handler(event, context)
                if response is not None:  # Lambda must serialise it (Runtime.MarshalError)
                    json.dumps(response)
                error: BaseException | None = None
            except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt too:
                # on Lambda a function that exits or is interrupted is a failed invocation
                response, error = None, exc
                print(f"[ERROR] {type(exc).__name__}: {exc}", file=buffer)
                print("".join(traceback.format_exception(exc)).rstrip(), file=buffer)
            buffer.write(f"END RequestId: {context.aws_request_id}\n")
        return response, log_lines(buffer.getvalue()), error

    def _result(
        self,
        raw: tuple[Any, list[str], BaseException | None],
        seqs: RecordBlock,
        context: LambdaContext,
        invoked_at: float,
        completed_at: float,
    ) -> InvocationResult:
        response, lines, error = raw
        if (
            error is None
            and not self.require_state
            and (response is None or not self.report_batch_item_failures)
        ):  # nothing to judge (``judge_response`` finds no failure in it): the common case
            return InvocationResult(
                Outcome.SUCCESS,
                context.aws_request_id,
                invoked_at,
                completed_at,
                tuple(lines),
                response=response,
            )
        common = dict(
            request_id=context.aws_request_id,
            invoked_at=invoked_at,
            completed_at=completed_at,
            log_lines=tuple(lines),
            response=response,
        )
        if error is not None:
            error_type = type(error).__name__
            if isinstance(error, TypeError) and "JSON serializable" in str(error):
                error_type = "Runtime.MarshalError"
            return InvocationResult(
                Outcome.ERROR, error_type=error_type, error_message=str(error), **common
            )  # type: ignore[arg-type]
        if self.require_state:
            why = missing_state(response)
            if why is not None:
                return InvocationResult(
                    Outcome.ERROR,
                    error_type="MissingWindowState",
                    error_message=why,
                    **common,  # type: ignore[arg-type]
                )
        numbers = seqs.sequence_numbers() if isinstance(response, dict) and response else []
        verdict: BatchVerdict = judge_response(response, numbers, self.report_batch_item_failures)
        if verdict.invalid is not None:
            return InvocationResult(
                Outcome.ERROR,
                error_type="InvalidBatchItemFailures",
                error_message=verdict.invalid,
                **common,  # type: ignore[arg-type]
            )
        if verdict.failed_from is not None:
            return InvocationResult(Outcome.PARTIAL, failed_from=verdict.failed_from, **common)  # type: ignore[arg-type]
        return InvocationResult(Outcome.SUCCESS, **common)  # type: ignore[arg-type]

    def _timeout(
        self, context: LambdaContext, invoked_at: float, completed_at: float, lines: list[str]
    ) -> InvocationResult:
        message = f"Task timed out after {self.timeout_seconds:.2f} seconds"
        return InvocationResult(
            Outcome.TIMEOUT,
            request_id=context.aws_request_id,
            invoked_at=invoked_at,
            completed_at=completed_at,
            log_lines=tuple(lines) + (f"{context.aws_request_id} {message}",),
            error_type="Sandbox.Timedout",
            error_message=message,
        )
