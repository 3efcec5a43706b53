"""The event-source-mapping emulator: polls shards, batches records, invokes, retries.

One logic on either clock (streamsim.clock). Per shard, a poller process reads records
(4 polls a second by default [D]) and hands them to ParallelizationFactor lanes: records of one
item key always go to the same lane, so they are never in flight together and keep their order
[D]. A lane assembles a batch (BatchSize, MaximumBatchingWindowInSeconds, the 6 MB payload cap
[D]), invokes the handler and follows the failure policy (streamsim.aws.trigger.policy) while it
holds the lane: a failing batch blocks its lane (with the default factor 1, its shard) [E], and
only that. Children of a split shard start once their parent is finished [S].

``Enabled: false`` (or ``pause()``) stops polling and invocation; ``resume()`` continues where
the mapping left off: "Lambda keeps track of the last record processed and resumes processing
from that point when the mapping is reenabled" [DOC-OLD with-ddb.md; API Enabled: "When false,
Lambda pauses polling and invocation"]. Polling starts ``TriggerTiming.polling_start_delay_
seconds`` after the mapping is created (started) or enabled ("it may take several minutes to
start polling" [MSK/Kafka starting-positions pages]); a LATEST position is taken when polling
starts, so writes in that gap are missed, as AWS warns.
"""

from __future__ import annotations

import uuid
import warnings
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from botocore.exceptions import BotoCoreError, ClientError

from streamsim.aws.stream.blocks import ListOrigin, RecordBlock
from streamsim.aws.stream.reader import GET_RECORDS_LIMIT, Shard, ShardCursor, StreamReader
from streamsim.aws.trigger.capture import (
    AttemptRow,
    Capture,
    Disposition,
    PollErrorRow,
)
from streamsim.aws.trigger.checkpoints import CheckpointStore, ShardProgress
from streamsim.aws.trigger.columns import Decimals, FixedTexts, Same
from streamsim.aws.trigger.config import EventSourceMapping, TriggerTiming
from streamsim.aws.trigger.context import function_arn
from streamsim.aws.trigger.destinations import Destination
from streamsim.aws.trigger.filters import FilterCriteria
from streamsim.aws.trigger.invoke import Handler, InvocationResult, Invoker
from streamsim.aws.trigger.onfailure import RECORD_AGE_INVOKE_COUNT, build_on_failure_record
from streamsim.aws.trigger.output import OutputCapture
from streamsim.aws.trigger.policy import (
    RECORD_AGE_EXCEEDED,
    Action,
    expiry,
    next_step,
    split_in_two,
)
from streamsim.aws.trigger.response import REPORT_BATCH_ITEM_FAILURES
from streamsim.aws.trigger.windows import Window, window_start
from streamsim.clock import Clock
from streamsim.errors import ConfigError


class MappingWarning(UserWarning):
    """A mapping setting that is accepted but not emulated (``EventSourceMapping.warnings``)."""


#: ``{"Records":[]}``: the invoke payload around the records (the 6 MB cap is on the whole).
_EVENT_ENVELOPE_BYTES = len('{"Records":[]}')


@dataclass
class _Lane:
    index: int
    #: Blocks of records in read order, each with the time it was read.
    queue: deque[tuple[RecordBlock, float]] = field(default_factory=deque)
    #: Records in ``queue``.
    count: int = 0
    #: The queued records' invoke-payload bytes, kept as records come and go (the batching
    #: window checks it on every wake-up: summing the queue each time was quadratic).
    queued_bytes: int = 0
    busy: bool = False
    wakeup: simpy.Event | None = None
    #: The open tumbling window of this lane, if any (TumblingWindowInSeconds > 0).
    window: Window | None = None

    def wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.triggered:
            self.wakeup.succeed()


@dataclass
class _ShardState:
    shard: Shard
    cursor: ShardCursor
    progress: ShardProgress
    lanes: list[_Lane]
    caught_up: bool = False
    finished: bool = False
    #: Fires when a lane finishes a batch: the poller waits on it while every lane is busy.
    lane_freed: simpy.Event | None = None
    #: Every record created before this time has been read (the start of the last read that
    #: caught up): a tumbling window ending by then has all its records in hand.
    read_through: float = float("-inf")
    #: Fires when the stream changes (a write, a close), or the mapping is paused, resumed or
    #: stopped, while the poller skips polls that could return nothing (``_idle_wait``).
    nudge: simpy.Event | None = None
    #: The poller waits for the stream to change (nothing to read yet).
    awaits_write: bool = False

    def wake_poller(self) -> None:
        if self.nudge is not None and not self.nudge.triggered:
            self.nudge.succeed()

    def free_lane(self) -> None:
        if self.lane_freed is not None and not self.lane_freed.triggered:
            self.lane_freed.succeed()

    @property
    def idle(self) -> bool:
        return all(not lane.queue and not lane.busy and lane.window is None for lane in self.lanes)


class Trigger:
    """A Lambda event source mapping on one stream, calling any ``handler(event, context)``."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        handler: Handler,
        *,
        streams: Any,
        stream_arn: str,
        clock: Clock,
        timing: TriggerTiming | None = None,
        destination: Destination | None = None,
        checkpoints: CheckpointStore | None = None,
        capture: Capture | None = None,
        region: str | None = None,
        function_name: str | None = None,
        mapping_id: str | None = None,
        handler_duration_seconds: float = 0.01,
        shard_discovery_interval_seconds: float = 10.0,
        output: OutputCapture | None = None,
        skip_empty_polls: bool = False,
    ) -> None:
        """``skip_empty_polls``: on the virtual clock with streamsim's in-memory stream, do not
        make the GetRecords calls that could return no record (an idle shard polled 4 times a
        second for hours): records are read at the same poll ticks, only the GetRecords call
        count drops (off by default, where the count is what is measured;
        docs/aws-fidelity.md)."""
        self.mapping = mapping
        self.timing = timing or TriggerTiming()
        self.clock = clock
        self.reader = StreamReader(streams, stream_arn, region)
        self.destination = destination
        self.checkpoints = checkpoints or CheckpointStore()
        self.capture = capture or Capture()
        self.mapping_id = mapping_id or str(uuid.uuid4())
        # The function's name: given, else the mapping's FunctionName, else a placeholder.
        function_name = function_name or mapping.function_short_name or "streamsim-handler"
        self.function_arn = function_arn(function_name, self.reader.region)
        self.filters = FilterCriteria.from_mapping(mapping)
        self.invoker = Invoker(
            handler=handler,
            function_name=function_name,
            function_arn=self.function_arn,
            timeout_seconds=self.timing.function_timeout_seconds,
            report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES
            in mapping.function_response_types,
            require_state=mapping.tumbling_window_in_seconds > 0,
            base_duration_seconds=handler_duration_seconds,
            output=output or OutputCapture(),
        )
        self.shard_discovery_interval_seconds = shard_discovery_interval_seconds
        self._windows = mapping.tumbling_window_in_seconds > 0
        #: Lanes by key hash only with several lanes (ParallelizationFactor 1: one lane).
        self._one_lane = mapping.parallelization_factor == 1
        #: A batching window gathers records up to the payload cap: count queued bytes then.
        self._batching = mapping.maximum_batching_window_in_seconds > 0
        #: Skip polls that could return nothing: only on the virtual clock, with a stream that
        #: says when its next record becomes visible (streamsim's in-memory stream), and without
        #: tumbling windows (every empty poll advances their read-through time).
        self._skip_idle = (
            skip_empty_polls
            and clock.virtual
            and hasattr(streams, "next_record_at")
            and hasattr(streams, "subscribe")
            and not self._windows
        )
        if self._skip_idle:
            streams.subscribe(self._stream_changed)
        self._shards: dict[str, _ShardState] = {}
        self._batch_ids = 0
        self._stopping = False
        self._killed = False
        self._started = False
        self._discovered_once = False
        #: Shards described when the trigger started: StartingPosition applies to these only;
        #: shards that appear later (a split's children) are read from their first record.
        self._initial_shards: set[str] | None = None
        #: A shard finished since the last discovery (it may have children): not yet drained.
        self._lineage_stale = False
        self._rediscover: simpy.Event | None = None
        self._quiet: simpy.Event | None = None
        #: Enabled (polling and invoking) or paused; processes wait on ``_enabled_event``.
        self._enabled = mapping.enabled
        self._enabled_event: simpy.Event = self.clock.env.event()
        #: Polling starts this clock time (the start-up delay after create or enable).
        self._polling_from = self.clock.now()
        for note in self.warnings:
            warnings.warn(note, MappingWarning, stacklevel=2)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Settings accepted but not acted on here (also issued as MappingWarning when the
        trigger is made, so an API user sees them; commands print them)."""
        notes = list(self.mapping.warnings)
        named = self.mapping.event_source_arn
        if named is not None and named != self.reader.stream_arn:
            notes.append(
                f"EventSourceArn {named} is not the stream this trigger reads "
                f"({self.reader.stream_arn}); reading the latter"
            )
        return tuple(notes)

    # ---- running -----------------------------------------------------------------------------
    def start(self) -> None:
        """Schedule the trigger's processes on the clock (run the clock to make them go)."""
        if self._started:
            return
        self._started = True
        self._polling_from = self.clock.now() + self.timing.polling_start_delay_seconds
        self.clock.env.process(self._supervise())

    @property
    def enabled(self) -> bool:
        """Whether the mapping polls and invokes (``Enabled``); see ``pause``/``resume``."""
        return self._enabled

    def pause(self) -> None:
        """Disable the mapping (``Enabled: false``): no more polling or invocations. An
        invocation in progress finishes; its batch's next attempt waits for ``resume``."""
        if not self._enabled:
            return
        self._enabled = False
        if self._enabled_event.triggered:
            self._enabled_event = self.clock.env.event()
        self._stream_changed()

    def resume(self) -> None:
        """Enable the mapping again: it continues from where it stopped (records read and not
        yet delivered stay in hand; the shards are read on from the last record read), after
        the polling start delay."""
        if self._enabled:
            return
        self._enabled = True
        self._polling_from = self.clock.now() + self.timing.polling_start_delay_seconds
        if not self._enabled_event.triggered:
            self._enabled_event.succeed()
        self._stream_changed()

    def disable_for(self, seconds: float, after: float = 0.0) -> None:
        """Schedule on the trigger's clock: disable ``after`` seconds from now, enable again
        ``seconds`` later (a backlog experiment: "the handler was off for an hour")."""
        for name, value in (("seconds", seconds), ("after", after)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"disable_for {name}={value!r} must be seconds >= 0")

        if after == 0:
            self.pause()  # at once: before any poll of this instant

        def schedule() -> Generator[Any, Any, None]:
            if after > 0:
                yield self.clock.sleep(after)
                self.pause()
            yield self.clock.sleep(seconds)
            self.resume()

        self.clock.env.process(schedule())

    def _until_enabled(self) -> Generator[Any, Any, None]:
        """Wait while the mapping is disabled or its polling has not started yet."""
        while not self._stopping:
            if not self._enabled:
                yield self._enabled_event
            elif self.clock.now() < self._polling_from:
                yield self.clock.sleep(self._polling_from - self.clock.now())
            else:
                return

    def stop(self) -> None:
        """Stop polling and taking batches; a batch in hand finishes (a restart resumes after the
        checkpoint: at least once, never skipping)."""
        self._stopping = True
        if not self._enabled_event.triggered:
            self._enabled_event.succeed()  # waiters wake and see the stop
        for state in self._shards.values():
            state.free_lane()
            state.wake_poller()
            for lane in state.lanes:
                lane.wake()

    def kill(self) -> None:
        """Stop as if the process died: batches in hand are abandoned unfinished, so their
        records are not checkpointed and a new trigger on the same checkpoints re-delivers them."""
        self._killed = True
        self.stop()

    @property
    def drained(self) -> bool:
        """Every known shard is caught up with nothing queued or in flight."""
        return (
            self._enabled
            and self._discovered_once
            and not self._lineage_stale
            and all(s.finished or (s.caught_up and s.idle) for s in self._shards.values())
        )

    def run_until_drained(
        self, timeout_seconds: float, settle_seconds: float | None = None
    ) -> bool:
        """Run the clock until drained (and still drained after ``settle_seconds``) or timeout.

        Returns True when drained. Uses the trigger's own clock, so it is instant on virtual time.
        """
        self.start()
        settle = self.timing.poll_interval_seconds * 2 if settle_seconds is None else settle_seconds
        deadline = self.clock.now() + timeout_seconds
        result = {"drained": False}

        def watch() -> Generator[Any, Any, None]:
            # Woken by pollers that find nothing new, not by a timer: 24 virtual hours of a
            # blocked shard cost no steps here.
            while self.clock.now() < deadline:
                if self.drained:
                    yield self.clock.sleep(settle)
                    if self.drained:
                        result["drained"] = True
                        return
                    continue
                self._quiet = self.clock.env.event()
                yield self._quiet | self.clock.sleep(deadline - self.clock.now())

        with self.invoker.output.installed():
            self.clock.run(until=self.clock.env.process(watch()))
        return result["drained"]

    def run_for(self, seconds: float) -> None:
        """Run the clock for ``seconds`` (handler output is captured, not printed)."""
        self.start()
        with self.invoker.output.installed():
            self.clock.run(until=self.clock.env.now + seconds)

    def close(self) -> None:
        self.stop()
        self.invoker.close()

    def _key(self, shard_id: str) -> str:
        """Checkpoints are per stream and shard: moto reuses one shard id for every stream."""
        return f"{self.reader.stream_arn}|{shard_id}"

    def _stream_changed(self, shard_id: str | None = None) -> None:
        """A shard got a record or closed (``shard_id``), or the mapping changed (None): pollers
        skipping empty polls look again."""
        if shard_id is None:
            for state in self._shards.values():
                state.wake_poller()
            return
        waiting = self._shards.get(shard_id)
        if waiting is not None and waiting.awaits_write:
            waiting.wake_poller()

    def _notify_quiet(self) -> None:
        if self._quiet is not None and not self._quiet.triggered:
            self._quiet.succeed()

    # ---- processes ---------------------------------------------------------------------------
    def _supervise(self) -> Generator[Any, Any, None]:
        """Discover shards; start each once its parent is finished [S]."""
        while not self._stopping:
            yield from self._until_enabled()
            if self._stopping:
                return
            try:
                shards = self.reader.shards()
            except (ClientError, BotoCoreError) as exc:
                self._poll_error("-", exc)
                yield self.clock.sleep(self.timing.poll_interval_seconds)
                continue
            known = {s.shard_id for s in shards}
            if self._initial_shards is None:
                self._initial_shards = known
            self._lineage_stale = False
            for shard in shards:
                if shard.shard_id in self._shards or self.checkpoints.is_finished(
                    self._key(shard.shard_id)
                ):
                    continue
                parent = shard.parent_shard_id
                parent_done = (
                    parent is None
                    or parent not in known
                    or self.checkpoints.is_finished(self._key(parent))
                    or (parent in self._shards and self._shards[parent].finished)
                )
                if parent_done:
                    self._start_shard(shard)
            self._discovered_once = True
            self._notify_quiet()
            waiting = any(
                s.shard_id not in self._shards
                and not self.checkpoints.is_finished(self._key(s.shard_id))
                for s in shards
            )
            # Look again soon while children wait for a parent, else at the discovery interval.
            interval = (
                self.timing.poll_interval_seconds
                if waiting
                else self.shard_discovery_interval_seconds
            )
            self._rediscover = self.clock.env.event()
            yield self.clock.sleep(interval) | self._rediscover

    def _start_shard(self, shard: Shard) -> None:
        checkpoint = self.checkpoints.get(self._key(shard.shard_id))
        initial = self._initial_shards is not None and shard.shard_id in self._initial_shards
        position = self.mapping.starting_position if initial else "TRIM_HORIZON"
        cursor = self.reader.cursor(shard, position, after=checkpoint)
        lanes = [_Lane(i) for i in range(self.mapping.parallelization_factor)]
        state = _ShardState(shard, cursor, ShardProgress(checkpoint=checkpoint), lanes)
        self._shards[shard.shard_id] = state
        self.clock.env.process(self._poll(state))
        for lane in lanes:
            self.clock.env.process(self._lane(state, lane))

    def _poll(self, state: _ShardState) -> Generator[Any, Any, None]:
        """Read the shard and route records to lanes (filtered records are finished at once)."""
        shard_id = state.shard.shard_id
        while not self._stopping:
            while all(lane.busy for lane in state.lanes) and not self._stopping:
                # Lambda reads no further while every batch of the shard is in flight (a
                # failing batch blocks its shard [E]); this also keeps a 24 h retry cheap.
                state.lane_freed = self.clock.env.event()
                yield state.lane_freed
            yield from self._until_enabled()
            if self._stopping:
                return
            asked = self.clock.now()
            try:
                block = state.cursor.read_block(GET_RECORDS_LIMIT)
            except (ClientError, BotoCoreError) as exc:
                # Errors before invoking do not count against MaximumRetryAttempts [E].
                self._poll_error(shard_id, exc)
                yield self.clock.sleep(self.timing.poll_interval_seconds)
                continue
            now = self.clock.now()
            count = len(block)
            if count:
                self._read(state, block, now)
            state.caught_up = not count
            if count < GET_RECORDS_LIMIT:
                state.read_through = asked
                self._wake_due_windows(state)
            if state.caught_up and state.idle:
                self._notify_quiet()
            if state.cursor.finished:
                yield from self._wait_idle(state)
                if not state.idle:
                    return  # stopped with records in hand: the shard is not finished
                state.finished = True
                self.checkpoints.finish_shard(self._key(shard_id))
                for lane in state.lanes:
                    lane.wake()
                # Its children may start now: look for them at once, and do not report
                # drained before that look.
                self._lineage_stale = True
                if self._rediscover is not None and not self._rediscover.triggered:
                    self._rediscover.succeed()
                self._notify_quiet()
                return
            if count < GET_RECORDS_LIMIT:
                if self._skip_idle and not count and not state.cursor.finished:
                    yield from self._idle_wait(state, asked)
                else:
                    yield self.clock.sleep(self.timing.poll_interval_seconds)

    def _read(self, state: _ShardState, block: RecordBlock, now: float) -> None:
        """Records read: captured, numbered for the checkpoint, filtered (filtered records are
        finished at once [F]) and queued to their lanes (by item key)."""
        n = len(block)
        shard_id = state.shard.shard_id
        self.capture.records.extend_columns(
            n,
            {
                "mapping": Same(self.mapping_id),
                "shard_id": Same(shard_id),
                "sequence_number": _decimals(block),
                "event_id": _texts(block.event_ids()),
                "event_name": block.event_names(),
                "keys": block.keys_column(),
                "created_at": block.created_at,
                "read_at": Same(now),
                "size_bytes": block.size_bytes,
                "clock": Same(self.clock.kind),
            },
        )
        block.ordinals = state.progress.add_block(block)
        if self.filters is not None:
            matches = self.filters.matches
            keep = np.fromiter((matches(event) for event in block.events()), dtype=bool, count=n)
            if not keep.all():
                # Filtered records are checkpointed past, never delivered [F].
                self._finish(state, block.take(~keep), Disposition.FILTERED, 0, None)
                block = block.take(keep)
                if not len(block):
                    return
        if self._one_lane:
            self._enqueue(state.lanes[0], block, now)
            return
        lanes = len(state.lanes)
        slots = block.key_hashes() % lanes
        for k in range(lanes):
            mine = np.flatnonzero(slots == k)
            if len(mine):
                self._enqueue(state.lanes[k], block.take(mine), now)

    def _enqueue(self, lane: _Lane, block: RecordBlock, now: float) -> None:
        lane.queue.append((block, now))
        lane.count += len(block)
        if self._batching:
            lane.queued_bytes += int(block.payload_bytes.sum())
        lane.wake()

    def _idle_wait(self, state: _ShardState, asked: float) -> Generator[Any, Any, None]:
        """After an empty poll, wait for the next poll that could return something: the first
        poll tick (``asked`` + n x PollingInterval, the ticks the poller would poll at) at or
        after the stream's next record becomes visible, or the shard closes. The polls skipped
        would each have returned no record: only the GetRecords call count differs from polling
        every tick (docs/aws-fidelity.md). The stream, a pause, a resume or a stop nudges the
        poller to look again."""
        interval = self.timing.poll_interval_seconds
        streams = self.reader.streams
        first = asked + interval  # the next tick: where polling every tick would poll next
        tick = first
        while not self._stopping and self._enabled:
            iterator = state.cursor.iterator
            due = float(streams.next_record_at(iterator)) if iterator is not None else 0.0
            if due <= tick:
                break  # something to read by the next tick: poll then
            if due < float("inf"):
                while tick < due:  # the ticks before ``due`` would read nothing
                    tick += interval
            state.nudge = self.clock.env.event()
            if due == float("inf"):
                state.awaits_write = True  # a write or close to this shard nudges it
                yield state.nudge
                state.awaits_write = False
            else:
                yield state.nudge | self.clock.sleep(tick - self.clock.now())
            state.nudge = None
            now = self.clock.now()
            if due < float("inf"):
                if now >= tick:
                    break
                tick = first  # nudged by a pause or a stop: from the first tick not yet passed
            while tick < now:
                tick += interval
            if tick == now:
                break
        if self.clock.now() < tick:
            yield self.clock.sleep(tick - self.clock.now())
        if tick > first and state.cursor.iterator is not None:
            # The skipped polls would each have taken a fresh iterator: the one in hand has not
            # aged meanwhile (no 15-minute expiry from skipping).
            streams.renew_iterator(state.cursor.iterator)

    def _wait_idle(self, state: _ShardState) -> Generator[Any, Any, None]:
        while not state.idle and not self._stopping:
            self._wake_due_windows(state)  # the shard ended: its windows close [T]
            yield self.clock.sleep(self.timing.poll_interval_seconds)

    def _wake_due_windows(self, state: _ShardState) -> None:
        for lane in state.lanes:
            if lane.window is not None and not lane.busy and self._window_due(state, lane):
                lane.wake()

    def _windows_of(self, block: RecordBlock) -> list[float]:
        """The start of each record's tumbling window, from ApproximateCreationDateTime [T]."""
        seconds = self.mapping.tumbling_window_in_seconds
        return [
            window_start(float(event["dynamodb"]["ApproximateCreationDateTime"]), seconds)
            for event in block.events()
        ]

    def _window_due(self, state: _ShardState, lane: _Lane) -> bool:
        """Whether the lane's open window must be closed (final invoke) or terminated early:
        every record of it is delivered and its end has passed, or the shard ended [T]."""
        window = lane.window
        if window is None:
            return False
        if window.terminate_early:
            return True
        if lane.queue:
            return self._windows_of(lane.queue[0][0].slice(0, 1))[0] != window.start
        return state.cursor.finished or state.read_through >= window.end

    def _lane(self, state: _ShardState, lane: _Lane) -> Generator[Any, Any, None]:
        """Take batches from the lane's queue and deliver them, one at a time (and close
        tumbling windows when they are due)."""
        window = self.mapping.maximum_batching_window_in_seconds
        while not self._stopping:
            while not lane.queue and not self._window_due(state, lane):
                if self._stopping or state.finished:
                    return
                lane.wakeup = self.clock.env.event()
                yield lane.wakeup
            if self._window_due(state, lane):
                yield from self._until_enabled()
                if self._stopping:
                    return
                lane.busy = True
                try:
                    yield from self._close_window(state, lane)
                finally:
                    lane.busy = False
                    state.free_lane()
                continue
            if window > 0:
                # Gather until the batch is full, the window ends, or the payload cap [D].
                deadline = lane.queue[0][1] + window
                while (
                    lane.count < self.mapping.batch_size
                    and lane.queued_bytes < self.timing.max_payload_bytes
                    and self.clock.now() < deadline
                    and not self._stopping
                ):
                    lane.wakeup = self.clock.env.event()
                    yield lane.wakeup | self.clock.sleep(deadline - self.clock.now())
            yield from self._until_enabled()
            if self._stopping:
                return  # take no new batch after stop(): a restart re-delivers the queue
            batch = self._take_batch(lane)
            if self.mapping.tumbling_window_in_seconds and lane.window is None:
                start = self._windows_of(batch.slice(0, 1))[0]
                lane.window = Window(start, start + self.mapping.tumbling_window_in_seconds)
            lane.busy = True
            try:
                yield from self._deliver(state, lane, batch, retries=0)
            finally:
                lane.busy = False
                state.free_lane()
                if self._skip_idle and state.caught_up and state.idle:
                    self._notify_quiet()  # its poller may be skipping empty polls

    def _close_window(self, state: _ShardState, lane: _Lane) -> Generator[Any, Any, None]:
        """The final invocation of the lane's window (or its early termination): no records,
        retried with the backoff until it succeeds ("suspends further processing until a
        successful invocation" [T]). Then the state is dropped."""
        window = lane.window
        assert window is not None
        early = window.terminate_early
        self._batch_ids += 1
        batch_id = self._batch_ids
        attempt = 0
        backoff = 0.0
        while not self._killed:
            yield from self._until_enabled()
            if self._stopping:
                return
            attempt += 1
            extra = window.fields(
                state.shard.shard_id, self.reader.stream_arn, final=not early, early=early
            )
            result: InvocationResult = yield from self.invoker.invoke(
                RecordBlock.empty(state.shard.shard_id), self.clock, extra
            )
            if self._killed:
                return
            self.capture.attempt(
                self._attempt_row(
                    state,
                    lane,
                    batch_id,
                    attempt,
                    attempt - 1,
                    backoff,
                    RecordBlock.empty(state.shard.shard_id),
                    result,
                )
            )
            if result.outcome.value in ("success", "partial"):
                if early:  # the same window continues with a fresh state [T]
                    window.state = {}
                    window.terminate_early = False
                else:
                    lane.window = None
                return
            backoff = self.timing.backoff_delay(attempt)
            yield self.clock.sleep(backoff)

    def _take_batch(self, lane: _Lane) -> RecordBlock:
        """The next batch from the front of the lane's queue: up to BatchSize records, one
        tumbling window's, within the 6 MB invoke payload cap [D] measured on the event as sent
        (the envelope, each record, a comma between records): cut from a prefix sum."""
        pieces: list[RecordBlock] = []
        size = _EVENT_ENVELOPE_BYTES
        taken = 0
        room = self.mapping.batch_size
        cap = self.timing.max_payload_bytes
        first_window = self._windows_of(lane.queue[0][0].slice(0, 1))[0] if self._windows else None
        while lane.queue and taken < room:
            block, read_at = lane.queue[0]
            limit = min(room - taken, len(block))
            if first_window is not None:
                starts = self._windows_of(block.slice(0, limit))
                same = next((i for i, w in enumerate(starts) if w != first_window), limit)
                limit = same  # a batch belongs to one tumbling window [T]
            # Payload after each record j of this block (a comma before every record but the
            # batch's first): ``size + payload[0..j] + j (+ 1 unless the batch is empty)``.
            payload = block.payload_bytes[:limit]
            whole = size + int(payload.sum()) + limit - 1 + (taken > 0)
            if not limit:
                take = 0
            elif whole <= cap:  # all of them fit (the usual case): no prefix sum needed
                take, size = limit, whole
            else:
                grown = size + np.cumsum(payload) + np.arange(limit) + (taken > 0)
                fits = int(np.searchsorted(grown, cap, side="right"))
                if taken == 0:
                    fits = max(fits, 1)  # the first record goes whatever its size
                take = min(fits, limit)
                if take:
                    size = int(grown[take - 1])
            if take:
                pieces.append(block.slice(0, take) if take < len(block) else block)
                taken += take
            if take == len(block):
                lane.queue.popleft()
            else:
                lane.queue[0] = (block.slice(take), read_at)
                break  # cut by the payload cap, the window or BatchSize
        batch = RecordBlock.concat(pieces)
        lane.count -= taken
        if self._batching:
            lane.queued_bytes -= int(batch.payload_bytes.sum())
        return batch

    def _deliver(
        self, state: _ShardState, lane: _Lane, batch: RecordBlock, retries: int
    ) -> Generator[Any, Any, None]:
        """Deliver one batch until it succeeds or is discarded (the shard's lane is held)."""
        self._batch_ids += 1
        batch_id = self._batch_ids
        attempt = 0
        backoff = 0.0
        last: InvocationResult | None = None
        while len(batch) and not self._killed:
            yield from self._until_enabled()
            if self._stopping:
                return  # no retry after stop(): unfinished, so a restart re-delivers it
            batch = self._discard_expired(state, batch, attempt)
            if not len(batch):
                return
            attempt += 1
            first = batch.first_invoked
            if np.isnan(first).any():
                batch.first_invoked = np.where(np.isnan(first), self.clock.now(), first)
            extra = None
            if lane.window is not None:
                extra = lane.window.fields(
                    state.shard.shard_id, self.reader.stream_arn, final=False, early=False
                )
            result: InvocationResult = yield from self.invoker.invoke(batch, self.clock, extra)
            if self._killed:
                return  # the process died with this batch in hand
            last = result
            if lane.window is not None and result.outcome.value in ("success", "partial"):
                lane.window.keep(result.response)
            self.capture.attempt(
                self._attempt_row(state, lane, batch_id, attempt, retries, backoff, batch, result)
            )
            step = next_step(
                outcome=result.outcome.value,
                batch_size=len(batch),
                retries=retries,
                failed_from=result.failed_from,
                maximum_retry_attempts=self.mapping.maximum_retry_attempts,
                bisect=self.mapping.bisect_batch_on_function_error,
                backoff_seconds=self.timing.backoff_delay(retries + 1),
            )
            if step.action is Action.DONE:
                self._finish(state, batch, Disposition.PROCESSED, attempt, None)
                return
            if step.action is Action.BISECT:
                cut = split_in_two(len(batch))
                yield from self._deliver(state, lane, batch.slice(0, cut), retries)
                yield from self._deliver(state, lane, batch.slice(cut), retries)
                return
            if step.from_sequence_number is not None:
                before = batch.seqs < int(step.from_sequence_number) - batch.seq_base
                self._finish(state, batch.take(before), Disposition.PROCESSED, attempt, None)
                batch = batch.take(~before)
            retries = step.retries
            if step.action is Action.DISCARD:
                self._discard(
                    state,
                    batch,
                    step.condition or "",
                    attempt,
                    function_error=last.function_error if last is not None else None,
                )
                return
            backoff = step.delay_seconds
            yield self.clock.sleep(backoff)

    # ---- outcomes ------------------------------------------------------------------------------
    def _finish(
        self,
        state: _ShardState,
        records: RecordBlock,
        disposition: Disposition,
        attempts: int,
        condition: str | None,
    ) -> None:
        n = len(records)
        if not n:
            return
        self.capture.dispositions.extend_columns(
            n,
            {
                "mapping": Same(self.mapping_id),
                "shard_id": Same(state.shard.shard_id),
                "sequence_number": _decimals(records),
                "disposition": Same(disposition.value),
                "at": Same(self.clock.now()),
                "attempts": Same(attempts),
                "condition": Same(condition),
                "clock": Same(self.clock.kind),
                "first_invoked_at": records.first_invoked,
            },
        )
        assert records.ordinals is not None
        moved = state.progress.finish_ordinals(records.ordinals)
        if moved and state.progress.checkpoint is not None:
            self.checkpoints.save(self._key(state.shard.shard_id), state.progress.checkpoint)

    def _discard_expired(
        self, state: _ShardState, batch: RecordBlock, attempts: int
    ) -> RecordBlock:
        """Discard the records of ``batch`` past MaximumRecordAgeInSeconds or the retention, one
        on-failure record per contiguous run, and return the younger rest to deliver: AWS drops
        only the expired records [R-K test_kinesis_maximum_record_age_exceeded_discard_records,
        E "retries until the records expire or exceed the maximum age"]."""
        now = self.clock.now()

        def expired(created: float) -> bool:
            return (
                expiry(
                    oldest_created_at=created,
                    now=now,
                    maximum_record_age_in_seconds=self.mapping.maximum_record_age_in_seconds,
                    retention_seconds=self.timing.record_retention_seconds,
                )
                is not None
            )

        if not len(batch) or not expired(float(batch.created_at.min())):
            return batch  # the oldest is young enough: so is every record
        old = np.fromiter(
            (expired(c) for c in batch.created_at.tolist()), dtype=bool, count=len(batch)
        )
        # Runs of expired records, in order, each discarded with its own on-failure record.
        edges = np.flatnonzero(np.diff(np.concatenate(([False], old, [False])).astype(np.int8)))
        for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            self._discard(state, batch.slice(start, stop), RECORD_AGE_EXCEEDED, attempts)
        return batch.take(~old)

    def _discard(
        self,
        state: _ShardState,
        batch: RecordBlock,
        condition: str,
        attempts: int,
        function_error: str | None = None,
    ) -> None:
        """Give up on records: tell the on-failure destination, if any, and move on [E].

        A RecordAgeExceeded record carries no responseContext and approximateInvokeCount 1, as
        in every AWS recording [R-K]; the capture keeps the true attempt count.
        """
        disposition = Disposition.DISCARDED
        if self.destination is not None:
            by_age = condition == RECORD_AGE_EXCEEDED
            message = build_on_failure_record(
                records=batch.events(),
                shard_id=state.shard.shard_id,
                stream_arn=self.reader.stream_arn,
                function_arn=self.function_arn,
                condition=condition,
                approximate_invoke_count=RECORD_AGE_INVOKE_COUNT if by_age else attempts,
                timestamp=self.clock.now(),
                destination_arn=self.destination.arn,
                status_code=None if by_age else 200,
                function_error=function_error,
            )
            try:
                self.destination.send(message)
                self.capture.destination_messages.append(message)
                disposition = Disposition.DESTINATION
            except (ClientError, BotoCoreError, OSError) as exc:
                self._poll_error(state.shard.shard_id, exc)
        self._finish(state, batch, disposition, attempts, condition)

    def _attempt_row(
        self,
        state: _ShardState,
        lane: _Lane,
        batch_id: int,
        attempt: int,
        retries: int,
        backoff: float,
        batch: RecordBlock,
        result: InvocationResult,
    ) -> AttemptRow:
        return AttemptRow(
            mapping=self.mapping_id,
            shard_id=state.shard.shard_id,
            lane=lane.index,
            batch_id=batch_id,
            attempt=attempt,
            retry=retries,
            backoff_seconds=backoff,
            first_sequence_number=batch.sequence_number(0) if len(batch) else "",
            last_sequence_number=batch.sequence_number(-1) if len(batch) else "",
            records=len(batch),
            payload_bytes=int(batch.payload_bytes.sum()),
            invoked_at=result.invoked_at,
            completed_at=result.completed_at,
            outcome=result.outcome.value,
            error_type=result.error_type,
            error_message=result.error_message,
            failed_from=result.failed_from,
            request_id=result.request_id,
            log_lines=result.log_lines,
            clock=self.clock.kind,
        )

    def _poll_error(self, shard_id: str, exc: BaseException) -> None:
        code = (
            exc.response.get("Error", {}).get("Code", "")
            if isinstance(exc, ClientError)
            else type(exc).__name__
        )
        self.capture.poll_errors.append(
            PollErrorRow(
                self.mapping_id, shard_id, self.clock.now(), code, str(exc), self.clock.kind
            )
        )


def _texts(values: Any) -> Any:
    """Texts for the capture: a fixed-width array (``RecordBlock.event_ids``) as such."""
    return FixedTexts(values) if isinstance(values, np.ndarray) else values


def _decimals(block: RecordBlock) -> Any:
    """A block's sequence numbers for the capture's decimal column."""
    if block.seqs.dtype == np.int64 and not isinstance(block.origin, ListOrigin):
        return Decimals(block.seq_base, block.seqs)
    return block.sequence_numbers()
