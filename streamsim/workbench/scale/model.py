"""The at-scale model's settings: each with AWS's value as the default and its source.

Sources (listed with each setting in docs/aws-fidelity.md, "At scale"):
[PART] DynamoDB Developer Guide, partitions and data distribution / warm throughput: a partition
takes at most 1,000 write units per second; a new on-demand table is warm for 4,000 writes/s.
[BURST] DynamoDB Developer Guide, burst capacity: up to 300 seconds of unused capacity.
[SHARD] re:Post QUfNt8PNFTQ1-ytMLrK1n1Yg; AWS Database Blog: one active stream shard per partition.
[ROLL] Stack Overflow 41965786, apache/camel PR 24861: shards roll over about every 4 hours.
NOT documented by AWS: a setting, labelled as such.
[LQ] Lambda quotas: 1,000 concurrent executions per account and Region by default.
[PF] Lambda with-ddb: concurrent batches per shard = ParallelizationFactor (1-10).
[COLD] Lambda Operator Guide, execution environments: cold starts are under 1 % of invocations
and last from under 100 ms to over 1 s.
[WU] DynamoDB pricing / capacity units: one write unit per 1 KB of item (rounded up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from streamsim.errors import ConfigError
from streamsim.validation import require_probability, require_seconds

#: [PART] Write units per second one partition takes.
PARTITION_WRITE_UNITS = 1000.0
#: [PART] Write units per second a new on-demand table is warm for (so at least 4 partitions).
WARM_WRITE_UNITS = 4000.0
#: [LQ] Concurrent executions per account and Region.
ACCOUNT_CONCURRENCY = 1000


@dataclass(frozen=True)
class ScaleModel:
    """The AWS structure around the trigger at scale (each default is AWS's, see the module)."""

    #: [PART] Write units per second per partition.
    partition_write_units: float = PARTITION_WRITE_UNITS
    #: [PART] A new on-demand table's warm write throughput: the least partitions there are.
    warm_write_units: float = WARM_WRITE_UNITS
    #: [BURST] Seconds of unused write capacity a partition keeps for bursts.
    burst_seconds: float = 300.0
    #: [ROLL] Hours between shard rollovers (NOT documented by AWS; 0 turns rollover off).
    rollover_hours: float = 4.0
    #: [LQ] Concurrency cap: reserved concurrency if set, else the account's 1,000.
    concurrency_limit: int = ACCOUNT_CONCURRENCY
    #: [COLD] Share of invocations that start a new execution environment.
    cold_start_probability: float = 0.01
    #: [COLD] Cold-start duration range, seconds (uniform between the two).
    cold_start_seconds: tuple[float, float] = (0.1, 1.0)
    #: Handler duration: base + per record, seconds (a model, or fitted: ``fit_handler``).
    handler_base_seconds: float = 0.05
    handler_per_record_seconds: float = 0.001
    #: Function memory (MB): GB-seconds for the cost table (Lambda's default is 128 MB).
    memory_mb: int = 128
    #: The handler's DynamoDB request units per play (the play's own write is counted apart).
    #: A setting unless measured: ``streamsim scale --strategy`` runs the real handler on the
    #: embedded moto server, ``--units-from RUN`` takes a live run's (scale/units.py).
    read_units_per_play: float = 1.0
    handler_write_units_per_play: float = 0.0
    units_source: str = field(
        default="a setting, not measured (streamsim scale --strategy or --units-from)",
        compare=False,
    )
    labels: dict[str, str] = field(
        default_factory=lambda: {"rollover_hours": "not documented by AWS (users report ~4 h)"},
        compare=False,
    )

    def __post_init__(self) -> None:
        for name in ("partition_write_units", "warm_write_units"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("read_units_per_play", "handler_write_units_per_play"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("burst_seconds", "handler_base_seconds", "handler_per_record_seconds"):
            require_seconds(name, getattr(self, name))
        if self.rollover_hours < 0:
            raise ConfigError(f"rollover_hours must be >= 0, got {self.rollover_hours!r}")
        if not (isinstance(self.concurrency_limit, int) and self.concurrency_limit >= 1):
            raise ConfigError(
                f"concurrency_limit must be an integer >= 1, got {self.concurrency_limit!r}"
            )
        require_probability("cold_start_probability", self.cold_start_probability)
        low, high = self.cold_start_seconds
        if not 0 <= low <= high:
            raise ConfigError(
                f"cold_start_seconds must be (low, high), 0 <= low <= high, got {self.cold_start_seconds!r}"
            )


def write_units(item_bytes: float) -> int:
    """[WU] Write units of one item write: 1 per started KB."""
    return max(1, math.ceil(item_bytes / 1024))


def auto_shards(rate: float, units_per_write: float, model: ScaleModel) -> int:
    """Partitions (= active shards [SHARD]) a table needs for ``rate`` writes/s: at least the
    warm throughput's, and enough that no partition must take more than its limit."""
    need = rate * units_per_write / model.partition_write_units
    warm = model.warm_write_units / model.partition_write_units
    return max(1, math.ceil(max(need, warm) - 1e-9))


def throttle_writes(
    times: np.ndarray, partition: np.ndarray, units: float, partitions: int, model: ScaleModel
) -> tuple[np.ndarray, int]:
    """When each write succeeds, given each partition's write limit with burst capacity.

    A write beyond its partition's capacity is throttled; the writer retries it (the SDK's
    retries) and it succeeds at the start of the first second with capacity, in arrival order.
    Returns the success times and how many writes were throttled at least once.
    """
    if not len(times):
        return times.copy(), 0
    start = math.floor(float(times[0]))
    second = (np.floor(times).astype(np.int64) - start).astype(np.int64)
    horizon = int(second[-1]) + 1
    rate = model.partition_write_units
    cap = rate * max(model.burst_seconds, 1.0)
    demand = np.zeros((partitions, horizon), dtype=np.float64)
    np.add.at(demand, (partition, second), units)
    tokens = np.full(partitions, cap)
    backlog = np.zeros(partitions)
    served = np.zeros((partitions, horizon), dtype=np.float64)
    s = 0
    while s < horizon or backlog.any():
        if s >= served.shape[1]:
            served = np.concatenate([served, np.zeros((partitions, horizon))], axis=1)
            demand = np.concatenate([demand, np.zeros((partitions, horizon))], axis=1)
        want = backlog + demand[:, s]
        take = np.minimum(want, tokens)
        served[:, s] = take
        backlog = want - take
        tokens = np.minimum(cap, tokens - take + rate)
        s += 1
    served = served[:, :s]
    # A write is the k-th unit block of its partition: it succeeds in the first second whose
    # cumulative service reaches its cumulative demand.
    order = np.lexsort((np.arange(len(times)), partition))
    cum_need = np.empty(len(times))
    cum_need[order] = _cumulative_by_group(partition[order], units)
    done_second = np.empty(len(times), dtype=np.int64)
    cum_served = np.cumsum(served, axis=1)
    for p in np.unique(partition):
        idx = np.nonzero(partition == p)[0]
        done_second[idx] = np.searchsorted(cum_served[p], cum_need[idx] - 1e-9, side="left")
    late = done_second > second
    out = times.astype(float).copy()
    out[late] = start + done_second[late].astype(float)
    return out, int(late.sum())


def _cumulative_by_group(groups: np.ndarray, units: float) -> np.ndarray:
    """Running total of ``units`` within each run of equal ``groups`` (sorted)."""
    ones = np.full(len(groups), units)
    total = np.cumsum(ones)
    starts = np.r_[0, np.nonzero(np.diff(groups))[0] + 1]
    offset = np.repeat(total[starts] - units, np.diff(np.r_[starts, len(groups)]))
    return total - offset


def fit_handler(attempts: pd.DataFrame) -> tuple[float, float]:
    """(base, per-record) seconds fitted to a run's attempts (``streamsim.analysis``): carry a
    measured handler to scale. Least squares of duration on batch size, clipped at 0."""
    if len(attempts) < 2:
        raise ConfigError("fitting a handler needs at least two attempts")
    duration = (attempts["completed_at"] - attempts["invoked_at"]).to_numpy(dtype=float)
    size = attempts["records"].to_numpy(dtype=float)
    if np.ptp(size) == 0:
        return max(0.0, float(duration.mean() - 0.0)), 0.0
    slope, base = np.polyfit(size, duration, 1)
    return max(0.0, float(base)), max(0.0, float(slope))
