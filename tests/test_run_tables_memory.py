"""The run tables kept small: repeated texts dictionary-encoded, the same values everywhere.

The records and dispositions tables store shard ids, mapping names, clocks, dispositions and
conditions as categoricals of strings; a run folder round-trips them as they are, and the
schema accepts a categorical only when its values are strings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streamsim import Scenario, simulate
from streamsim.errors import RunFolderError
from streamsim.workbench import runschema
from streamsim.workbench.runfolder import load_run, save_run

ENCODED = {
    "records": ("mapping", "shard_id", "event_name", "clock"),
    "dispositions": ("mapping", "shard_id", "disposition", "condition", "clock"),
}


@pytest.fixture(scope="module")
def poison_run():  # type: ignore[no-untyped-def]
    return simulate(Scenario(players=4, days=2, seed=3, poison_rate=0.05))


def _plain(frame: pd.DataFrame) -> list[list[object]]:
    """The table's values as Python objects, missing as None (whatever the column's dtype)."""
    out = frame.astype(object).where(frame.notna(), None)
    return out.to_numpy().tolist()


def test_repeated_texts_are_dictionary_encoded_in_the_run(poison_run) -> None:  # type: ignore[no-untyped-def]
    for table, columns in ENCODED.items():
        frame = poison_run.tables[table]
        for name in columns:
            assert isinstance(frame[name].dtype, pd.CategoricalDtype), (table, name)
    conditions = poison_run.dispositions["condition"].dropna()
    assert len(conditions) and set(conditions) <= {"RetryAttemptsExhausted", "RecordAgeExceeded"}


def test_a_run_folder_round_trips_the_same_values(poison_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = save_run(tmp_path / "run", poison_run.tables, poison_run.config, {"plays": 1})
    loaded = load_run(folder)
    for table in ("plays", "records", "attempts", "dispositions"):
        before, after = poison_run.tables[table], loaded.tables[table]
        assert list(after.columns) == list(before.columns), table
        assert _plain(after) == _plain(before), table
        for name in ENCODED.get(table, ()):
            assert isinstance(after[name].dtype, pd.CategoricalDtype), (table, name)
            assert all(type(v) is str for v in after[name].dropna()), (table, name)


def test_analysis_reads_the_encoded_tables_as_it_reads_plain_text(poison_run) -> None:  # type: ignore[no-untyped-def]
    from streamsim.workbench.analysis import (
        accounting,
        iterator_age,
        latency_percentiles,
        play_timeline,
        summarize,
    )
    from streamsim.workbench.runfolder import Run

    plain = {
        name: frame.astype({c: "str" for c in ENCODED.get(name, ()) if c != "condition"})
        for name, frame in poison_run.tables.items()
    }
    plain["dispositions"]["condition"] = plain["dispositions"]["condition"].astype(object)
    text_run = Run(poison_run.path, poison_run.config, {}, plain, poison_run.destination)
    assert _plain(play_timeline(poison_run)) == _plain(play_timeline(text_run))
    pd.testing.assert_frame_equal(latency_percentiles(poison_run), latency_percentiles(text_run))
    pd.testing.assert_frame_equal(iterator_age(poison_run), iterator_age(text_run))
    assert accounting(poison_run) == accounting(text_run)
    assert summarize(poison_run) == summarize(text_run)


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        (pd.Categorical(["a", "b", None]), True),
        (pd.Categorical([None, None], categories=pd.Index([], dtype="str")), True),
        (pd.Categorical([1, 2, 1]), False),  # a categorical of numbers is not text
        (pd.Categorical(["a", 2]), False),  # nor of mixed values
        (pd.Series([1, 2, 3]), False),
        (pd.Series(["a", "b", None], dtype="str"), True),
        (pd.Series(["a", None], dtype=object), True),
    ],
)
def test_a_text_column_is_text_plain_or_dictionary_encoded(values, ok) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        {
            "sequence_number": ["1"] * len(values),
            "disposition": values,
            "at": np.zeros(len(values)),
            "attempts": np.ones(len(values), dtype=np.int64),
            "condition": [None] * len(values),
        }
    )
    if ok:
        runschema.check_table("dispositions", frame)
    else:
        with pytest.raises(RunFolderError, match="column disposition is .* expected text"):
            runschema.check_table("dispositions", frame)


def test_load_run_refuses_a_categorical_of_numbers(poison_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = save_run(tmp_path / "run", poison_run.tables, poison_run.config, {"plays": 1})
    records = pd.read_parquet(folder / "records.parquet")
    records["shard_id"] = pd.Categorical(np.arange(len(records)) % 3)
    records.to_parquet(folder / "records.parquet", index=False)
    with pytest.raises(RunFolderError, match="column shard_id is .*expected text"):
        load_run(folder)


# ---- at-scale accounting joins by sequence number, not by the keys text --------------------


@pytest.mark.parametrize(
    ("values", "among"),
    [
        (["100000000000000000007", "100000000000000000004", "9"], ["100000000000000000004"] * 2),
        (["5", "12", "7"], ["12", "5", "12", "3"]),
        (["5", "12", "5", "7", "12"], ["12", "5"]),  # repeated values: first rows by number
        (["007", "7"], ["7", "007"]),  # a leading zero: another text, not the same number
        (["1000000000000000000004", "2000000000000000000004"], ["2000000000000000000004"]),
        (["4", None], ["4"]),
        (["4", "x"], ["x", "4"]),
        ([], ["4"]),
        (["4"], []),
    ],
)
def test_sequence_numbers_join_as_their_texts_join(values, among) -> None:  # type: ignore[no-untyped-def]
    from streamsim.workbench.scale.metrics import first_match, first_match_sequence, first_rows

    left, right = pd.Series(values, dtype=object), pd.Series(among, dtype=object)
    by_text = [right.tolist().index(v) if v in right.tolist() else -1 for v in values]
    assert first_match_sequence(left, right).tolist() == by_text
    if None not in values:
        assert first_match(left, right).tolist() == by_text
        assert first_rows(left).tolist() == (~left.duplicated()).tolist()


def test_sequence_offsets_are_numbers_only_when_equal_numbers_are_equal_texts() -> None:
    from streamsim.workbench.scale.metrics import sequence_offsets

    got = sequence_offsets(pd.Series(["100000000000000000004", "100999999999999999999"]))
    assert got is not None and got[0].tolist() == [4, 999999999999999999]
    assert sequence_offsets(pd.Series(["100000000000000000004", "200000000000000000004"])) is None
    assert sequence_offsets(pd.Series(["04"])) is None
    assert sequence_offsets(pd.Series(["4"]), pd.Series(["100000000000000000004"])) is None


@pytest.fixture(scope="module")
def scale_run():  # type: ignore[no-untyped-def]
    from streamsim.aws.trigger.config import DestinationConfig, EventSourceMapping
    from streamsim.workbench.scale.run import ScaleScenario, simulate_scale

    mapping = EventSourceMapping(
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=1,
        destination_config=DestinationConfig(
            on_failure="arn:aws:sqs:eu-central-1:123456789012:dlq"
        ),
    )
    scenario = ScaleScenario(rate=200.0, seconds=5.0, shards=3, players=50, poison=3)
    return simulate_scale(replace(scenario, mapping=mapping)).run


def _timeline_outcomes(run) -> list[object]:  # type: ignore[no-untyped-def]
    from streamsim.workbench.analysis import play_timeline

    disposition = play_timeline(run)["disposition"].astype(object)
    return disposition.where(disposition.notna(), None).tolist()


def test_at_scale_plays_pair_with_records_by_rank_without_the_keys_join(
    scale_run, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from streamsim.workbench.scale import metrics
    from streamsim.workbench.scale import run as run_module

    def no_key_join(*args: object) -> object:
        raise AssertionError("joined by the keys text")

    monkeypatch.setattr(run_module, "_records_by_key", no_key_join)
    monkeypatch.setattr(metrics, "_CHUNK", 7)  # sequence numbers read a few at a time
    monkeypatch.setattr(run_module, "_KEY_CHUNK", 5)  # keys checked a few plays at a time
    disposition, _ = run_module._play_outcomes(scale_run)
    assert list(disposition) == _timeline_outcomes(scale_run)
    assert {"processed", "destination"} <= set(disposition)
    # A record read twice (its rows repeated) still pairs by rank.
    records = pd.concat([scale_run.records, scale_run.records.iloc[:7]], ignore_index=True)
    twice = replace(scale_run, tables={**scale_run.tables, "records": records})
    assert list(run_module._play_outcomes(twice)[0]) == _timeline_outcomes(twice)


def test_plays_that_do_not_pair_by_rank_join_by_key(scale_run) -> None:  # type: ignore[no-untyped-def]
    from streamsim.workbench.scale import run as run_module

    # A play's record never read: ranks shift, the keys do not pair, the keys join decides.
    records = scale_run.records.drop(index=scale_run.records.index[3]).reset_index(drop=True)
    lost = replace(scale_run, tables={**scale_run.tables, "records": records})
    disposition = list(run_module._play_outcomes(lost)[0])
    assert disposition == _timeline_outcomes(lost)
    assert disposition.count(None) == 1
    # Two plays swapped: same count, keys differ at the swapped ranks.
    plays = scale_run.plays.iloc[[1, 0, *range(2, len(scale_run.plays))]].reset_index(drop=True)
    swapped = replace(scale_run, tables={**scale_run.tables, "plays": plays})
    assert list(run_module._play_outcomes(swapped)[0]) == _timeline_outcomes(swapped)


# ---- the scale command's memory refusal holds what a run needs ------------------------------

_PEAK = """
import sys
from streamsim.workbench.scale.model import ScaleModel
from streamsim.workbench.scale.run import ScaleScenario, simulate_scale

simulate_scale(ScaleScenario(rate=10_000, seconds=float(sys.argv[1]), shards=100,
                             model=ScaleModel(rollover_hours=0)))
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) * 1024)
"""


@pytest.mark.slow
def test_a_scale_run_needs_less_memory_than_the_refusal_assumes() -> None:
    """The peak memory (VmHWM, each size in a fresh process, 100 shards as ``streamsim scale
    --shards 100``) of a small and a 1 M-play run is under ``memory_needed``, the estimate
    ``streamsim scale`` refuses runs by, and so is the memory each further play adds (the
    estimate's slope, what decides the largest runs)."""
    import subprocess
    import sys

    from streamsim.workbench.scale.command import BYTES_PER_PLAY, memory_needed

    def peak(seconds: float) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _PEAK, str(seconds)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        return int(done.stdout.split()[-1])

    sizes = (200_000, 1_000_000)
    peaks = [peak(n / 10_000) for n in sizes]
    for n, used in zip(sizes, peaks, strict=True):
        assert used < memory_needed(n), (n, used)
    per_play = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    assert 0 < per_play < BYTES_PER_PLAY, per_play
