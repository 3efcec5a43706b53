"""The driver: sends every play at its time, in order, keeps every failure, and stops on demand.

All timing runs on a ManualClock: exact and instant, no wall-clock sleeping.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from streamsim.errors import ConfigError
from streamsim.game.plays import Play
from streamsim.workbench.traffic import (
    DriveStats,
    ManualClock,
    Population,
    PopulationConfig,
    Schedule,
    SleepingClock,
    compressed_schedule,
    drive,
    poisson_schedule,
)


@pytest.fixture(scope="module")
def plays() -> pd.DataFrame:
    return Population.generate(PopulationConfig(players=40, days=10, seed=3)).plays_frame()


def fixed(plays: pd.DataFrame, offsets: list[float]) -> Schedule:
    """The first len(offsets) plays (in played_at order) at the given offsets."""
    head = plays.sort_values("played_at", kind="stable").head(len(offsets))
    return Schedule(head.reset_index(drop=True), np.array(offsets, dtype=float))


def test_sends_everything_in_order_at_the_scheduled_times(plays: pd.DataFrame) -> None:
    schedule = poisson_schedule(plays, rate=5.0, seed=1)
    clock = ManualClock(start=1000.0)
    sent: list[tuple[float, Play]] = []
    stats = drive(schedule, lambda p: sent.append((clock.now(), p)), clock)
    assert [p.play_id for _, p in sent] == schedule.plays["play_id"].tolist()
    assert np.allclose([t for t, _ in sent], 1000.0 + schedule.offsets)
    assert (stats.sent, stats.failed, stats.remaining, stats.stopped) == (len(plays), 0, 0, False)
    assert stats.lag_max == 0.0 and stats.lag_p99 == 0.0
    assert clock.now() == pytest.approx(1000.0 + schedule.duration)
    assert stats.started_at == 1000.0 and stats.finished_at == clock.now()


def test_each_players_plays_are_written_in_played_at_order(plays: pd.DataFrame) -> None:
    schedule = compressed_schedule(plays.sample(frac=1.0, random_state=1), duration=60.0)
    written: list[Play] = []
    drive(schedule, written.append, ManualClock())
    by_player: dict[str, list[Play]] = {}
    for p in written:
        by_player.setdefault(p.player_id, []).append(p)
    for player, mine in by_player.items():
        expected = plays[plays["player_id"] == player].sort_values("played_at")["play_id"]
        assert [p.play_id for p in mine] == expected.tolist()
        assert [p.played_at for p in mine] == sorted(p.played_at for p in mine)


def test_failures_are_reported_with_their_errors_and_the_drive_goes_on(
    plays: pd.DataFrame,
) -> None:
    schedule = fixed(plays, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    bad = {schedule.plays["play_id"][1], schedule.plays["play_id"][4]}
    written: list[str] = []

    def write(play: Play) -> None:
        if play.play_id in bad:
            raise TimeoutError(f"throttled {play.play_id}")
        written.append(play.play_id)

    stats = drive(schedule, write, ManualClock())
    assert (stats.sent, stats.failed, stats.attempted, stats.total) == (4, 2, 6, 6)
    assert [f.index for f in stats.failures] == [1, 4]
    assert {f.play.play_id for f in stats.failures} == bad
    assert all(isinstance(f.error, TimeoutError) for f in stats.failures)
    assert [f.at for f in stats.failures] == [1.0, 4.0]
    assert len(written) == 4


def test_stop_event_ends_the_drive_early(plays: pd.DataFrame) -> None:
    schedule = fixed(plays, [float(i) for i in range(10)])
    stop = threading.Event()
    written: list[Play] = []

    def write(play: Play) -> None:
        written.append(play)
        if len(written) == 3:
            stop.set()

    clock = ManualClock()
    stats = drive(schedule, write, clock, stop=stop)
    assert stats.stopped and len(written) == 3
    assert (stats.sent, stats.remaining) == (3, 7)
    assert clock.now() == 2.0  # did not wait for the fourth play's time


def test_a_stop_set_before_the_start_sends_nothing(plays: pd.DataFrame) -> None:
    stop = threading.Event()
    stop.set()
    stats = drive(fixed(plays, [0.0, 0.0]), lambda p: None, SleepingClock(), stop=stop)
    assert stats.stopped and stats.attempted == 0 and stats.lag_p99 == 0.0


def test_lag_behind_schedule_when_writes_are_slow(plays: pd.DataFrame) -> None:
    """Writes taking 0.5 s against a 0.1 s schedule fall behind by 0.4 s per play."""
    schedule = fixed(plays, [0.0, 0.1, 0.2, 0.3, 0.4])
    clock = ManualClock()
    stats = drive(schedule, lambda p: clock.advance(0.5), clock)
    assert stats.lags == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6])
    assert stats.lag_max == pytest.approx(1.6)
    assert stats.lag_p99 == pytest.approx(np.percentile([0.0, 0.4, 0.8, 1.2, 1.6], 99))
    assert clock.now() == pytest.approx(2.5)


def test_progress_is_reported_every_n_sends_and_at_the_end(plays: pd.DataFrame) -> None:
    schedule = fixed(plays, [float(i) for i in range(7)])
    seen: list[tuple[int, int]] = []

    def progress(stats: DriveStats) -> None:
        seen.append((stats.attempted, stats.total))

    drive(schedule, lambda p: None, ManualClock(), progress=progress, progress_every=3)
    assert seen == [(3, 7), (6, 7), (7, 7)]


def test_start_at_sets_the_schedules_origin(plays: pd.DataFrame) -> None:
    clock = ManualClock(start=50.0)
    times: list[float] = []
    drive(fixed(plays, [0.0, 5.0]), lambda p: times.append(clock.now()), clock, start_at=100.0)
    assert times == [100.0, 105.0]


def test_an_empty_schedule_returns_at_once(plays: pd.DataFrame) -> None:
    stats = drive(fixed(plays, []), lambda p: None, ManualClock())
    assert (stats.total, stats.attempted, stats.stopped) == (0, 0, False)


def test_wall_clock_sends_plays_that_are_already_due(plays: pd.DataFrame) -> None:
    written: list[Play] = []
    stats = drive(fixed(plays, [0.0, 0.0, 0.0]), written.append, SleepingClock())
    assert len(written) == 3 and stats.sent == 3 and stats.lag_max >= 0.0


def test_a_clock_that_never_advances_is_an_error_not_a_hang(plays: pd.DataFrame) -> None:
    class Stuck:
        def now(self) -> float:
            return 0.0

        def sleep_until(self, t: float) -> None:
            pass

    with pytest.raises(RuntimeError, match="does not advance"):
        drive(fixed(plays, [1.0]), lambda p: None, Stuck())


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        drive(
            Schedule(pd.DataFrame(), np.empty(0)), lambda p: None, ManualClock(), progress_every=0
        )
    with pytest.raises(ConfigError):
        SleepingClock(max_nap=0)
    with pytest.raises(ValueError):
        ManualClock().advance(-1)
