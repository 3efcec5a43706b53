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
