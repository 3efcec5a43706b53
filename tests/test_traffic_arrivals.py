"""Send schedules: compression maps simulated time onto the run, Poisson arrivals keep their
rate, and every schedule sends each player's plays in played_at order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from streamsim.errors import ConfigError
from streamsim.game.plays import PLAY_COLUMNS, Play
from streamsim.workbench.traffic import (
    Population,
    PopulationConfig,
    Schedule,
    compressed_offsets,
    compressed_schedule,
    compression_factor,
    daily_curve,
    poisson_offsets,
    poisson_schedule,
    send_order,
)

UTC = timezone.utc


@pytest.fixture(scope="module")
def plays() -> pd.DataFrame:
    return Population.generate(PopulationConfig(players=400, days=30, seed=5)).plays_frame()


def assert_players_in_time_order(schedule: Schedule, plays: pd.DataFrame) -> None:
    """Per player, the send order is exactly the frame's played_at order."""
    sent = schedule.plays.groupby("player_id", sort=False)["play_id"].agg(list)
    expected = plays.sort_values(["player_id", "played_at"], kind="stable")
    expected = expected.groupby("player_id", sort=False)["play_id"].agg(list)
    assert sent.sort_index().equals(expected.sort_index())
    ns = schedule.plays["played_at"].astype("int64")
    assert (ns.groupby(schedule.plays["player_id"]).diff().dropna() >= 0).all()


# ---- compression ---------------------------------------------------------------------------


def test_compression_factor_of_thirty_days_in_ten_minutes() -> None:
    assert compression_factor(timedelta(days=30), timedelta(minutes=10)) == 4320.0
    assert compression_factor(30 * 86_400, 600) == 4320.0


def test_compressed_offsets_map_thirty_simulated_days_onto_the_duration() -> None:
    t0 = pd.Timestamp("2024-01-01", tz="UTC").value
    day = 86_400 * 10**9
    ns = np.array([t0, t0 + 15 * day, t0 + 30 * day], dtype=np.int64)
    offsets = compressed_offsets(ns, compression_factor(30 * 86_400, 600), t0)
    assert offsets.tolist() == pytest.approx([0.0, 300.0, 600.0])


def test_compressed_schedule_spans_the_requested_duration(plays: pd.DataFrame) -> None:
    start = datetime(2023, 12, 31, tzinfo=UTC)  # local day 0 begins on Dec 31 in UTC+x zones
    end = start + timedelta(days=32)
    schedule = compressed_schedule(plays, duration=timedelta(minutes=8), start=start, end=end)
    assert len(schedule) == len(plays)
    assert schedule.offsets.min() >= 0 and schedule.offsets.max() <= 480
    simulated = (schedule.plays["played_at"] - pd.Timestamp(start)).dt.total_seconds()
    assert np.allclose(schedule.offsets, simulated / (32 * 86_400 / 480))
    assert_players_in_time_order(schedule, plays)


def test_default_window_puts_the_first_play_at_zero_and_the_last_at_the_end(
    plays: pd.DataFrame,
) -> None:
    schedule = compressed_schedule(plays, duration=120.0)
    assert schedule.offsets[0] == 0.0
    assert schedule.duration == pytest.approx(120.0)
    assert (np.diff(schedule.offsets) >= 0).all()


def test_compression_keeps_gaps_proportional(plays: pd.DataFrame) -> None:
    schedule = compressed_schedule(plays, compression=60.0)
    gaps = np.diff(schedule.plays["played_at"].astype("int64").to_numpy()) / 1e9
    assert np.allclose(np.diff(schedule.offsets), gaps / 60.0)


def test_compression_needs_exactly_one_of_duration_or_compression(plays: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        compressed_schedule(plays)
    with pytest.raises(ConfigError, match="exactly one"):
        compressed_schedule(plays, duration=1.0, compression=2.0)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigError, match="end must not be before start"):
        compressed_schedule(plays, duration=1.0, start=later)
    with pytest.raises(ConfigError, match="within start..end"):
        compressed_schedule(plays, duration=1.0, start=later, end=later + timedelta(days=1))
    with pytest.raises(ConfigError, match="timezone-aware"):
        compressed_schedule(plays, duration=1.0, start=datetime(2024, 1, 1))
    with pytest.raises(ConfigError, match="compression"):
        compressed_offsets(np.zeros(1, dtype=np.int64), 0.0, 0)
    with pytest.raises(ConfigError):
        compression_factor(0, 10)


# ---- send order ----------------------------------------------------------------------------


def test_send_order_is_played_at_order_for_a_shuffled_frame(plays: pd.DataFrame) -> None:
    shuffled = plays.sample(frac=1.0, random_state=3).reset_index(drop=True)
    schedule = poisson_schedule(shuffled, rate=100.0, seed=1)
    assert_players_in_time_order(schedule, plays)
    ns = schedule.plays["played_at"].astype("int64").to_numpy()
    assert (np.diff(ns) >= 0).all()


def test_send_order_is_stable_for_ties() -> None:
    ns = np.array([5, 1, 5, 1, 3], dtype=np.int64)
    assert send_order(ns).tolist() == [1, 3, 4, 0, 2]


# ---- Poisson arrivals ----------------------------------------------------------------------


def test_poisson_rate_is_within_statistical_tolerance() -> None:
    rate, n = 40.0, 20_000
    t = poisson_offsets(n, rate, seed=12)
    assert (np.diff(t) > 0).all()
    horizon = 400.0  # expected arrivals: 16,000; sd = sqrt(16,000) ~ 126
    assert abs(np.sum(t <= horizon) - rate * horizon) < 4 * np.sqrt(rate * horizon)
    gaps = np.diff(t)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.04)  # exponential gaps


def test_poisson_offsets_are_seeded() -> None:
    assert np.array_equal(poisson_offsets(100, 5.0, seed=1), poisson_offsets(100, 5.0, seed=1))
    assert not np.array_equal(poisson_offsets(100, 5.0, seed=1), poisson_offsets(100, 5.0, seed=2))


def test_daily_curve_shapes_the_rate_and_keeps_the_mean() -> None:
    curve = [0.0] * 6 + [1.0] * 12 + [3.0] * 6  # nothing at night, evening three times busier
    day = 240.0  # one curve day in 240 s, 10 s per hour
    t = poisson_offsets(60_000, 10.0, seed=4, curve=curve, day_seconds=day)
    hour = ((t % day) // (day / 24)).astype(int)
    counts = np.bincount(hour, minlength=24)
    assert counts[:6].sum() == 0
    assert counts[18:].mean() / counts[6:18].mean() == pytest.approx(3.0, rel=0.05)
    whole_days = np.floor(t[-1] / day) * day
    assert np.sum(t < whole_days) / whole_days == pytest.approx(10.0, rel=0.03)


def test_phase_starts_the_curve_at_the_given_hour() -> None:
    curve = [0.0] * 12 + [1.0] * 12
    t = poisson_offsets(1000, 2.0, seed=0, curve=curve, day_seconds=24.0, phase_hours=12)
    # starting at hour 12 the first half day is busy: the first arrival is not delayed 12 h
    assert t[0] < 2.0
    hour = ((t + 12.0) % 24.0).astype(int)
    assert (hour >= 12).all()


def test_daily_curve_of_plays_peaks_in_local_evenings() -> None:
    config = PopulationConfig(players=300, days=10, seed=2, time_zones=(("Europe/Amsterdam", 1.0),))
    f = Population.generate(config).plays_frame()
    curve = daily_curve(f, tz="Europe/Amsterdam")
    assert len(curve) == 24 and np.mean(curve) == pytest.approx(1.0)
    assert np.argmax(curve) in range(18, 23)
    assert curve[20] > 3 * curve[4]


def test_poisson_schedule_sends_every_play_once_in_time_order(plays: pd.DataFrame) -> None:
    curve = daily_curve(plays)
    schedule = poisson_schedule(plays, rate=250.0, seed=9, curve=curve)
    assert len(schedule) == len(plays)
    assert sorted(schedule.plays["play_id"]) == sorted(plays["play_id"])
    assert (np.diff(schedule.offsets) >= 0).all()
    # about a minute of sending: all within the curve's first hour, at 250/s times its weight
    assert schedule.duration < 3600
    assert len(plays) / schedule.duration == pytest.approx(250.0 * curve[0], rel=0.05)
    assert_players_in_time_order(schedule, plays)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0.0},
        {"rate": -1.0},
        {"rate": float("nan")},
        {"rate": 1.0, "curve": [1.0] * 23},
        {"rate": 1.0, "curve": [0.0] * 24},
        {"rate": 1.0, "curve": [-1.0] + [1.0] * 23},
        {"rate": 1.0, "curve": ["x"] * 24},
        {"rate": 1.0, "curve": [1.0] * 24, "day_seconds": 0.0},
        {"rate": 1.0, "curve": [1.0] * 24, "phase_hours": float("inf")},
    ],
)
def test_bad_arrival_parameters_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        poisson_offsets(10, **kwargs)  # type: ignore[arg-type]


# ---- the schedule ----------------------------------------------------------------------------


def test_schedule_yields_plays_equal_to_the_frame_rows(plays: pd.DataFrame) -> None:
    schedule = compressed_schedule(plays.head(50), compression=1.0)
    items = list(schedule.iter_plays(chunk=7))  # chunks that do not divide the length
    assert len(items) == 50
    first_offset, first = items[0]
    row = schedule.plays.iloc[0]
    assert first_offset == 0.0 and isinstance(first, Play)
    assert first.played_at == row["played_at"].to_pydatetime()
    assert first.played_at.tzinfo is not None
    assert (first.player_id, first.play_id, first.game, first.tz, first.score) == (
        row["player_id"],
        row["play_id"],
        row["game"],
        row["tz"],
        row["score"],
    )
    assert [p.play_id for _, p in items] == schedule.plays["play_id"].tolist()


def test_schedule_rejects_mismatched_or_decreasing_offsets(plays: pd.DataFrame) -> None:
    two = plays.head(2)[list(PLAY_COLUMNS)]
    with pytest.raises(ConfigError):
        Schedule(two, np.array([0.0]))
    with pytest.raises(ConfigError):
        Schedule(two, np.array([1.0, 0.0]))


def test_a_frame_without_play_columns_is_refused() -> None:
    with pytest.raises(ConfigError, match="lacks columns"):
        poisson_schedule(pd.DataFrame({"x": [1]}), rate=1.0)
