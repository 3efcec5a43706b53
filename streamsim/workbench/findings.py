"""Findings: every sentence a notebook or the report states about the data, computed from it.

A report that says "fast enough", "nothing was lost" or "nothing waited longer than 3 seconds"
must say the opposite when the data does. Each function here takes the computed figures (a
percentile, a row of ``analysis.failure_comparison``, a badge-rate table) and returns the words,
with both wordings in the code, so a test can feed contrasting data and watch the sentence turn.

Bounds are rounded in the safe direction: a p95 of 3.40 s is "under 3.5 seconds" (never "under
3 seconds"), a longest wait of 23.9 hours is "more than 23 hours" (never "a day"). A badge rule
that needs more days than the data covers is reported as "cannot be earned in a 14-day window",
never as 0%.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from streamsim.game.badges import BadgeRule

#: Durations a sentence may name, in seconds: 1, 1.5, 2, 2.5, 3, 3.5 ... per unit.
_SECOND_STEPS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0)
_UNITS = ((86_400.0, "day"), (3600.0, "hour"), (60.0, "minute"), (1.0, "second"))


def _ladder() -> list[float]:
    values = [s * 10.0**k for k in range(-3, 2) for s in _SECOND_STEPS]
    values = [v for v in values if v < 60]
    values += [m * 60 for m in (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 40, 45)]
    values += [h * 3600 for h in (1, 1.5, *range(2, 24))]
    values += [d * 86_400 for d in (1, 1.5, *range(2, 366))]
    return sorted(set(values))


_LADDER = _ladder()


def upper_bound(seconds: float) -> float:
    """The smallest round duration strictly above ``seconds`` (for "under X")."""
    for value in _LADDER:
        if value > seconds:
            return value
    return math.floor(seconds / 86_400 + 1) * 86_400


def lower_bound(seconds: float) -> float:
    """The largest round duration strictly below ``seconds`` (for "more than X"); 0 if none."""
    below = [v for v in _LADDER if v < seconds]
    return below[-1] if below else 0.0


def duration_words(seconds: float) -> str:
    """A duration in the unit a reader expects: '3.5 seconds', '5 minutes', '1.5 days'."""
    if seconds == 0:
        return "0 seconds"
    for size, unit in _UNITS:
        if seconds >= size or unit == "second":
            value = seconds / size
            text = f"{value:.3g}" if value < 1 else f"{value:g}"
            return f"{text} {unit}{'' if value == 1 else 's'}"
    raise AssertionError("unreachable")  # pragma: no cover


def under(seconds: float) -> str:
    """'under 3.5 seconds' for 3.40 s: true of every value at or below ``seconds``."""
    return f"under {duration_words(upper_bound(seconds))}"


def more_than(seconds: float) -> str:
    """'more than 23 hours' for 23.9 h: true of ``seconds``; 'a moment' for nothing."""
    bound = lower_bound(seconds)
    return f"more than {duration_words(bound)}" if bound > 0 else "a moment"


def count_words(n: int, thing: str, plural: str | None = None) -> str:
    """'1 play', '3 plays', 'no play'."""
    n = int(n)
    if n == 0:
        return f"no {thing}"
    return f"{n} {thing if n == 1 else plural or thing + 's'}"


def number_words(n: int) -> str:
    """'three' for 3 (one to ten), digits beyond."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    return words[n] if 0 <= n < len(words) else str(n)


def share_words(share: float) -> str:
    """A share of players as a reader should take it: 'none', 'under 1%', '12%', 'all'."""
    if share <= 0:
        return "none"
    if share >= 1:
        return "all"
    if share < 0.01:
        return "under 1%"
    if share > 0.99:
        return "over 99%"
    return f"{share:.0%}"


@dataclass(frozen=True)
class Finding:
    """One finding: a short verdict (bold in Markdown), the sentences behind it, and whether it
    is good news (so a test, or a reader, can tell the two wordings apart)."""

    headline: str
    text: str
    good: bool

    def markdown(self) -> str:
        return f"**{self.headline}** {self.text}".strip()

    def __str__(self) -> str:
        return self.markdown()


# ---- speed --------------------------------------------------------------------------------------


def speed(
    measured: Mapping[Any, float],
    expected: Mapping[Any, float],
    target_seconds: float,
    propagation_seconds: float,
) -> Finding:
    """Is the badge decided fast enough? ``measured`` and ``expected`` map 'p50'/'p99' (or 50/99)
    to seconds: here, and projected to AWS. Fast enough when the expected p99 is within target;
    'well within' only with half the target to spare."""
    m50, m99 = _pct(measured, 50), _pct(measured, 99)
    e50, e99 = _pct(expected, 50), _pct(expected, 99)
    fast = e99 <= target_seconds
    if not fast:
        margin = "above"
    elif e99 <= target_seconds / 2:
        margin = "well within"
    else:
        margin = "within"
    headline = f"Speed: {'fast enough' if fast else 'not fast enough'} for badges."
    text = (
        f"On our machine the badge was decided {under(m50)} after the play for half the plays "
        f"and {under(m99)} for 99 in 100. On AWS we expect {under(e50)} and {under(e99)}: "
        f"{margin} our target of {duration_words(target_seconds)} (this assumes "
        f"{duration_words(propagation_seconds)} for a change to reach the stream: AWS publishes "
        "no figure)."
    )
    return Finding(headline, text, fast)


def sees_badge(expected: Mapping[Any, float], target_seconds: float) -> str:
    """What a player sees: when 99 in 100 badges are there, against the target."""
    e99 = _pct(expected, 99)
    verdict = (
        "within our target"
        if e99 <= target_seconds
        else f"later than our target of {duration_words(target_seconds)}"
    )
    return (
        f"On AWS, a player who looks at their page {duration_words(upper_bound(e99))} after the "
        f"game sees the badge for 99 in 100 plays, {verdict}."
    )


def accounting_sentence(acc: Mapping[str, Any], players: int, rate: float) -> str:
    """The live run's bookkeeping in words: saved, processed, lost, badges as the rules say."""
    lost = int(acc["lost"])
    lost_text = "none was lost" if lost == 0 else f"**{count_words(lost, 'play')} lost**"
    if acc["badges_match_batch_evaluator"]:
        badges = "the badges stored were exactly the ones the rules call for"
    else:
        badges = (
            f"the badges stored were **not** the ones the rules call for "
            f"({acc['badges_missing']} missing, {acc['badges_unexpected']} unexpected)"
        )
    return (
        f"In this test {acc['plays_written']} plays from {players} synthetic players were saved at "
        f"{rate:g} per second; {acc['processed']} were processed, {lost_text}, and {badges}."
    )


# ---- failures -----------------------------------------------------------------------------------


def failures(
    default: Mapping[str, Any],
    recommended: Mapping[str, Any],
    changed: Mapping[str, Any],
    bad_plays: int,
    delayed_after_seconds: float = 60.0,
) -> Finding:
    """What one bad play costs under AWS's defaults and under the recommended settings.

    ``default`` and ``recommended`` are rows of ``analysis.failure_comparison``; ``changed`` the
    settings the recommendation changes (AWS names); ``bad_plays`` how many plays the handler
    can never process.
    """
    delayed_key = f"delayed > {delayed_after_seconds:g} s"
    n = len(changed)
    bad = "one play" if bad_plays == 1 else count_words(bad_plays, "play")
    held = int(default[delayed_key])
    lost_default = int(default["lost"])
    lost_better = int(recommended["lost"])
    queued = int(recommended["sent_to_destination"])
    if held:
        cost = (
            f"held up badges for **{count_words(held, 'other play')}** by more than "
            f"{duration_words(delayed_after_seconds)}, the longest for "
            f"**{more_than(float(default['max_delay_s']))}**"
        )
    else:
        cost = f"held up no other play by more than {duration_words(delayed_after_seconds)}"
    lost_text = (
        f"**{count_words(lost_default, 'play')} {'was' if lost_default == 1 else 'were'} lost**"
        if lost_default
        else "no play was lost"
    )
    text = (
        f"With AWS's default settings, {bad} that the badge program cannot handle {cost}, and "
        f"{lost_text}. "
    )
    longest = float(recommended["max_delay_s"])
    after = f"With the recommended settings every play was handled {under(longest)}"
    if lost_better:
        after += f", but **{count_words(lost_better, 'play')} {'was' if lost_better == 1 else 'were'} lost**"
    else:
        after += ", no play was lost"
    if queued:
        after += (
            f", and {count_words(queued, 'play')} {'was' if queued == 1 else 'were'} set aside "
            "in a queue for a person to check."
        )
    else:
        after += ", and nothing was set aside for a person to check."
    good = lost_better == 0 and (bad_plays == 0 or queued > 0)
    if good:
        headline = (
            f"Failures: change {number_words(n)} setting{'s' if n != 1 else ''} before going live."
        )
    else:
        headline = "Failures: the recommended settings are not enough."
    return Finding(headline, text + after, good)


def bad_plays(run: Any) -> int:
    """Plays the (modelled) handler can never process, as the run's scenario defined them."""
    from types import SimpleNamespace

    from streamsim.workbench.virtual import poison_plays

    scenario = run.config.get("scenario") or {}
    if not isinstance(scenario, Mapping) or not scenario.get("poison_rate"):
        return 0
    model = SimpleNamespace(poison_rate=scenario["poison_rate"], seed=scenario.get("seed", 1))
    return len(poison_plays(run.plays, model))  # type: ignore[arg-type]


def settings_changed(aws_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of an event source mapping JSON that differ from AWS's defaults."""
    from streamsim.aws.trigger.config import EventSourceMapping

    base = EventSourceMapping.from_aws({"StartingPosition": "TRIM_HORIZON"}).to_aws()
    mine = EventSourceMapping.from_aws({"StartingPosition": "TRIM_HORIZON", **aws_settings})
    return {k: v for k, v in mine.to_aws().items() if base.get(k) != v}


# ---- badges -------------------------------------------------------------------------------------


#: Badges in plain words; {} is the threshold.
BADGE_WORDS = {
    "FirstPlay": "played a game for the first time",
    "DailyStreak": "played a game {} days in a row",
    "TotalPlays": "played {} games in total",
    "Comeback": "came back after {} days away",
    "PersonalBest": "beat their own best score (after {} plays of a game)",
}


def days_needed(rule: BadgeRule | str, threshold: float | None = None) -> int | None:
    """The fewest days of play history in which ``rule`` can be earned at all (None: any).

    A streak of N days needs N days; a comeback after N days away needs a play, N days without,
    and a play: N + 2 days.
    """
    name = rule if isinstance(rule, str) else rule.name
    if threshold is None and not isinstance(rule, str):
        threshold = next(iter(rule.params().values()), None)
    if threshold is None or (isinstance(threshold, float) and math.isnan(threshold)):
        return None
    if name == "DailyStreak":
        return int(threshold)
    if name == "Comeback":
        return int(threshold) + 2
    return None


def label_badges(table: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """``analysis.badge_rate_table`` plus ``label`` (plain words), ``earnable`` (in the window)
    and ``share`` (words: '12%', or 'cannot be earned in a 14-day window')."""
    out = table.copy()
    labels, earnable, shares = [], [], []
    for row in out.itertuples():
        has_param = isinstance(row.parameter, str)
        labels.append(
            BADGE_WORDS.get(row.rule, row.rule).format(f"{row.threshold:g}" if has_param else "")
        )
        needed = days_needed(row.rule, row.threshold if has_param else None)
        ok = needed is None or needed <= window_days
        earnable.append(ok)
        shares.append(
            share_words(row.share_of_players)
            if ok
            else f"cannot be earned in a {window_days}-day window"
        )
    out["label"] = labels
    out["earnable"] = earnable
    out["share"] = shares
    return out


def badges(table: pd.DataFrame, window_days: int, highlight: str = "DailyStreak") -> Finding:
    """Who earns which badge, from ``label_badges``: the highlighted rule's share, and the rules
    that cannot be earned in the window named as such."""
    if "earnable" not in table:
        table = label_badges(table, window_days)
    pick = table[table["rule"] == highlight]
    row = (pick if len(pick) else table).iloc[0]
    if row["earnable"]:
        first = (
            f"In {window_days} days of synthetic play, {row['share']} of players earned the "
            f'"{row["label"]}" badge.'
        )
    else:
        first = f'The "{row["label"]}" badge {row["share"]}.'
    blocked = table[~table["earnable"]]
    if len(blocked):
        names = ", ".join(f'"{x}"' for x in blocked["label"])
        first += (
            f" {names} cannot be earned in a {window_days}-day window: judge "
            f"{'it' if len(blocked) == 1 else 'them'} on a longer history, not as 0%."
        )
    return Finding("Badges: the thresholds decide how special a badge feels.", first, True)


# ---- the stakeholder report's other sentences ---------------------------------------------------


def method(population_days: int, live_days: int, live_players: int) -> str:
    """How we found out: the windows actually used."""
    return (
        f"**How we found out.** A working copy of the pipeline on a developer machine, fed with "
        f"made-up (synthetic) players ({live_players} players, {live_days} days of play); a "
        f"simulation for the failure cases, so that a day of retries takes a second; and the same "
        f"badge rules applied to {population_days} days of synthetic play. Every number and every "
        "verdict below is computed when this report is generated, not typed in."
    )


def recommendations(
    speed_finding: Finding,
    failure_finding: Finding,
    changed: Mapping[str, Any],
    default: Mapping[str, Any],
    target_seconds: float,
) -> str:
    """The numbered recommendations, each following from a finding."""
    if speed_finding.good:
        first = "**Use the stream for badges.** The badge decision arrives within our target."
    else:
        first = (
            f"**Do not rely on the stream for badges yet.** The badge decision arrives later "
            f"than our target of {duration_words(target_seconds)}; agree on a slower target or "
            "measure on AWS first."
        )
    settings = ", ".join(f"{k} = {_value(v)}" for k, v in changed.items())
    n = len(changed)
    cost = []
    if float(default["max_delay_s"]) > 60:
        cost.append(f"hold up badges for {more_than(float(default['max_delay_s']))}")
    if int(default["lost"]):
        cost.append(f"lose {count_words(int(default['lost']), 'play')}")
    without = (
        f" Without them, in our test, one bad play could {' and '.join(cost)}."
        if cost
        else " In our test the defaults did no harm, but one bad play elsewhere could."
    )
    second = (
        f"**Before going live, change {number_words(n)} setting{'s' if n != 1 else ''} of the "
        f"stream trigger**: {settings}.{without}"
    )
    if not failure_finding.good:
        second += " Even with them plays were lost: look at the failure table before going live."
    return "\n".join(
        [
            "## 4 · What we recommend",
            "",
            f"1. {first}",
            f"2. {second}",
            "3. **Watch two numbers in production**: how far behind the trigger is (Lambda's "
            "IteratorAge metric) and how many messages wait in the failure queue. Someone should "
            "own that queue.",
            "4. **Tune badge thresholds** on real play history before launch, with the same rules.",
        ]
    )


def _value(v: Any) -> str:
    if isinstance(v, Mapping):
        inner: Any = next(iter(v.values()), {})
        dest = inner.get("Destination") if isinstance(inner, Mapping) else None
        return f"a queue ({str(dest).rsplit(':', 1)[-1]})" if dest else str(v)
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)


def _pct(values: Mapping[Any, float], p: int) -> float:
    for key in (f"p{p}", p, p / 100):
        if key in values:
            return float(values[key])
    raise KeyError(f"percentile {p} missing; have {list(values)}")


def bullets(findings: Iterable[Finding | str]) -> str:
    """A Markdown list, one finding per item."""
    return "\n".join(f"- {f.markdown() if isinstance(f, Finding) else f}" for f in findings)


__all__: Sequence[str] = (
    "BADGE_WORDS",
    "Finding",
    "accounting_sentence",
    "bad_plays",
    "badges",
    "bullets",
    "count_words",
    "days_needed",
    "duration_words",
    "failures",
    "label_badges",
    "lower_bound",
    "method",
    "more_than",
    "number_words",
    "recommendations",
    "sees_badge",
    "settings_changed",
    "share_words",
    "speed",
    "under",
    "upper_bound",
)


# ---- notebooks 02-04 --------------------------------------------------------------------------


def badge_check(compared: pd.DataFrame) -> Finding:
    """Notebook 04: did the live handler award exactly what the batch evaluator awards?"""
    differ = compared[compared["awarded by"] != "both"]
    same = int((compared["awarded by"] == "both").sum())
    if differ.empty:
        return Finding(
            "Identical:",
            f"the live handler and the batch evaluator awarded the same {count_words(same, 'badge')} "
            "(same player, badge and earning play). Award rates tuned offline hold for the stream.",
            True,
        )
    return Finding(
        f"{count_words(len(differ), 'badge')} differ",
        "between the live handler and the batch evaluator (listed below): offline tuning does "
        "not carry over until this is explained.",
        False,
    )


def closest_thresholds(rates: pd.DataFrame, target_share: float, window_days: int) -> str:
    """Notebook 04: per rule and population, the threshold closest to ``target_share``; a
    threshold at the edge of those tried says so; one that cannot be earned is flagged."""
    labelled = rates.copy()
    labelled["needed"] = [
        days_needed(r, t) for r, t in zip(rates["rule"], rates["threshold"], strict=True)
    ]
    possible = labelled[labelled["needed"].isna() | (labelled["needed"] <= window_days)]
    tried = rates.groupby("rule")["threshold"].agg(["min", "max"])
    closest = (
        possible.assign(distance=(possible["share_of_players"] - target_share).abs())
        .sort_values(["distance", "threshold"])
        .groupby(["rule", "population"])
        .head(1)
        .sort_values(["rule", "population"])
    )
    lines = []
    for row in closest.itertuples():
        low, high = tried.loc[row.rule, "min"], tried.loc[row.rule, "max"]
        edge = ""
        if row.threshold == high and row.share_of_players > target_share:
            edge = " (the largest tried: try larger)"
        elif row.threshold == low and row.share_of_players < target_share:
            edge = " (the smallest tried: try smaller)"
        lines.append(
            f"- **{row.rule}**, {row.population} players: {row.parameter} = {row.threshold:g} "
            f"({share_words(row.share_of_players)}){edge}"
        )
    blocked = labelled[labelled["needed"].notna() & (labelled["needed"] > window_days)]
    for rule, part in blocked.groupby("rule"):
        values = ", ".join(f"{t:g}" for t in sorted(set(part["threshold"])))
        lines.append(
            f"- **{rule}** {values}: cannot be earned in a {window_days}-day window (not 0%)"
        )
    return (
        f"The thresholds that come closest to awarding {target_share:.0%} of players in "
        f"{window_days} days:\n\n" + "\n".join(lines)
    )


def latency_summary(
    rate: float, pct: Mapping[str, float], steps: pd.Series, ages: pd.Series
) -> str:
    """Notebook 02: where a live run's time went, bounds rounded up."""
    return (
        f"At {rate:g} plays/s, half the plays were processed {under(pct['p50'])} after being "
        f"written, 95% {under(pct['p95'])} and 99% {under(pct['p99'])} (wall clock). The largest "
        f"step for a typical play is *{steps.idxmax()}* ({steps.max():.2f} s median); the stream "
        f"itself (write → stream record) took {steps.iloc[0] * 1000:.0f} ms median. Lambda's "
        f"IteratorAge metric (invocation time minus the last record's stream time) had a p95 of "
        f"{ages.quantile(0.95):.2f} s."
    )


def batch_size_effect(load: pd.DataFrame) -> str:
    """Notebook 02: at the load where latency is worst, the best and worst BatchSize."""
    worst = load.sort_values("p95_s").iloc[-1]
    best = load[load["rate"] == worst["rate"]].sort_values("p95_s").iloc[0]
    if best["batch_size"] == worst["batch_size"]:
        return f"At {worst['rate']:g} plays/s every BatchSize gives the same p95."
    return (
        f"At {worst['rate']:g} plays/s, BatchSize {worst['batch_size']:g} gives a p95 of "
        f"{worst['p95_s']:.2f} s; BatchSize {best['batch_size']:g} gives {best['p95_s']:.2f} s "
        "(virtual clock, modelled handler)."
    )


def poison_under_defaults(
    row: Mapping[str, Any], poison: int, attempts: int, delayed_after_seconds: float
) -> str:
    """Notebook 03, part 1: one poison play under AWS's defaults, from its failure_comparison row."""
    delayed = int(row[f"delayed > {delayed_after_seconds:g} s"])
    lost = int(row["lost"])
    aged_out = max(lost - poison, 0)
    text = (
        f"Of {int(row['plays'])} plays, **{poison}** {'is' if poison == 1 else 'are'} poison. Under "
        f"the defaults the batch holding it was invoked **{attempts} times** over "
        f"**{row['longest_retried_batch']}** (virtual clock), and the shard read nothing else "
        f"meanwhile. "
    )
    if delayed:
        text += (
            f"**{count_words(delayed, 'play')}** written after it waited longer than "
            f"{duration_words(delayed_after_seconds)}, the longest **{more_than(float(row['max_delay_s']))}**. "
        )
    else:
        text += f"No other play waited longer than {duration_words(delayed_after_seconds)}. "
    if lost:
        text += f"**{count_words(lost, 'play')} {'was' if lost == 1 else 'were'} lost**"
        text += (
            f": the poison play(s), discarded with nowhere to go, and {aged_out} play(s) written "
            "just after, which passed the stream's 24-hour retention while they waited."
            if aged_out
            else ": discarded with nowhere to go."
        )
    else:
        text += "No play was lost."
    return text


def settings_effects(quiet: pd.DataFrame, busy: pd.DataFrame, names: Mapping[str, str]) -> str:
    """Notebook 03, part 2: what each setting did at the busy and quiet loads, read off the
    tables; ``names`` maps roles (defaults, retries, age, bisect, partial, queue,
    partial_queue, bisect_queue) to the rows' names."""

    def lost(table: pd.DataFrame, role: str) -> str:
        n = int(table.loc[names[role], "lost"])
        return "no play was lost" if n == 0 else f"{count_words(n, 'play')} lost"

    def queued(role: str) -> int:
        return int(busy.loc[names[role], "sent_to_destination"])

    lines = [
        f"- **AWS defaults**: busy, {lost(busy, 'defaults')} of {int(busy.loc[names['defaults'], 'plays'])}; "
        f"quiet, {lost(quiet, 'defaults')}.",
        f"- **{names['retries']}** frees the shard after {quiet.loc[names['retries'], 'longest_retried_batch']} "
        f"instead of {quiet.loc[names['defaults'], 'longest_retried_batch']}; the failing batch is "
        f"discarded whole: busy, {lost(busy, 'retries')}.",
        f"- **{names['age']}**: busy, {lost(busy, 'age')}; quiet, {lost(quiet, 'age')}. It discards "
        "old records, and the backlog behind a blocked batch is old: a backstop, not a fix.",
        f"- **BisectBatchOnFunctionError** alone held a batch {busy.loc[names['bisect'], 'longest_retried_batch']}, "
        f"**ReportBatchItemFailures** alone {busy.loc[names['partial'], 'longest_retried_batch']} "
        "(busy): they narrow a failure down; only a retry or age limit bounds it.",
        f"- **An on-failure queue** turns lost into set aside: with it, {lost(busy, 'queue')} "
        f"and {count_words(queued('queue'), 'play')} queued (busy); with partial responses "
        f"{count_words(queued('partial_queue'), 'play')} queued, with bisect "
        f"{count_words(queued('bisect_queue'), 'play')}.",
    ]
    return "\n".join(lines)


def expiry(dispositions: pd.DataFrame) -> str:
    """Notebook 01: what happened to the failing batch's records at the end."""
    counts = dispositions["disposition"].value_counts()
    discarded = int(counts.get("discarded", 0))
    queued = int(counts.get("destination", 0))
    if discarded:
        return (
            f"The records expired: {count_words(discarded, 'record')} discarded, and with no "
            f"on-failure destination {'it is' if discarded == 1 else 'they are'} simply gone."
        )
    if queued:
        return f"{count_words(queued, 'record')} went to the on-failure destination: nothing lost."
    return "Every record was processed in the end: nothing lost."
