"""``evaluate_chunks``: chunk by chunk of players equals one ``evaluate_batch`` over all plays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsim.errors import PlayValidationError
from streamsim.game.badges import AWARD_COLUMNS, evaluate_batch, evaluate_chunks
from tests.test_badges_batch import RULES, random_plays


def by_player_chunks(frame: pd.DataFrame, cuts: list[int]) -> list[pd.DataFrame]:
    """The plays cut into chunks of whole players (players sorted by id, cut at ``cuts``)."""
    players = np.sort(frame["player_id"].unique())
    bounds = [0, *sorted(set(cuts)), len(players)]
    return [
        frame[frame["player_id"].isin(players[lo:hi])]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    players=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    cuts=st.lists(st.integers(0, 12), max_size=4),
    shuffle=st.booleans(),
)
def test_chunked_equals_unchunked(
    n: int, players: int, seed: int, cuts: list[int], shuffle: bool
) -> None:
    frame = random_plays(n, players, seed)
    expected = evaluate_batch(frame, RULES)
    chunks = by_player_chunks(frame, [c for c in cuts if c <= players])
    if shuffle:  # chunks not in player order: the result is still sorted like evaluate_batch
        chunks = chunks[::-1]
    got = evaluate_chunks((chunk for chunk in chunks), RULES)
    pd.testing.assert_frame_equal(got, expected)


def test_a_player_split_across_chunks_is_refused_naming_player_and_chunks() -> None:
    frame = random_plays(400, 5, 1)
    player = sorted(frame["player_id"].unique())[2]
    rows = np.flatnonzero(frame["player_id"] == player)
    first = frame.drop(frame.index[rows[len(rows) // 2 :]])
    second = frame.iloc[rows[len(rows) // 2 :]]
    with pytest.raises(
        PlayValidationError, match=rf"player_id='{player}' has plays in chunk 0 and chunk 1"
    ):
        evaluate_chunks([first, second], RULES)


def test_empty_chunks_and_no_chunks() -> None:
    frame = random_plays(200, 4, 2)
    empty = frame.iloc[:0]
    got = evaluate_chunks([empty, frame, empty], RULES)
    pd.testing.assert_frame_equal(got, evaluate_batch(frame, RULES))
    assert tuple(evaluate_chunks([], RULES).columns) == AWARD_COLUMNS
    assert evaluate_chunks([frame], rules=()).empty


def test_a_bad_chunk_is_refused_like_a_bad_frame() -> None:
    frame = random_plays(50, 3, 3)
    with pytest.raises(PlayValidationError, match="missing column"):
        evaluate_chunks([frame, frame.drop(columns=["tz"])], RULES)
