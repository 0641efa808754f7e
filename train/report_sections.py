"""The sections of the experiment's report, one function each, in the order :func:`train.report.write_report` puts
them: the header, the learners against the scripted realists, which strategies emerge, whether a scripted nation
would do better in a learned one's place (deviations), replays, the essay's claims, behaviour per condition, learned
policies against the baselines, pairwise differences, plots, training runs, files. A section
returns its Markdown parts; ``rows_of(world, condition, policy, setting)`` gives the results rows it reads."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import realism_env
from agents.policies import counterpart, without_counterpart
from realism_env import doctrine_cycle
from realism_env.metrics import METRICS, NATION_METRICS, UNIT_RANGE
from train.claims import CLAIMS, RULE, Claim, assess, holm_verdicts, reached_by_test
from train.experiment_jobs import SAMPLED, sampled_name, sampled_settings, sampled_strategy
from train.kickstart import parse_teachers
from train.plots import plot_learning_curves, plot_metric_bars, plot_power_shares, plot_strategies
from train.report_markdown import fmt, fmt_p, fmt_summary, listed, markdown_table
from train.report_statistics import (
    UNTESTED,
    column,
    column_bounds,
    finite_mean,
    holm,
    mean_ci,
    metric_units,
    seed_groups,
    summaries,
    welch,
    within,
)

#: The results rows of (world, condition, policy, setting).
RowsOf = Callable[[str, str, str, str], Sequence[Mapping[str, Any]]]

#: Metrics shown in the tables of every setting and in the bar plots (the full list is in the self-play table).
HEADLINE = (
    "war_onsets",
    "wars",
    "eliminations",
    "territorial_change",
    "status_quo_kept",
    "final_hhi",
    "peak_hhi",
    "hegemony_reached",
    "arms_racing",
    "buck_passing",
    "demands_made",
    "demands_conceded",
    "bait_and_bleed",
    "bloodletting",
    "balancing",
    "alliances_formed",
    "casualties",
    "escalation_per_nation_turn",
)
PLOTTED = (
    "war_onsets",
    "territorial_change",
    "eliminations",
    "peak_hhi",
    "hegemony_reached",
    "arms_racing",
    "buck_passing",
    "demands_made",
    "bait_and_bleed",
    "bloodletting",
    "balancing",
    "escalation_per_nation_turn",
)
FOCAL = (
    "focal:return",
    "focal:war_onsets",
    "focal:final_share",
    "focal:survived",
    "focal:province_change",
    "focal:mean_arms_level",
    "focal:demands_made",
    "focal:buck_passing",
    "focal:bait_and_bleed",
)


def _pct(confidence: float) -> str:
    """The coverage of an interval as the report writes it ("95%")."""
    return f"{100 * confidence:g}%"


def _training_setting(design: Any) -> str:
    """The name of the self-play setting in the training scenario."""
    return design.training_setting.name


def _scope(design: Any) -> tuple[list[Any], list[tuple[str, Any]], str, list[str]]:
    """What a section iterates over: the conditions, the worlds, the training setting's name and the baselines."""
    return design.conditions, design.worlds, _training_setting(design), list(design.evaluate["baselines"])


def _world_conditions(design: Any) -> list[tuple[str, list[Any]]]:
    """Each world of the design with its conditions."""
    return [(world, [c for c in design.conditions if c.world == world]) for world, _point in design.worlds]


def _without_scripted(design: Any) -> list[str]:
    """The trained conditions that no scripted policy stands for in the ``scripted`` baseline (a doctrine of the
    user's own that no policy acts out, :func:`agents.policies.without_counterpart`): the experiment plays none for
    them."""
    return [d for d in design.doctrines if without_counterpart(doctrine_cycle(d))]


def _counterparts_phrase(design: Any, nations: str = " nations") -> str:
    """Which scripted policy stands for each trained doctrine: "defensive_realist for security nations, ...", and
    "none for" those without one."""
    doctrines = list(dict.fromkeys(x for d in design.doctrines for x in doctrine_cycle(d)))
    named = [f"`{counterpart(x)}` for {x}{nations}" for x in doctrines if counterpart(x) is not None]
    return ", ".join(named + [f"none for `{x}`" for x in doctrines if counterpart(x) is None])


def _background(train: Mapping[str, Any]) -> list[str]:
    """The scripted background policies a design's ``[train]`` table trains among (none where its share is 0)."""
    background = [name.strip() for name in str(train.get("background", "")).split(",") if name.strip()]
    return background if float(train.get("background_share", 0.0)) > 0 else []


def training_population(train: Mapping[str, Any]) -> str:
    """Whom the learners met in training, from a design's ``[train]`` table: self-play, the scripted background and
    its share of the worlds, the capability spread."""
    background = _background(train)
    share = float(train.get("background_share", 0.0))
    text = "self-play"
    if background:
        n_focal = int(train.get("n_focal", 0))
        nations = "half the nations" if n_focal == 0 else f"the nations from nation_{n_focal} on"
        names = ", ".join(f"`{name}`" for name in background)
        text += f" with a scripted background ({names}) as {nations} of {share:.0%} of the worlds"
    spread = float(train.get("capability_spread", 0.0))
    if spread:
        text += f", capability spread {spread:g}"
    teachers = parse_teachers(str(train.get("teachers", "")))
    if teachers:
        coef, final = float(train.get("kickstart_coef", 1.0)), float(train.get("kickstart_final", 0.0))
        until = float(train.get("kickstart_until", 0.25))
        names = ", ".join(f"{doctrine} by `{policy}`" for doctrine, policy in teachers.items())
        imitate = float(train.get("imitate_until", 0.0))
        played = f", their choices played in the first {imitate:.0%}" if imitate > 0 else ""
        text += f", kickstarted ({names}{played}; weight {coef:g} falling to {final:g} at {until:.0%} of the run)"
    return text


def header_section(
    design: Any, runs: Mapping[tuple[str, int], Mapping[str, Any]], timing: Mapping[str, Any], command: str
) -> list[str]:
    """The title, the command and wall time, the design and the statistics used."""
    ev = design.evaluate
    confidence, alpha = float(ev["confidence"]), float(ev["alpha"])
    pct = _pct(confidence)
    baselines = list(ev["baselines"])
    parts: list[str] = []
    total_train = sum(float(m.get("total_wall_time_s") or 0.0) for m in runs.values())
    parts.append(f"# Experiment report: {design.name}")
    last = timing.get("last") or {}
    parts.append(
        f"Command: `{command}`  \nWall time of training and evaluation: {timing.get('wall_time_s', 0):.0f} s over "
        f"{timing.get('invocations', 0)} invocation(s) (the last: {last.get('wall_time_s', 0):.0f} s with "
        f"{last.get('workers', '?')} workers, {last.get('trained', 0)} runs trained, {last.get('evaluated', 0)} "
        f"evaluation jobs; every invocation is in `timing.json`); training time summed over runs: {total_train:.0f} s."
    )
    sweep = "; ".join(f"`{k}` in {v}" for k, v in design.sweep.items()) or "none"
    parts.append(
        f"**Design.** The env `{realism_env.NAME}` (its rules; the runs were trained in it). Conditions: "
        + ", ".join(f"`{d}`" for d in design.doctrines)
        + _mixes_phrase(design.doctrines)
        + f"; training scenario `{design.scenario}`; sweep: {sweep}; seeds {list(design.seeds)}; "
        f"{design.timesteps} agent-steps per run (at least: whole rollouts) "
        f"(train.fast_ppo, {training_population(design.train)}, one shared network per run). "
        f"Evaluation: {ev['episodes']} matched episodes per run and setting (env seeds {ev['seed']}.."
        f"{ev['seed'] + ev['episodes'] - 1}, {design.eval_max_cycles} turns), "
        + (_greedy_phrase(ev["greedy"]) if ev["deterministic"] else "stochastic learned policies")
        + (
            f", and sampling too in {listed([f'`{setting.name}`' for setting in sampled_settings(design)])} "
            f"(`{SAMPLED}`)"
            if sampled_strategy(design)
            else ""
        )
        + "; settings: "
        + ", ".join(f"`{s.name}`" + (" (held out)" if s.heldout else "") for s in design.settings)
        + f". Baselines in the same worlds: {', '.join(f'`{b}`' for b in baselines) or 'none'} (scripted: "
        + _counterparts_phrase(design)
        + "; any other: self-play only)."
    )
    parts.append(
        f"**Statistics.** A learned condition's unit is the training seed (its mean over the evaluation episodes); "
        f"means carry Student-t {pct} intervals over seeds. Baselines have no training seed: their unit is the "
        f"episode. Pairwise differences: Welch's t test over seeds with Holm's adjustment across metrics. Units that "
        "do not vary at all (every seed the same value) make a difference certain: p = 0 where the means differ. "
        f"Claims: one-sided tests at alpha = {alpha:g}; {RULE}. Details: the docstring of `train/report.py`."
    )
    return parts


#: A learned security nation's self-play return must reach this share of the scripted defensive realists'.
SELFPLAY_BAR = 0.97
#: The report's first line names at most this many checks that fall short; beyond, it counts them per learner.
MAX_LISTED_SHORTFALLS = 4


def learner_checks(design: Any, rows_of: RowsOf, confidence: float) -> list[dict[str, Any]]:
    """How learned nations compare with the scripted realists in matched worlds: security self-play in the training
    scenario (own return >= :data:`SELFPLAY_BAR` x the defensive realists', or as far below a negative one), and every
    focal setting (the learned focal nations' return >= the scripted focal baseline's among the same background).
    One dict per check: label, requirement (what it counts towards: the focal settings of every held-out scenario
    count towards one requirement, met in at least one of them), learner (the condition as the report names it),
    learned (mean and interval over seeds), scripted (mean and interval over episodes, the baseline's unit), ratio
    (NaN unless the scripted return is positive), bar, meets, and sampled (the learned nations sampling from their
    policy, mean and interval over seeds, where ``[evaluate] sampled_strategy`` played the setting; else None)."""
    checks = []
    train_setting = _training_setting(design)
    for condition in design.conditions:
        doctrines = doctrine_cycle(condition.doctrine)
        where = f" ({condition.world})" if len(design.worlds) > 1 else ""
        for setting in design.settings:
            if setting.selfplay and setting.name != train_setting:
                continue
            learned_rows = rows_of(condition.world, condition.name, "learned", setting.name)
            scripted_rows = rows_of(condition.world, condition.name, "scripted", setting.name)
            if not learned_rows or not scripted_rows:
                continue
            if setting.selfplay:
                if "security" not in doctrines:
                    continue
                metric, factor = "security:return", SELFPLAY_BAR
                label = requirement = f"`{condition.name}`{where}: security self-play in `{setting.scenario}`"
            else:
                metric, factor = "focal:return", 1.0
                held = ", held out" if setting.heldout else ""
                focal = f"`{condition.name}`{where}: focal among `{setting.background}`"
                label = f"{focal} in `{setting.scenario}`{held}"
                requirement = f"{focal} in a held-out scenario" if setting.heldout else label
            learned = mean_ci(metric_units(learned_rows, metric), confidence)
            scripted = mean_ci(column(scripted_rows, metric), confidence)
            sampled_rows = rows_of(condition.world, condition.name, SAMPLED, setting.name)  # sampled_strategy
            # 0.97x a positive return; for a negative one (eliminations cost), as far below it: never above it
            bar = scripted["mean"] - (1.0 - factor) * abs(scripted["mean"])
            checks.append(
                {
                    "label": label,
                    "requirement": requirement,
                    "learner": f"`{condition.name}`{where}",
                    "condition": condition,
                    "setting": setting,
                    "learned": learned,
                    "scripted": scripted,
                    # a ratio reads as "x times as good" only over a positive return
                    "ratio": learned["mean"] / scripted["mean"] if scripted["mean"] > 0 else float("nan"),
                    "bar": bar,
                    "meets": bool(learned["mean"] >= bar),
                    # the same nations sampling from their policy, as in training: shown, not checked
                    "sampled": mean_ci(metric_units(sampled_rows, metric), confidence) if sampled_rows else None,
                }
            )
    return checks


def learners_section(
    design: Any, rows_of: RowsOf, confidence: float, crossplay: Sequence[Mapping[str, Any]] = ()
) -> tuple[str, list[str]]:
    """How the learned nations compare with the scripted realists (:func:`learner_checks`): the verdict line that
    opens the report, and the section (``crossplay``: the rows of crossplay.csv, for its caveats)."""
    pct = _pct(confidence)
    parts: list[str] = []
    checks = learner_checks(design, rows_of, confidence)
    unchecked = _without_scripted(design) if "scripted" in design.evaluate["baselines"] else []
    # a doctrine of the user's own has no scripted realist to measure up to: say so where the checks are counted
    lacking = dict.fromkeys(x for d in unchecked for x in doctrine_cycle(d) if counterpart(x) is None)
    unmatched = (
        " Not checked: "
        + ", ".join(f"`{d}`" for d in unchecked)
        + f" (no scripted policy acts out {listed([f'`{x}`' for x in lacking])})."
        if unchecked
        else ""
    )
    if not checks:
        why = (
            "No condition has a scripted policy of its doctrine to be checked against ("
            + ", ".join(f"`{d}`" for d in unchecked)
            + "; a policy acts a doctrine out with its class attribute `doctrine`)."
            if set(unchecked) == set(design.doctrines)
            else _why_no_checks(design) + unmatched
        )
        return f"**Learners against the scripted realists: not checked.** {why}", [
            "## Learners against the scripted realists",
            why,
        ]
    requirements: dict[str, bool] = {}
    learner_of: dict[str, str] = {}
    for check in checks:
        requirements[check["requirement"]] = requirements.get(check["requirement"], False) or check["meets"]
        learner_of[check["requirement"]] = check["learner"]
    short = [name for name, met in requirements.items() if not met]
    if len(short) <= MAX_LISTED_SHORTFALLS:
        shortfalls = "Falls short: " + "; ".join(short) + "."
    else:  # a sweep's many conditions: a count per learner, the table names each check
        checked, failing = Counter(learner_of.values()), Counter(learner_of[name] for name in short)
        shortfalls = (
            f"Falls short in {len(short)} checks: "
            + ", ".join(f"{learner} in {failing[learner]} of {n}" for learner, n in checked.items() if failing[learner])
            + " (the table below names each)."
        )
    # the table has a row per held-out scenario, where a check counts once: say how the two counts relate
    rows = (
        ""
        if len(checks) == len(requirements)
        else f" ({sum(c['meets'] for c in checks)} of the table's {len(checks)} rows meet their bars; a check over "
        "held-out scenarios is met where one of them meets it.)"
    )
    verdict_line = (
        f"**Learners against the scripted realists: {len(requirements) - len(short)} of {len(requirements)} checks "
        f"met.**{rows} " + (shortfalls if short else "Every check is met.")
    )
    # A held-out requirement is met in one scenario; where the learners fall below the bar in another, say so too.
    below = [c for c in checks if not c["meets"] and requirements[c["requirement"]]]
    if below:
        shortfalls = "; ".join(f"{c['label']} ({fmt(c['ratio'])}x the scripted)" for c in below[:MAX_LISTED_SHORTFALLS])
        more = (
            f"; and {len(below) - MAX_LISTED_SHORTFALLS} more (the table below names each)"
            if len(below) > MAX_LISTED_SHORTFALLS
            else ""
        )
        verdict_line += f" Below the bar in a held-out scenario, where another one meets the check: {shortfalls}{more}."
    verdict_line += unmatched
    parts.append("## Learners against the scripted realists")
    parts.append(
        "Matched worlds (the same env seeds for learned and scripted populations). Self-play: a learned security "
        f"nation's own return against the scripted `defensive_realist`'s in the same worlds; it meets the bar at "
        f"{SELFPLAY_BAR:g}x or more (below a negative return, {100 * (1 - SELFPLAY_BAR):g}% below it; the ratio is "
        "shown for positive returns only). Focal: learned nations as the focal nations among a scripted background, "
        f"against the scripted focal baseline of their doctrine ({_counterparts_phrase(design, '')}) among the same "
        "background; the bar is the baseline's mean. A focal check "
        "in held-out scenarios is met when it is met in at least one of them (each scenario has its row). Learned "
        f"values are means over seeds with {pct} intervals; scripted values, means over episodes with theirs (a "
        "scripted baseline has no training seed), which show how well the evaluation's episodes pin the bar down: "
        "a bar whose own interval is wide needs more `[evaluate] episodes`. *Bar vs interval*: `inside` where the "
        "bar lies within the learned interval, so that other training seeds could tip the check either way; `above` "
        "or `below` where the whole interval is on one side of it."
    )
    sampled = any(c["sampled"] is not None for c in checks)
    parts.append(
        markdown_table(
            ["check", "learned", "scripted", "ratio", "bar", "bar vs interval", "met"] + ["sampled"] * sampled,
            [
                [c["label"], fmt_summary(c["learned"]), fmt_summary(c["scripted"]), fmt(c["ratio"]), fmt(c["bar"]),
                 _bar_vs_interval(c), "yes" if c["meets"] else "**no**"] + [_sampled_cell(c)] * sampled
                for c in checks
            ],
            "lrrrrcc" + "r" * sampled,
        )
    )  # fmt: skip
    caveats = _check_caveats(design, checks, confidence, crossplay)
    if caveats:
        parts.append("**Read with care.**\n" + "\n".join(f"- {caveat}" for caveat in caveats))
    return verdict_line, parts


def _sampled_cell(check: Mapping[str, Any]) -> str:
    """A check's *sampled* cell: the sampled mean and interval, marked where the mean falls below the bar."""
    if check["sampled"] is None:
        return "-"
    return fmt_summary(check["sampled"]) + (" **below the bar**" if check["sampled"]["mean"] < check["bar"] else "")


def _check_caveats(
    design: Any,
    checks: Sequence[Mapping[str, Any]],
    confidence: float,
    crossplay: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """What the checks do not show, where it applies: a security return near its ceiling, the sampled policy's
    rows below their bar, a mixed population's partners, self-play rows of seeds that lose among each other's nations
    (cross-play), and focal backgrounds the learners met in training."""
    from realism_env.doctrines import DOCTRINES, SecurityTerms

    caveats = []
    selfplay = [c for c in checks if c["setting"].selfplay]
    terms = DOCTRINES["security"].terms if "security" in DOCTRINES else None
    ceiling = (terms.survival + terms.margin) * design.eval_max_cycles if isinstance(terms, SecurityTerms) else None
    # where the learned and the scripted means are both within 5% of the most a security nation can earn
    near = [c for c in selfplay if ceiling and min(c["learned"]["mean"], c["scripted"]["mean"]) >= 0.95 * ceiling]
    if near:
        caveats.append(
            f"A security nation earns at most {fmt(ceiling)} in {design.eval_max_cycles} turns (survival "
            f"{terms.survival:g} and a full security margin {terms.margin:g} a turn), and "
            + listed([f"{c['learner']}'s self-play row" for c in near])
            + (" sits" if len(near) == 1 else " sit")
            + " within 5% of it, learned and scripted: the learners come as near that ceiling as the defensive "
            "realists do, which says they match them, not that they outplay them."
        )
    sampled = [c for c in checks if c["sampled"] is not None]
    if sampled:
        below = [c["label"] for c in sampled if c["sampled"]["mean"] < c["bar"]]
        caveats.append(
            "The checks read the learners' greedy choice, each policy's most likely act. *Sampled*: the same nations "
            "sampling from their policy, as in training (shown, not checked; *Which strategies emerge* gives what "
            "they do): "
            + (
                f"{len(below)} of its {len(sampled)} rows fall below their bar ({listed(below)})."
                if below
                else f"all {len(sampled)} of its rows stay at or above their bar."
            )
        )
    mixes = [c["learner"] for c in selfplay if len(doctrine_cycle(c["condition"].doctrine)) > 1]
    if mixes:
        rows = "row compares" if len(mixes) == 1 else "rows compare"
        caveats.append(
            "In a mixed population, a security nation's self-play return depends on its partners of the other "
            f"doctrine, learned ones in the learned worlds and scripted ones beside the scripted realists: the "
            f"{listed(mixes)} self-play {rows} two populations, not the security nations alone."
        )
    from train.crossplay import LOSES

    summaries = crossplay_summaries(design, crossplay, confidence)
    checked = {c["condition"].name for c in selfplay}
    apart = [name for name, summary in summaries.items() if name in checked and summary["verdict"] == LOSES]
    if apart:
        caveats.append(
            "A self-play row has every nation from one run, and the seeds' nations lose among each other's ("
            + listed([_crossplay_returns(name, summaries[name]) for name in apart])
            + "): the row measures each seed's convention among its own nations (*Do the seeds learn one play?*)."
        )
    seen = [name for name in _background(design.train) if any(c["setting"].background == name for c in checks)]
    if seen:
        caveats.append(
            f"The focal backgrounds {listed([f'`{name}`' for name in seen])} played in training too "
            f"({training_population(design.train)}): the focal checks test the learners among opponents they have "
            f"met, in the training map{' and in new ones' if design.evaluate['focal_heldout'] else ''}, not among "
            "strangers (add others to `[evaluate] backgrounds`, such as `bandwagoner` or `tit_for_tat`)."
        )
    return caveats


def _greedy_phrase(greedy: str) -> str:
    """How the report's design line names a deterministic learned policy's choice (train.learned.GREEDY_CHOICES)."""
    if greedy == "flat":
        return "deterministic learned policies (each nation's most likely single action)"
    return (
        "deterministic learned policies (each nation's most likely arms level and act, then that act's most likely "
        "target)"
    )


def _why_no_checks(design: Any) -> str:
    """Why :func:`learner_checks` found nothing to check, and what in the preset would give it something."""
    if "scripted" not in design.evaluate["baselines"]:
        return (
            "The checks compare the learners with the `scripted` baseline in matched worlds, and this preset "
            'evaluates none: add `"scripted"` to `[evaluate] baselines`.'
        )
    return (
        "No condition has a check here: they need a security learner (self-play in the training scenario) or focal "
        "settings, which `[evaluate] backgrounds` gives."
    )


def _bar_vs_interval(check: Mapping[str, Any]) -> str:
    """Where a check's bar lies against the learned interval over seeds: ``inside``, or the interval is ``above`` or
    ``below`` it (``-`` without an interval)."""
    low, high, bar = check["learned"]["ci_low"], check["learned"]["ci_high"], check["bar"]
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(bar)):
        return "-"
    return "above" if low > bar else "below" if high < bar else "inside"


#: The episode behaviour the theories argue about (focal nations' means, realism_env.NATION_METRICS): alliances, and
#: among them balancing against bandwagoning (Waltz; Walt), buck-passing (Mearsheimer; the critics' balance failures),
#: blackmail (demands), bait-and-bleed and bloodletting (Mearsheimer), arms racing (the security dilemma, Jervis), and
#: war itself.
BEHAVIOUR = (
    "alliances_formed", "balancing", "bandwagoning", "buck_passing", "demands_made", "bait_and_bleed", "bloodletting",
    "arms_racing", "war_onsets", "mean_arms_level",
)  # fmt: skip


def _mixes_phrase(conditions: Sequence[str]) -> str:
    """What the design line says of the conditions that mix doctrines (empty where none does)."""
    cycles = {name: doctrine_cycle(name) for name in conditions}
    mixes = [
        f"{name}: nations alternate {listed(cycle)}, nation_0 {cycle[0]}"
        for name, cycle in cycles.items()
        if len(cycle) > 1
    ]
    return f" ({'; '.join(mixes)}; one network with the doctrine indicator)" if mixes else ""


_ACT_PHRASE = {
    "wait": "wait", "attack": "attack", "ally": "propose or accept alliances", "leave_alliance": "leave alliances",
    "threaten": "make threats", "concede": "concede to demands", "support": "send aid", "peace": "offer peace",
}  # fmt: skip

_WHO = {"security": "Security-maximisers", "power": "Power-maximisers", "mixed": "In mixed populations, the nations"}


def strategy_section(
    design: Any, rows_of: RowsOf, confidence: float, save: Callable[[str, bytes], str] | None = None
) -> list[str]:
    """ "Which strategies emerge": per learned condition, in self-play in the training scenario, the focal nations'
    acts and arms levels, their agreement with each scripted archetype (:mod:`train.strategy`) with its interval over
    seeds and the closest archetype, how the seeds split (:func:`seed_split`), and the behaviour the theories argue
    about; scripted and random nations in the same worlds beside them; then the same for the learned focal nations
    among each scripted background of the training scenario, beside the scripted focal baseline (what learners do
    among strangers can differ from what they do among themselves); with ``save``, a plot of each seed's acts in
    self-play (``strategies.png``). Returns the section's markdown parts."""
    from realism_env import Act

    setting = _training_setting(design)
    among = [s for s in design.settings if not s.heldout and not s.selfplay]
    pct = _pct(confidence)
    parts = [
        "## Which strategies emerge",
        f"Self-play in `{design.scenario}`, every nation, then the learned focal nations among each scripted "
        "background there. Shares of the nations' turns; learned: mean "
        f"[{pct} interval] over seeds, scripted and random: means over episodes in the same worlds. *Agreement with an "
        "archetype*: the share of turns on which that scripted policy, fed the same observations with its own memory, "
        "would have taken the same act toward the same nation (`train/strategy.py`); *by chance*: the agreement a "
        "uniformly random choice among the (act, target) pairs the nations were allowed would have, in the same "
        "states (one over their number, averaged over the turns; the same for every archetype); a scripted defensive "
        "realist agrees with its own archetype on every turn.",
    ]
    if design.evaluate["deterministic"]:
        parts[-1] += (
            " The learned nations play their greedy choice here, as everywhere else in this evaluation: where a "
            "policy is unsure, its most likely act can differ from what it plays when it samples, as in training, "
            "and the worlds it leads to differ too"
        )
        parts[-1] += (
            ". So the same networks play these worlds (the same episode seeds) sampling from their policy too, in "
            "self-play and among each background: the sentences *Sampling, as in training* and the columns "
            f"*learned, sampled* (policy `{SAMPLED}` in results.csv)."
            if sampled_strategy(design)
            else " (`[evaluate] sampled_strategy = true` shows the sampled policy's strategy beside it)."
        )
    acts = [f"act_{a.name.lower()}" for a in Act]
    plotted: dict[str, dict[str, dict[str, float]]] = {}
    for condition in design.conditions:
        learned = rows_of(condition.world, condition.name, "learned", setting)
        if not learned or f"focal:{acts[0]}" not in learned[0]:
            continue
        # the baselines played here (a doctrine that no scripted policy acts out has no scripted one)
        references = {p: rows_of(condition.world, condition.name, p, setting) for p in ("scripted", "random")}
        references = {policy: rows for policy, rows in references.items() if rows}
        by_seed = act_shares_by_seed(learned, acts)
        panel = f"{condition.name} ({condition.world})" if len(design.worlds) > 1 else condition.name
        sampled_rows = rows_of(condition.world, condition.name, SAMPLED, setting)  # sampled_strategy
        plotted[panel] = {f"seed {seed}": shares for seed, shares in by_seed.items()}
        plotted[panel].update({"learned, sampled": act_shares(sampled_rows, acts)} if sampled_rows else {})
        plotted[panel].update({policy: act_shares(data, acts) for policy, data in references.items()})
        strategy = _strategy_of(learned, acts, confidence)
        sampled = _strategy_of(sampled_rows, acts, confidence) if sampled_rows else None
        parts.append(f"### `{condition.name}`" + (f" ({condition.world})" if len(design.worlds) > 1 else ""))
        doctrines = doctrine_cycle(condition.doctrine)
        named = listed([f"`{d}`" for d in doctrines])
        default = f"In populations of {named}, the nations" if len(doctrines) > 1 else f"Nations rewarded by {named}"
        who = _WHO.get(condition.doctrine, default)
        if design.evaluate["deterministic"]:  # what the sentence describes: the greedy choice
            who = f"Playing their greedy choice, {who[0].lower()}{who[1:]}"
        parts.append(f"**{_strategy_sentence(f'{who} learned to', strategy)}**" + seed_split(by_seed))
        if sampled is not None:
            parts[-1] += " " + _strategy_sentence("Sampling, as in training, they", sampled)
            parts[-1] += seed_split(act_shares_by_seed(sampled_rows, acts))
            returns = [mean_ci(metric_units(rows, "focal:return"), confidence) for rows in (sampled_rows, learned)]
            parts[-1] += f" Sampling, they earn {fmt_summary(returns[0])} a nation (greedy: {fmt_summary(returns[1])}"
            parts[-1] += (
                "; a power-maximiser's self-play return is nearly constant-sum, so it shows little either way)."
                if set(doctrines) == {"power"}
                else ")."
            )
        columns = {"learned": strategy, **({"learned, sampled": sampled} if sampled else {}), **references}
        table = _strategy_table(columns, acts, strategy["levels"])
        parts.append(markdown_table(["", *columns], table, "l" + "r" * len(columns)))
        parts += _strategy_among_backgrounds(condition, among, rows_of, acts, confidence)
    if plotted and save is not None:
        names = {name: name[4:] for name in acts}  # the plot's legend: wait, attack, ...
        bars = {
            panel: {label: {names[act]: share for act, share in shares.items()} for label, shares in labelled.items()}
            for panel, labelled in plotted.items()
        }
        image = save("strategies.png", plot_strategies(bars, list(names.values())))
        parts.append(
            "What each training seed learned to do (self-play in the training scenario, every nation): the share of "
            "turns of each act, one bar per seed"
            + (
                " playing its greedy choice, then the seeds' mean when they sample"
                if sampled_strategy(design)
                else (" playing its greedy choice" if design.evaluate["deterministic"] else " sampling from its policy")
            )
            + ", and the scripted and random nations of the same worlds below."
        )
        parts.append(f"![strategies]({image})")
    return parts


def _strategy_among_backgrounds(
    condition: Any, among: Sequence[Any], rows_of: RowsOf, acts: Sequence[str], confidence: float
) -> list[str]:
    """The learned focal nations' strategy among each scripted background of the training scenario (``among``: those
    settings), a sentence per background and one table beside the scripted focal baseline of the same worlds."""
    columns: dict[str, Any] = {}
    sentences = []
    for setting in among:
        learned = rows_of(condition.world, condition.name, "learned", setting.name)
        if not learned or f"focal:{acts[0]}" not in learned[0]:
            continue
        strategy = _strategy_of(learned, acts, confidence)
        by_seed = act_shares_by_seed(learned, acts)
        sentences.append(
            _strategy_sentence(f"Among `{setting.background}` nations they", strategy) + seed_split(by_seed)
        )
        columns[f"learned among `{setting.background}`"] = strategy
        sampled_rows = rows_of(condition.world, condition.name, SAMPLED, setting.name)  # sampled_strategy
        if sampled_rows:
            sampled = _strategy_of(sampled_rows, acts, confidence)
            sentences.append(_strategy_sentence("Sampling, as in training, they", sampled))
            columns[f"learned, sampled, among `{setting.background}`"] = sampled
        scripted = rows_of(condition.world, condition.name, "scripted", setting.name)
        if scripted:  # none for a doctrine that no scripted policy acts out
            columns[f"scripted among `{setting.background}`"] = scripted
    if not columns:
        return []
    n_focal = among[0].n_focal
    levels = next(v for v in columns.values() if isinstance(v, dict))["levels"]
    beside = (
        " (beside them, the scripted focal baseline of their doctrine in the same worlds)"
        if any(name.startswith("scripted") for name in columns)
        else ""
    )
    return [
        f"**As {n_focal} focal nations among scripted ones**{beside}. " + " ".join(sentences),
        markdown_table(["", *columns], _strategy_table(columns, acts, levels), "l" + "r" * len(columns)),
    ]


def _strategy_of(learned: Sequence[Mapping[str, Any]], acts: Sequence[str], confidence: float) -> dict[str, Any]:
    """The learned focal nations' strategy in one setting: {"summaries": {column: mean and interval over seeds},
    "levels", "closest" archetype, "top" acts, "level" most played}. Intervals are clipped to what a column can take
    (:func:`train.report_statistics.within`): shares to [0, 1], metrics to their range."""
    from train.strategy import ARCHETYPES

    n_levels = sum(1 for key in learned[0] if key.startswith("focal:arms_level_"))
    levels = [f"arms_level_{k}" for k in range(n_levels)]
    summaries = {}
    for name in [*(f"agree_{a}" for a in ARCHETYPES), "agree_chance", *acts, *levels, *BEHAVIOUR]:
        bounds = column_bounds(name) if name in BEHAVIOUR else UNIT_RANGE  # the others are shares of turns
        summaries[name] = within(mean_ci(metric_units(learned, f"focal:{name}"), confidence), bounds)
    top = sorted(acts, key=lambda name: -summaries[name]["mean"])[:2]
    closest = max(ARCHETYPES, key=lambda name: summaries[f"agree_{name}"]["mean"])
    return {
        "summaries": summaries,
        "levels": levels,
        "closest": closest,
        # each seed's agreement with it: seeds can agree on the act they play most and differ here
        "closest_by_seed": [
            finite_mean(column(rows, f"focal:agree_{closest}")) for rows in seed_groups(learned).values()
        ],
        "top": [name for name in top if name == top[0] or summaries[name]["mean"] >= 0.05],
        "level": max(levels, key=lambda name: summaries[name]["mean"]),
    }


def _strategy_sentence(subject: str, strategy: Mapping[str, Any]) -> str:
    """ "<subject> <acts> (<share> of turns), at arms level L on S% of turns, forming F alliances each an episode; the
    closest archetype is A, ...", with the chance level of agreement in the nations' own states (``agree_chance``,
    :mod:`train.strategy`) and how many seeds pass it."""
    summaries, closest, level = strategy["summaries"], strategy["closest"], strategy["level"]
    doing = " and ".join(
        f"{_ACT_PHRASE[name[4:]]} ({100 * summaries[name]['mean']:.0f}% of turns)" for name in strategy["top"]
    )
    arms = f"at arms level {level.rsplit('_', 1)[1]} on {100 * summaries[level]['mean']:.0f}% of turns"
    said = f"{subject} {doing}, {arms}"
    alliances = summaries["alliances_formed"]["mean"]
    if math.isfinite(alliances):
        said += f", forming {fmt(alliances)} alliances each an episode"
    agreement = summaries[f"agree_{closest}"]
    said += (
        f"; the closest archetype is `{closest}`, whose choice they make on {100 * agreement['mean']:.0f}% of turns "
        f"[{fmt(100 * agreement['ci_low'])}, {fmt(100 * agreement['ci_high'])}]"
    )
    per_seed = [value for value in strategy["closest_by_seed"] if math.isfinite(value)]
    chance = summaries.get("agree_chance", {}).get("mean", math.nan)
    notes = [f"by chance: {fmt(100 * chance)}%"] if math.isfinite(chance) else []
    if len(per_seed) > 1:
        notes.append(f"per seed: {', '.join(f'{100 * value:.0f}' for value in per_seed)}%")
    said += f" ({'; '.join(notes)})" if notes else ""
    if math.isfinite(chance) and per_seed:
        above = sum(value > chance for value in per_seed)
        if above == 0:
            said += ": no seed agrees with it more often than chance, so no archetype describes their play"
        elif above < len(per_seed):
            said += f": only {above} of {len(per_seed)} seeds agree with it more often than chance"
    return said + "."


def _strategy_table(columns: Mapping[str, Any], acts: Sequence[str], levels: Sequence[str]) -> list[list[str]]:
    """Rows of a strategy table: agreement with each archetype, acts, arms levels and behaviour; a column is a
    learned strategy (:func:`_strategy_of`: mean [interval] over seeds) or reference rows (the mean over episodes)."""
    from train.strategy import ARCHETYPES

    def cell(value: Any, name: str) -> str:
        if isinstance(value, dict):
            return fmt_summary(value["summaries"][name])
        return _reference(value, name)

    names = [(f"agree `{a}`", f"agree_{a}") for a in ARCHETYPES]
    names.append(("agree by chance", "agree_chance"))
    names += [(f"`{name}`", name) for name in [*acts, *levels]]
    names += [(f"`{name}` (per nation)", name) for name in BEHAVIOUR]
    return [[label, *(cell(value, name) for value in columns.values())] for label, name in names]


def _reference(rows: Sequence[Mapping[str, Any]], name: str) -> str:
    """A reference policy's mean of ``focal:<name>`` over its episodes ("-" without rows)."""
    return fmt(finite_mean(column(rows, f"focal:{name}"))) if rows else "-"


def deviation_section(design: Any, deviations: Sequence[Mapping[str, Any]], confidence: float) -> list[str]:
    """ "Would a scripted nation do better in a learned one's place?": per scenario and deviant, each condition's
    gain of the deviant over the learned nation in its place, averaged over the places, with its interval over seeds
    and its verdict, and the places where the deviant's gain lies above 0 at the Bonferroni level over the places
    (:func:`_places_exploited`; Nash's condition is that no nation gains)
    (:mod:`train.deviation`; ``deviations``: the rows of deviations.csv). Nothing without ``[evaluate] deviants``."""
    from train.deviation import verdict

    if not deviations:
        return []
    pct = _pct(confidence)
    conditions = [c.name for c in design.conditions if any(r["condition"] == c.name for r in deviations)]
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key in dict.fromkeys((r["scenario"], r["deviant"], r["condition"]) for r in deviations):
        group = [r for r in deviations if (r["scenario"], r["deviant"], r["condition"]) == key]
        summary = mean_ci([float(r["gain"]) for r in group], confidence)
        cells[key] = {**summary, "verdict": verdict(summary), "places": _places_exploited(group, confidence)}

    def exploited(cell: Mapping[str, Any]) -> bool:
        return cell["verdict"] == "exploits" or bool(cell["places"])

    def described(cell: Mapping[str, Any]) -> str:
        places = [f"{fmt_summary(gain)} in {nation}'s place" for nation, gain in cell["places"]]
        return "; ".join([fmt_summary(cell), *places])

    leads = [
        f"`{condition}` by `{deviant}` in `{scenario}` ({described(cell)})"
        for (scenario, deviant, condition), cell in cells.items()
        if exploited(cell)
    ]
    verdicts = [cell["verdict"] for cell in cells.values()]
    unclear = verdicts.count("no clear difference")
    if leads:
        lead = "**Exploited: " + "; ".join(leads) + ".**"
    elif UNTESTED in verdicts:
        lead = (
            "**Untested: with one training seed a gain has no interval over seeds, so the table cannot say whether a "
            "deviant does better; train more seeds.**"
        )
    elif unclear:
        lead = (
            f"**No deviant clearly does better than the learned nations; in {unclear} of {len(verdicts)} cases the "
            "interval holds 0 (no clear difference either way).**"
        )
    else:
        lead = "**No deviant does better than the learned nations in any scenario: each does worse.**"
    order = {scenario: k for k, scenario in enumerate(design.deviation_scenarios)}
    scenarios = sorted(dict.fromkeys(r["scenario"] for r in deviations), key=lambda s: order.get(s, len(order)))
    episodes = design.evaluate["deviation_episodes"]
    table = []
    for scenario in scenarios:
        label = f"`{scenario}`" + (" (held out)" if scenario != design.scenario else "")
        for deviant in dict.fromkeys(r["deviant"] for r in deviations if r["scenario"] == scenario):
            row = [label, f"`{deviant}`"]
            for condition in conditions:
                cell = cells.get((scenario, deviant, condition))
                if cell is None:
                    row.append("-")
                    continue
                places = [f"; {nation}: {fmt_summary(gain)} exploits" for nation, gain in cell["places"]]
                row.append(f"{fmt_summary(cell)} {cell['verdict']}" + "".join(places))
            table.append(row)
    return [
        "## Would a scripted nation do better in a learned one's place?",
        "Each run's learned nations in self-play, with one nation at a time replaced by a scripted deviant rewarded by "
        "the same doctrine, in the same matched worlds (a unilateral deviation: Nash's condition that no nation "
        "gains by deviating, tested against these scripted deviants only, so a lower bound on how exploitable the "
        f"learned play is; `train/deviation.py`, `deviations.csv`; {episodes} episodes per run, scenario, deviant and "
        f"nation). Each cell: the deviant's gain over the learned nation in its place, averaged over the nations' "
        f"places, mean [{pct} interval] over seeds, and the verdict: `exploits` where the whole interval lies above 0 "
        "(the learned play is not an equilibrium against that deviant), `does worse` where it lies below. An average "
        "over the places can hide one place's gain (a superpower's among minor states, a power-maximiser's among "
        "security-maximisers): where the deviant gains in one nation's place with that place's interval above 0 at "
        "the Bonferroni level over the places (each place's gain over seeds, `gain@nation_<k>` in deviations.csv), "
        "the cell names each such place, largest gain first, with its interval at that level.",
        lead,
        markdown_table(["scenario", "deviant", *(f"`{c}`" for c in conditions)], table, "ll" + "r" * len(conditions)),
    ]


def crossplay_summaries(
    design: Any, crossplay: Sequence[Mapping[str, Any]], confidence: float
) -> dict[str, dict[str, Any]]:
    """{condition: :func:`train.crossplay.summarise` of its rows of crossplay.csv}, the conditions in the design's
    order (none without cross-play)."""
    from train.crossplay import summarise

    names = [c.name for c in design.conditions if any(r["condition"] == c.name for r in crossplay)]
    return {name: summarise(_crossplay_cells(crossplay, name), confidence) for name in names}


def _crossplay_returns(condition: str, summary: Mapping[str, Any]) -> str:
    """A condition's cross-play return beside its self-play return, as the report says them."""
    return (
        f"`{condition}` {fmt(summary['crossplay_return'])} among another seed's nations against "
        f"{fmt(summary['selfplay_return'])} among their own"
    )


def _crossplay_cells(crossplay: Sequence[Mapping[str, Any]], condition: str) -> dict[tuple[str, str], dict]:
    """A condition's cross-play cells ({(focal, partner): {measure: value}}) from crossplay.csv's rows."""
    from train.crossplay import MEASURES

    return {
        (f"seed{r['seed']}", f"seed{r['partner_seed']}"): {m: float(r[m]) for m in MEASURES}
        for r in crossplay
        if r["condition"] == condition
    }


def crossplay_section(
    design: Any, crossplay: Sequence[Mapping[str, Any]], confidence: float, save: Callable[[str, bytes], str]
) -> list[str]:
    """ "Do the seeds learn one play?": per condition, the learned nations' return among their own seed's nations and
    among another seed's, the mean gain with its interval over the seeds (each both a focal seed and a partner), the
    relative loss after Lanctot et al., the verdict (:mod:`train.crossplay`; ``crossplay``: the rows of
    crossplay.csv), and a heat map of the gains of each pair of seeds. Nothing without cross-play (``[evaluate]
    crossplay_episodes = 0``, or one seed)."""
    from train.crossplay import EXPLOITS, LOSES, gain_matrix
    from train.plots import plot_crossplay

    if not crossplay:
        return []
    pct = _pct(confidence)
    summaries = crossplay_summaries(design, crossplay, confidence)
    conditions = list(summaries)
    matrices = {}
    for condition in conditions:
        cells = _crossplay_cells(crossplay, condition)
        played = {str(r["seed"]) for r in crossplay if r["condition"] == condition}
        labels = [f"seed{seed}" for seed in design.seeds if str(seed) in played]
        short = [label.removeprefix("seed") for label in labels]
        selfplay = abs(summaries[condition]["selfplay_return"])
        matrices[condition] = (short, gain_matrix(cells, labels), selfplay)

    def told(condition: str) -> str:
        summary = summaries[condition]
        return f"{_crossplay_returns(condition, summary)} (gain {fmt_summary(summary['gain'])}: {summary['verdict']})"

    verdicts = {condition: summary["verdict"] for condition, summary in summaries.items()}
    losing = [c for c, v in verdicts.items() if v == LOSES]
    exploited = [c for c, v in verdicts.items() if v == EXPLOITS]
    if losing:
        lead = (
            "**Conventions of their own: a learned nation earns less among another seed's nations than among its own "
            f"in {listed([f'`{c}`' for c in losing])}, so the self-play figures above describe each seed's "
            "convention, not one play of the doctrine.**"
        )
    elif exploited:
        lead = (
            f"**The seeds' play can be exploited by another seed's learner in {listed([f'`{c}`' for c in exploited])}: "
            "a learned nation earns more among another seed's nations than their own nation in its place.**"
        )
    elif UNTESTED in verdicts.values():
        lead = "**Untested: the mean gain's interval needs 3 seeds or more; train more seeds.**"
    else:
        lead = (
            "**In no condition does a learned nation clearly earn less, or more, among another seed's nations than "
            "their own nation in its place** (single pairs of seeds may: the heat map)."
        )
    lead += " " + "; ".join(told(c) for c in conditions) + "."
    table = [
        [
            f"`{condition}`",
            fmt(summary["selfplay_return"]),
            fmt(summary["crossplay_return"]),
            fmt_summary(summary["gain"]),
            f"{100 * summary['relative_loss']:.1f}%" if math.isfinite(summary["relative_loss"]) else "-",
            summary["verdict"],
        ]
        for condition, summary in summaries.items()
    ]
    image = save("crossplay.png", plot_crossplay(matrices))
    episodes = design.evaluate["crossplay_episodes"]
    return [
        "## Do the seeds learn one play? Cross-play between seeds",
        "Self-play has every nation from one run, so it cannot tell a play that works among any learner of the "
        "doctrine from conventions that one seed's nations share only among themselves. Here each run's learned "
        "nation takes each nation's place in turn among another seed's learned nations, in the matched worlds of "
        f"the partner's self-play in `{design.scenario}` (`train/crossplay.py`, `crossplay.csv`; {episodes} episodes "
        "per pair of seeds and nation). Its gain is its return less the partner's own nation's in the same place "
        "and worlds. Per condition: the mean return among their own seed's nations (self-play) and among another's "
        f"(cross-play); the mean gain, [{pct} interval] over the seeds, each of which is both a focal seed (a row of "
        "the heat map) and a partner (a column: one exploitable seed lifts every row), by the delete-one-seed "
        "jackknife (3 seeds or more); a relative loss after Lanctot et al. (2017), who read this matrix between "
        "independently trained learners (self-play less cross-play, over self-play; theirs compares joint returns, "
        "this one the focal nation's own); and the verdict: `loses among other seeds` where the interval "
        "lies below 0 (each seed's nations share a convention of their own), `exploits other seeds` where it lies "
        "above (a seed's nations can be exploited by another learner of their doctrine). The heat map gives each "
        "pair: a column that is blue throughout is a seed whose nations the others exploit (its colours reach their "
        "end at the largest gain, or at 2% of the self-play return where every gain is smaller, so that gains of a "
        "few hundredths stay pale).",
        lead,
        markdown_table(["condition", "self-play", "cross-play", "gain", "relative loss", "verdict"], table, "lrrrrl"),
        f"![cross-play]({image})",
    ]


def _places_exploited(group: Sequence[Mapping[str, Any]], confidence: float) -> list[tuple[str, dict[str, Any]]]:
    """(nation, gain over the runs) of each place where a deviant gains, largest gain first
    (:func:`train.deviation.places_exploited` over the runs of ``group``, deviations.csv rows of one scenario, deviant
    and condition: each row's ``gain@nation_<k>``); none where the rows hold none (written before they did)."""
    import numpy as np

    from train.deviation import places_exploited

    per_run = {}
    for run, row in enumerate(group):
        gains = {
            int(key.rsplit("_", 1)[1]): np.array([float(value)])
            for key, value in row.items()
            if key.startswith("gain@nation_") and value != ""
        }
        if gains:
            per_run[str(run)] = {"deviant": gains}
    if not per_run:
        return []
    return [(f"nation_{k}", gain) for k, gain in places_exploited(per_run, confidence)["deviant"]]


def act_shares(rows: Sequence[Mapping[str, Any]], acts: Sequence[str]) -> dict[str, float]:
    """{act: share of turns}: the mean of each ``focal:<act>`` column over ``rows`` (``acts``: the ``act_*`` names)."""
    return {name: finite_mean(column(rows, f"focal:{name}")) for name in acts}


def act_shares_by_seed(learned: Sequence[Mapping[str, Any]], acts: Sequence[str]) -> dict[str, dict[str, float]]:
    """{seed: :func:`act_shares` of its evaluation episodes}, the seeds in their order (the report's units)."""
    return {_seed_label(seed): act_shares(rows, acts) for seed, rows in seed_groups(learned).items()}


def _seed_label(seed: str) -> str:
    try:
        return str(int(float(seed)))
    except ValueError:
        return seed


def seed_split(by_seed: Mapping[str, Mapping[str, float]]) -> str:
    """A sentence saying how the training seeds split when their most frequent acts differ ("" when they agree):
    learners of one condition can settle on different policies (power learners: some blackmail every turn, others
    never threaten), and the means over seeds then describe none of them. ``by_seed``: :func:`act_shares_by_seed`."""
    policies: dict[str, list[tuple[str, float]]] = {}
    for seed, means in by_seed.items():
        top = max(means, key=lambda name: means[name])
        policies.setdefault(top, []).append((seed, means[top]))
    if len(policies) < 2:
        return ""
    pieces = []
    for top, seeds in sorted(policies.items(), key=lambda item: (-len(item[1]), item[0])):
        share = sorted(100 * value for _, value in seeds)
        span = f"{share[0]:.0f}%" if round(share[0]) == round(share[-1]) else f"{share[0]:.0f}-{share[-1]:.0f}%"
        names = ", ".join(seed for seed, _ in seeds)
        pieces.append(
            f"{len(seeds)} of {len(by_seed)} mostly {_ACT_PHRASE[top[4:]]} ({span} of turns; seed"
            f"{'s' if len(seeds) > 1 else ''} {names})"
        )
    return " The seeds settled on different policies: " + "; ".join(pieces) + ". The means over seeds mix them."


def replays_section(design: Any, replays: Mapping[tuple[str, str], str]) -> list[str]:
    """ "Replays": a link to the browser replay of each condition and setting (:mod:`train.experiment_replays`)."""
    if not replays:
        return []
    # the settings in the design's order, then the self-play that samples (``<setting>@sampled``)
    names = [s.name for s in design.settings] + [sampled_name(s.name) for s in design.settings]
    conditions = [c.name for c in design.conditions if any((c.name, name) in replays for name in names)]
    rows = [
        [f"`{name}`", *(f"[replay]({replays[(c, name)]})" if (c, name) in replays else "-" for c in conditions)]
        for name in names
        if any((c, name) in replays for c in conditions)
    ]
    return [
        "## Replays",
        "One episode per condition and setting, played by the learned nations: the most typical evaluation episode "
        "(nearest the medians of war onsets, final HHI, survivors and alliances formed) of the most typical run. "
        "Each page is self-contained (open it in a browser; no network): the map by turn, wars, alliances, demands "
        "and aid, the event log and the power shares (`python -m train.replay --model RUN_DIR` makes more)."
        + (
            " `@sampled`: the learned nations sampling from their policy, as in training (`--sample`)."
            if any(name.endswith(sampled_name("")) for _, name in replays)
            else ""
        ),
        markdown_table(["setting", *(f"`{c}`" for c in conditions)], rows, "l" + "c" * len(conditions)),
    ]


def claims_section(design: Any, rows_of: RowsOf, confidence: float, alpha: float) -> list[str]:
    """The essay's claims judged in every world, on the learned policies and on the scripted baselines."""
    pct = _pct(confidence)
    conditions, worlds, train_setting, baselines = _scope(design)
    parts: list[str] = []
    claim_results: dict[str, list[dict[str, Any]]] = {}
    parts.append("## The essay's claims")
    judged = sorted({name for claim in CLAIMS for name in claim.conditions})
    if not set(judged) & set(design.doctrines):  # a table of n/a says less than one line
        return [
            *parts,
            "Not judged: the claims compare the conditions " + ", ".join(f"`{name}`" for name in judged) + ", and "
            "this experiment trains none of them (" + ", ".join(f"`{d}`" for d in design.doctrines) + ").",
        ]
    for world, _point in worlds:

        def by_doctrine(
            policy: str, world: str = world, setting: str = train_setting
        ) -> dict[str, list[Mapping[str, Any]]]:
            return {c.doctrine: rows_of(world, c.name, policy, setting) for c in conditions if c.world == world}

        def by_scenario(policy: str) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
            """The self-play rows of every held-out scenario (for the claims read there)."""
            return {s.scenario: by_doctrine(policy, setting=s.name) for s in design.settings if s.selfplay}

        learned = assess(CLAIMS, by_doctrine("learned"), alpha, confidence, by_scenario("learned"))
        scripted = (
            assess(CLAIMS, by_doctrine("scripted"), alpha, confidence, by_scenario("scripted"))
            if "scripted" in baselines
            else None
        )
        # the same runs sampling from their policy (sampled_strategy): played in the training scenario only
        sampled_rows = by_doctrine(SAMPLED)
        sampled = (
            assess(CLAIMS, sampled_rows, alpha, confidence, {design.scenario: sampled_rows})
            if any(sampled_rows.values())
            else None
        )
        claim_results[world] = learned
        title = f"### World `{world}`" + (f" ({', '.join(f'{k}={v}' for k, v in _point)})" if _point else "")
        parts.append(title if len(worlds) > 1 else f"Self-play in the training scenario `{design.scenario}`.")
        parts.append(claims_table(learned, scripted, confidence, sampled))
        undefined = undefined_values_note(learned, scripted, sampled)
        if undefined:
            parts.append(undefined)
        corrected = holm_note({"learned": learned, "sampled": sampled, "scripted": scripted}, alpha)
        if corrected:
            parts.append(corrected)
    if len(worlds) > 1:
        overview = [
            [claim.text] + [claim_results[w][k]["verdict"] for w, _ in worlds] for k, claim in enumerate(CLAIMS)
        ]
        parts.append("### Verdicts across worlds")
        parts.append(markdown_table(["claim", *(w for w, _ in worlds)], overview, "l" + "c" * len(worlds)))
    parts.append(
        "Values are means with "
        + pct
        + " intervals (learned: over seeds; scripted: over episodes); the estimate is the tested quantity (a "
        "difference of means, or the mean minus the reference) and p its one-sided p value in the direction the "
        "estimate points. Verdict rule: "
        + RULE
        + ". Claims marked n/a need a condition this preset did not train, or self-play in a scenario it did not "
        "evaluate (the rising-power claims read `rising_power`, a held-out scenario of both built-in presets)."
    )
    if sampled_strategy(design):
        parts[-1] += (
            " *Sampled*: the same learned nations sampling from their policy, as in training, rather than playing "
            "their greedy choice (over seeds too; played in the training scenario only, so the claims read elsewhere "
            "are n/a there), with the p of its own test. Two verdicts that differ are not a test that the two differ: "
            "compare their values."
        )
    return parts


def holm_note(columns: Mapping[str, Sequence[Mapping[str, Any]] | None], alpha: float) -> str | None:
    """A sentence on the claims table's verdicts under Holm's correction over its claims, per column (``columns``:
    {learned, sampled, scripted: that column's results, or None}; :func:`train.claims.holm_verdicts`): how many of the
    verdicts a test reached hold, and each that would be inconclusive. None where no test reached a verdict."""
    told = []
    for label, results in columns.items():
        if not results:
            continue
        corrected = holm_verdicts(results, alpha)
        reached = [k for k, result in enumerate(results) if reached_by_test(result)]
        if not reached:
            continue
        fallen = [k for k in reached if corrected[k] != results[k]["verdict"]]
        if not fallen:
            told.append(
                f"{label}: the verdict a test reached holds"
                if len(reached) == 1
                else f"{label}: the {len(reached)} verdicts a test reached all hold"
            )
            continue
        named = [
            f"*{results[k]['claim'].text}* ({results[k]['verdict']}, p = {fmt_p(results[k]['p'])})" for k in fallen
        ]
        kept = len(reached) - len(fallen)
        told.append(
            f"{label}: {kept} of the {len(reached)} verdicts a test reached {'holds' if kept == 1 else 'hold'}, and "
            f"{listed(named)} would be inconclusive"
        )
    if not told:
        return None
    return (
        "**Holm's correction over the claims** (over the claims whose verdict a test decides, column by column, so "
        "that the chance of any false verdict among them is at most what the table allows one claim alone, alpha = "
        f"{alpha:g} in each direction): " + "; ".join(told) + "."
    )


def undefined_values_note(
    results: Sequence[Mapping[str, Any]],
    scripted: Sequence[Mapping[str, Any]] | None = None,
    sampled: Sequence[Mapping[str, Any]] | None = None,
) -> str | None:
    """A sentence naming the claims' values shown as "-" (undefined in every evaluated episode) and why, from each
    metric's ``nan_when``; None when every value is defined."""
    where_undefined: dict[str, list[str]] = {}
    for policy, group in (("learned", results), ("sampled", sampled or []), ("scripted", scripted or [])):
        for result in group:
            claim: Claim = result["claim"]
            for condition, summary in result.get("summary", {}).items():
                if summary.get("n", 0) == 0:
                    where_undefined.setdefault(claim.metric, []).append(f"{policy} {condition}")
    if not where_undefined:
        return None
    parts = []
    for metric, where in where_undefined.items():
        name = metric.split(":")[-1]  # a doctrine's column of a mixed population: "power:war_onsets"
        known = METRICS.get(name) or NATION_METRICS.get(name)
        reason = known.nan_when if known else None
        parts.append(f"`{metric}` for {', '.join(dict.fromkeys(where))}" + (f" (NaN when {reason})" if reason else ""))
    return "Values shown as - are undefined in every evaluated episode: " + "; ".join(parts) + "."


def claims_table(
    results: Sequence[Mapping[str, Any]],
    scripted: Sequence[Mapping[str, Any]] | None = None,
    confidence: float = 0.95,
    sampled: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """The claims with the measured values and verdicts (learned, then the learned policies sampled and the scripted
    baselines when given); ``confidence``: the intervals' level, as :func:`train.claims.assess` computed them."""
    ci = f"{_pct(confidence)} CI"
    header = ["claim", "measure", f"learned: values (mean [{ci}])", f"estimate [{ci}]", "p", "verdict"]
    if sampled is not None:
        header += ["sampled: values", "sampled p", "sampled verdict"]
    if scripted is not None:
        header += ["scripted: values", "scripted verdict"]
    rows = []
    for k, result in enumerate(results):
        claim: Claim = result["claim"]
        row = [f"**{claim.text}** ({claim.source})", claim.measure, *_claim_cells(result)]
        if sampled is not None:
            cells = _claim_cells(sampled[k])
            row += [cells[0], cells[2], cells[3]]
        if scripted is not None:
            cells = _claim_cells(scripted[k])
            row += [cells[0], cells[3]]
        rows.append(row)
    return markdown_table(header, rows, "ll" + "l" * (len(header) - 2))


def _claim_cells(result: Mapping[str, Any]) -> list[str]:
    if result.get("verdict") == "n/a":
        return ["-", "-", "-", "n/a"]
    claim: Claim = result["claim"]
    summary = result["summary"]
    values = "; ".join(f"{c}: {fmt_summary(summary[c])}" for c in summary)
    if claim.kind == "paired":
        values = f"{claim.condition} difference: {fmt_summary(summary[claim.condition])}"
    if math.isfinite(result.get("ci_low", float("nan"))):
        estimate = f"{fmt(result['estimate'])} [{fmt(result['ci_low'])}, {fmt(result['ci_high'])}]"
    else:
        estimate = fmt(result.get("estimate"))
    note = f" ({result['note']})" if result.get("note") else ""
    return [values, estimate, fmt_p(result.get("p")), f"**{result['verdict']}**{note}"]


def behaviour_section(design: Any, rows_of: RowsOf, confidence: float, units: Mapping[str, str]) -> list[str]:
    """Per setting, every condition's metrics (learned and baselines) with their intervals."""
    pct = _pct(confidence)
    _, worlds, train_setting, baselines = _scope(design)
    parts: list[str] = []
    parts.append("## Behaviour per condition")
    parts.append(
        f"Each cell: mean [{pct} interval] (learned: over {len(design.seeds)} seeds; baselines: over episodes). "
        "Metric definitions: `realism_env.METRICS` (README) and the `realism_env/metrics.py` docstrings. "
        + escalation_weights_note()
    )
    for world, world_conditions in _world_conditions(design):
        if len(worlds) > 1:
            parts.append(f"### World `{world}`")
        for setting in design.settings:
            if setting.name == train_setting:
                metrics = list(units) if units else list(HEADLINE)
            else:
                metrics = list(HEADLINE)
            if not setting.selfplay:
                metrics = list(FOCAL) + metrics
            header = ["metric"]
            columns: list[tuple[str, str]] = []
            for c in world_conditions:
                for policy in ["learned", *baselines]:
                    if policy != "learned" and policy != "scripted" and not setting.selfplay:
                        continue
                    if rows_of(world, c.name, policy, setting.name):
                        columns.append((c.name, policy))
                        header.append(f"{c.name} {policy}")
            table = []
            cache = {
                col: summaries(rows_of(world, col[0], col[1], setting.name), metrics, confidence) for col in columns
            }
            for m in metrics:
                label = f"`{m}`" + (f" ({units[m]})" if m in units else "")
                table.append([label] + [fmt_summary(cache[col][m]) for col in columns])
            kind = "held out" if setting.heldout else ("training scenario" if setting.selfplay else "focal")
            parts.append(f"#### `{setting.name}` ({kind})")
            if not setting.selfplay:
                parts.append(
                    f"Nations 0..{setting.n_focal - 1} are the focal (learned or baseline) nations, the others play "
                    f"`{setting.background}`; `focal:*` columns average over the focal nations, and the other rows "
                    "count the whole world, its scripted background included (where the focal nations' arms level "
                    "never changes, for instance, `arms_racing` is the background's alone)."
                )
            parts.append(markdown_table(header, table))
    return parts


def escalation_weights_note() -> str:
    """How the escalation metrics weigh each act and arms change (``realism_env.metrics.ESCALATION_WEIGHTS``, after
    Rivera et al. 2024): alliances and aid count as posturing, so a peaceful nation that allies and aids every turn
    scores above one that waits."""
    from realism_env.metrics import ARMS_DOWN_WEIGHT, ARMS_UP_WEIGHT, ESCALATION_WEIGHTS

    acts = ", ".join(f"{act.name.lower()} {weight:g}" for act, weight in ESCALATION_WEIGHTS.items())
    return (
        f"`escalation_score` and `escalation_per_nation_turn` add points per act ({acts}) and per arms change (up "
        f"{ARMS_UP_WEIGHT:g}, down {ARMS_DOWN_WEIGHT:g}), after Rivera et al. 2024: alliances and aid count as "
        "posturing, so they score without any war or threat."
    )


def returns_section(design: Any, rows_of: RowsOf, confidence: float) -> list[str]:
    """The learned policies' episode returns against the baselines' in self-play in the training scenario."""
    conditions, _, train_setting, baselines = _scope(design)
    parts: list[str] = []
    parts.append("## Learned policies against the baselines (episode return per nation)")
    table = []
    for c in conditions:
        for doctrine in doctrine_cycle(c.doctrine):
            cells = [c.name, doctrine]
            learned_units = metric_units(rows_of(c.world, c.name, "learned", train_setting), f"{doctrine}:return")
            for policy in ["learned", *baselines]:
                data = rows_of(c.world, c.name, policy, train_setting)
                cells.append(
                    fmt_summary(mean_ci(metric_units(data, f"{doctrine}:return"), confidence)) if data else "-"
                )
            for policy in baselines:
                # Welch over the learned seeds and the baseline's episodes: the baseline's mean is an estimate too (a
                # one-sample test against it as fixed read p < 0.001 where its own interval held the learned mean)
                reference = metric_units(rows_of(c.world, c.name, policy, train_setting), f"{doctrine}:return")
                test = welch(learned_units, reference, confidence)
                cells.append(f"{fmt(test['estimate'])} (p {fmt_p(test['p_greater'])})")
            table.append(cells)
    parts.append(
        f"Self-play in `{design.scenario}`: the mean over a doctrine's nations of their own-doctrine episode return. "
        "`learned - X`: the learned mean minus baseline X's, with the one-sided p of Welch's t test (the learned "
        "seeds against the baseline's episodes) that the learned policies earn more. In self-play a power-maximiser's "
        "return is nearly constant-sum (relative power), as is any return of shares alone: such rows say little of "
        "what was learned, and the security rows (and those of doctrines of absolute gains) say more, in a mixed "
        "population together with what the partners of the other doctrine do."
    )
    align = "ll" + "r" * (1 + 2 * len(baselines))
    header = ["condition", "doctrine", "learned", *baselines, *(f"learned - {b}" for b in baselines)]
    parts.append(markdown_table(header, table, align))
    return parts


def pairwise_section(design: Any, rows_of: RowsOf, confidence: float) -> list[str]:
    """Welch tests between every pair of conditions of a world, Holm-adjusted across the headline metrics."""
    pct = _pct(confidence)
    train_setting = _training_setting(design)
    parts: list[str] = []
    parts.append("## Pairwise differences between conditions (learned, self-play, training scenario)")
    parts.append(
        f"B - A with its Welch {pct} interval over seeds, two-sided Welch p and Holm-adjusted p (across the metrics "
        "of the pair). Headline metrics; every metric is in results.csv."
    )
    for world, world_conditions in _world_conditions(design):
        for a, b in itertools.combinations(world_conditions, 2):
            ra, rb = rows_of(world, a.name, "learned", train_setting), rows_of(world, b.name, "learned", train_setting)
            if not ra or not rb:
                continue
            tests = [welch(metric_units(rb, m), metric_units(ra, m), confidence) for m in HEADLINE]
            adjusted = holm([t["p_two"] for t in tests])
            table = []
            for m, t, adj in zip(HEADLINE, tests, adjusted, strict=True):
                diff = f"{fmt(t['estimate'])} [{fmt(t['ci_low'])}, {fmt(t['ci_high'])}]"
                table.append([f"`{m}`", fmt(t["mean_a"]), fmt(t["mean_b"]), diff, fmt_p(t["p_two"]), fmt_p(adj)])
            parts.append(f"### A = `{a.name}`, B = `{b.name}`")
            parts.append(markdown_table(["metric", "B mean", "A mean", "B - A [CI]", "p", "Holm p"], table))
    return parts


def plots_section(
    design: Any,
    rows_of: RowsOf,
    confidence: float,
    runs: Mapping[tuple[str, int], Mapping[str, Any]],
    traces: Mapping[tuple[str, str, Any], Any],
    save: Callable[[str, bytes], str],
) -> list[str]:
    """The plots (metric bars per world, learning curves, power shares over one episode), each written by
    ``save(name, png)``, which returns its path in the report."""
    ev = design.evaluate
    pct = _pct(confidence)
    conditions, worlds, train_setting, baselines = _scope(design)
    parts: list[str] = []
    parts.append("## Plots")
    for world, world_conditions in _world_conditions(design):
        data = {}
        for policy in ["learned", *baselines]:
            data[policy] = {
                c.name: summaries(rows_of(world, c.name, policy, train_setting), PLOTTED, confidence)
                for c in world_conditions
            }
        name = save(
            f"metrics_{world}.png",
            plot_metric_bars(
                data,
                PLOTTED,
                [c.name for c in world_conditions],
                f"self-play in {design.scenario} ({world}): mean and {pct} interval",
            ),
        )
        parts.append(f"![metrics {world}]({name})")
    curves = {c.name: {s: runs.get((c.name, s), {}).get("curve", []) for s in design.seeds} for c in conditions}
    selfplay = {
        c.name: {s: runs.get((c.name, s), {}).get("selfplay_curve", []) for s in design.seeds} for c in conditions
    }  # runs trained with a background (train.fast_ppo.MemberLog)
    lines: dict[str, dict[str, dict[str, float]]] = {}
    for c in conditions:
        lines[c.name] = {}
        for policy in ["learned", *baselines]:
            data = rows_of(c.world, c.name, policy, train_setting)
            if data:
                doctrines = doctrine_cycle(c.doctrine)
                label = "learned, evaluated" if policy == "learned" else policy
                lines[c.name][label] = {d: mean_ci(column(data, f"{d}:return"))["mean"] for d in doctrines}
    name = save("learning_curves.png", plot_learning_curves(curves, lines, selfplay))
    parts.append(
        "Learning curves: mean episode return per nation in training (thin: seeds; thick: their mean), with the "
        "evaluation returns of the final learned policies and of the baselines as horizontal lines (training "
        "episodes and evaluation episodes have the same length"
        + ("" if design.eval_max_cycles == design.train.get("max_cycles") else ", unless [evaluate] max_cycles differs")
        + "). Training samples actions from the policy; "
        + (
            "evaluation plays its greedy choice, so the two can differ."
            if ev["deterministic"]
            else "evaluation samples too."
        )
        + (
            f" The training curve counts the learners of every world, those of the worlds with a scripted background "
            f"too ({training_population(design.train)}), while the lines are self-play: a doctrine whose self-play "
            "return is nearly constant-sum (relative power) rises in training by what it wins from the background. "
            + (
                "The thick dotted curve counts the self-play worlds alone (the mean over seeds), the kind of world "
                "the lines were evaluated in."
                if any(
                    value is not None
                    for by_seed in selfplay.values()
                    for curve in by_seed.values()
                    for point in curve
                    for key, value in point.items()
                    if key != "timesteps"
                )
                else "(These runs did not record a curve of the self-play worlds alone: runs trained before "
                "2026-12-06 did not.)"
            )
            if _background(design.train)
            else ""
        )
        + (
            " Training dealt unequal capability shares (capability spread "
            f"{float(design.train['capability_spread']):g}); evaluation plays the scenarios' own shares."
            if float(design.train.get("capability_spread", 0.0))
            else ""
        )
    )
    parts.append(f"![learning curves]({name})")
    for world, _point in worlds:
        world_traces: dict[str, dict[str, Any]] = {}
        for c in (c for c in conditions if c.world == world):
            world_traces[c.name] = {f"learned seed {design.seeds[0]}": traces.get((c.name, "learned", design.seeds[0]))}
            if "scripted" in baselines:
                world_traces[c.name]["scripted"] = traces.get((c.name, "scripted", None))
        name = save(
            f"power_shares_{world}.png",
            plot_power_shares(
                world_traces, f"power shares over episode seed {ev['seed']} ({design.scenario}, {world})"
            ),
        )
        parts.append(f"Power shares of every nation over one self-play episode (env seed {ev['seed']}):")
        parts.append(f"![power shares {world}]({name})")
    return parts


def _policy_entropy(metrics: Mapping[str, Any]) -> str:
    """A run's last ``policy_entropy`` (``train.fast_ppo``) as "arms level X of MAX, act Y of MAX"; "-" where the run
    did not record one (runs trained before 2026-12-06, or by another trainer)."""
    entropy = metrics.get("policy_entropy")
    if not entropy:
        return "-"
    return ", ".join(
        f"{label} {fmt(entropy[name])} of {fmt(entropy[f'{name}_max'])}"
        for label, name in (("arms level", "arms_level_entropy"), ("act", "act_entropy"))
    )


def runs_section(design: Any, runs: Mapping[tuple[str, int], Mapping[str, Any]]) -> list[str]:
    """Every training run's steps, wall time, speed, mean return (over the whole run, and at its end: its last
    learning-curve point, the episodes of its last ``max_cycles`` turns) and how sure its policy ended of its arms
    level and its act; from its ``metrics.json``."""
    conditions = design.conditions
    parts: list[str] = []
    parts.append("## Training runs")
    parts.append(
        "*Policy entropy at the end*: the entropy (nats) of the policy's choice of arms level and of act, each "
        "marginalised over the rest of the action, on the last update's first minibatch (the policy of the last "
        "rollout), beside a uniform choice's: near the arms level's maximum, the policy is unsure of its arms and "
        "plays them almost at random when it samples, whatever its most likely choice. (The act's maximum counts "
        "every act, where the masks often rule out some.) `train.fast_ppo`'s `policy_entropy`."
    )
    table = []
    for c in conditions:
        for s in design.seeds:
            m = runs.get((c.name, s), {})
            returns = ", ".join(f"{d} {fmt(r)}" for d, r in (m.get("mean_episode_return") or {}).items())
            last = (m.get("curve") or [{}])[-1]
            at_end = ", ".join(f"{d} {fmt(r)}" for d, r in last.items() if d != "timesteps")
            table.append(
                [
                    f"`runs/{c.name}/seed{s}`",
                    m.get("num_timesteps", "-"),
                    fmt(m.get("total_wall_time_s")),
                    fmt(m.get("agent_steps_per_s")),
                    returns or "-",
                    at_end or "-",
                    _policy_entropy(m),
                ]
            )
    header = [
        "run",
        "timesteps",
        "wall s",
        "agent-steps/s",
        "mean return over the run",
        "mean return at the end",
        "policy entropy at the end",
    ]
    parts.append(markdown_table(header, table))
    return parts


def files_section() -> list[str]:
    """The output files and how to reproduce the report."""
    parts: list[str] = []
    parts.append("## Files and reproduction")
    parts.append(
        "- `results.csv`: one row per evaluated episode. Columns: `world`, `condition`, `doctrine` (the condition's "
        "training doctrine), `policy` (learned, scripted, random, or learned_sampled: the learned nations "
        "sampling from their policy, `[evaluate] sampled_strategy`), `seed` (training seed; empty for baselines), "
        "`setting`, `scenario`, `heldout` (0/1), `n_focal`, `background`, `focal_policy`, `episode_seed` (the env "
        "seed: matched across populations), `turns`, the sweep fields, every metric of `realism_env.METRICS`, then "
        "`focal:<m>` and `<doctrine>:<m>` (the mean over the focal nations / the nations of that doctrine of each "
        "per-nation metric of `realism_env.NATION_METRICS` and of `return`, the episode return of the nation's own "
        "doctrine, then the strategy shares of `train/strategy.py`: `act_*`, `arms_level_*`, `agree_<archetype>` and "
        "`agree_chance`). "
        "Empty cells are NaN (a metric undefined in that episode).\n"
        "- `experiment.json` and `preset.toml`: the resolved preset (`python -m train.experiment --preset-file "
        "preset.toml --out DIR` reruns it), the command and versions.\n"
        "- `runs/<condition>/seed<k>/`: `config.json` (train.fast_ppo arguments and the full EnvConfig), "
        "`metrics.json` (training summary and learning curve), `model.pt`, `checkpoints/`, `tb/`, `train.log`.\n"
        "- `deviations.csv`: one row per run, scenario and deviant of `[evaluate] deviants` (`train/deviation.py`): "
        "`deviant_return`, `learned_return`, `gain`, `others_change` (means over the episodes and the places), then "
        "`gain@nation_<k>`, the deviant's gain in each nation's place.\n"
        "- `crossplay.csv`: one row per condition, focal seed (`seed`) and `partner_seed` (`train/crossplay.py`): "
        "`focal_return`, `partner_return`, `gain`, `partners_change` (means over the episodes and the places), then "
        "`gain@nation_<k>`.\n"
        "- `evals/<condition>/<seed<k>|scripted|random>/<setting>.json`: each evaluation's population, doctrines, "
        "full EnvConfig, episode rows and cache key (`<setting>@sampled.json`: the learned nations sampling; "
        "`deviation@<scenario>.json` and `crossplay@<scenario>.json`: a run's returns per episode and nation, in "
        "self-play and with each deviant, or each other seed's nation, in each place).\n"
        "- Every number of this report is computed from `results.csv`, `deviations.csv` and `crossplay.csv` (and "
        "the runs' `metrics.json` for the learning curves) by `train/report.py`."
    )
    return parts
