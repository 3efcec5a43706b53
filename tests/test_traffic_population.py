"""Synthetic population: reproducible by seed, the plays schema, and habits that shape the data.

Populations are seeded, so the statistical checks are exact for a given seed; their tolerances
are wide enough to hold for any seed but narrow enough to fail if a habit stops mattering.
"""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd
import pytest

from streamsim.game.plays import PLAY_COLUMNS
from streamsim.workbench.traffic import Beta, Population, PopulationConfig

#: A window over the 2024 spring DST changes (US 10 Mar, EU 31 Mar, Sydney 7 Apr).
SPRING = date(2024, 3, 1)


def local_days(frame: pd.DataFrame, start: date) -> np.ndarray:
    """Each play's day index in its player's own calendar (day 0 = ``start`` there)."""
    out = np.empty(len(frame), dtype=np.int64)
    for tz, idx in frame.groupby("tz").indices.items():
        local = frame["played_at"].iloc[idx].dt.tz_convert(tz).dt.tz_localize(None)
        out[idx] = (local.dt.normalize() - pd.Timestamp(start)).dt.days.to_numpy()
    return out


def local_hours(frame: pd.DataFrame) -> np.ndarray:
    """Each play's local time of day in hours (0..24)."""
    out = np.empty(len(frame))
    for tz, idx in frame.groupby("tz").indices.items():
        local = frame["played_at"].iloc[idx].dt.tz_convert(tz)
        out[idx] = (local.dt.hour + local.dt.minute / 60 + local.dt.second / 3600).to_numpy()
    return out


def mean_runs(frame: pd.DataFrame, start: date) -> pd.Series:
    """Mean length of runs of consecutive played days, per player."""
    days = pd.DataFrame({"player_id": frame["player_id"], "day": local_days(frame, start)})
    days = days.drop_duplicates().sort_values(["player_id", "day"])
    new_run = (days["day"].diff() != 1) | (days["player_id"] != days["player_id"].shift())
    runs = new_run.groupby(days["player_id"]).sum()
    return days.groupby("player_id").size() / runs


@pytest.fixture(scope="module")
def spring() -> Population:
    return Population.generate(PopulationConfig(players=1500, days=60, start=SPRING, seed=11))


@pytest.fixture(scope="module")
def spring_frame(spring: Population) -> pd.DataFrame:
    return spring.plays_frame()


# ---- reproducibility -----------------------------------------------------------------------


def test_same_seed_gives_identical_frames() -> None:
    config = PopulationConfig(players=300, days=20, seed=7)
    a, b = Population.generate(config), Population.generate(config)
    pd.testing.assert_frame_equal(a.plays_frame(), b.plays_frame())
    pd.testing.assert_frame_equal(a.players, b.players)


def _digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's values, column by column (times as UTC ns, others as reprs)."""
    h = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            h.update(column.dt.tz_convert("UTC").array.asi8.tobytes())
        else:
            h.update("\n".join(map(repr, column.tolist())).encode())
        h.update(b"|")
    return h.hexdigest()


@pytest.mark.parametrize(
    ("config", "plays", "plays_digest", "players_digest"),
    [
        (
            PopulationConfig(players=300, days=20, seed=7),
            7885,
            "6270e44a665a317786638104dbee18be19038ea37415d2ddaa7c61713f9cc982",
            "2a7f3caa0abc36e2fb94d7277cf12e0ce7b661e2005c85108a793bbb6ee39065",
        ),
        (  # two blocks of players, geometric sessions
            PopulationConfig(players=9000, days=10, seed=3, sessions_model="geometric"),
            123153,
            "d80b09cb5c6daf167c629d0ddf9426b15a575d532f0ebb0548668b55ac7144fb",
            "ddcea79f18f47b4f1ce3ea8cf9e609f48429de4db80a07f9f27e96d64a02770c",
        ),
    ],
)
def test_output_is_unchanged_for_a_seed(
    config: PopulationConfig, plays: int, plays_digest: str, players_digest: str
) -> None:
    """A seed's population is pinned: speeding up the generator must not change what a
    seed gives (studies quote seeds). Changing the stream on purpose means updating these."""
    population = Population.generate(config)
    assert population.n_plays == plays
    assert _digest(population.plays_frame()) == plays_digest
    assert _digest(population.players) == players_digest


def test_different_seeds_give_different_frames() -> None:
    a = Population.generate(PopulationConfig(players=300, days=20, seed=1)).plays_frame()
    b = Population.generate(PopulationConfig(players=300, days=20, seed=2)).plays_frame()
    assert len(a) != len(b) or not a.equals(b)
    assert not set(a["play_id"]) & set(b["play_id"])


def test_result_does_not_depend_on_block_boundaries() -> None:
    """Blocks of players are generated in threads; a population of several blocks is still
    reproducible."""
    config = PopulationConfig(players=20_000, days=5, seed=3)
    a, b = Population.generate(config), Population.generate(config)
    assert a.n_plays == b.n_plays
    pd.testing.assert_frame_equal(a.plays_frame(), b.plays_frame())


# ---- schema ----------------------------------------------------------------------------------


def test_frame_has_exactly_the_play_columns_and_dtypes(
    spring: Population, spring_frame: pd.DataFrame
) -> None:
    f = spring_frame
    assert tuple(f.columns) == PLAY_COLUMNS
    assert f["played_at"].dtype == pd.DatetimeTZDtype("ns", "UTC")
    assert f["score"].dtype == np.int64
    for column in ("player_id", "play_id", "game", "tz"):
        assert f[column].dtype == pd.Series(["x"]).dtype, column  # pandas' default str
    assert not f.isna().any().any()
    assert f["play_id"].is_unique
    assert (f["score"] >= 0).all()
    assert set(f["game"]) <= set(spring.config.games)
    assert len(f) == spring.n_plays == spring.players["plays"].sum()
    assert isinstance(f.index, pd.RangeIndex)


def test_played_at_concats_with_pandas_own_utc_times(spring_frame: pd.DataFrame) -> None:
    """The accounting appends orphan plays parsed by ``pd.to_datetime(..., utc=True)``: the two
    must concat to UTC datetimes, not object (a tz other than pandas' UTC does)."""
    times = spring_frame["played_at"]
    parsed = pd.to_datetime(times.head(3).astype(str), utc=True)
    both = pd.concat([times, parsed], ignore_index=True)
    assert isinstance(both.dtype, pd.DatetimeTZDtype), both.dtype
    assert both.iloc[-3:].tolist() == times.head(3).tolist()


def test_each_play_carries_its_players_time_zone(
    spring: Population, spring_frame: pd.DataFrame
) -> None:
    tz = spring.players.set_index("player_id")["tz"]
    assert (spring_frame["tz"].to_numpy() == tz.loc[spring_frame["player_id"]].to_numpy()).all()
    assert set(spring.players["tz"]) <= {z for z, _ in spring.config.time_zones}


def test_sorted_by_player_then_played_at_across_dst_changes(spring_frame: pd.DataFrame) -> None:
    f = spring_frame
    player = f["player_id"].to_numpy()
    ns = f["played_at"].astype("int64").to_numpy()
    same = player[1:] == player[:-1]
    assert (player[1:] >= player[:-1]).all()
    assert (np.diff(ns)[same] >= 0).all()


def test_categorical_frame_has_the_same_values(spring: Population) -> None:
    plain = spring.plays_frame()
    cat = spring.plays_frame(categorical=True)
    assert isinstance(cat["game"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(plain, cat.astype({c: plain[c].dtype for c in plain}))


def test_players_frame_describes_each_player(spring: Population) -> None:
    p = spring.players
    assert len(p) == spring.config.players and p["player_id"].is_unique
    assert (p["join_day"].between(0, spring.config.days - 1)).all()
    quit_day = p["quit_day"].dropna()
    assert (quit_day > p.loc[quit_day.index, "join_day"]).all()
    assert spring.game_weights.shape == (spring.config.players, len(spring.config.games))
    assert np.allclose(spring.game_weights.sum(axis=1), 1.0)


# ---- calendar days and hours -------------------------------------------------------------------


def test_plays_fall_on_the_players_local_active_days(
    spring: Population, spring_frame: pd.DataFrame
) -> None:
    """Local calendar days (DST included) match the days the player was generated to play."""
    f = spring_frame
    day = local_days(f, SPRING)
    players = spring.players.set_index("player_id").loc[f["player_id"]]
    assert day.min() >= 0 and day.max() < spring.config.days
    assert (day >= players["join_day"].to_numpy()).all()
    assert (day < players["quit_day"].fillna(spring.config.days).to_numpy()).all()
    distinct = pd.Series(day).groupby(f["player_id"].to_numpy()).nunique()
    expected = spring.players.set_index("player_id")["active_days"]
    assert distinct.to_dict() == expected[expected > 0].to_dict()


def test_plays_happen_around_the_preferred_local_hour(
    spring: Population, spring_frame: pd.DataFrame
) -> None:
    f = spring_frame
    preferred = spring.players.set_index("player_id").loc[f["player_id"], "preferred_hour"]
    gap = (local_hours(f) - (preferred.to_numpy() + 0.5) + 12) % 24 - 12  # circular, hours
    day = pd.DataFrame({"player": f["player_id"], "day": local_days(f, SPRING)})
    first_of_day = ~day.duplicated().to_numpy()
    # hour_spread = 1 h: the median distance of a normal is 0.67 sigma
    assert np.median(np.abs(gap[first_of_day])) == pytest.approx(0.67, abs=0.15)
    assert np.mean(np.abs(gap) < 4) > 0.9


def test_new_players_start_on_their_join_day(
    spring: Population, spring_frame: pd.DataFrame
) -> None:
    day = pd.Series(local_days(spring_frame, SPRING)).groupby(spring_frame["player_id"].to_numpy())
    first = day.min()
    joined = spring.players.set_index("player_id")
    joined = joined[joined["join_day"] > 0]
    assert len(joined) > 100
    assert (first.loc[joined.index] == joined["join_day"]).all()


def test_an_evening_hour_weighting_makes_evening_plays() -> None:
    evening = tuple(1.0 if 19 <= h <= 21 else 0.0 for h in range(24))
    config = PopulationConfig(
        players=200, days=10, seed=5, hour_weights=evening, hour_spread=0.0, gap_minutes=1.0
    )
    f = Population.generate(config).plays_frame()
    hours = local_hours(f)
    assert ((hours >= 19) & (hours < 23)).mean() > 0.99


# ---- habits ------------------------------------------------------------------------------------


def test_streaky_players_have_longer_runs_of_consecutive_days() -> None:
    config = PopulationConfig(
        players=3000,
        days=60,
        seed=21,
        daily_play=Beta(0.4, 20.0),
        streakiness=Beta(0.5, 2.0),  # wide: from one-off days to long streaks
        churn=Beta(0.0),
        joining_share=0.0,
    )
    pop = Population.generate(config)
    runs = mean_runs(pop.plays_frame(), config.start)
    s = pop.players.set_index("player_id")["streakiness"].loc[runs.index]
    streaky, choppy = runs[s > 0.8], runs[s < 0.3]
    assert len(streaky) > 100 and len(choppy) > 100
    assert streaky.mean() > 2.5 * choppy.mean()
    # the chain's mean run is 1 / (1 - s) (for runs much shorter than the window)
    mid = (s > 0.5) & (s < 0.75)
    assert runs[mid].mean() == pytest.approx((1 / (1 - s[mid])).mean(), rel=0.1)


def test_daily_play_is_the_long_run_share_of_days_played() -> None:
    config = PopulationConfig(
        players=2000,
        days=60,
        seed=4,
        daily_play=Beta(0.3, float("inf")),
        streakiness=Beta(0.6, float("inf")),
        churn=Beta(0.0),
        joining_share=0.0,
    )
    pop = Population.generate(config)
    share = pop.players["active_days"].sum() / (config.players * config.days)
    assert share == pytest.approx(0.3, abs=0.012)


def test_churned_players_stop_for_good() -> None:
    config = PopulationConfig(
        players=2000,
        days=30,
        seed=8,
        churn=Beta(0.05, float("inf")),
        daily_play=Beta(0.9, float("inf")),
        streakiness=Beta(0.95, float("inf")),
        joining_share=0.0,
    )
    pop = Population.generate(config)
    f = pop.plays_frame()
    last = pd.Series(local_days(f, config.start)).groupby(f["player_id"].to_numpy()).max()
    players = pop.players.set_index("player_id")
    quit_day = players["quit_day"].loc[last.index]
    churned = quit_day.notna()
    assert (last[churned] < quit_day[churned]).all()
    # P(quit within 30 days) = 1 - 0.95^30 ~ 0.785
    assert churned.mean() == pytest.approx(1 - 0.95**30, abs=0.03)
    per_day = pd.Series(local_days(f, config.start)).groupby(f["player_id"].to_numpy()).nunique()
    assert per_day.mean() < 0.6 * config.days


def test_no_churn_keeps_everyone() -> None:
    pop = Population.generate(PopulationConfig(players=500, days=30, churn=Beta(0.0)))
    assert pop.players["quit_day"].isna().all()


def test_favourite_games_dominate() -> None:
    config = PopulationConfig(players=1000, days=40, seed=9, favourite_share=0.8)
    pop = Population.generate(config)
    f = pop.plays_frame()
    players = pop.players.set_index("player_id").loc[f["player_id"]]
    on_fav = (f["game"].to_numpy() == players["favourite"].to_numpy()) | (
        f["game"].to_numpy() == players["second_favourite"].to_numpy()
    )
    assert on_fav.mean() > 0.8
    counts = f.groupby(["player_id", "game"]).size().unstack(fill_value=0)
    top = counts.idxmax(axis=1)
    regular = counts.sum(axis=1) >= 30
    fav = pop.players.set_index("player_id").loc[top.index]
    hit = (top == fav["favourite"]) | (top == fav["second_favourite"])
    assert hit[regular].mean() > 0.97
    assert 0.2 < fav["second_favourite"].notna().mean() < 0.4  # two_favourites = 0.3


def test_sessions_per_active_day_have_the_configured_mean() -> None:
    for model in ("poisson", "geometric"):
        config = PopulationConfig(
            players=1000, days=30, seed=2, sessions_per_day=4.0, sessions_model=model
        )
        pop = Population.generate(config)
        per_day = pop.players["plays"].sum() / pop.players["active_days"].sum()
        assert per_day == pytest.approx(4.0, rel=0.05), model


def test_scores_improve_slowly_with_practice() -> None:
    config = PopulationConfig(
        players=500, days=60, seed=6, improvement=0.1, churn=Beta(0.0), joining_share=0.0
    )
    f = Population.generate(config).plays_frame()
    nth = f.groupby("player_id").cumcount()
    early = f[nth < 10].groupby("player_id")["score"].mean()
    late = f[nth >= 60].groupby("player_id")["score"].mean()
    ratio = (late / early.loc[late.index]).dropna()
    assert len(ratio) > 200
    assert 1.05 < ratio.median() < 1.6


def test_a_single_game_catalogue_and_a_single_zone() -> None:
    config = PopulationConfig(
        players=50, days=5, games=("chess",), time_zones=(("Asia/Kolkata", 1.0),)
    )
    f = Population.generate(config).plays_frame()
    assert set(f["game"]) == {"chess"} and set(f["tz"]) == {"Asia/Kolkata"}


def test_local_time_of_day_holds_across_dst_changes() -> None:
    """Players who always play at 20:30 local do so on DST-change days too (US 10 Mar,
    EU 31 Mar 2024): the UTC instant follows each zone's offset on that very day."""
    at_eight = tuple(1.0 if h == 20 else 0.0 for h in range(24))
    config = PopulationConfig(
        players=300,
        days=40,
        start=SPRING,
        seed=12,
        time_zones=(("Europe/Amsterdam", 1.0), ("America/New_York", 1.0)),
        hour_weights=at_eight,
        hour_spread=0.0,
        gap_minutes=0.5,
        daily_play=Beta(0.9, float("inf")),
    )
    f = Population.generate(config).plays_frame()
    hours = local_hours(f)
    assert ((hours >= 20.5) & (hours < 21.5)).all()
    day = local_days(f, SPRING)
    assert {9, 30} <= set(day.tolist())  # the change days are covered


def test_editing_a_frame_leaves_the_population_alone() -> None:
    pop = Population.generate(PopulationConfig(players=20, days=5, seed=1))
    frame = pop.plays_frame()
    frame.loc[0, "score"] = -1
    frame["played_at"] += pd.Timedelta(hours=1)
    again = pop.plays_frame()
    assert again.loc[0, "score"] >= 0
    assert (again["played_at"] < frame["played_at"]).all()
