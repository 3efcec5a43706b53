"""The experiments notebooks 02 and 03 run, as functions (the notebooks stay thin).

``live_runs``: one live pipeline run per write rate, each on a fresh embedded server.
Notebook 02's views of them: ``latency_by_load``, ``trip_figure``, ``live_findings``,
``live_and_virtual``, ``settings_figure``, and ``compare_with_run``: this machine's run next to
another run folder (a real AWS run from ``streamsim collect``, or any run ``load_run`` reads).
``failure_settings``: the event source mapping settings notebook 03 compares (AWS names).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamsim.workbench.runfolder import Run

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from streamsim.workbench.runs import Comparison

#: A play's trip in notebook 02's first figure, in pipeline order.
TRIP_STEPS = (
    "write_to_stream_record",
    "stream_record_to_read",
    "write_to_first_invocation",
    "write_to_processed",
)


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


def latency_by_load(live: Mapping[float, Run]) -> pd.DataFrame:
    """Latency percentiles of each live run, one block per load (seconds, 3 decimals)."""
    import pandas as pd

    from streamsim.workbench.analysis import latency_percentiles

    frames = {f"{rate:g} plays/s": latency_percentiles(run) for rate, run in live.items()}
    return pd.concat(frames, names=["load", "component"]).round(3)


def trip_figure(run: Run, rate: float) -> Figure:
    """The CDF of each step of a play's trip (``TRIP_STEPS``), log scale, on the run's clock."""
    from streamsim.workbench.analysis import clock_label
    from streamsim.workbench.plots import plot_latency_cdf

    title = f"Where the time goes, live run at {rate:g} plays/s ({clock_label(run)})"
    ax = plot_latency_cdf(run, list(TRIP_STEPS), log=True, title=title)
    return ax.figure  # type: ignore[return-value]


def live_findings(run: Run, rate: float) -> str:
    """streamsim.findings' summary of a live run (Markdown), from its own figures."""
    from streamsim.workbench.analysis import iterator_age, latency_percentiles, latency_steps
    from streamsim.workbench.findings import latency_summary

    return latency_summary(
        rate,
        latency_percentiles(run).loc["write_to_processed"],
        latency_steps(run).median(),
        iterator_age(run)["iterator_age_seconds"],
    )


def live_and_virtual(live: Mapping[float, Run], virtual: Run) -> Comparison:
    """The live runs and a virtual one: median step times (a figure) and ``compare``'s table of
    the busiest live run against the virtual one."""
    from streamsim.workbench.plots import plot_latency_steps
    from streamsim.workbench.runs import compare

    named = {f"live, {rate:g} plays/s": run for rate, run in live.items()}
    plot_latency_steps({**named, "virtual": virtual})
    return compare(live[max(live)], virtual, names=["live", "virtual"])


def settings_figure(
    results: pd.DataFrame,
    x: str,
    ys: Sequence[str],
    hue: str,
    title: str,
    *,
    log_y: Sequence[str] = (),
) -> Figure:
    """A sweep's metrics ``ys`` against setting ``x``, one panel each (those in ``log_y`` on a
    log scale), a line per ``hue``."""
    import matplotlib.pyplot as plt

    from streamsim.workbench.plots import plot_sweep

    fig, axes = plt.subplots(1, len(ys), figsize=(7.5 * len(ys), 4.5), squeeze=False)
    for ax, y in zip(axes[0], ys, strict=True):
        plot_sweep(results, x, y, hue, ax=ax, log_y=y in log_y)
    fig.suptitle(title)
    return fig


def compare_with_run(
    local: Run, other: Run | str | Path | None, *, say: Callable[[str], None] = print
) -> Comparison | None:
    """``compare``'s table and figure for ``local`` (this machine's run) next to ``other``: a
    run folder or run id, e.g. a real AWS run from ``streamsim collect``. None without one.

    A collected AWS run's own note on its clocks (whole-second stream timestamps: which
    percentiles mean nothing) is said before the table, and its column is named by its stack.
    """
    from streamsim.workbench.runfolder import load_run
    from streamsim.workbench.runs import compare

    if other is None or other == "":
        say(
            "No other run to compare with: give notebook 02 a run folder or run id as its "
            "compare_with parameter (a real AWS run: streamsim collect)."
        )
        return None
    theirs = other if isinstance(other, Run) else load_run(other)
    if theirs.config.get("clock") == "aws":
        name = f"AWS (stack {theirs.config.get('stack', '?')})"
    else:
        name = f"{theirs.path.name} ({theirs.config.get('clock', '?')})"
    note = theirs.config.get("percentile_note")
    if note:
        say(f"{name}: {note}")
    return compare(local, theirs, names=["this machine", name])


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
