"""Figures for the notebooks, so the notebooks stay thin: one call, one figure.

Every function returns the matplotlib Axes (or Figure) it drew on, so a notebook or a test can
adjust or inspect it. Axis labels carry units and name the clock the times were measured on
("wall clock" for a live run, "virtual clock" for a simulated one). Where a figure draws
numbers a reader will want to see as well, ``streamsim.workbench.analysis`` computes them as a tidy
table (``badge_rate_table``, ``failure_comparison``), and the figure draws that table: this
module draws and computes nothing a table would show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from streamsim.workbench.analysis import (
    COMPONENTS,
    _write_to_done,
    clock_label,
    latency_components,
    latency_steps,
    play_timeline,
    project_to_aws,
    retry_timeline,
)
from streamsim.workbench.runfolder import Run

#: How latency components read on an axis or in a legend.
COMPONENT_LABELS: dict[str, str] = {
    "write_to_ack": "write → ack (PutItem)",
    "write_to_stream_record": "write → stream record",
    "stream_record_to_read": "stream record → read (polling)",
    "read_to_first_invocation": "read → first invocation (batching)",
    "write_to_first_invocation": "write → first invocation",
    "write_to_processed": "write → processed",
    "write_to_achievement": "write → badge stored",
}

#: Sweep settings (streamsim.workbench.virtual.with_settings names) with their AWS name and unit.
SETTING_LABELS: dict[str, str] = {
    "batch_size": "BatchSize (records)",
    "batching_window": "MaximumBatchingWindowInSeconds (s)",
    "poll_interval": "poll interval (s)",
    "rate": "load (plays written per second)",
    "parallelization_factor": "ParallelizationFactor (batches per shard)",
    "maximum_retry_attempts": "MaximumRetryAttempts (retries)",
    "maximum_record_age": "MaximumRecordAgeInSeconds (s)",
    "failure_rate": "transient failure rate (share of records per attempt)",
    "poison_rate": "poison rate (share of plays)",
    "propagation_seconds": "assumed stream propagation delay (s)",
    "handler_per_record_seconds": "handler time per record (s)",
    "shards": "shards",
}

#: Sweep metrics (columns of streamsim.workbench.sweep.sweep) with units; {clock} is filled in.
METRIC_LABELS: dict[str, str] = {
    "p50_s": "p50 write → processed (s, {clock})",
    "p95_s": "p95 write → processed (s, {clock})",
    "p99_s": "p99 write → processed (s, {clock})",
    "max_s": "max write → processed (s, {clock})",
    "invocations": "invocations (count)",
    "retries": "retries (count)",
    "mean_batch": "mean batch size (records)",
    "processed": "plays processed (count)",
    "sent_to_destination": "plays sent to the on-failure destination (count)",
    "lost": "plays lost (count)",
}

#: What a rule's threshold means, for the x axis of a badge-rate figure.
THRESHOLD_LABELS: dict[str, str] = {
    "DailyStreak": "streak length N (consecutive local days with a play)",
    "TotalPlays": "total plays N (plays, any game)",
    "Comeback": "days away N (local days without any play)",
    "PersonalBest": "earlier plays of the game required (plays)",
}


def plot_latency_cdf(
    run: Run,
    components: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    log: bool = False,
    title: str | None = None,
) -> Axes:
    """Cumulative distribution of each latency component (one line each), in seconds.

    ``components`` defaults to every component the run measured, in pipeline order. With
    ``log`` the x axis is logarithmic and zero durations (a virtual clock's instant steps) are
    left out.
    """
    long = latency_components(run)
    order = [name for name, _, _ in COMPONENTS]
    wanted = list(components) if components is not None else order
    unknown = sorted(set(wanted) - set(order))
    if unknown:
        raise ValueError(f"unknown latency component(s) {unknown}; known: {', '.join(order)}")
    series = {
        COMPONENT_LABELS[name]: long.loc[long["component"] == name, "seconds"] for name in wanted
    }
    ax = plot_cdf(
        {k: v for k, v in series.items() if len(v)},
        xlabel=f"latency (s, {clock_label(run)})",
        ax=ax,
        log=log,
    )
    ax.set_title(title or "Where the time goes: latency per step")
    return ax


def plot_cdf(
    samples: Mapping[str, Iterable[float]],
    *,
    xlabel: str,
    ax: Axes | None = None,
    log: bool = False,
) -> Axes:
    """One empirical CDF line per named sample; the y axis is the share of plays (%)."""
    ax = ax or _axes()
    for label, values in samples.items():
        x = np.sort(np.asarray(pd.Series(values, dtype=float).dropna(), dtype=float))
        if log:
            x = x[x > 0]
        if not len(x):
            continue
        y = np.arange(1, len(x) + 1) / len(x) * 100
        ax.step(x, y, where="post", label=f"{label} (n={len(x)})")
    if log:
        ax.set_xscale("log")
        human_time_axis(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("plays at or below (%)")
    ax.set_ylim(0, 101)
    ax.grid(True, alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_projection(
    run: Run, propagation_seconds: float, *, ax: Axes | None = None, log: bool = False
) -> Axes:
    """write → processed as measured locally, and projected to AWS with an assumed stream
    propagation delay (the local server's delay is replaced by ``propagation_seconds``)."""
    long = latency_components(run)
    measured = long.loc[long["component"] == "write_to_processed", "seconds"]
    projected = project_to_aws(run, propagation_seconds)["projected_write_to_processed"]
    ax = plot_cdf(
        {
            f"measured here ({clock_label(run)})": measured,
            f"projected to AWS (assumed {propagation_seconds:g} s propagation)": projected,
        },
        xlabel=f"write → processed (s, {clock_label(run)}; projection adds an assumption)",
        ax=ax,
        log=log,
    )
    ax.set_title("write → processed: measured locally vs projected to AWS")
    return ax


#: Consecutive steps of a play's trip (they add up to write → processed): name, start, end.
def plot_latency_steps(runs: Mapping[str, Run], *, ax: Axes | None = None) -> Axes:
    """Median time per step, stacked, one bar per named run: where a typical play's time goes."""
    medians = pd.DataFrame({name: latency_steps(run).median() for name, run in runs.items()}).T
    ax = ax or _axes(figsize=(9, 0.7 * max(len(medians), 2) + 1.6))
    left = np.zeros(len(medians))
    labels = [f"{name}\n({clock_label(runs[name])})" for name in medians.index]
    for step in medians.columns:
        values = medians[step].fillna(0).to_numpy(dtype=float)
        ax.barh(labels, values, left=left, label=step)
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("median time per step (s, on each run's clock)")
    ax.set_title("Where a typical play's time goes")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_retry_timeline(run: Run, *, max_batches: int = 8, fig: Figure | None = None) -> Figure:
    """Retried batches: attempt number (top) and the wait before each attempt (bottom) against
    the time since the batch's first record was written; one line per batch."""
    attempts = retry_timeline(run.attempts)
    written = _written_at_by_sequence(run)
    fig = fig or plt.figure(figsize=(9, 5.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    clock = clock_label(run.attempts if len(run.attempts) else run)
    batches = list(dict.fromkeys(attempts["batch_id"]))[:max_batches]
    spans = []
    for batch_id in batches:
        rows = attempts[attempts["batch_id"] == batch_id]
        first = run.attempts.loc[run.attempts["batch_id"] == batch_id, "first_sequence_number"]
        start = written.get(str(first.iloc[0]), float(rows["invoked_at"].min()))
        spans.append((batch_id, rows, rows["invoked_at"].to_numpy(dtype=float) - start))
    largest = max((float(s.max()) for _, _, s in spans), default=0.0)
    scale, unit = time_unit(largest)
    for batch_id, rows, since in spans:
        size = int(rows["records"].iloc[0])
        label = f"batch {batch_id} ({size} record{'s' if size != 1 else ''})"
        top.step(since / scale, rows["attempt"], where="post", marker="o", ms=3, label=label)
        bottom.plot(since / scale, rows["backoff_seconds"], marker="o", ms=3, label=label)
    total = int(len(attempts))
    top.set_title(
        f"{total} invocations of {attempts['batch_id'].nunique()} retried batch(es)"
        + (
            f" (first {len(batches)} drawn)"
            if attempts["batch_id"].nunique() > len(batches)
            else ""
        )
    )
    top.set_ylabel("attempt (count)")
    bottom.set_ylabel("wait before the attempt (s)")
    bottom.set_xlabel(f"time since the batch's first write ({unit}, {clock})")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    if batches:
        top.legend(fontsize="small")
    return fig


def plot_throughput(run: Run, every: float = 1.0, *, ax: Axes | None = None) -> Axes:
    """Plays written and plays processed per second, in intervals of ``every`` seconds counted
    from the first write (two lines)."""
    ax = ax or _axes()
    clock = clock_label(run)
    written = run.plays["written_at"].to_numpy(dtype=float)
    done = run.dispositions.loc[run.dispositions["disposition"] == "processed", "at"]
    unit = "s"
    if len(written):
        first = float(written.min())
        since = {"written": written - first, "processed": done.to_numpy(dtype=float) - first}
        end = max(float(v.max()) for v in since.values() if len(v))
        edges = np.arange(0.0, end + every, every)
        if len(edges) < 2:
            edges = np.array([0.0, every])
        scale, unit = time_unit(end)
        for label, values in since.items():
            counts, _ = np.histogram(values, bins=edges)
            rates = np.append(counts, counts[-1]) / every
            ax.step(edges / scale, rates, where="post", label=label)
        ax.legend(fontsize="small")
    ax.set_xlabel(f"time since the first write ({unit}, {clock})")
    ax.set_ylabel("plays per second")
    ax.set_title(f"Throughput ({every:g} s intervals)")
    ax.grid(True, alpha=0.3)
    return ax


def plot_sweep(
    frame: pd.DataFrame,
    x: str,
    y: str | Sequence[str],
    hue: str | None = None,
    *,
    ax: Axes | None = None,
    log_x: bool = False,
    log_y: bool = False,
    title: str | None = None,
) -> Axes:
    """Metric(s) ``y`` against a setting ``x`` from a sweep table (streamsim.workbench.sweep.sweep).

    One line per ``hue`` value, or, with several metrics and no ``hue``, one line per metric.
    """
    metrics = [y] if isinstance(y, str) else list(y)
    if hue and len(metrics) > 1:
        raise ValueError("plot one metric per hue; got several metrics and a hue")
    for column in (x, *metrics, *([hue] if hue else [])):
        if column not in frame.columns:
            raise ValueError(f"the sweep table has no column {column!r}")
    ax = ax or _axes()
    clock = clock_label(frame)
    if hue:
        for value, part in frame.groupby(hue, sort=True):
            value = value[0] if isinstance(value, tuple) else value
            part = part.sort_values(x)
            label = f"{_short(hue)} = {value:g}" if _is_number(value) else str(value)
            ax.plot(part[x], part[metrics[0]], marker="o", label=label)
        ax.legend(title=SETTING_LABELS.get(hue, hue), fontsize="small")
    else:
        ordered = frame.sort_values(x)
        for metric in metrics:
            ax.plot(ordered[x], ordered[metric], marker="o", label=_short(metric))
        if len(metrics) > 1:
            ax.legend(fontsize="small")
    if len(metrics) == 1:
        ylabel = METRIC_LABELS.get(metrics[0], metrics[0]).format(clock=clock)
    elif all(m in _LATENCY_METRICS for m in metrics):
        ylabel = f"write → processed (s, {clock})"
    else:
        ylabel = ", ".join(_short(m) for m in metrics)
    ax.set_xlabel(SETTING_LABELS.get(x, x))
    ax.set_ylabel(ylabel)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    what = _short(metrics[0]) if len(metrics) == 1 else "latency percentiles"
    ax.set_title(title or f"{what} vs {_short(x)}")
    ax.grid(True, alpha=0.3)
    return ax


_LATENCY_METRICS = ("p50_s", "p95_s", "p99_s", "max_s")


def plot_badge_rates(
    table: pd.DataFrame, rule: str, *, hue: str | None = None, ax: Axes | None = None
) -> Axes:
    """Share of players awarded (%) against one rule's threshold; one line per ``hue`` value
    (for example one per synthetic population)."""
    part = table[table["rule"] == rule]
    if part.empty:
        raise ValueError(
            f"no rows for rule {rule!r}; rules in the table: {sorted(set(table['rule']))}"
        )
    ax = ax or _axes()
    groups = part.groupby(hue, sort=False) if hue else [(None, part)]
    for value, rows in groups:
        value = value[0] if isinstance(value, tuple) else value
        rows = rows.sort_values("threshold")
        ax.plot(rows["threshold"], rows["share_of_players"] * 100, marker="o", label=str(value))
    ax.set_xlabel(THRESHOLD_LABELS.get(rule, "threshold"))
    ax.set_ylabel("players awarded (% of players)")
    ax.set_title(f"{rule}: award rate vs threshold")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if hue:
        ax.legend(title=hue, fontsize="small")
    return ax


def plot_badge_shares(
    table: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Share of players who earned each badge (horizontal bars, %), from ``badge_rate_table``;
    a ``label`` column, if present, names the bars (plain words for a report). Rows with
    ``earnable`` False (``findings.label_badges``) are drawn as hatched, empty bars saying
    why, never as 0%."""
    table = table.sort_values("share_of_players")
    ax = ax or _axes(figsize=(9, 0.45 * max(len(table), 2) + 1.2))
    labels = [
        str(row.label)
        if "label" in table.columns
        else f"{row.rule} ({row.parameter}={row.threshold:g})"
        if isinstance(row.parameter, str)
        else str(row.rule)
        for row in table.itertuples()
    ]
    earnable = table["earnable"] if "earnable" in table else pd.Series(True, index=table.index)
    shares = table["share_of_players"] * 100
    bars = ax.barh(labels, shares.where(earnable, 0), color="#4c72b0")
    texts = [
        (str(row.share) if "share" in table.columns else f"{row.share_of_players:.0%}")
        for row in table.itertuples()
    ]
    ax.bar_label(bars, labels=texts, padding=3, fontsize="small")
    ax.set_xlabel("players who earned it (% of players)")
    ax.set_xlim(0, 130)
    ax.set_xticks(range(0, 101, 20))
    ax.set_title(title or "Who earns which badge")
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_outcomes(table: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """Where the plays ended, per setting: processed (green), sent to the on-failure queue
    (amber), lost (red), stacked bars from ``failure_comparison``; every non-zero part is labelled
    with its count, so a queue of one play is as visible as a thousand processed."""
    ax = ax or _axes(figsize=(9, 0.5 * max(len(table), 2) + 1.6))
    left = np.zeros(len(table))
    labels = [str(name) for name in table.index]
    total = float(table[list(OUTCOME_LABELS)].sum(axis=1).max() or 1)
    for column, label in OUTCOME_LABELS.items():
        values = table[column].to_numpy(dtype=float)
        bars = ax.barh(labels, values, left=left, label=label, color=OUTCOME_COLOURS[column])
        for bar, value, start in zip(bars, values, left, strict=True):
            if value <= 0:
                continue
            wide = value / total > 0.12
            ax.annotate(
                f"{int(value)}",
                (start + (value / 2 if wide else value), bar.get_y() + bar.get_height() / 2),
                xytext=(0 if wide else 3, 0 if wide else 6 * (list(OUTCOME_LABELS).index(column))),
                textcoords="offset points",
                ha="center" if wide else "left",
                va="center",
                fontsize="small",
                color="white" if wide else OUTCOME_COLOURS[column],
                fontweight="bold",
            )
        left += values
    ax.invert_yaxis()
    ax.set_xlim(0, total * 1.15)
    ax.set_xlabel("plays (count)")
    clock = " / ".join(sorted(set(table["clock"]))) if "clock" in table else ""
    ax.set_title(title or f"Where the plays ended, per setting ({clock})")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_delays(
    runs: Mapping[str, Run], *, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Each play's write → done delay against when it was written, one marker series per run
    (semi-transparent, so crowded points show as darker); lost plays are drawn in red on a
    'lost' line above the rest, so the worst case is never left out. The delay axis is
    logarithmic with human ticks (1 s, 1 min, 1 h, 1 d)."""
    ax = ax or _axes(figsize=(9, 4.5))
    clocks = set()
    series = []
    for name, run in runs.items():
        timeline = play_timeline(run)
        done = _write_to_done(run, timeline)
        written = timeline["written_at"].astype(float) - float(timeline["written_at"].min())
        lost = written.drop(index=done.index)
        series.append((name, written.loc[done.index], done, lost))
        clocks.add(clock_label(run))
    largest_x = max((float(w.max()) for _, w, _, _ in series if len(w)), default=0.0)
    largest_y = max((float(d.max()) for _, _, d, _ in series if len(d)), default=1.0)
    lost_level = max(largest_y, 1.0) * 4
    scale, unit = time_unit(largest_x)
    markers = ("o", "s", "^", "D")
    for i, (name, written, done, lost) in enumerate(series):
        ax.scatter(
            written / scale,
            done.clip(lower=1e-3),
            s=10,
            alpha=0.45,
            marker=markers[i % len(markers)],
            label=f"{name}: {len(done)} handled",
            linewidths=0,
        )
        if len(lost):
            ax.scatter(
                lost / scale,
                np.full(len(lost), lost_level),
                s=30,
                marker="x",
                color=OUTCOME_COLOURS["lost"],
                label=f"{name}: {len(lost)} lost",
            )
    clock = " / ".join(sorted(clocks))
    ax.set_yscale("log")
    human_time_axis(ax, "y", extra={lost_level: "lost"})
    ax.set_xlabel(f"when the play was written, since the first write ({unit}, {clock})")
    ax.set_ylabel(f"write → processed or queued ({clock})")
    ax.set_title(title or "How long each play waited, per setting")
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


#: Where a play ended, in words and in colour (lost is red, everywhere).
OUTCOME_LABELS = {
    "processed": "processed",
    "sent_to_destination": "sent to the on-failure queue",
    "lost": "lost",
}
OUTCOME_COLOURS = {
    "processed": "#5b9a68",
    "sent_to_destination": "#e3a21a",
    "lost": "#d62728",
    "filtered": "#9e9e9e",
}

#: Ticks for a logarithmic time axis: seconds, minutes, hours, days.
HUMAN_TICKS: tuple[tuple[float, str], ...] = (
    (0.001, "1 ms"),
    (0.01, "10 ms"),
    (0.1, "0.1 s"),
    (1.0, "1 s"),
    (10.0, "10 s"),
    (60.0, "1 min"),
    (600.0, "10 min"),
    (3600.0, "1 h"),
    (6 * 3600.0, "6 h"),
    (86_400.0, "1 d"),
    (7 * 86_400.0, "7 d"),
)


def human_time_axis(ax: Axes, axis: str = "x", extra: Mapping[float, str] | None = None) -> None:
    """Label a logarithmic seconds axis in human units (1 s, 1 min, 1 h, 1 d), not 10⁻¹..10⁵;
    ``extra`` adds named ticks (e.g. the 'lost' line)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    ticks = {v: t for v, t in HUMAN_TICKS if low / 1.01 <= v <= high * 1.01}
    if len(ticks) < 2:  # a narrow range: its ends, in words
        ticks = {low: _seconds_text(low), high: _seconds_text(high)}
    for value in extra or {}:  # a named tick stands alone
        ticks = {v: t for v, t in ticks.items() if not value / 3 < v < value * 3}
    ticks.update(extra or {})
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(FixedLocator(sorted(ticks)))
    target.set_major_formatter(lambda v, _pos: ticks.get(v, _seconds_text(v)))
    target.set_minor_locator(NullLocator())


def _seconds_text(seconds: float) -> str:
    for size, unit in ((86_400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s")):
        if seconds >= size:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds * 1000:.2g} ms"


def plot_retry_schedule(schedule: pd.DataFrame, *, title: str | None = None) -> Figure:
    """The retry schedule so its increasing intervals show: left, the wait before each attempt
    against the attempt number; right, each attempt against the time since the first one, on
    a logarithmic time axis (a day of retries and its first seconds both readable).

    ``schedule`` has ``attempt``, ``since_first_seconds`` and ``wait_seconds`` (see
    ``analysis.retry_schedule``)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.bar(schedule["attempt"], schedule["wait_seconds"].clip(lower=1e-3), color="#4c72b0")
    left.set_yscale("log")
    human_time_axis(left, "y")
    left.set_xlabel("attempt (count)")
    left.set_ylabel("wait before the attempt")
    left.set_title("Wait before each attempt")
    since = schedule["since_first_seconds"].clip(lower=0.1)
    right.step(since, schedule["attempt"], where="post", marker="o", ms=3, color="#4c72b0")
    right.set_xscale("log")
    human_time_axis(right, "x")
    right.set_xlabel("time since the first attempt (log scale)")
    right.set_ylabel("attempt (count)")
    right.set_title("Attempts over time")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    clock = clock_label(schedule)
    fig.suptitle(
        title or f"Retry schedule: {len(schedule)} attempts of one failing batch ({clock})"
    )
    fig.tight_layout()
    return fig


def time_unit(seconds: float) -> tuple[float, str]:
    """A readable unit for a span: (seconds per unit, unit name) — s, min or h."""
    if seconds >= 2 * 3600:
        return 3600.0, "h"
    if seconds >= 2 * 60:
        return 60.0, "min"
    return 1.0, "s"


# ---- helpers ---------------------------------------------------------------------------------


def _axes(figsize: tuple[float, float] = (8, 4)) -> Axes:
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _written_at_by_sequence(run: Run) -> dict[str, float]:
    """When each stream record's play was written (records without a play: its stream time)."""
    out = dict(
        zip(run.records["sequence_number"].astype(str), run.records["created_at"], strict=True)
    )
    if len(run.plays):
        timeline = play_timeline(run).dropna(subset=["sequence_number"])
        out.update(
            zip(timeline["sequence_number"].astype(str), timeline["written_at"], strict=True)
        )
    return out


def _short(name: str | None) -> str:
    return (SETTING_LABELS.get(name or "") or METRIC_LABELS.get(name or "") or str(name)).split(
        " ("
    )[0]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
