"""Writer lanes: plays split by player, each lane in schedule order, stats merged back.

Every lane runs on its own ManualClock: exact and instant, no wall-clock sleeping.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from streamsim.errors import ConfigError
from streamsim.game.plays import Play
from streamsim.workbench.faults.plan import FaultPlan
from streamsim.workbench.runconfig import RunConfig
from streamsim.workbench.traffic import (
    ManualClock,
    Population,
    PopulationConfig,
    drive,
    poisson_schedule,
)
from streamsim.workbench.traffic.lanes import drive_lanes, lane_of, split_lanes


@pytest.fixture(scope="module")
def plays() -> pd.DataFrame:
    return Population.generate(PopulationConfig(players=30, days=8, seed=5)).plays_frame()


def test_lanes_partition_by_player_stably(plays: pd.DataFrame) -> None:
    schedule = poisson_schedule(plays, rate=20.0, seed=2)
    lanes = split_lanes(schedule, 4)
    everything = np.sort(np.concatenate([lane.indices for lane in lanes]))
    assert everything.tolist() == list(range(len(schedule)))  # each play in exactly one lane
    owners: dict[str, int] = {}
    for k, lane in enumerate(lanes):
        assert np.all(np.diff(lane.indices) > 0)  # schedule order kept
        assert lane.schedule.plays["play_id"].tolist() == (
            schedule.plays["play_id"].iloc[lane.indices].tolist()
        )
        for player in lane.schedule.plays["player_id"]:
            assert owners.setdefault(player, k) == k  # a player never in two lanes
    assert len(set(owners.values())) > 1  # the lanes are really used
    # Stable: the same in a fresh interpreter (Python's str hash is salted per process).
    code = "from streamsim.workbench.traffic.lanes import lane_of; print(lane_of('p-0042', 7))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == lane_of("p-0042", 7)


def test_every_players_plays_are_sent_in_time_order_across_lanes(plays: pd.DataFrame) -> None:
    schedule = poisson_schedule(plays, rate=20.0, seed=2)
    lanes = split_lanes(schedule, 3)
    clocks = [ManualClock(100.0) for _ in lanes]
    sent: list[list[tuple[float, Play]]] = [[] for _ in lanes]
    writes = [
        (lambda p, k=k: sent[k].append((clocks[k].now(), p)))  # type: ignore[misc]
        for k in range(len(lanes))
    ]
    stats = drive_lanes(lanes, writes, clocks, total=len(schedule), start_at=100.0)
    assert stats.sent == len(schedule)
    by_player: dict[str, list[tuple[float, Play]]] = {}
    for lane_sent in sent:
        for at, play in lane_sent:
            by_player.setdefault(play.player_id, []).append((at, play))
    for player, mine in by_player.items():
        expected = plays[plays["player_id"] == player].sort_values("played_at", kind="stable")
        assert [p.play_id for _, p in mine] == expected["play_id"].tolist()
        assert [at for at, _ in mine] == sorted(at for at, _ in mine)
    # Each play went out at its own scheduled time, whatever lane it was in.
    due = dict(zip(schedule.plays["play_id"], 100.0 + schedule.offsets, strict=True))
    assert all(at == due[p.play_id] for lane_sent in sent for at, p in lane_sent)


def test_merged_stats_equal_one_lanes_and_failures_keep_their_schedule_index(
    plays: pd.DataFrame,
) -> None:
    schedule = poisson_schedule(plays.head(200), rate=10.0, seed=4)
    bad = set(schedule.plays["play_id"].iloc[[3, 57, 150]])

    def write(play: Play) -> None:
        if play.play_id in bad:
            raise TimeoutError(f"throttled {play.play_id}")

    one = drive(schedule, write, ManualClock())
    lanes = split_lanes(schedule, 4)
    merged = drive_lanes(
        lanes, [write] * 4, [ManualClock() for _ in lanes], total=len(schedule), start_at=0.0
    )
    assert (merged.total, merged.sent, merged.failed, merged.stopped) == (
        one.total,
        one.sent,
        one.failed,
        one.stopped,
    )
    assert [f.index for f in merged.failures] == [3, 57, 150] == [f.index for f in one.failures]
    assert [f.play.play_id for f in merged.failures] == [f.play.play_id for f in one.failures]
    assert np.array_equal(merged.lags, one.lags) and merged.lag_max == one.lag_max
    assert merged.started_at == 0.0 and merged.finished_at == pytest.approx(schedule.duration)


def test_lags_merge_by_schedule_index(plays: pd.DataFrame) -> None:
    """A slow write in one lane delays only that lane; its lag lands at its schedule index."""
    schedule = poisson_schedule(plays.head(60), rate=10.0, seed=4)
    lanes = split_lanes(schedule, 2)
    clocks = [ManualClock() for _ in lanes]
    slow = lanes[1].schedule.plays["play_id"].iloc[0]

    def writer(k: int):  # type: ignore[no-untyped-def]
        def write(play: Play) -> None:
            if play.play_id == slow:
                clocks[k].advance(1000.0)  # every later play of lane 1 is late

        return write

    merged = drive_lanes(lanes, [writer(0), writer(1)], clocks, total=len(schedule), start_at=0.0)
    late = merged.lags > 0
    after_slow = np.zeros(len(schedule), bool)
    after_slow[lanes[1].indices[1:]] = True
    assert np.array_equal(late, after_slow)
    assert merged.lag_max == pytest.approx(merged.lags.max())


@pytest.mark.parametrize("value", [0, 17, "x", True, 2.0])
def test_writers_out_of_range_are_refused_in_one_line(value: object) -> None:
    with pytest.raises(ConfigError, match="writers must be an integer") as info:
        RunConfig(writers=value)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_client_faults_write_with_one_lane() -> None:
    config = RunConfig(writers=4)
    assert FaultPlan.parse(["throttle=0.1"], seed=1).configure(config).writers == 1
    assert "writers 1" in FaultPlan.parse(["throttle=0.1"], seed=1).report()["changed"]
    assert FaultPlan.parse(["handler-errors=0.1"], seed=1).configure(config).writers == 4
