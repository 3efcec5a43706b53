"""The at-scale run's memory-bounding steps give the same values as the whole-column ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _first_by_sorting(values: np.ndarray, among: np.ndarray) -> list[int]:
    first: dict[int, int] = {}
    for i, v in enumerate(among.tolist()):
        first.setdefault(v, i)
    return [first.get(v, -1) for v in values.tolist()]


@pytest.mark.parametrize(("n", "k"), [(1, 1), (7, 3), (1000, 40), (600_000, 2_000)])
def test_matching_few_numbers_among_many_finds_each_first_occurrence(n: int, k: int) -> None:
    """The chunked scan (values fewer than ``among``: crosses chunk boundaries at 600,000)
    gives each value the position of its first occurrence, -1 when absent, repeats included."""
    from streamsim.workbench.scale import metrics

    rng = np.random.default_rng(n)
    among = rng.integers(0, n // 3 + 2, n)
    values = rng.integers(0, n // 2 + 3, k)
    got = metrics._first_match_scanning(values, among)
    assert got.tolist() == _first_by_sorting(values, among)
    assert metrics.first_match_numbers(values, among).tolist() == got.tolist()
    assert metrics.first_match_numbers(among[:k], among).tolist() == _first_by_sorting(
        among[:k], among
    )


def test_play_keys_a_chunk_at_a_time_are_the_whole_column_and_the_game_key() -> None:
    from streamsim.game.plays import play_key
    from streamsim.workbench.scale.writer import play_keys

    plays = pd.DataFrame(
        {
            "play_id": ["s1", "é2", "s3", "s#4", "s5"],
            "played_at": pd.to_datetime(
                [0, 1_700_000_000_123, 1_700_000_000_999, 253_402_300_799_000, 5],
                unit="ms",
                utc=True,
            ),
        }
    )
    whole = play_keys(plays, chunk=len(plays))
    assert play_keys(plays, chunk=2).tolist() == whole.tolist()
    assert play_keys(plays.iloc[:0], chunk=2).tolist() == []
    expected = [
        play_key(t.to_pydatetime(), pid)
        for t, pid in zip(plays["played_at"], plays["play_id"], strict=True)
    ]
    assert whole.tolist() == expected


def _backlog_by_events(
    written: np.ndarray, finished: np.ndarray, origin: float, minutes: int
) -> np.ndarray:
    """The backlog's definition step by step: every write and finish in time order (a write
    first at the same instant), the level after each, each minute's most and its start level."""
    times = np.concatenate([written, finished])
    steps = np.concatenate([np.ones(len(written), np.int64), -np.ones(len(finished), np.int64)])
    order = np.lexsort((-steps, times))
    times, level = times[order], np.cumsum(steps[order])
    starts = origin + 60.0 * np.arange(minutes)
    before = np.searchsorted(times, starts, side="left") - 1
    out = np.where(before >= 0, level[np.maximum(before, 0)] if len(level) else 0, 0)
    if len(times):
        minute = np.clip(((times - origin) // 60.0).astype(np.int64), 0, minutes - 1)
        np.maximum.at(out, minute, level)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_backlog_by_binary_search_is_the_backlog_event_by_event(seed: int) -> None:
    """Ties (times on a coarse grid), finishes before writes, events outside the minutes,
    unsorted writes, more writes than one chunk (seed 5)."""
    from streamsim.workbench.scale.metrics import backlog_maximum

    rng = np.random.default_rng(seed)
    n = 300_000 if seed == 5 else int(rng.integers(0, 400))
    written = np.round(rng.uniform(-30, 400, n), int(rng.integers(0, 2)))
    finished = np.round(written[: n * 3 // 4] + rng.exponential(40, n * 3 // 4), 0)
    if seed % 2:
        written = np.sort(written)
    minutes = int(rng.integers(1, 8))
    expected = _backlog_by_events(written, finished, 0.0, minutes)
    assert backlog_maximum(written, finished, 0.0, minutes).tolist() == expected.tolist()
