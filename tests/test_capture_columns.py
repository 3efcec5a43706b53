"""The capture keeps per-record rows as columns: the same rows come back, the same frame."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
import pytest

from streamsim.aws.trigger.capture import (
    DispositionRow,
    RecordRow,
    disposition_rows,
    record_rows,
)


def _records() -> list[RecordRow]:
    rows = [
        RecordRow(
            "m",
            f"shard-{i % 3}",
            str(10**20 + i * 10**17),  # sequence numbers across a 10**18 boundary
            # eventIDs: 16 characters and 16 hex digits (kept as 12 bytes), and any other text
            f"{'0cf24d7684f64a76' if i % 5 else 'é' * 16}{(i * 0x1F1F1F1F1F1F1F1F) % 2**64:016x}"
            if i % 7
            else f"e{i}",
            "INSERT" if i % 4 else "MODIFY",
            '{"k":{"S":"é😀' + str(i) + '"}}',
            1.5 + i,
            2.5,
            100 + i,
            "virtual",
        )
        for i in range(25)
    ]
    rows[3] = rows[3]._replace(sequence_number="000123")  # not a plain number: kept as text
    rows[4] = rows[4]._replace(sequence_number="7")  # far below the first: an offset still
    rows[8] = rows[8]._replace(event_id="0cf24d7684f64a76" + "0000000000000A1F")  # upper case
    rows[9] = rows[9]._replace(event_id="0cf24d7684f64a76" + "-000000000000a1f")
    rows[10] = rows[10]._replace(event_id="0cf24d7684f64a76" + "000000000000a1fg")
    return rows


def _dispositions(condition: bool) -> list[DispositionRow]:
    return [
        DispositionRow(
            "m",
            "shard-1",
            str(i),
            "processed" if i % 3 else "destination",
            3.0 + i,
            i,
            ("RetryAttemptsExhausted" if i % 2 else None) if condition else None,
            "virtual",
            None if i == 2 else 4.0,
        )
        for i in range(6)
    ]


def _tuples_frame(rows, store) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The frame of the tuples, the repeated texts ("code" columns) dictionary-encoded: the
    same strings, as categoricals whose categories come in order of first appearance."""
    frame = pd.DataFrame.from_records(rows, columns=list(type(rows[0])._fields))
    for name, kind in store().__dict__["_kinds"].items():
        if kind == "code":
            texts = list(dict.fromkeys(v for v in frame[name] if pd.notna(v)))
            frame[name] = pd.Categorical(frame[name], categories=pd.Index(texts, dtype="str"))
    return frame


class _Id(NamedTuple):
    event_id: str


def test_repeated_texts_are_categoricals_of_the_same_strings() -> None:
    frame = disposition_rows()
    for row in _dispositions(True):
        frame.append(row)
    got = frame.frame()
    for name in ("mapping", "shard_id", "disposition", "condition", "clock"):
        assert isinstance(got[name].dtype, pd.CategoricalDtype), name
        assert got[name].cat.codes.dtype.itemsize == 1, name  # a byte a row, not the text
        expected = [getattr(row, name) for row in _dispositions(True)]
        assert [None if v != v else v for v in got[name].tolist()] == expected, name
        assert all(type(v) is str for v in got[name].cat.categories), name


@pytest.mark.parametrize(
    ("rows", "store"),
    [
        (_records(), record_rows),
        (_records()[5:], record_rows),
        (_dispositions(True), disposition_rows),
        (_dispositions(False), disposition_rows),
    ],
)
@pytest.mark.parametrize("chunk", [1 << 20, 4])  # texts converted a chunk at a time
def test_row_columns_give_back_the_rows_and_the_frame_of_the_rows(
    rows, store, chunk, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from streamsim.aws.trigger import columns

    monkeypatch.setattr(columns, "_CHUNK", chunk)
    kept = store()
    for row in rows:
        kept.append(row)
    assert list(kept) == rows
    assert kept[-1] == rows[-1] and kept[1:3] == rows[1:3] and len(kept) == len(rows)
    expected = _tuples_frame(rows, store)
    pd.testing.assert_frame_equal(kept.frame(), expected)
    pd.testing.assert_frame_equal(kept.frame(release=True), expected)
    assert len(kept) == 0 and list(kept) == []  # released: emptied as the frame took the rows


def test_an_empty_store_is_an_empty_frame_with_the_columns() -> None:
    assert list(record_rows().frame().columns) == list(RecordRow._fields)
    assert record_rows() == []


def test_a_frame_taken_mid_run_leaves_the_store_growing() -> None:
    """Only a released store hands its buffers to the frame; a live one keeps appending."""
    rows = _records()
    kept = record_rows()
    for row in rows[:10]:
        kept.append(row)
    first = kept.frame()
    for row in rows[10:]:
        kept.append(row)
    pd.testing.assert_frame_equal(first, _tuples_frame(rows[:10], record_rows))
    pd.testing.assert_frame_equal(kept.frame(release=True), _tuples_frame(rows, record_rows))


@pytest.mark.parametrize("as_fixed", [True, False])
def test_eventids_appended_as_a_block_read_back_as_appended_one_by_one(as_fixed: bool) -> None:
    """The ``hex`` kind's block path (a trigger block's fixed-width eventIDs) keeps exactly what
    row appends keep: one stream's prefix or several, and texts that are not prefix + 16
    lowercase hex digits (uppercase, past 'f', short, unicode) as they are."""
    import numpy as np

    from streamsim.aws.trigger.columns import FixedTexts, RowColumns

    one = ["4a77db0538874a29" + f"{i * 977:016x}" for i in range(5)]
    two = one[:2] + ["ffffffffffffffff0000000000000001"] + one[2:]
    odd = [
        "4a77db0538874a29" + "0123456789ABCDEF",
        "4a77db0538874a29" + "0123456789abcdeg",
        "short",
    ]
    blocks = [one, two, one[:1] + odd[:2], ["é" * 16 + "0123456789abcdef"], [odd[2]]]
    rows: RowColumns = RowColumns(_Id, {"event_id": "hex"})
    block: RowColumns = RowColumns(_Id, {"event_id": "hex"})
    for texts in blocks:
        encoded = np.array([t.encode() for t in texts])
        for t in texts:
            rows.append(_Id(t))
        block.extend_columns(len(texts), {"event_id": FixedTexts(encoded) if as_fixed else encoded})
    assert [r.event_id for r in block] == [t for b in blocks for t in b]
    assert list(block) == list(rows)
    pd.testing.assert_frame_equal(block.frame(), rows.frame())
