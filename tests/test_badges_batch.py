"""The batch path: input validation, output shape, local days, and its fast paths' fallbacks.

Equality with the incremental path on small histories is in test_badges_properties.py; here
larger random inputs push the vectorised code through its alternative branches (coarse sort
buckets, huge scores, wide time ranges) and must still agree with folding play by play.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from streamsim.errors import PlayValidationError
from streamsim.game.badges import (
    AWARD_COLUMNS,
    DEFAULT_RULES,
    Comeback,
    DailyStreak,
    FirstPlay,
    PersonalBest,
    PlayerState,
    TotalPlays,
    awards_to_frame,
    evaluate_batch,
    frame_to_plays,
    local_day,
    play_order,
    plays_to_frame,
)
from streamsim.game.badges.localdays_batch import local_days
from streamsim.game.plays import PLAY_COLUMNS, Play

RULES = (
    FirstPlay(),
    DailyStreak(days=3),
    TotalPlays(count=20),
    Comeback(days_away=5),
    PersonalBest(min_plays=2),
)
ZONES = [
    "UTC",
    "Europe/Amsterdam",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Goose_Bay",
]


def random_plays(
    n: int,
    players: int,
    seed: int,
    start: str = "2024-01-01",
    days: int = 120,
    max_score: int = 100,
) -> pd.DataFrame:
    """Random plays; each player has a home zone and sometimes travels; some shared instants."""
    rng = np.random.default_rng(seed)
    player = rng.integers(0, players, n)
    home = rng.integers(0, len(ZONES), players)
    zone = np.where(rng.random(n) < 0.05, rng.integers(0, len(ZONES), n), home[player])
    start_ns = pd.Timestamp(start, tz="UTC").value
    t = start_ns + rng.integers(0, days * 86_400_000, n) * 1_000_000
    shared = rng.random(n) < 0.05
    t[shared] = start_ns + rng.integers(0, 3, shared.sum()) * 86_400_000_000_000
    return pd.DataFrame(
        {
            "player_id": [f"player{p}" for p in player],
            "play_id": [f"{'zyx'[i % 3]}{i}" for i in range(n)],
            "game": rng.choice(["chess", "go", "wordle"], n),
            "played_at": pd.to_datetime(t, utc=True),
            "tz": [ZONES[z] for z in zone],
            "score": rng.integers(0, max_score, n, dtype=np.int64),
        }
    )


def folded(frame: pd.DataFrame, rules: tuple = RULES) -> pd.DataFrame:  # type: ignore[type-arg]
    """The awards of folding each player's plays in order (the incremental path)."""
    awards = []
    by_player: dict[str, list[Play]] = {}
    for play in frame_to_plays(frame):
        by_player.setdefault(play.player_id, []).append(play)
    for player in sorted(by_player):
        state = PlayerState(rules=rules)
        for play in sorted(by_player[player], key=play_order):
            awards += state.fold(play)
    return awards_to_frame(awards)


@pytest.mark.parametrize("seed", [1, 2])
def test_batch_equals_folding_on_thousands_of_plays(seed: int) -> None:
    frame = random_plays(4_000, 60, seed)
    result = evaluate_batch(frame, RULES)
    pd.testing.assert_frame_equal(result, folded(frame))
    assert set(result["rule"]) == {r.name for r in RULES}  # every rule fired


def test_coarse_sort_buckets_wide_time_range_and_huge_scores() -> None:
    # 1700..2250: the packed sort key holds only coarse time, so plays microseconds apart
    # share a bucket and are re-sorted exactly; the (zone, day) table would be too large, so
    # days are converted per zone; scores near 2**62 cannot be packed with the other columns.
    frame = random_plays(3_000, 40, 3, start="1700-01-01", days=200_000, max_score=2**62)
    close = frame.sample(300, random_state=1).index
    frame.loc[close, "played_at"] = frame.loc[close[0], "played_at"] + pd.to_timedelta(
        np.arange(300) % 7, unit="us"
    )
    frame["score"] = frame["score"].astype("int64")
    pd.testing.assert_frame_equal(evaluate_batch(frame, RULES), folded(frame))


def test_output_has_one_row_per_player_badge_with_the_documented_columns() -> None:
    frame = random_plays(2_000, 30, 4)
    awards = evaluate_batch(frame)
    assert tuple(awards.columns) == AWARD_COLUMNS
    assert str(awards["played_at"].dtype) == "datetime64[ns, UTC]"
    assert not awards.duplicated(["player_id", "badge_id"]).any()
    assert awards["player_id"].is_monotonic_increasing


def test_empty_input_and_empty_rule_set_give_an_empty_awards_frame() -> None:
    empty = evaluate_batch(plays_to_frame([]))
    assert tuple(empty.columns) == AWARD_COLUMNS and empty.empty
    assert evaluate_batch(random_plays(10, 2, 5), rules=()).empty


def test_extra_columns_are_ignored_and_other_time_units_accepted() -> None:
    frame = random_plays(500, 10, 6)
    expected = evaluate_batch(frame)
    wider = frame.assign(written_at=frame["played_at"], note="x")
    in_us = frame.assign(played_at=frame["played_at"].dt.as_unit("us"))
    in_tokyo = frame.assign(played_at=frame["played_at"].dt.tz_convert("Asia/Tokyo"))
    for variant in (wider, in_us, in_tokyo):
        pd.testing.assert_frame_equal(evaluate_batch(variant), expected)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["tz"]), r"missing column\(s\) \['tz'\]"),
        (lambda f: f.assign(played_at=f["played_at"].dt.tz_localize(None)), "timezone-aware"),
        (lambda f: f.assign(score=f["score"].astype(float)), "score must be an integer"),
        (lambda f: f.assign(score=-f["score"] - 1), "score must be >= 0"),
        (lambda f: f.assign(player_id=range(len(f))), "player_id must hold strings"),
        (lambda f: f.assign(tz="Mars/Olympus"), "unknown IANA time zone 'Mars/Olympus'"),
        (lambda f: f.assign(game=f["game"].where(f.index != 3)), "game: 1 missing value"),
        (lambda f: pd.concat([f, f.iloc[[5]]]), "duplicate play"),
        (lambda f: f["score"], "must be a pandas DataFrame"),
    ],
)
def test_invalid_plays_are_rejected_with_a_message_naming_the_problem(change, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PlayValidationError, match=message):
        evaluate_batch(change(random_plays(50, 5, 7)))


def test_local_days_match_zoneinfo_in_every_zone() -> None:
    rng = np.random.default_rng(8)
    zones = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    n = 40 * len(zones)
    codes = np.repeat(np.arange(len(zones)), 40)
    lo, hi = pd.Timestamp("2000-01-01", tz="UTC").value, pd.Timestamp("2040-01-01", tz="UTC").value
    t = rng.integers(lo // 10**9, hi // 10**9, n) * 10**9
    days = local_days(t, codes, zones)  # the per-zone path: 14,600 days x zones is too big
    near = (t // 10**9 // 3600 % (24 * 30)) * 3600 * 10**9 + lo  # a single month: table path
    near_days = local_days(near, codes, zones)
    for got, instants in ((days, t), (near_days, near)):
        expected = [
            local_day(datetime.fromtimestamp(int(x) // 10**9, timezone.utc), zones[c])
            for x, c in zip(instants, codes, strict=True)
        ]
        assert got.tolist() == expected


def test_local_days_table_is_exact_around_dst_changes() -> None:
    # Every minute of the days around Amsterdam's and Goose Bay's changes, in one call.
    zones = ["Europe/Amsterdam", "America/Goose_Bay"]
    minutes = np.arange(-3 * 1440, 3 * 1440) * 60 * 10**9
    changes = [pd.Timestamp("2024-03-31T01:00Z").value, pd.Timestamp("2010-11-07T03:01Z").value]
    t = np.concatenate([c + minutes for c in changes])
    codes = np.repeat([0, 1], len(minutes))
    expected = [
        local_day(datetime.fromtimestamp(int(x) // 10**9, timezone.utc), zones[c])
        for x, c in zip(t, codes, strict=True)
    ]
    assert local_days(t, codes, zones).tolist() == expected


def test_default_rules_run_on_a_realistic_mix() -> None:
    frame = random_plays(3_000, 10, 9, days=400)
    pd.testing.assert_frame_equal(evaluate_batch(frame), folded(frame, DEFAULT_RULES))
    assert PLAY_COLUMNS == tuple(plays_to_frame(frame_to_plays(frame)).columns)


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_splitting_players_across_threads_changes_nothing(workers: int) -> None:
    frame = random_plays(3_000, 25, 10)
    pd.testing.assert_frame_equal(
        evaluate_batch(frame, workers=workers), evaluate_batch(frame, workers=1)
    )


def test_unused_categories_and_player_ranges_without_plays() -> None:
    frame = random_plays(2_000, 3, 11)
    lopsided = frame.assign(
        player_id=pd.Categorical(
            frame["player_id"],
            categories=[f"u{i}" for i in range(50)] + ["player0", "player1", "player2"],
        )
    )
    pd.testing.assert_frame_equal(evaluate_batch(lopsided, workers=4), evaluate_batch(frame))


def test_strings_hashed_in_parallel_slices_give_the_same_codes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import streamsim.game.badges.batch as batch

    frame = random_plays(3_000, 25, 12)
    expected = evaluate_batch(frame.astype({"player_id": "category", "game": "category"}))
    monkeypatch.setattr(batch, "_workers", lambda workers, n: 3)
    chunked = pd.concat([frame.iloc[:1000], frame.iloc[1000:]])  # several Arrow chunks
    for variant in (frame, chunked):
        pd.testing.assert_frame_equal(evaluate_batch(variant), expected)


def test_logged_input_with_ties_equals_folding() -> None:
    # Rows in played_at order (a log) take the radix-sort path; shared instants within a player
    # (the 5% 'shared' plays) must still be ordered by play_id.
    frame = random_plays(4_000, 30, 13).sort_values("played_at", kind="stable")
    frame = frame.reset_index(drop=True)
    pd.testing.assert_frame_equal(evaluate_batch(frame, RULES), folded(frame))


def test_many_ranges_of_players_change_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import streamsim.game.badges.batch as batch

    frame = random_plays(3_000, 40, 14)
    logged = frame.sort_values("played_at", kind="stable").reset_index(drop=True)
    expected = evaluate_batch(frame, RULES, workers=1)
    monkeypatch.setattr(batch, "CHUNK_PLAYS", 100)  # about 30 ranges, some of one player
    for variant in (frame, logged):
        for workers in (1, 2):
            pd.testing.assert_frame_equal(evaluate_batch(variant, RULES, workers=workers), expected)


@pytest.mark.parametrize("workers", [2, 3])
def test_logged_input_with_ties_split_across_threads_equals_folding(workers: int) -> None:
    # A log split by ranges of players packs each play into one integer and sorts by player;
    # a player's plays at one shared instant must still come out in play_id order.
    frame = random_plays(4_000, 30, 15).sort_values("played_at", kind="stable")
    frame = frame.reset_index(drop=True)
    pd.testing.assert_frame_equal(evaluate_batch(frame, RULES, workers=workers), folded(frame))


@pytest.mark.parametrize(
    ("high", "path"),
    [(2**10, "uint32 pack"), (2**40, "int64 pack"), (2**62, "lexsort")],
)
def test_stable_order_equals_a_stable_argsort_on_each_path(high: int, path: str) -> None:
    # Small ranges of players take the uint32 packing; wide keys the int64 one or lexsort.
    # Each must give the stable order (ties by position) and the sorted keys.
    from streamsim.game.badges.batch import _stable_order

    rng = np.random.default_rng(16)
    keys = rng.integers(0, high, 5_000)
    keys[::7] = keys[0]  # many ties
    order, sorted_keys = _stable_order(keys.copy())
    expected = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(sorted_keys, keys[expected])
    assert sorted_keys.dtype == np.int64


def test_award_rows_read_in_any_row_order_come_back_in_award_order() -> None:
    # Awards are assembled once: input columns read at ascending rows, then put back in
    # (player, time, rule) order. A shuffled input exercises the permutation.
    frame = random_plays(3_000, 25, 17)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    awards = evaluate_batch(shuffled, RULES, workers=2)
    pd.testing.assert_frame_equal(awards, folded(shuffled))
