"""The notebooks' figures: labels carry units and the clock, one line per thing drawn."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from streamsim import analysis, plots
from streamsim.aws.trigger.config import EventSourceMapping
from streamsim.game.badges import DailyStreak, TotalPlays, evaluate_batch
from streamsim.workbench.analysis import latency_components, retry_timeline
from streamsim.workbench.runfolder import Run
from streamsim.workbench.traffic import Population, PopulationConfig
from streamsim.workbench.virtual import Scenario, simulate

QUEUE = "arn:aws:sqs:eu-central-1:000000000000:on-failure"
#: 52 plays, exactly one of them poison (seed 5, see notebook 03).
POISONED = Scenario(players=20, days=2, seed=5, poison_rate=0.006, rate=20.0)


@pytest.fixture(autouse=True)
def _agg() -> Iterator[None]:
    plt.switch_backend("Agg")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def run() -> Run:
    return simulate(Scenario(players=20, days=2, seed=1))


@pytest.fixture(scope="module")
def failing() -> dict[str, Run]:
    """The poisoned traffic under AWS's defaults and with 2 retries and a queue."""

    def mapping(**aws: object) -> EventSourceMapping:
        return EventSourceMapping.from_aws({"StartingPosition": "TRIM_HORIZON", **aws})

    bounded = {
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
    }
    return {
        "defaults": simulate(replace(POISONED, mapping=mapping())),
        "bounded": simulate(replace(POISONED, mapping=mapping(**bounded))),
    }


def test_clock_label_names_the_clock_of_runs_and_tables(run: Run) -> None:
    assert analysis.clock_label(run) == "virtual clock"
    assert analysis.clock_label(pd.DataFrame({"clock": ["wall"]})) == "wall clock"
    assert analysis.clock_label(pd.DataFrame({"x": [1]})) == "unknown clock"
    framed = pd.DataFrame({"x": [1]})
    framed.attrs["clock"] = "virtual"
    assert analysis.clock_label(framed) == "virtual clock"


def test_latency_cdf_draws_one_line_per_component_in_seconds_on_the_runs_clock(run: Run) -> None:
    wanted = ["stream_record_to_read", "write_to_first_invocation", "write_to_processed"]
    ax = plots.plot_latency_cdf(run, wanted)
    assert len(ax.get_lines()) == 3
    assert ax.get_xlabel() == "latency (s, virtual clock)"
    assert ax.get_ylabel() == "plays at or below (%)"
    assert ax.get_title() == "Where the time goes: latency per step"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[2].startswith("write → processed (n=")
    # Each line is a CDF: it ends at 100 %.
    assert all(line.get_ydata()[-1] == pytest.approx(100) for line in ax.get_lines())


def test_latency_cdf_on_a_log_axis_leaves_out_zero_durations(run: Run) -> None:
    # On the virtual clock the write is acknowledged instantly: no positive value to draw.
    long = latency_components(run)
    assert (long.loc[long["component"] == "write_to_ack", "seconds"] == 0).all()
    ax = plots.plot_latency_cdf(run, ["write_to_ack", "write_to_processed"], log=True)
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 1


def test_latency_cdf_rejects_an_unknown_component(run: Run) -> None:
    with pytest.raises(ValueError, match="unknown latency component"):
        plots.plot_latency_cdf(run, ["write_to_nowhere"])


def test_projection_draws_measured_and_projected_and_states_the_assumption(run: Run) -> None:
    ax = plots.plot_projection(run, 0.75)
    assert len(ax.get_lines()) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("measured here (virtual clock)")
    assert "assumed 0.75 s propagation" in labels[1]
    assert "virtual clock" in ax.get_xlabel() and "(s," in ax.get_xlabel()
    measured, projected = (np.max(line.get_xdata()) for line in ax.get_lines())
    assert projected > measured  # the in-memory stream has no delay; the assumption adds one


def test_latency_steps_add_up_to_write_to_processed(run: Run) -> None:
    steps = analysis.latency_steps(run)
    long = latency_components(run)
    total = long[long["component"] == "write_to_processed"].set_index("play_id")["seconds"]
    assert list(steps.columns) == [name for name, _, _ in analysis.STEPS]
    assert np.allclose(steps.sum(axis=1), total.loc[steps.index])


def test_latency_steps_draw_a_stacked_bar_per_run(run: Run) -> None:
    ax = plots.plot_latency_steps({"a": run, "b": run})
    assert len(ax.patches) == 2 * len(analysis.STEPS)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "a\n(virtual clock)",
        "b\n(virtual clock)",
    ]
    assert "(s," in ax.get_xlabel()


def test_retry_timeline_draws_each_retried_batch_against_time_since_its_write(
    failing: dict[str, Run],
) -> None:
    run = failing["defaults"]
    retried = retry_timeline(run.attempts)
    fig = plots.plot_retry_timeline(run)
    top, bottom = fig.axes
    assert len(top.get_lines()) == len(bottom.get_lines()) == retried["batch_id"].nunique()
    assert top.get_title().startswith(f"{len(retried)} invocations of ")
    assert top.get_ylabel() == "attempt (count)"
    assert bottom.get_ylabel() == "wait before the attempt (s)"
    # 24 hours of retries: the axis is in hours, on the virtual clock.
    assert bottom.get_xlabel() == "time since the batch's first write (h, virtual clock)"
    assert 23 < max(np.max(line.get_xdata()) for line in top.get_lines()) <= 24.1


def test_retry_timeline_without_retries_is_an_empty_titled_figure(run: Run) -> None:
    fig = plots.plot_retry_timeline(run)
    assert fig.axes[0].get_title().startswith("0 invocations")
    assert not fig.axes[0].get_lines()


def test_throughput_draws_written_and_processed_per_second(run: Run) -> None:
    ax = plots.plot_throughput(run, every=2.0)
    written, processed = ax.get_lines()
    assert [written.get_label(), processed.get_label()] == ["written", "processed"]
    assert ax.get_ylabel() == "plays per second"
    assert ax.get_xlabel() == "time since the first write (s, virtual clock)"
    assert ax.get_title() == "Throughput (2 s intervals)"
    # Rates times the interval give back every play (the last point repeats the last step).
    assert written.get_ydata()[:-1].sum() * 2.0 == pytest.approx(len(run.plays))
    assert processed.get_ydata()[:-1].sum() * 2.0 == pytest.approx(len(run.plays))


def _sweep_table() -> pd.DataFrame:
    rows = [
        {
            "batch_size": b,
            "batching_window": w,
            "p50_s": w + 0.1,
            "p95_s": w + 0.3 / b,
            "clock": "virtual",
        }
        for b in (1, 10, 100)
        for w in (0, 1, 5)
    ]
    return pd.DataFrame(rows)


def test_sweep_plot_draws_one_line_per_hue_value_with_units() -> None:
    ax = plots.plot_sweep(_sweep_table(), "batching_window", "p95_s", "batch_size")
    assert len(ax.get_lines()) == 3
    assert ax.get_xlabel() == "MaximumBatchingWindowInSeconds (s)"
    assert ax.get_ylabel() == "p95 write → processed (s, virtual clock)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "BatchSize = 1",
        "BatchSize = 10",
        "BatchSize = 100",
    ]
    assert ax.get_legend().get_title().get_text() == "BatchSize (records)"
    assert ax.get_title() == "p95 write → processed vs MaximumBatchingWindowInSeconds"
    assert list(ax.get_lines()[0].get_xdata()) == [0, 1, 5]


def test_sweep_plot_draws_one_line_per_metric_without_hue() -> None:
    table = _sweep_table().query("batch_size == 10")
    ax = plots.plot_sweep(table, "batching_window", ["p50_s", "p95_s"], log_y=True)
    assert len(ax.get_lines()) == 2
    assert ax.get_ylabel() == "write → processed (s, virtual clock)"
    assert ax.get_yscale() == "log"


def test_sweep_plot_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="no column 'p90_s'"):
        plots.plot_sweep(_sweep_table(), "batching_window", "p90_s")


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return Population.generate(PopulationConfig(players=150, days=14, seed=2)).plays_frame()


def test_badge_rate_table_counts_players_per_threshold(population: pd.DataFrame) -> None:
    rules = (*(DailyStreak(days=n) for n in (2, 4, 8, 30)), TotalPlays(count=10))
    awards = evaluate_batch(population, rules)
    players = population["player_id"].nunique()
    table = analysis.badge_rate_table(awards, rules, players)
    assert list(table["rule"]) == ["DailyStreak"] * 4 + ["TotalPlays"]
    assert list(table["threshold"]) == [2, 4, 8, 30, 10]
    streaks = table[table["rule"] == "DailyStreak"]
    assert streaks["share_of_players"].is_monotonic_decreasing
    # A 30-day streak cannot happen in 14 days: a row of zeros, not a missing row.
    assert streaks.iloc[-1][["awards", "players_awarded", "share_of_players"]].tolist() == [0, 0, 0]
    direct = awards[awards["badge_id"] == "total_plays:10"]["player_id"].nunique()
    assert table.iloc[-1]["players_awarded"] == direct
    assert table.iloc[-1]["share_of_players"] == pytest.approx(direct / players)


def test_badge_rates_plot_one_line_per_population_against_the_threshold(
    population: pd.DataFrame,
) -> None:
    rules = tuple(DailyStreak(days=n) for n in (2, 3, 5))
    table = analysis.badge_rate_table(evaluate_batch(population, rules), rules, 150)
    both = pd.concat([table.assign(population="a"), table.assign(population="b")])
    ax = plots.plot_badge_rates(both, "DailyStreak", hue="population")
    assert len(ax.get_lines()) == 2
    assert ax.get_xlabel() == plots.THRESHOLD_LABELS["DailyStreak"]
    assert ax.get_ylabel() == "players awarded (% of players)"
    assert ax.get_title() == "DailyStreak: award rate vs threshold"
    assert list(ax.get_lines()[0].get_xdata()) == [2, 3, 5]
    with pytest.raises(ValueError, match="no rows for rule 'Comeback'"):
        plots.plot_badge_rates(both, "Comeback")


def test_badge_shares_draw_a_bar_per_badge_named_by_label() -> None:
    table = pd.DataFrame(
        {
            "rule": ["FirstPlay", "DailyStreak"],
            "parameter": [None, "days"],
            "threshold": [np.nan, 10],
            "share_of_players": [1.0, 0.05],
        }
    )
    ax = plots.plot_badge_shares(table)
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["DailyStreak (days=10)", "FirstPlay"]
    assert ax.get_xlabel() == "players who earned it (% of players)"
    ax = plots.plot_badge_shares(table.assign(label=["first play", "ten days"]))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ten days", "first play"]


def test_failure_comparison_shows_the_blocked_day_and_what_the_queue_saves(
    failing: dict[str, Run],
) -> None:
    table = analysis.failure_comparison(failing, delayed_after_seconds=60)
    defaults, bounded = table.loc["defaults"], table.loc["bounded"]
    assert defaults["plays"] == bounded["plays"] == 52
    # Defaults: the poison batch holds the shard for (almost) a day, then it and the plays that
    # aged out behind it are lost.
    assert defaults["longest_retried_batch"].startswith("23:5")
    assert defaults["lost"] > 1 and defaults["sent_to_destination"] == 0
    # Two retries and a queue: nothing lost, the failing batch is queued within seconds.
    assert bounded["lost"] == 0 and bounded["sent_to_destination"] >= 1
    assert bounded["processed"] + bounded["sent_to_destination"] == 52
    assert bounded["max_delay_s"] < 60 and bounded["delayed > 60 s"] == 0
    assert set(table["clock"]) == {"virtual clock"}


def test_outcomes_and_delays_are_drawn_per_setting(failing: dict[str, Run]) -> None:
    table = analysis.failure_comparison(failing)
    ax = plots.plot_outcomes(table)
    assert len(ax.patches) == 3 * 2  # processed, queued, lost for each setting
    assert ax.get_xlabel() == "plays (count)"
    ax = plots.plot_delays(failing)
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "write → processed or queued (virtual clock)"
    assert ax.get_xlabel() == "when the play was written, since the first write (s, virtual clock)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    lost = table.loc["defaults", "lost"]
    assert labels == [
        f"defaults: {52 - lost} handled",
        f"defaults: {lost} lost",
        "bounded: 52 handled",
    ]


def test_outcome_colours_mean_something_and_every_part_is_labelled(
    failing: dict[str, Run],
) -> None:
    from matplotlib.colors import to_hex

    table = analysis.failure_comparison(failing)
    ax = plots.plot_outcomes(table)
    legend = {
        t.get_text(): to_hex(h.get_facecolor())
        for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles, strict=True)
    }
    assert legend["lost"] == plots.OUTCOME_COLOURS["lost"] == "#d62728"  # red
    assert legend["sent to the on-failure queue"] == plots.OUTCOME_COLOURS["sent_to_destination"]
    # every non-zero part carries its count as an int, however small (a queue of one play)
    wanted = sorted(str(int(v)) for c in plots.OUTCOME_LABELS for v in table[c] if v > 0)
    assert sorted(t.get_text() for t in ax.texts) == wanted


def test_lost_plays_are_drawn_in_red_on_their_own_line(failing: dict[str, Run]) -> None:
    from matplotlib.colors import to_hex

    ax = plots.plot_delays(failing)
    lost = analysis.failure_comparison(failing).loc["defaults", "lost"]
    reds = [c for c in ax.collections if to_hex(c.get_facecolor()[0]) == "#d62728"]
    assert len(reds) == 1 and len(reds[0].get_offsets()) == lost
    assert "lost" in [t.get_text() for t in ax.get_yticklabels()]


def test_time_axes_speak_seconds_minutes_hours_days(failing: dict[str, Run]) -> None:
    ax = plots.plot_delays(failing)
    import re

    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "1 s" in ticks and "lost" in ticks
    assert all(re.fullmatch(r"[0-9.]+ (ms|s|min|h|d)|lost", t) for t in ticks), ticks
    schedule = plots.plot_retry_schedule(analysis.retry_schedule(failing["defaults"]))
    waits = [t.get_text() for t in schedule.axes[0].get_yticklabels()]
    assert "1 s" in waits and "1 min" in waits
    assert all(re.fullmatch(r"[0-9.]+ (ms|s|min|h|d)", t) for t in waits), waits


def test_retry_schedule_shows_increasing_intervals(failing: dict[str, Run]) -> None:
    schedule = analysis.retry_schedule(failing["defaults"])
    waits = schedule["wait_seconds"].to_numpy()
    assert waits[2] > waits[1] > 0 and waits.max() == 300  # doubling, capped at 5 minutes
    fig = plots.plot_retry_schedule(schedule)
    left, right = fig.axes
    assert len(left.patches) == len(schedule)
    assert right.get_xscale() == "log"
    assert "1 h" in [t.get_text() for t in right.get_xticklabels()]
    assert fig._suptitle.get_text().startswith(f"Retry schedule: {len(schedule)} attempts")


def test_settings_table_shows_each_differing_setting_in_full() -> None:
    arn = "arn:aws:sqs:eu-central-1:000000000000:a-rather-long-queue-name-for-failures"
    table = analysis.settings_table(
        {
            "defaults": {},
            "queue": {
                "MaximumRetryAttempts": 2,
                "DestinationConfig": {"OnFailure": {"Destination": arn}},
            },
            "retries": {"MaximumRetryAttempts": 2},
        }
    )
    assert list(table.columns) == [
        "DestinationConfig.OnFailure.Destination",
        "MaximumRetryAttempts",
    ]
    assert table.loc["queue", "DestinationConfig.OnFailure.Destination"] == arn  # never cut
    assert table.loc["defaults", "MaximumRetryAttempts"] == "—"


def test_delay_table_counts_are_ints_and_the_worst_case_names_losses(
    failing: dict[str, Run],
) -> None:
    table = analysis.delay_table(failing)
    for column in ("plays", "processed", "lost", "invocations", "sent to the on-failure queue"):
        assert str(table[column].dtype).startswith("int"), column
    lost = table.loc["defaults", "lost"]
    assert table.loc["defaults", "worst case"] == f"{lost} play(s) lost"
    assert (
        table.loc["bounded", "worst case"] == table.loc["bounded", "longest delay (handled plays)"]
    )


def test_unearnable_badges_are_labelled_not_zero() -> None:
    from streamsim.workbench import findings

    table = pd.DataFrame(
        {
            "rule": ["DailyStreak", "Comeback"],
            "parameter": ["days", "days_away"],
            "threshold": [10, 30],
            "share_of_players": [0.05, 0.0],
        }
    )
    ax = plots.plot_badge_shares(findings.label_badges(table, 14))
    texts = [t.get_text() for t in ax.texts]
    assert "cannot be earned in a 14-day window" in texts and "5%" in texts


def test_time_units_and_durations_read_as_a_person_would() -> None:
    assert plots.time_unit(30) == (1.0, "s")
    assert plots.time_unit(600) == (60.0, "min")
    assert plots.time_unit(86_400) == (3600.0, "h")
    assert analysis.duration_text(0.314) == "0.31 s"
    assert analysis.duration_text(300) == "0:05:00"
    assert analysis.duration_text(86_412) == "1 d 0:00:12"
