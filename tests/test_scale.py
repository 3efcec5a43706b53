"""At scale: the same trigger, AWS's structure around it (partitions, concurrency, metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.workbench.cli import main
from streamsim.workbench.scale.model import ScaleModel, auto_shards, throttle_writes
from streamsim.workbench.scale.run import ScaleScenario, simulate_scale

PLAIN = ScaleModel(rollover_hours=0, cold_start_probability=0.0)


def small(**changes):  # type: ignore[no-untyped-def]
    base = dict(rate=200.0, seconds=20.0, shards=3, players=50, model=PLAIN, throttling=False)
    return ScaleScenario(**{**base, **changes})


@pytest.mark.parametrize(
    "mapping",
    [
        EventSourceMapping(starting_position="TRIM_HORIZON", maximum_retry_attempts=1),
        EventSourceMapping(
            starting_position="TRIM_HORIZON",
            batch_size=10,
            parallelization_factor=3,
            maximum_retry_attempts=2,
            bisect_batch_on_function_error=True,
            maximum_batching_window_in_seconds=1,
        ),
    ],
)
def test_block_writes_and_per_record_writes_give_the_same_run(mapping) -> None:  # type: ignore[no-untyped-def]
    fast = simulate_scale(small(mapping=mapping, poison=2))
    slow = simulate_scale(small(mapping=mapping, poison=2, per_record_writes=True))
    cols = ["shard_id", "sequence_number", "disposition", "at", "attempts", "condition"]
    # Shard ids carry a random suffix per stream: compare by position of the shard.
    a, b = fast.run.dispositions[cols].copy(), slow.run.dispositions[cols].copy()
    for frame in (a, b):
        frame["shard_id"] = frame["shard_id"].str.slice(0, 28)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert fast.summary["latency"] == slow.summary["latency"]
    assert (
        fast.summary["processed"] + fast.summary["lost"] + fast.summary["sent_to_destination"]
        == fast.summary["plays_sent"]
    )
    assert set(fast.run.dispositions["disposition"]) >= {"processed"}


def test_a_partition_beyond_its_write_limit_throttles_and_retries_in_order() -> None:
    model = ScaleModel(partition_write_units=10, burst_seconds=1)
    times = np.linspace(0.0, 0.9, 25)
    done, throttled = throttle_writes(times, np.zeros(25, dtype=np.int64), 1, 1, model)
    assert throttled == 15
    assert list(done[:10]) == list(times[:10])
    assert list(done[10:20]) == [1.0] * 10 and list(done[20:]) == [2.0] * 5


def test_auto_shards_follow_partitions_with_the_warm_minimum() -> None:
    assert auto_shards(10_000, 1, ScaleModel()) == 10
    assert auto_shards(100, 1, ScaleModel()) == 4  # warm throughput 4,000 WCU/s
    assert auto_shards(10_000, 2, ScaleModel()) == 20


def test_too_few_shards_for_the_rate_throttles_writes() -> None:
    result = simulate_scale(
        ScaleScenario(
            rate=3000, seconds=3, shards=1, model=ScaleModel(burst_seconds=0, rollover_hours=0)
        )
    )
    assert result.summary["throttled_writes"] > 0
    assert result.summary["lost"] == 0
    assert (result.run.plays["acked_at"] >= result.run.plays["written_at"]).all()


def test_concurrency_is_capped_and_throttled_invocations_are_counted() -> None:
    capped = simulate_scale(
        small(
            shards=6,
            model=ScaleModel(
                rollover_hours=0,
                concurrency_limit=2,
                cold_start_probability=0.0,
                handler_base_seconds=1.0,
            ),
        )
    )
    assert capped.summary["peak_concurrency"] == 2
    assert capped.summary["invocation_throttles"] > 0
    assert capped.metrics["Throttles"].sum() == capped.summary["invocation_throttles"]
    free = simulate_scale(small(shards=6))
    assert free.summary["invocation_throttles"] == 0
    assert free.summary["peak_concurrency"] > 2


def test_iterator_age_is_the_last_records_age_when_the_batch_finishes() -> None:
    result = simulate_scale(small())
    attempts, records = result.run.attempts, result.run.records
    created = records.set_index("sequence_number")["created_at"]
    age = attempts["completed_at"] - attempts["last_sequence_number"].map(created)
    assert result.metrics["IteratorAge"].max() == pytest.approx(age.max() * 1000)
    assert result.metrics["Invocations"].sum() == len(attempts)


def test_shards_roll_over_and_nothing_is_lost() -> None:
    result = simulate_scale(small(model=ScaleModel(rollover_hours=0.002, cold_start_probability=0)))
    assert result.run.records["shard_id"].nunique() > 3
    assert (
        result.summary["lost"] == 0 and result.summary["processed"] == result.summary["plays_sent"]
    )


def test_the_scale_command_writes_a_run_folder_and_a_summary(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(
        [
            "scale",
            "--rate",
            "100",
            "--hours",
            "0.005",
            "--out",
            str(tmp_path / "r"),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "lost 0" in out and "estimate, prices of" in out and "IteratorAge" in out
    assert (tmp_path / "r" / "summary.json").is_file() and (
        tmp_path / "r" / "metrics.parquet"
    ).is_file()


@pytest.mark.parametrize(
    "argv", [["--shards", "many"], ["--faults", "throttle=1"], ["--rate", "0"]]
)
def test_bad_scale_arguments_exit_2_with_one_line(argv, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["scale", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("streamsim: error:")


def test_scale_force_replaces_an_existing_run_folder(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r"
    out.mkdir()
    (out / "stale.parquet").write_text("an older run's file")
    argv = ["scale", "--rate", "50", "--hours", "0.001", "--out", str(out), "--no-progress"]
    assert main(argv) == 2  # never overwritten silently
    assert (out / "stale.parquet").exists()
    assert main([*argv, "--force"]) == 0
    assert not (out / "stale.parquet").exists() and (out / "summary.json").is_file()


def test_a_scale_run_that_cannot_fit_in_memory_is_refused_before_it_starts() -> None:
    from streamsim.errors import ConfigError
    from streamsim.workbench.scale.command import BYTES_PER_PLAY, FIXED_BYTES, check_memory

    check_memory(1000, FIXED_BYTES + 1000 * BYTES_PER_PLAY)  # exactly fits
    check_memory(10**12, None)  # unknown memory: no refusal
    with pytest.raises(ConfigError, match="1,001 plays.*about 1,000 plays fit"):
        check_memory(1001, FIXED_BYTES + 1000 * BYTES_PER_PLAY)
    with pytest.raises(ConfigError, match="1 plays.*about 0 plays fit"):
        check_memory(1, FIXED_BYTES)  # the fixed part alone is counted


def test_backlog_is_the_minutes_maximum_so_a_burst_drained_within_a_minute_shows() -> None:
    import numpy as np

    from streamsim.workbench.scale.metrics import backlog_maximum

    # minute 0: 3 writes at 10, 11, 12 s, finished at 20, 21, 22 s; minute 1: one write at 70 s
    # still open at the end; minute 2: nothing happens (the open record is still there)
    written = np.array([10.0, 11.0, 12.0, 70.0])
    finished = np.array([20.0, 21.0, 22.0])
    assert backlog_maximum(written, finished, 0.0, 3).tolist() == [3, 1, 1]
    # a finish at the same instant as a write: the write counts first
    assert backlog_maximum(np.array([5.0, 6.0]), np.array([6.0]), 0.0, 1).tolist() == [2]
    assert backlog_maximum(np.array([]), np.array([]), 0.0, 2).tolist() == [0, 0]


def test_the_readme_states_the_memory_estimate_the_command_uses() -> None:
    """README: "the estimate is 256 MiB plus 640 bytes a play ... the hour ... needs 21.7 GiB"."""
    from pathlib import Path

    from streamsim.workbench.scale.command import BYTES_PER_PLAY, FIXED_BYTES, memory_needed

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f"{FIXED_BYTES // 2**20} MiB plus {BYTES_PER_PLAY} bytes a play" in readme
    assert f"needs {memory_needed(10_000 * 3600) / 2**30:.1f} GiB" in readme
