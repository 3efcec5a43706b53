"""The at-scale fast path computes per-record values in bulk: each equals the per-record rule."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from streamsim.aws.stream.records import keys_json, number_size, stream_record_size
from streamsim.workbench.scale.run import ScaleScenario, synthetic_plays
from streamsim.workbench.scale.writer import (
    number_sizes,
    play_items,
    play_record_sizes,
    route_hashes,
)


def test_bulk_record_sizes_equal_the_stream_rule_record_by_record() -> None:
    plays, sent = synthetic_plays(ScaleScenario(rate=50, seconds=20, players=30, seed=3), 1e9)
    # Unicode in a string attribute (2- and 4-byte UTF-8) and a zero score.
    plays.loc[3, "player_id"] = "pé€"
    plays.loc[5, "play_id"] = "s😀x"
    plays.loc[7, "score"] = 0
    items = play_items(plays, sent)
    expected = [
        stream_record_size(
            {"player_id": i["player_id"], "play_key": i["play_key"]}, i, None, "NEW_AND_OLD_IMAGES"
        )
        for i in items
    ]
    assert play_record_sizes(plays, sent).tolist() == expected


def test_number_sizes_follow_number_size() -> None:
    values = np.array(
        [0, 1, 9, 10, 99, 100, 101, 1000, 12345, 1_000_000, 10**12, 1_700_000_000_123, 10**15 - 1]
    )
    assert number_sizes(values).tolist() == [number_size(str(v)) for v in values]
    rng = np.random.default_rng(0)
    many = np.concatenate([rng.integers(0, 10**14, 2000), rng.integers(0, 100, 200) * 10**9])
    assert number_sizes(many).tolist() == [number_size(str(v)) for v in many]


def test_route_hashes_are_the_streams_routing_hash() -> None:
    ids = pd.Series(["p0000001", "p0000002", "pé", "p0000001"])
    expected = [zlib.crc32(keys_json({"player_id": {"S": p}}).encode()) for p in ids]
    assert route_hashes(ids).tolist() == expected
