"""Synthetic players: a seeded population whose habits shape the plays the badge rules see.

A badge such as "played this game 10 days in a row" only gets interesting data when players
have habits: some play daily, some in bursts, some come back after a break, some quit. Each
player draws habits once (``PopulationConfig`` holds the distributions); their days are a
two-state Markov chain (played / did not play), which is what makes streaks and comebacks
realistic. Calendar days are the player's own: day ``d`` is ``start + d`` in their time zone.

Everything is vectorised numpy (loops run over days or games, never over plays), so ten
million plays take a few seconds and the same seed always gives the same frame.
"""

from __future__ import annotations

import functools
import math
import os
import zoneinfo
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from streamsim.errors import ConfigError
from streamsim.game.plays import DEFAULT_GAMES, PLAY_COLUMNS

__all__ = [
    "DEFAULT_HOUR_WEIGHTS",
    "DEFAULT_TIME_ZONES",
    "Beta",
    "Population",
    "PopulationConfig",
]

#: Where players live, with weights (normalised when used): a global casual-games audience.
DEFAULT_TIME_ZONES: tuple[tuple[str, float], ...] = (
    ("America/Los_Angeles", 9.0),
    ("America/Chicago", 7.0),
    ("America/New_York", 14.0),
    ("America/Sao_Paulo", 7.0),
    ("Europe/London", 9.0),
    ("Europe/Amsterdam", 8.0),
    ("Europe/Berlin", 10.0),
    ("Africa/Lagos", 4.0),
    ("Asia/Kolkata", 11.0),
    ("Asia/Singapore", 6.0),
    ("Asia/Tokyo", 8.0),
    ("Australia/Sydney", 7.0),
)

#: Weights of a player's preferred local hour 0..23: a commute bump, lunch, and evening peak.
DEFAULT_HOUR_WEIGHTS: tuple[float, ...] = (
    1.5, 0.8, 0.4, 0.2, 0.2, 0.4, 1.2, 2.5, 3.0, 2.0, 1.8, 2.2,
    3.2, 3.0, 2.2, 2.2, 2.6, 3.2, 4.0, 5.2, 6.0, 6.0, 4.6, 2.8,
)  # fmt: skip

_QUANTILES = 1 << 16
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_MAX_PLAYER_DAYS = 1_000_000_000


@dataclass(frozen=True)
class Beta:
    """A per-player probability drawn from a Beta distribution, given by mean and concentration.

    Concentration is alpha + beta: large means everyone is close to the mean, small means
    players differ a lot; ``math.inf`` makes every player exactly ``mean`` (handy in tests).
    """

    mean: float
    concentration: float = 10.0

    def __post_init__(self) -> None:
        _check_probability("Beta.mean", self.mean)
        c = self.concentration
        if not _is_real(c) or not (_finite(c) or c == math.inf) or c <= 0:
            raise ConfigError(f"Beta.concentration must be a number > 0 (or inf), got {c!r}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` probabilities (float64); degenerate cases give the mean exactly."""
        m, c = float(self.mean), float(self.concentration)
        if m in (0.0, 1.0) or math.isinf(c):
            return np.full(n, m)
        a, b = m * c, (1.0 - m) * c
        if a <= 0.0 or b <= 0.0:  # underflow: the limit as concentration -> 0 is Bernoulli
            return (rng.random(n) < m).astype(np.float64)
        return rng.beta(a, b, size=n)


@dataclass(frozen=True)
class PopulationConfig:
    """Who the players are and how they play; every field is validated on construction.

    Habits are distributions over players, so one config describes a whole population:
    ``daily_play`` is the long-run share of days a player plays, ``streakiness`` the
    probability of playing tomorrow given they played today (mean run = 1 / (1 - s)),
    ``churn`` the daily probability of quitting for good.
    """

    players: int = 1_000
    days: int = 30
    #: First calendar day; each player's day 0 is this date in their own time zone.
    start: date = date(2024, 1, 1)
    games: tuple[str, ...] = DEFAULT_GAMES
    seed: int = 0
    daily_play: Beta = field(default_factory=lambda: Beta(0.5, 4.0))
    streakiness: Beta = field(default_factory=lambda: Beta(0.65, 6.0))
    churn: Beta = field(default_factory=lambda: Beta(0.005, 40.0))
    #: Share of players who join during the window (on a uniform day, by playing); the rest
    #: are already playing on day 0.
    joining_share: float = 0.2
    #: Expected share of a player's plays on their favourite game(s).
    favourite_share: float = 0.7
    #: Probability that a player has two favourites instead of one.
    two_favourites: float = 0.3
    #: Dirichlet concentration of the remaining preferences (small: lopsided).
    preference_concentration: float = 1.0
    time_zones: tuple[tuple[str, float], ...] = DEFAULT_TIME_ZONES
    #: Mean plays on a day the player plays (>= 1).
    sessions_per_day: float = 3.0
    sessions_model: Literal["poisson", "geometric"] = "poisson"
    #: Coefficient of variation of players' own mean sessions per day (0: all the same).
    sessions_spread: float = 0.5
    hour_weights: tuple[float, ...] = DEFAULT_HOUR_WEIGHTS
    #: Standard deviation, in hours, of a day's first play around the preferred hour.
    hour_spread: float = 1.0
    #: Mean minutes between two plays on the same day.
    gap_minutes: float = 15.0
    #: Median score of a typical player on a first play.
    score_scale: float = 1000.0
    #: Log-normal sigma of skill across players (and, halved, across a player's games).
    skill_spread: float = 0.3
    #: Log-normal sigma of one play's score around the player's current level.
    score_noise: float = 0.2
    #: Mean fractional score gain per e-fold of plays (slow improvement with practice).
    improvement: float = 0.05

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def end(self) -> date:
        """The day after the last calendar day of the window."""
        return self.start + timedelta(days=self.days)


@dataclass(frozen=True, eq=False)
class Population:
    """A generated population: one row per player, and their plays as arrays.

    ``plays_frame()`` builds the DataFrame on demand (it is the costly part at 10M plays).
    """

    config: PopulationConfig
    #: One row per player: id, time zone and the habits they drew.
    players: pd.DataFrame
    #: Preference weights, shape (players, games), rows sum to 1.
    game_weights: np.ndarray = field(repr=False)
    _plays: _PlayArrays = field(repr=False)

    @classmethod
    def generate(cls, config: PopulationConfig) -> Population:
        """Draw the players and their plays; the same config always gives the same result."""
        return _generate(config)

    @property
    def n_plays(self) -> int:
        return len(self._plays.player)

    def plays_frame(self, *, categorical: bool = False) -> pd.DataFrame:
        """The plays with exactly ``PLAY_COLUMNS``, sorted by player then ``played_at``.

        String columns use pandas' default ``str`` dtype; ``categorical=True`` makes
        player_id, game and tz categoricals instead (far less memory at scale).
        """
        return _plays_frame(self, categorical)


# --------------------------------------------------------------------------- generation

#: Players per block. Blocks are generated independently (own seeds) and in parallel; their
#: arrays stay cache-sized. The result does not depend on the number of threads.
_BLOCK = 8_192


@dataclass(frozen=True)
class _PlayArrays:
    """The plays as parallel arrays, player-major and time-ordered."""

    player: np.ndarray  # int32 index into players
    game: np.ndarray  # int8 index into games
    played_at_ns: np.ndarray  # int64 ns since epoch, UTC
    score: np.ndarray  # int64
    player_zone: np.ndarray  # int32 index into config.time_zones, per player
    plays_per_player: np.ndarray  # int64, per player
    id_key: int  # seed-derived offset of the play-id bijection


@dataclass(frozen=True)
class _ZoneClock:
    """UTC instants of every local hour start of the window, per zone (int64 ns).

    Most days are 24 plain hours: their plays are placed from local midnight. Days with a
    DST transition are ``special`` and placed hour by hour.
    """

    days: int
    hourly: np.ndarray  # (zones, days * 24 + 1)
    midnight_ms: np.ndarray  # (zones, days) float64, local midnight as UTC epoch ms
    special: np.ndarray  # (zones, days) bool

    @classmethod
    def build(cls, start: date, days: int, zones: Sequence[str]) -> _ZoneClock:
        hours = days * 24 + 1
        naive = pd.date_range(pd.Timestamp(start), periods=hours, freq="h")
        hourly = np.empty((len(zones), hours), dtype=np.int64)
        for z, name in enumerate(zones):
            # ambiguous hours are taken as the first (DST) pass; missing ones snap forward
            loc = naive.tz_localize(
                name, ambiguous=np.ones(hours, dtype=bool), nonexistent="shift_forward"
            )
            hourly[z] = loc.as_unit("ns").asi8
        steps = np.diff(hourly, axis=1).reshape(len(zones), days, 24)
        special = (steps != _HOUR_MS * 1_000_000).any(axis=2)
        midnight_ms = (hourly[:, :-1:24] // 1_000_000).astype(np.float64)
        return cls(days, hourly, midnight_ms, special)

    def to_utc_ns(self, zone: np.ndarray, day: np.ndarray, local_ms: np.ndarray) -> np.ndarray:
        """Exact local -> UTC, monotone: interpolate between the hour starts around each time.

        A missing hour (spring forward) collapses onto the transition; a repeated one (fall
        back) is stretched over both passes.
        """
        width = self.hourly.shape[1]
        flat = self.hourly.ravel()
        hour = np.minimum(local_ms // _HOUR_MS, 23)
        frac_ms = local_ms - hour * _HOUR_MS
        idx = zone.astype(np.int64) * width + day.astype(np.int64) * 24 + hour
        lo = flat[idx]
        dur_ms = (flat[idx + 1] - lo) // 1_000_000
        return lo + (frac_ms * dur_ms // _HOUR_MS) * 1_000_000


@dataclass
class _BlockPlan:
    """One block of players after phase 1: their habits, and which days they play how often.

    Phase 2 fills the block's slice of the play arrays; the plan carries the generators it
    needs so that the two phases draw from fixed streams.
    """

    lo: int
    habits: dict[str, np.ndarray]
    level: np.ndarray  # (players, games) float32 score level
    grp_player: np.ndarray  # block-local player of each active day
    grp_day: np.ndarray
    counts: np.ndarray  # plays on each active day
    rngs: tuple[np.random.Generator, np.random.Generator, np.random.Generator]

    @property
    def n_plays(self) -> int:
        return int(self.habits["plays"].sum())


def _generate(config: PopulationConfig) -> Population:
    """Plan every block of players, then fill their slices of the play arrays in parallel."""
    P, D = config.players, config.days
    zones = [z for z, _ in config.time_zones]
    clock = _ZoneClock.build(config.start, D, zones)
    bounds = [(lo, min(lo + _BLOCK, P)) for lo in range(0, P, _BLOCK)]
    seeds = np.random.SeedSequence(config.seed).spawn(len(bounds))
    id_key = int(np.random.SeedSequence([config.seed, 0x1D]).generate_state(1, np.uint64)[0])

    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        plans = list(
            pool.map(lambda i: _plan_block(config, *bounds[i], seeds[i]), range(len(bounds)))
        )
        sizes = np.array([p.n_plays for p in plans], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        n = int(offsets[-1])
        out = _PlayArrays(
            player=np.empty(n, dtype=np.int32),
            game=np.empty(n, dtype=np.int8 if len(config.games) < 128 else np.int32),
            played_at_ns=np.empty(n, dtype=np.int64),
            score=np.empty(n, dtype=np.int64),
            player_zone=np.empty(0, dtype=np.int32),
            plays_per_player=np.empty(0, dtype=np.int64),
            id_key=id_key,
        )
        jobs = [
            pool.submit(_fill_block, config, clock, plan, out, int(offsets[i]), int(offsets[i + 1]))
            for i, plan in enumerate(plans)
        ]
        for job in jobs:
            job.result()

    habits = {k: np.concatenate([p.habits[k] for p in plans]) for k in plans[0].habits}
    out = replace(out, player_zone=habits["tz"].astype(np.int32), plays_per_player=habits["plays"])
    games = list(config.games)
    quit_day = habits["quit_day"]
    fav2 = habits["second_favourite"]
    players = pd.DataFrame(
        {
            "player_id": _arrow_str(_player_ids(P)),
            "tz": _str_from_codes(habits["tz"], zones),
            "join_day": habits["join_day"],
            "quit_day": pd.arrays.IntegerArray(np.where(quit_day < D, quit_day, 0), quit_day >= D),
            "daily_play": habits["daily_play"],
            "streakiness": habits["streakiness"],
            "churn": habits["churn"],
            "sessions_per_day": habits["sessions_per_day"],
            "preferred_hour": habits["preferred_hour"],
            "favourite": _str_from_codes(habits["favourite"], games),
            "second_favourite": _str_from_codes(fav2, games, missing=fav2 < 0),
            "skill": habits["skill"],
            "improvement": habits["improvement"],
            "active_days": habits["active_days"],
            "plays": habits["plays"],
        }
    )
    return Population(config, players, habits["game_weights"], out)


def _plan_block(
    config: PopulationConfig, lo: int, hi: int, seed: np.random.SeedSequence
) -> _BlockPlan:
    """Players lo..hi-1: their habits, then their days (the Markov chain) and plays per day."""
    r_habit, r_days, r_sessions, r_times, r_games, r_scores = (
        np.random.default_rng(s) for s in seed.spawn(6)
    )
    P, D, G = hi - lo, config.days, len(config.games)

    zone_w = np.array([w for _, w in config.time_zones], dtype=float)
    tz = r_habit.choice(len(zone_w), size=P, p=zone_w / zone_w.sum())
    p_play = config.daily_play.sample(r_habit, P)
    p_stay = config.streakiness.sample(r_habit, P)
    p_churn = config.churn.sample(r_habit, P)
    joining = r_habit.random(P) < config.joining_share
    join_day = np.where(joining, r_habit.integers(0, D, size=P), 0)
    lifetime = r_habit.geometric(np.clip(p_churn, 1e-12, 1.0))
    quit_day = np.where(p_churn > 0, join_day + np.minimum(lifetime, D + 1), D + 1)
    sessions_mean = _player_sessions_mean(config, r_habit, P)
    hour_w = np.array(config.hour_weights, dtype=float)
    preferred_hour = r_habit.choice(24, size=P, p=hour_w / hour_w.sum())
    weights, fav1, fav2 = _game_preferences(config, r_habit, P, G)
    skill = r_habit.lognormal(0.0, config.skill_spread, size=P)
    affinity = r_habit.lognormal(0.0, config.skill_spread / 2, size=(P, G))
    level = (config.score_scale * skill[:, None] * affinity).astype(np.float32)
    improvement = r_habit.exponential(1.0, size=P) * config.improvement

    active = _active_days(r_days, p_play, p_stay, join_day, quit_day, joining, D)
    # player-major, days ascending (flatnonzero and a division: several times np.nonzero's speed)
    flat = np.flatnonzero(active)
    del active
    grp_player = flat // D
    grp_day = (flat - grp_player * D).astype(np.int32)
    del flat
    active_days = np.bincount(grp_player, minlength=P)
    counts = _sessions(config, r_sessions, sessions_mean, active_days, grp_player)
    plays_so_far = np.concatenate([[0], np.cumsum(counts)])  # a player's plays: a difference
    day_ends = np.cumsum(active_days)
    plays = plays_so_far[day_ends] - plays_so_far[day_ends - active_days]
    habits = {
        "tz": tz,
        "join_day": join_day.astype(np.int64),
        "quit_day": quit_day.astype(np.int64),
        "daily_play": p_play,
        "streakiness": p_stay,
        "churn": p_churn,
        "sessions_per_day": sessions_mean,
        "preferred_hour": preferred_hour.astype(np.int64),
        "favourite": fav1,
        "second_favourite": fav2,
        "skill": skill,
        "improvement": improvement,
        "active_days": active_days.astype(np.int64),
        "plays": plays,
        "game_weights": weights,
    }
    return _BlockPlan(
        lo,
        habits,
        level,
        grp_player,
        grp_day,
        counts,
        (r_times, r_games, r_scores),
    )


def _fill_block(
    config: PopulationConfig,
    clock: _ZoneClock,
    plan: _BlockPlan,
    out: _PlayArrays,
    start: int,
    stop: int,
) -> None:
    """Phase 2: each play of the block (UTC instant, game, score) into out[start:stop]."""
    r_times, r_games, r_scores = plan.rngs
    h = plan.habits
    gp, counts = plan.grp_player, plan.counts
    plays_per_player = h["plays"]
    _play_times(
        config,
        r_times,
        clock,
        h["preferred_hour"][gp],
        h["tz"][gp],
        plan.grp_day,
        counts,
        out.played_at_ns[start:stop],
    )
    game = out.game[start:stop]
    _pick_games(r_games, h["game_weights"], plays_per_player, game)
    player = np.repeat(np.arange(len(plays_per_player), dtype=np.int32), plays_per_player)
    _scores(
        config,
        r_scores,
        plan.level,
        h["improvement"],
        h["active_days"],
        plays_per_player,
        gp,
        counts,
        player,
        game,
        out.score[start:stop],
    )
    np.add(player, plan.lo, out=out.player[start:stop])


def _threads() -> int:
    """Worker threads: numpy and Arrow release the GIL, so every core helps (up to 4)."""
    return max(1, min(4, os.cpu_count() or 1))


def _player_sessions_mean(config: PopulationConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Each player's own mean plays per active day: 1 + a Gamma-distributed extra."""
    extra = config.sessions_per_day - 1.0
    cv = config.sessions_spread
    if extra == 0 or cv == 0:
        return np.full(n, config.sessions_per_day)
    shape = 1.0 / (cv * cv)
    return 1.0 + rng.gamma(shape, extra / shape, size=n)


def _game_preferences(
    config: PopulationConfig, rng: np.random.Generator, P: int, G: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Preference weights: one or two favourites take ``favourite_share``, a Dirichlet the rest."""
    fav1 = rng.integers(0, G, size=P)
    if G >= 2:
        two = rng.random(P) < config.two_favourites
        fav2 = np.where(two, (fav1 + 1 + rng.integers(0, G - 1, size=P)) % G, -1)
    else:
        fav2 = np.full(P, -1)
    rest = rng.gamma(config.preference_concentration, 1.0, size=(P, G))
    rest_sum = rest.sum(axis=1, keepdims=True)
    rest = np.divide(rest, rest_sum, out=np.full_like(rest, 1.0 / G), where=rest_sum > 0)
    fav = np.zeros((P, G))
    rows = np.arange(P)
    has_two = fav2 >= 0
    fav[rows, fav1] = np.where(has_two, 0.5, 1.0)
    fav[rows[has_two], fav2[has_two]] = 0.5
    share = config.favourite_share
    return (1.0 - share) * rest + share * fav, fav1, fav2


def _active_days(
    rng: np.random.Generator,
    p_play: np.ndarray,
    p_stay: np.ndarray,
    join_day: np.ndarray,
    quit_day: np.ndarray,
    joining: np.ndarray,
    D: int,
) -> np.ndarray:
    """Bool (players, days): the on/off chain, started stationary, gated by join and quit.

    With P(on->on) = s, the chain keeps a long-run rate p when P(off->on) = p(1-s)/(1-p);
    where that exceeds 1 it is clipped, and the player plays a little less than p.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        p_back = np.where(p_play >= 1.0, 1.0, p_play * (1.0 - p_stay) / (1.0 - p_play))
    p_back = np.clip(np.nan_to_num(p_back, nan=1.0), 0.0, 1.0).astype(np.float32)
    p_stay32 = p_stay.astype(np.float32)
    P = len(p_play)
    on = rng.random(P, dtype=np.float32) < p_play.astype(np.float32)
    joins = np.where(joining, join_day, -1)
    out = np.empty((D, P), dtype=bool)
    for d in range(D):
        if d > 0:
            u = rng.random(P, dtype=np.float32)
            on = u < np.where(on, p_stay32, p_back)  # one compare: the row's own probability
        on |= joins == d  # a new player's first day is a play
        out[d] = on & (join_day <= d) & (quit_day > d)
    return np.ascontiguousarray(out.T)


def _sessions(
    config: PopulationConfig,
    rng: np.random.Generator,
    mean: np.ndarray,
    active_days: np.ndarray,
    grp_player: np.ndarray,
) -> np.ndarray:
    """Plays on each active day (>= 1) with the player's mean: 1 + Poisson or geometric.

    Poisson per day is drawn as a Poisson total per player split uniformly over their days
    (the same distribution, far fewer draws); geometric by inverse CDF.
    """
    n_groups = len(grp_player)
    if config.sessions_model == "geometric":
        with np.errstate(divide="ignore"):
            scale = -1.0 / np.log1p(-1.0 / mean)  # 0 where mean == 1: always one play
        e = np.take(_quantiles()[1], _u16(rng, n_groups))
        return 1 + (e * scale[grp_player]).astype(np.int64)
    extra = rng.poisson((mean - 1.0) * active_days)
    first_group = np.cumsum(active_days) - active_days
    days = np.repeat(active_days, extra)
    pick = (rng.random(len(days)) * days).astype(np.int64)
    np.minimum(pick, days - 1, out=pick)
    pick += np.repeat(first_group, extra)
    return 1 + np.bincount(pick, minlength=n_groups).astype(np.int64)


@functools.cache
def _quantiles() -> tuple[np.ndarray, np.ndarray]:
    """Standard normal and exponential quantiles at (k + 0.5) / 65536, k < 65536.

    A table lookup with 16 random bits replaces the costlier samplers in the per-play
    loops (inverse-CDF sampling at a resolution of 1 / 65536).
    """
    p = (np.arange(_QUANTILES) + 0.5) / _QUANTILES
    unit = NormalDist()
    normal = np.array([unit.inv_cdf(x) for x in p.tolist()])
    return normal, -np.log1p(-p)


@functools.cache
def _gap_table(gap_minutes: float) -> np.ndarray:
    """Whole-ms exponential gaps of mean ``gap_minutes`` at the 65536 quantiles (built once,
    not per block)."""
    exp_q = _quantiles()[1]
    return np.floor(exp_q * (gap_minutes * 60_000)).astype(np.float32).astype(np.int64)


@functools.cache
def _noise_table(score_noise: float) -> np.ndarray:
    """Log-normal score noise of sigma ``score_noise`` at the 65536 quantiles (built once)."""
    return np.exp(_quantiles()[0] * score_noise).astype(np.float32)


def _u16(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 16-bit table indices, the cheapest draw numpy offers."""
    return np.frombuffer(rng.bytes(2 * n), dtype="<u2")


def _play_times(
    config: PopulationConfig,
    rng: np.random.Generator,
    clock: _ZoneClock,
    preferred_hour: np.ndarray,
    zone: np.ndarray,
    day: np.ndarray,
    counts: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out`` with the UTC ns of every play, ascending within each player-day (one group per player-day).

    The day's first play falls near the preferred hour, the next ones follow after
    exponential gaps; the run is shifted to stay inside the local day. All values are whole
    milliseconds, summed in int64 directly in ``out`` (exact, no temporary of all plays).
    """
    n = int(counts.sum())
    ends = np.cumsum(counts)
    starts = ends - counts
    normal_q = _quantiles()[0]
    gap_ms = _gap_table(config.gap_minutes)
    utc_ms = out
    np.take(gap_ms, _u16(rng, n), out=utc_ms, mode="clip")  # whole ms, exponential
    np.cumsum(utc_ms, out=utc_ms)
    at_start = utc_ms[starts]
    span = (utc_ms[ends - 1] - at_start).astype(np.float64)
    first = (preferred_hour + 0.5) * _HOUR_MS + np.take(normal_q, _u16(rng, len(counts))) * (
        config.hour_spread * _HOUR_MS
    )
    first = np.clip(np.rint(first), 0.0, np.maximum(_DAY_MS - 1 - span, 0.0))
    zone_day = zone * clock.days + day
    midnight = clock.midnight_ms.ravel()[zone_day]
    utc_ms += np.repeat((first + midnight).astype(np.int64) - at_start, counts)

    # DST days, and days too full to fit, are placed exactly, hour by hour
    special = np.flatnonzero(clock.special.ravel()[zone_day] | (span > _DAY_MS - 1))
    if len(special):
        c = counts[special]
        idx = np.repeat(starts[special] - (np.cumsum(c) - c), c) + np.arange(int(c.sum()))
        local = utc_ms[idx] - np.repeat(midnight[special].astype(np.int64), c)
        np.clip(local, 0, _DAY_MS - 1, out=local)
        ns = clock.to_utc_ns(np.repeat(zone[special], c), np.repeat(day[special], c), local)
        utc_ms[idx] = ns // 1_000_000
    utc_ms *= 1_000_000


def _pick_games(
    rng: np.random.Generator,
    weights: np.ndarray,
    plays_per_player: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out`` with a game per play from the player's weights (inverse CDF)."""
    G = weights.shape[1]
    u = rng.random(len(out), dtype=np.float32)
    out[:] = 0
    cum = np.cumsum(weights, axis=1).astype(np.float32)
    above = np.empty(len(out), dtype=bool)
    for g in range(G - 1):
        np.greater_equal(u, np.repeat(cum[:, g], plays_per_player), out=above)
        out += above


def _scores(
    config: PopulationConfig,
    rng: np.random.Generator,
    level: np.ndarray,
    improvement: np.ndarray,
    active_days: np.ndarray,
    plays_per_player: np.ndarray,
    grp_player: np.ndarray,
    counts: np.ndarray,
    player: np.ndarray,
    game: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out``: level(player, game) * (1 + improvement * ln(1 + earlier plays)) * noise.

    Practice is counted at the start of each day (improvement is slow; the day is enough).
    """
    G = level.shape[1]
    before = np.cumsum(counts) - counts  # plays of the block before each day
    first_of_player = np.cumsum(plays_per_player) - plays_per_player
    practice = (before - np.repeat(first_of_player, active_days)).astype(np.float32)
    gain = 1.0 + improvement[grp_player].astype(np.float32) * np.log1p(practice)
    idx = player * np.int32(G)  # block-local player of each play
    idx += game
    score = level.ravel()[idx]
    del idx
    score *= np.repeat(gain, counts)
    score *= np.take(_noise_table(config.score_noise), _u16(rng, len(score)))
    score += np.float32(0.5)
    np.minimum(score, np.float32(2.0**62), out=score)  # extreme configs stay in int64
    out[:] = score


def _player_ids(n: int) -> pa.Array:
    """Ids "p" + zero-padded index, so that string order is player order.

    Built as one fixed-width byte row per player: no Python string per player.
    """
    width = max(len(str(n - 1)), 1)
    digits = np.arange(n, dtype=np.int64)[:, None] // (10 ** np.arange(width - 1, -1, -1))
    rows = np.empty((n, width + 1), dtype=np.uint8)
    rows[:, 0] = ord("p")
    rows[:, 1:] = digits % 10 + ord("0")
    return _fixed_width_strings(rows)


# --------------------------------------------------------------------------- the frame

_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
_CHUNK = 1 << 20  # plays per chunk when building string columns in parallel
_ID_MUL1 = np.uint64(0x9E3779B97F4A7C15)
_ID_MUL2 = np.uint64(0xBF58476D1CE4E5B9)
_HEX4 = np.array(
    [int.from_bytes(f"{i:04x}".encode(), "little") for i in range(65536)], dtype=np.uint32
)


def _plays_frame(pop: Population, categorical: bool) -> pd.DataFrame:
    """Assemble the DataFrame; string columns are built in Arrow, chunk by chunk, in threads
    (the numeric columns are copied meanwhile)."""
    a = pop._plays
    cfg = pop.config
    n = len(a.player)
    zones = [z for z, _ in cfg.time_zones]
    # the codes' dtype is the one a categorical of the zones keeps (no conversion pass)
    zone_codes = a.player_zone.astype(np.int8 if len(zones) < 128 else np.int16)
    tz_per_play = np.repeat(zone_codes, a.plays_per_player)
    dictionaries = {
        "player_id": _player_ids(cfg.players),
        "game": pa.array(list(cfg.games), type=pa.large_string()),
        "tz": pa.array(zones, type=pa.large_string()),
    }
    codes = {"player_id": a.player, "game": a.game, "tz": tz_per_play}
    bounds = [(lo, min(lo + _CHUNK, n)) for lo in range(0, n, _CHUNK)] or [(0, 0)]

    def play_ids(lo: int, hi: int) -> pa.Array:
        return _play_ids(a.id_key, lo, hi)

    def take(name: str) -> Any:
        return lambda lo, hi: dictionaries[name].take(pa.array(codes[name][lo:hi]))

    def played_at() -> Any:
        # Arrow reads the int64 ns as UTC timestamps and pandas gets a copy: one pass, where
        # tz_localize("UTC") of the naive values takes several. Arrow labels them
        # ZoneInfo("UTC"), not pandas' own UTC: frames with the two concat to object dtype, so
        # tz_convert relabels them (no pass over the values).
        utc = pa.array(a.played_at_ns, type=pa.timestamp("ns", tz="UTC"))
        return utc.to_pandas().array.tz_convert("UTC")

    builders = {"play_id": play_ids}
    if not categorical:
        builders.update({name: take(name) for name in dictionaries})
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        futures = {
            name: [pool.submit(build, lo, hi) for lo, hi in bounds]
            for name, build in builders.items()
        }
        # numeric columns are copies: editing the frame must not edit the population
        numeric = {"played_at": pool.submit(played_at), "score": pool.submit(a.score.copy)}
        columns: dict[str, Any] = {
            name: pd.arrays.ArrowStringArray(
                pa.chunked_array([f.result() for f in fs], type=pa.large_string()),
                dtype=_STR_DTYPE,
            )
            for name, fs in futures.items()
        }
        columns.update({name: future.result() for name, future in numeric.items()})
    if categorical:
        for name, dictionary in dictionaries.items():
            # codes are in range by construction: no validation pass over every play
            categories = pd.Index(_arrow_str(dictionary))
            columns[name] = pd.Categorical.from_codes(
                codes[name], categories=categories, validate=False
            )
    return pd.DataFrame({name: columns[name] for name in PLAY_COLUMNS}, copy=False)


def _arrow_str(values: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Wrap a large_string Arrow array as pandas' default ``str`` array without copying."""
    return pd.arrays.ArrowStringArray(pa.chunked_array([values]), dtype=_STR_DTYPE)


def _str_from_codes(
    codes: np.ndarray, categories: Sequence[str], missing: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray:
    """A ``str`` array of ``categories[codes]`` (NaN where ``missing``), built in Arrow."""
    dictionary = pa.array(list(categories), type=pa.large_string())
    if missing is None:
        indices = pa.array(codes)
    else:
        indices = pa.array(np.where(missing, 0, codes), mask=np.asarray(missing, dtype=bool))
    return _arrow_str(dictionary.take(indices))


def _fixed_width_strings(rows: np.ndarray) -> pa.Array:
    """A large_string Arrow array from a (n, width) uint8 matrix, one string per row."""
    n, width = rows.shape
    data = np.ascontiguousarray(rows)
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _play_ids(key: int, lo: int, hi: int) -> pa.Array:
    """Ids of plays lo..hi-1: 16 hex digits, a bijection of (index, seed key) on 64 bits.

    Multiplying by an odd constant, adding and xor-shifting are all invertible on 64 bits,
    so distinct indices give distinct ids, and the seed decides which ones.
    """
    x = np.arange(lo, hi, dtype=np.uint64)
    x *= _ID_MUL1
    x += np.uint64(key)
    t = x >> np.uint64(31)
    x ^= t
    x *= _ID_MUL2
    np.right_shift(x, np.uint64(29), out=t)
    x ^= t
    del t
    chars = np.take(_HEX4, x.view(np.uint16))  # 4 hex digits per 16 bits, in memory order
    return _fixed_width_strings(chars.view(np.uint8).reshape(hi - lo, 16))


# --------------------------------------------------------------------------- validation


def _validate(c: PopulationConfig) -> None:
    """Check every field; each message names the field and what was expected."""
    _check_int("players", c.players, 1, 50_000_000)
    _check_int("days", c.days, 1, 36_600)
    if c.players * c.days > _MAX_PLAYER_DAYS:
        raise ConfigError(
            f"players * days must be <= {_MAX_PLAYER_DAYS:,} (memory), got {c.players * c.days:,}"
        )
    if not isinstance(c.start, date) or isinstance(c.start, datetime):
        raise ConfigError(f"start must be a datetime.date (a calendar day), got {c.start!r}")
    if not (1900 <= c.start.year <= 2100 and (c.start + timedelta(days=c.days)).year <= 2200):
        raise ConfigError(f"start..start+days must lie within 1900..2200, got {c.start}")
    _check_int("seed", c.seed, 0, 2**63 - 1)

    games = _as_tuple("games", c.games)
    if not games:
        raise ConfigError("games must name at least one game")
    for g in games:
        if not isinstance(g, str) or not g.strip():
            raise ConfigError(f"games must be non-empty strings, got {g!r}")
    if len(set(games)) != len(games):
        raise ConfigError(f"games must not repeat a name, got {games!r}")
    object.__setattr__(c, "games", games)

    for name in ("daily_play", "streakiness", "churn"):
        if not isinstance(getattr(c, name), Beta):
            raise ConfigError(
                f"{name} must be a Beta(mean, concentration), got {getattr(c, name)!r}"
            )
    for name in ("joining_share", "favourite_share", "two_favourites"):
        _check_probability(name, getattr(c, name))
    _check_float("preference_concentration", c.preference_concentration, low=0.0, open_low=True)

    zones = _as_tuple("time_zones", c.time_zones)
    if not zones:
        raise ConfigError("time_zones must list at least one (zone, weight) pair")
    pairs: list[tuple[str, float]] = []
    for item in zones:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ConfigError(f"time_zones entries must be (zone, weight) pairs, got {item!r}")
        name, weight = item
        _check_zone(name)
        _check_float(f"time_zones weight of {name}", weight, low=0.0)
        pairs.append((name, float(weight)))
    if len({z for z, _ in pairs}) != len(pairs):
        raise ConfigError("time_zones must not repeat a zone")
    if sum(w for _, w in pairs) <= 0:
        raise ConfigError("time_zones weights must not all be zero")
    object.__setattr__(c, "time_zones", tuple(pairs))

    _check_float("sessions_per_day", c.sessions_per_day, low=1.0, high=1000.0)
    if c.sessions_model not in ("poisson", "geometric"):
        raise ConfigError(
            f"sessions_model must be 'poisson' or 'geometric', got {c.sessions_model!r}"
        )
    _check_float("sessions_spread", c.sessions_spread, low=0.0, high=10.0)

    hours = _as_tuple("hour_weights", c.hour_weights)
    if len(hours) != 24:
        raise ConfigError(
            f"hour_weights must have 24 weights (local hours 0..23), got {len(hours)}"
        )
    for w in hours:
        _check_float("hour_weights", w, low=0.0)
    if sum(float(w) for w in hours) <= 0:
        raise ConfigError("hour_weights must not all be zero")
    object.__setattr__(c, "hour_weights", tuple(float(w) for w in hours))

    _check_float("hour_spread", c.hour_spread, low=0.0, high=24.0)
    _check_float("gap_minutes", c.gap_minutes, low=0.0, high=1440.0)
    _check_float("score_scale", c.score_scale, low=0.0, high=1e12)
    _check_float("skill_spread", c.skill_spread, low=0.0, high=5.0)
    _check_float("score_noise", c.score_noise, low=0.0, high=5.0)
    _check_float("improvement", c.improvement, low=0.0, high=100.0)


def _is_real(x: Any) -> bool:
    """An int or float, but not a bool (True is not a probability)."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_)
    )


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except OverflowError:  # an int too large for a float
        return False


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:,} and {high:,}, got {value!r}")


def _check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
) -> None:
    if not _is_real(value) or not _finite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (open_low and value == low)):
        raise ConfigError(f"{name} must be {'>' if open_low else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be <= {high}, got {value!r}")


def _check_probability(name: str, value: Any) -> None:
    _check_float(name, value, low=0.0, high=1.0)


def _check_zone(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"time_zones must name IANA zones, got {name!r}")
    try:
        zoneinfo.ZoneInfo(name)
    except Exception as exc:  # unknown key, bad path, ...: all mean "not a zone"
        raise ConfigError(f"time_zones: unknown IANA zone {name!r}") from exc


def _as_tuple(name: str, value: Any) -> tuple[Any, ...]:
    """Accept any list or tuple (a notebook may pass a list) but not a bare string."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise ConfigError(f"{name} must be a tuple or list, got {value!r}")
    return tuple(value)
