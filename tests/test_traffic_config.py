"""PopulationConfig validation: any bad value is a ConfigError naming the field, never another
exception; any valid small config generates a well-formed population."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamsim.errors import ConfigError
from streamsim.game.plays import PLAY_COLUMNS
from streamsim.workbench.traffic import DEFAULT_TIME_ZONES, Beta, Population, PopulationConfig

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.tuples(st.text(max_size=3), st.floats()),
    st.just(object()),
    st.just(datetime(2024, 1, 1, tzinfo=timezone.utc)),
    st.just(Beta(0.5)),
)

#: Per field, values that must be refused (beyond plain junk).
BAD: dict[str, st.SearchStrategy[Any]] = {
    "players": st.one_of(st.integers(max_value=0), st.just(True), st.just(10.0)),
    "days": st.one_of(st.integers(max_value=0), st.integers(min_value=36_601)),
    "start": st.one_of(
        st.just(datetime(2024, 1, 1)), st.just("2024-01-01"), st.just(date(1800, 1, 1))
    ),
    "seed": st.one_of(st.integers(max_value=-1), st.just(1.5)),
    "games": st.one_of(
        st.just(()), st.just(("chess", "chess")), st.just(("",)), st.just("chess"), st.just((1,))
    ),
    "daily_play": st.one_of(st.just(0.5), st.just((0.5, 2.0)), st.none()),
    "joining_share": st.one_of(st.floats(min_value=1.0001), st.floats(max_value=-0.0001)),
    "favourite_share": st.one_of(st.just(float("nan")), st.just(2), st.just(-1)),
    "two_favourites": st.one_of(st.just(1.5), st.just(True)),
    "preference_concentration": st.one_of(st.just(0.0), st.just(-1.0), st.just(math.inf)),
    "time_zones": st.one_of(
        st.just(()),
        st.just((("Mars/Olympus", 1.0),)),
        st.just((("Europe/Berlin", -1.0),)),
        st.just((("Europe/Berlin", 0.0),)),
        st.just((("Europe/Berlin", 1.0), ("Europe/Berlin", 2.0))),
        st.just(("Europe/Berlin",)),
        st.just((("../../etc/passwd", 1.0),)),
        st.just(((None, 1.0),)),
    ),
    "sessions_per_day": st.one_of(st.floats(max_value=0.999), st.just(math.inf)),
    "sessions_model": st.one_of(st.just("binomial"), st.none(), st.just(1)),
    "sessions_spread": st.one_of(st.just(-0.1), st.just(math.nan)),
    "hour_weights": st.one_of(
        st.just((1.0,) * 23),
        st.just((0.0,) * 24),
        st.just((-1.0,) + (1.0,) * 23),
        st.just("x" * 24),
    ),
    "hour_spread": st.one_of(st.just(-1.0), st.just(25.0)),
    "gap_minutes": st.one_of(st.just(-1.0), st.just(math.inf)),
    "score_scale": st.one_of(st.just(-1.0), st.just(math.nan)),
    "skill_spread": st.just(-0.5),
    "score_noise": st.just(99.0),
    "improvement": st.just(-0.1),
}

FIELDS = sorted(BAD)


@pytest.mark.parametrize("name", FIELDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_bad_field_is_a_config_error_naming_it(name: str, data: st.DataObject) -> None:
    value = data.draw(BAD[name], label=name)
    with pytest.raises(ConfigError) as err:
        PopulationConfig(**{name: value})
    label = "time_zones" if name == "time_zones" else name
    assert label in str(err.value) or "Beta" in str(err.value)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(FIELDS + ["streakiness", "churn"]), value=JUNK)
def test_junk_in_any_field_is_refused_with_config_error_only(name: str, value: Any) -> None:
    try:
        PopulationConfig(**{name: value})
    except ConfigError:
        pass  # the only acceptable failure


@settings(max_examples=200, deadline=None)
@given(
    mean=st.one_of(st.floats(allow_nan=True, allow_infinity=True), JUNK),
    concentration=st.one_of(st.floats(allow_nan=True, allow_infinity=True), JUNK),
)
def test_beta_refuses_bad_parameters_with_config_error_only(mean: Any, concentration: Any) -> None:
    try:
        beta = Beta(mean, concentration)
    except ConfigError:
        return
    assert 0 <= beta.mean <= 1 and beta.concentration > 0
    sample = beta.sample(np.random.default_rng(0), 100)
    assert ((sample >= 0) & (sample <= 1)).all()


def test_messages_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match=r"players must be between 1 and"):
        PopulationConfig(players=0)
    with pytest.raises(ConfigError, match=r"unknown IANA zone 'Mars/Olympus'"):
        PopulationConfig(time_zones=(("Mars/Olympus", 1.0),))
    with pytest.raises(ConfigError, match=r"start must be a datetime.date"):
        PopulationConfig(start=datetime(2024, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"hour_weights must have 24"):
        PopulationConfig(hour_weights=(1.0,))
    with pytest.raises(ConfigError, match=r"streakiness must be a Beta"):
        PopulationConfig(streakiness=0.5)  # type: ignore[arg-type]


def test_lists_are_accepted_and_frozen_as_tuples() -> None:
    config = PopulationConfig(
        games=["chess", "go"],  # type: ignore[arg-type]
        time_zones=[["Europe/Amsterdam", 2], ["Asia/Tokyo", 1]],  # type: ignore[arg-type]
        hour_weights=[1] * 24,  # type: ignore[arg-type]
    )
    assert config.games == ("chess", "go")
    assert config.time_zones == (("Europe/Amsterdam", 2.0), ("Asia/Tokyo", 1.0))
    assert config.hour_weights == (1.0,) * 24
    hash(config)


def test_default_zones_are_a_dozen_real_zones() -> None:
    assert 10 <= len(DEFAULT_TIME_ZONES) <= 14
    PopulationConfig()  # validates every default zone


betas = st.builds(
    Beta,
    st.floats(min_value=0.0, max_value=1.0),
    st.one_of(
        st.floats(min_value=0.1, max_value=100.0),
        st.floats(min_value=0.0, max_value=1e300, exclude_min=True),
        st.just(math.inf),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    players=st.integers(1, 40),
    days=st.integers(1, 15),
    seed=st.integers(0, 2**32),
    start=st.dates(date(1990, 1, 1), date(2090, 12, 31)),
    daily_play=betas,
    streakiness=betas,
    churn=betas,
    joining_share=st.floats(0, 1),
    zones=st.lists(
        st.sampled_from([z for z, _ in DEFAULT_TIME_ZONES] + ["UTC", "Asia/Kathmandu"]),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    sessions_per_day=st.floats(1.0, 6.0),
    sessions_model=st.sampled_from(["poisson", "geometric"]),
    hour_spread=st.floats(0, 6),
    gap_minutes=st.floats(0, 600),
    games=st.integers(1, 6),
    favourite_share=st.floats(0, 1),
    two_favourites=st.floats(0, 1),
    preference_concentration=st.floats(min_value=0.0, max_value=1e6, exclude_min=True),
    skill_spread=st.floats(0, 5),
    score_noise=st.floats(0, 5),
    score_scale=st.floats(0, 1e12),
    improvement=st.floats(0, 100),
    hour_weights=st.lists(st.floats(0, 10), min_size=24, max_size=24).filter(lambda w: sum(w) > 0),
)
def test_any_valid_config_generates_a_well_formed_population(
    players: int,
    days: int,
    seed: int,
    start: date,
    daily_play: Beta,
    streakiness: Beta,
    churn: Beta,
    joining_share: float,
    zones: list[str],
    sessions_per_day: float,
    sessions_model: str,
    hour_spread: float,
    gap_minutes: float,
    games: int,
    favourite_share: float,
    two_favourites: float,
    preference_concentration: float,
    skill_spread: float,
    score_noise: float,
    score_scale: float,
    improvement: float,
    hour_weights: list[float],
) -> None:
    config = PopulationConfig(
        players=players,
        days=days,
        seed=seed,
        start=start,
        daily_play=daily_play,
        streakiness=streakiness,
        churn=churn,
        joining_share=joining_share,
        time_zones=tuple((z, 1.0) for z in zones),
        sessions_per_day=sessions_per_day,
        sessions_model=sessions_model,  # type: ignore[arg-type]
        hour_spread=hour_spread,
        gap_minutes=gap_minutes,
        games=tuple(f"game{i}" for i in range(games)),
        favourite_share=favourite_share,
        two_favourites=two_favourites,
        preference_concentration=preference_concentration,
        skill_spread=skill_spread,
        score_noise=score_noise,
        score_scale=score_scale,
        improvement=improvement,
        hour_weights=tuple(hour_weights),
    )
    pop = Population.generate(config)
    f = pop.plays_frame()
    assert tuple(f.columns) == PLAY_COLUMNS and len(f) == pop.n_plays
    assert f["play_id"].is_unique
    assert (f["score"] >= 0).all()
    assert np.allclose(pop.game_weights.sum(axis=1), 1.0)
    ns = f["played_at"].astype("int64").to_numpy()
    same = f["player_id"].to_numpy()[1:] == f["player_id"].to_numpy()[:-1]
    assert (np.diff(ns)[same] >= 0).all()
    for tz, idx in f.groupby("tz").indices.items():
        local = f["played_at"].iloc[idx].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
        day = (local - pd.Timestamp(start)).dt.days
        assert day.min() >= 0 and day.max() < days
