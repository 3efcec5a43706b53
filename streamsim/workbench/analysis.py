"""Analysis of a run: latency components, iterator age, throughput, retries, badges, accounting.

Every time is epoch seconds on one clock: a live run stamps writer, stream reader, trigger and
handler with this machine's wall clock (``time.time``), so differences are meaningful; a
virtual run says so in its ``clock`` columns. What carries over to AWS: polling, batching,
handler and retry behaviour. What does not: the stream's propagation delay (write → record
visible), which is the local server's and for which AWS publishes no figure; project it with
an explicit assumption (``project_to_aws``), never with the local number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from streamsim.workbench.runfolder import Run

if TYPE_CHECKING:
    from streamsim.game.badges import BadgeRule

PERCENTILES = (50, 95, 99)

#: Latency components: (name, start column, end column), all on the run's clock.
COMPONENTS: tuple[tuple[str, str, str], ...] = (
    ("write_to_ack", "written_at", "acked_at"),
    ("write_to_stream_record", "written_at", "created_at"),
    ("stream_record_to_read", "created_at", "read_at"),
    ("read_to_first_invocation", "read_at", "first_invoked_at"),
    ("write_to_first_invocation", "written_at", "first_invoked_at"),
    ("write_to_processed", "written_at", "processed_at"),
    ("write_to_achievement", "written_at", "awarded_at"),
)


def record_key(player_id: pd.Series, play_key: pd.Series) -> pd.Series:
    """The stream record's ``Keys`` JSON (as captured) for plays: joins plays to records."""
    return '{"play_key":{"S":"' + play_key + '"},"player_id":{"S":"' + player_id + '"}}'


def play_timeline(run: Run) -> pd.DataFrame:
    """One row per written play with every timestamp the run knows about it."""
    plays = run.plays.copy()
    plays["keys"] = record_key(plays["player_id"].astype(str), plays["play_key"].astype(str))
    records = run.records[run.records["event_name"] == "INSERT"]
    records = records.drop_duplicates("keys", keep="first")[
        ["keys", "sequence_number", "created_at", "read_at"]
    ]
    out = plays.merge(records, on="keys", how="left")
    disp = run.dispositions[["sequence_number", "disposition", "at", "condition"]].copy()
    if "first_invoked_at" in run.dispositions:
        disp["first_invoked_at"] = run.dispositions["first_invoked_at"]
    else:
        disp["first_invoked_at"] = np.nan
    disp = disp.drop_duplicates("sequence_number", keep="first")
    out = out.merge(disp, on="sequence_number", how="left")
    out["processed_at"] = out["at"].where(out["disposition"] == "processed")
    out = out.drop(columns=["at"])
    awards = run.achievements.groupby("play_id", as_index=False)["awarded_at"].min()
    out = out.merge(awards, on="play_id", how="left")
    return out


def latency_components(run: Run) -> pd.DataFrame:
    """Long table: play_id, component, seconds (one row per play and measurable component)."""
    timeline = play_timeline(run)
    frames = []
    for name, start, end in COMPONENTS:
        seconds = pd.to_numeric(timeline[end], errors="coerce") - pd.to_numeric(
            timeline[start], errors="coerce"
        )
        frames.append(
            pd.DataFrame({"play_id": timeline["play_id"], "component": name, "seconds": seconds})
        )
    long = pd.concat(frames, ignore_index=True)
    return long.dropna(subset=["seconds"])


def latency_percentiles(run: Run, percentiles: Sequence[int] = PERCENTILES) -> pd.DataFrame:
    """p50/p95/p99 (seconds) per latency component, in component order."""
    long = latency_components(run)
    order = [c for c, _, _ in COMPONENTS]
    table = long.groupby("component")["seconds"].quantile([p / 100 for p in percentiles]).unstack()
    table.columns = [f"p{p}" for p in percentiles]
    table["count"] = long.groupby("component").size()
    return table.reindex([c for c in order if c in table.index])


def iterator_age(run: Run) -> pd.DataFrame:
    """Per invocation: invoked_at minus the stream time of the batch's last record (Lambda's
    IteratorAge metric)."""
    created = run.records.drop_duplicates("sequence_number")[["sequence_number", "created_at"]]
    attempts = run.attempts.merge(
        created, left_on="last_sequence_number", right_on="sequence_number", how="left"
    )
    return pd.DataFrame(
        {
            "invoked_at": attempts["invoked_at"],
            "iterator_age_seconds": attempts["invoked_at"] - attempts["created_at"],
        }
    )


def throughput(run: Run, every: str = "1s") -> pd.DataFrame:
    """Plays written and records processed per interval (counts), indexed by wall time."""
    written = pd.to_datetime(run.plays["written_at"], unit="s", utc=True)
    processed = run.dispositions.loc[run.dispositions["disposition"] == "processed", "at"]
    done = pd.to_datetime(processed, unit="s", utc=True)
    frame = pd.DataFrame(
        {
            "written": pd.Series(1, index=written).resample(every).sum(),
            "processed": pd.Series(1, index=done).resample(every).sum(),
        }
    )
    return frame.fillna(0).astype(int)


def retry_timeline(attempts: pd.DataFrame) -> pd.DataFrame:
    """Every invocation of every batch that needed more than one, with its wait and outcome."""
    retried = attempts.groupby("batch_id")["attempt"].transform("max") > 1
    columns = [
        "batch_id",
        "attempt",
        "retry",
        "backoff_seconds",
        "invoked_at",
        "outcome",
        "error_type",
        "records",
    ]
    return attempts.loc[retried, [c for c in columns if c in attempts]].sort_values(
        ["batch_id", "attempt"]
    )


def badge_rates(run: Run) -> pd.DataFrame:
    """Badges awarded by rule: awards, players awarded, share of players."""
    players = run.plays["player_id"].nunique()
    awards = run.achievements
    table = awards.groupby("rule").agg(
        awards=("badge_id", "size"), players=("player_id", "nunique")
    )
    table["share_of_players"] = table["players"] / max(players, 1)
    return table.sort_values("awards", ascending=False)


def accounting(run: Run) -> dict[str, Any]:
    """Every written play (and every stream record) is processed, filtered or at the on-failure
    destination; no badge is awarded twice; achievements equal the batch evaluator's on the
    processed plays, judged by witnesses that do not take the trigger's word (the handler's
    boundary, the queue read back, the stream read back): streamsim.workbench.faults.accounting.

    Plays the writer failed to write are not written: counted apart, with their reasons.
    """
    from streamsim.workbench.faults.accounting import account

    return account(run, play_timeline)


def project_to_aws(run: Run, propagation_seconds: float) -> pd.DataFrame:
    """write → processed projected to AWS: the local stream delay is replaced by an assumed
    ``propagation_seconds`` (AWS publishes no figure: state the assumption next to the result)."""
    timeline = play_timeline(run)
    local_after_record = timeline["processed_at"] - timeline["created_at"]
    projected = propagation_seconds + local_after_record
    return pd.DataFrame(
        {
            "play_id": timeline["play_id"],
            "projected_write_to_processed": projected,
            "assumed_propagation_seconds": propagation_seconds,
        }
    ).dropna()


def summarize(run_tables: Run) -> dict[str, Any]:
    """The headline figures for summary.json and the closing table."""
    attempts = run_tables.attempts
    pct = latency_percentiles(run_tables)
    return {
        "plays_written": int(len(run_tables.plays)),
        "stream_records": int(len(run_tables.records)),
        "invocations": int(len(attempts)),
        "retries": int((attempts["retry"] > 0).sum()) if len(attempts) else 0,
        "failed_invocations": int((attempts["outcome"] != "success").sum()) if len(attempts) else 0,
        "latency_seconds": json.loads(pct.drop(columns=["count"]).round(4).to_json(orient="index")),
        "badges_by_rule": {
            str(k): int(v) for k, v in run_tables.achievements.groupby("rule").size().items()
        },
        "accounting": accounting(run_tables),
    }


_PLAY_COLUMNS = ("player_id", "play_id", "game", "played_at", "tz", "score")


# ---- tables the figures draw (streamsim.workbench.plots) --------------------------------


STEPS: tuple[tuple[str, str, str], ...] = (
    ("write → stream record", "written_at", "created_at"),
    ("stream record → read (polling)", "created_at", "read_at"),
    ("read → invocation (batching, queueing)", "read_at", "first_invoked_at"),
    ("invocation → processed (handler, retries)", "first_invoked_at", "processed_at"),
)


def latency_steps(run: Run) -> pd.DataFrame:
    """One row per processed play, one column per consecutive step (seconds, run's clock)."""
    timeline = play_timeline(run)
    timeline = timeline[timeline["disposition"] == "processed"]
    steps = {
        name: pd.to_numeric(timeline[end], errors="coerce")
        - pd.to_numeric(timeline[start], errors="coerce")
        for name, start, end in STEPS
    }
    return pd.DataFrame({"play_id": timeline["play_id"], **steps}).set_index("play_id")


def badge_rate_table(
    awards: pd.DataFrame, rules: Iterable[BadgeRule], players: int
) -> pd.DataFrame:
    """Per rule (one row per rule instance): its threshold, awards, players awarded and the
    share of ``players`` awarded; rules that awarded nothing are rows with zeros."""
    rows = []
    counts = awards.groupby(["rule", "params"]).agg(
        awards=("badge_id", "size"), players_awarded=("player_id", "nunique")
    )
    for rule in rules:
        params = rule.params()
        key = (rule.name, rule.params_json())
        found = counts.loc[key] if key in counts.index else None
        awarded = int(found["players_awarded"]) if found is not None else 0
        rows.append(
            {
                "rule": rule.name,
                "parameter": next(iter(params), None),
                "threshold": next(iter(params.values()), np.nan),
                "awards": int(found["awards"]) if found is not None else 0,
                "players_awarded": awarded,
                "share_of_players": awarded / max(players, 1),
            }
        )
    return pd.DataFrame(rows)


def failure_comparison(
    runs: Mapping[str, Run], delayed_after_seconds: float = 60.0
) -> pd.DataFrame:
    """One row per named run: how its failure settings treated the plays.

    A play is *done* when it was processed or handed to the on-failure destination, and
    *delayed* when that took longer than ``delayed_after_seconds``. *Lost* counts plays
    discarded without a destination or never read (trimmed from the stream at 24 h).
    *Longest retried batch* is the longest span from a batch's first to its last invocation:
    how long it held its shard.
    """
    rows = []
    for name, run in runs.items():
        done = _write_to_done(run)
        acc = accounting(run)
        attempts = run.attempts
        held = 0.0
        if len(attempts):
            spans = attempts.groupby("batch_id").agg(
                start=("invoked_at", "min"), end=("completed_at", "max")
            )
            held = float((spans["end"] - spans["start"]).max())
        longest = float(done.max()) if len(done) else 0.0
        rows.append(
            {
                "settings": name,
                "plays": acc["plays_written"],
                "processed": acc["processed"],
                "sent_to_destination": acc["sent_to_destination"],
                "lost": acc["lost"],
                f"delayed > {delayed_after_seconds:g} s": int((done > delayed_after_seconds).sum()),
                "max_delay_s": longest,
                "max_delay": duration_text(longest),
                "longest_retried_batch": duration_text(held),
                "invocations": int(len(attempts)),
                "clock": clock_label(run),
            }
        )
    return pd.DataFrame(rows).set_index("settings")


def clock_label(source: Run | pd.DataFrame | str | None) -> str:
    """'wall clock', 'virtual clock' or 'AWS clocks' (a collected run): the clock a run (or a
    captured table) was stamped on."""
    kind: Any = source
    if isinstance(source, Run):
        kind = source.config.get("clock")
    elif isinstance(source, pd.DataFrame):
        kind = source.attrs.get("clock")
        if kind is None and "clock" in source.columns and len(source):
            kind = source["clock"].iloc[0]
    if kind in ("wall", "wall clock"):
        return "wall clock"
    if kind in ("virtual", "virtual clock"):
        return "virtual clock"
    if kind == "aws":  # a collected AWS run: config.json["clocks"] names each column's clock
        return "AWS clocks"
    return "unknown clock"


def duration_text(seconds: float) -> str:
    """A delay as a person reads it: '0.31 s', '0:05:00', '1 d 0:00:12'."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    text = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days} d {text}" if days else text


def _write_to_done(run: Run, timeline: pd.DataFrame | None = None) -> pd.Series:
    """Seconds from write to processed or to the on-failure destination, per done play."""
    timeline = play_timeline(run) if timeline is None else timeline
    finished = run.dispositions[run.dispositions["disposition"].isin(["processed", "destination"])]
    at = finished.drop_duplicates("sequence_number").set_index("sequence_number")["at"]
    done_at = timeline["sequence_number"].map(at)
    return (done_at - timeline["written_at"]).dropna().astype(float)


# ---- tables for the workbench (issue 12): schedules, settings, delays with the lost included ----


def retry_schedule(run: Run) -> pd.DataFrame:
    """The longest-retried batch's attempts: attempt, seconds since its first attempt, the wait
    before each attempt (seconds, the run's clock). Empty when nothing was retried."""
    attempts = run.attempts
    if attempts.empty:
        return pd.DataFrame(columns=["attempt", "since_first_seconds", "wait_seconds"])
    counts = attempts.groupby("batch_id")["attempt"].max()
    batch = attempts[attempts["batch_id"] == counts.idxmax()].sort_values("attempt")
    out = pd.DataFrame(
        {
            "attempt": batch["attempt"].astype(int).to_numpy(),
            "since_first_seconds": (batch["invoked_at"] - batch["invoked_at"].min()).to_numpy(),
            "wait_seconds": batch["backoff_seconds"].astype(float).to_numpy(),
        }
    )
    out.attrs["clock"] = clock_label(run)
    return out


def settings_table(settings: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per named setting set, one column per setting that differs between them (AWS
    names, values in full: never a JSON string cut mid-word); '—' where AWS's default applies."""
    flat = {name: _flatten(values) for name, values in settings.items()}
    columns = sorted({k for values in flat.values() for k in values})
    differ = [c for c in columns if len({repr(v.get(c)) for v in flat.values()}) > 1]
    return pd.DataFrame(
        [{c: flat[name].get(c, "—") for c in differ} for name in flat],
        index=pd.Index(list(flat), name="settings"),
    )


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = ", ".join(map(str, value))
        else:
            out[name] = value
    return out


def delay_table(runs: Mapping[str, Run], delayed_after_seconds: float = 60.0) -> pd.DataFrame:
    """Per named run, what a reader needs about delays, lost plays included: counts as ints,
    delays in words; the *worst case* column says 'lost' when a play was lost, so a harmless
    longest delay never hides a loss."""
    base = failure_comparison(runs, delayed_after_seconds)
    out = pd.DataFrame(index=base.index)
    out["plays"] = base["plays"].astype(int)
    out["processed"] = base["processed"].astype(int)
    out["sent to the on-failure queue"] = base["sent_to_destination"].astype(int)
    out["lost"] = base["lost"].astype(int)
    delayed = f"delayed > {delayed_after_seconds:g} s"
    out[f"delayed more than {_words(delayed_after_seconds)}"] = base[delayed].astype(int)
    out["longest delay (handled plays)"] = base["max_delay"]
    out["worst case"] = [
        f"{lost} play(s) lost" if lost else delay
        for lost, delay in zip(base["lost"], base["max_delay"], strict=True)
    ]
    out["longest retried batch"] = base["longest_retried_batch"]
    out["invocations"] = base["invocations"].astype(int)
    return out


def _words(seconds: float) -> str:
    """'1 minute', '30 seconds', '2 hours' (findings.duration_words, without importing it)."""
    for size, unit in ((86_400.0, "day"), (3600.0, "hour"), (60.0, "minute"), (1.0, "second")):
        if seconds >= size or unit == "second":
            value = seconds / size
            return f"{value:g} {unit}{'' if value == 1 else 's'}"
    raise AssertionError("unreachable")  # pragma: no cover


def badge_check(run: Run) -> pd.DataFrame:
    """The run's stored badges against ``evaluate_batch`` on the plays it processed, with the
    rules it used: one row per badge, ``awarded by`` 'both', 'live handler only' or 'batch
    evaluator only'."""
    from streamsim.game.badges import evaluate_batch, rule_from_spec

    used = tuple(rule_from_spec(spec["rule"], spec["params"]) for spec in run.config["rules"])
    timeline = play_timeline(run)
    processed = timeline.loc[timeline["disposition"] == "processed", list(_PLAY_COLUMNS)]
    expected = evaluate_batch(processed, used)
    keys = ["player_id", "badge_id", "play_id", "rule"]
    where = {"both": "both", "left_only": "live handler only", "right_only": "batch evaluator only"}
    compared = run.achievements[keys].merge(
        expected[keys], on=keys, how="outer", indicator="awarded by"
    )
    compared["awarded by"] = compared["awarded by"].map(where).astype(str)
    compared.attrs["processed"] = len(processed)
    return compared


def walkthrough_schedule(retries: pd.DataFrame) -> pd.DataFrame:
    """The walkthrough's retry timeline (``hours_after_write``, ``waited_seconds``) as a retry
    schedule for ``plots.plot_retry_schedule``."""
    hours = retries["hours_after_write"].astype(float)
    out = pd.DataFrame(
        {
            "attempt": np.arange(1, len(retries) + 1),
            "since_first_seconds": ((hours - hours.min()) * 3600).to_numpy(),
            "wait_seconds": retries["waited_seconds"].astype(float).to_numpy(),
        }
    )
    out.attrs["clock"] = "virtual clock"
    return out


def projection_table(run: Run, propagation_seconds: float) -> pd.DataFrame:
    """write → processed p50/p95/p99 measured here and projected to AWS (s, 3 decimals)."""
    projected = project_to_aws(run, propagation_seconds)["projected_write_to_processed"]
    measured = latency_percentiles(run).loc["write_to_processed", ["p50", "p95", "p99"]]
    return pd.DataFrame(
        {
            f"measured here ({clock_label(run)})": measured.to_numpy(),
            f"projected to AWS (assumed {propagation_seconds:g} s propagation)": [
                projected.quantile(q) for q in (0.5, 0.95, 0.99)
            ],
        },
        index=["p50 (s)", "p95 (s)", "p99 (s)"],
    ).round(3)
