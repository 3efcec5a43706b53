"""The experiments notebooks 02 and 03 run, as functions (the notebooks stay thin).

``live_runs``: one live pipeline run per write rate, each on a fresh embedded server.
``failure_settings``: the event source mapping settings notebook 03 compares (AWS names).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from streamsim.workbench.runfolder import Run


def live_runs(
    *,
    endpoint_url: str | None,
    region: str,
    players: int,
    days: int,
    rates: Sequence[float],
    seed: int,
    say: Callable[[str], None] = print,
) -> dict[float, Run]:
    """A live run per rate (plays written per second, wall clock); one line of accounting each."""
    from streamsim.aws.backend import open_backend
    from streamsim.workbench.analysis import accounting
    from streamsim.workbench.run import run_pipeline
    from streamsim.workbench.runconfig import RunConfig
    from streamsim.workbench.runfolder import load_run

    runs: dict[float, Run] = {}
    for rate in rates:
        # A fresh server per run: the run creates its tables and reads its stream from the start.
        with open_backend(endpoint_url, region) as backend, tempfile.TemporaryDirectory() as tmp:
            config = RunConfig(players=players, days=days, rate=rate, seed=seed)
            runs[rate] = load_run(run_pipeline(config, backend, out_dir=tmp).path)
            server = f"{backend.info.name} {backend.info.version}"
        check = accounting(runs[rate])
        say(
            f"{rate:g} plays/s: {check['plays_written']} plays on {server}, {check['processed']} "
            f"processed, {check['lost']} lost, badges as the batch evaluator: "
            f"{'yes' if check['badges_match_batch_evaluator'] else 'NO'}"
        )
    return runs


def failure_settings(
    retries: int, max_record_age: int, queue_arn: str
) -> dict[str, dict[str, Any]]:
    """Named event source mapping settings (AWS JSON; unnamed settings keep AWS's defaults)."""
    on_failure = {"DestinationConfig": {"OnFailure": {"Destination": queue_arn}}}
    partial = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    retry = {"MaximumRetryAttempts": retries}
    return {
        "AWS defaults": {},
        f"MaximumRetryAttempts {retries}": retry,
        f"MaximumRecordAgeInSeconds {max_record_age}": {
            "MaximumRecordAgeInSeconds": max_record_age
        },
        "BisectBatchOnFunctionError": {"BisectBatchOnFunctionError": True},
        "ReportBatchItemFailures": partial,
        f"{retries} retries + queue": {**retry, **on_failure},
        f"{retries} retries + partial + queue": {**retry, **partial, **on_failure},
        f"{retries} retries + bisect + queue": {
            **retry,
            "BisectBatchOnFunctionError": True,
            **on_failure,
        },
    }
