"""The essay's claims (:data:`CLAIMS`), each operationalised as a one-sided test with the theory it comes from, and
their verdicts (:func:`verdict`, :func:`judge`, :func:`assess`) on the rows of results.csv. The verdict rule is in
the docstring of :mod:`train.report` and in every report (:data:`RULE`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from train.report_statistics import (
    column,
    column_bounds,
    finite,
    holm,
    mean_ci,
    metric_units,
    one_sample,
    unit_values,
    welch,
    within,
)

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


@dataclass(frozen=True)
class Claim:
    """One claim of the essay, operationalised as a one-sided test (its kinds: the docstring of :mod:`train.report`)."""

    id: str
    text: str  #: the claim, as the essay states it
    source: str  #: who argues it
    kind: str  #: greater, above, below or paired
    metric: str  #: results.csv column
    condition: str  #: the doctrine condition it is measured in (A)
    other: str | None = None  #: the comparison condition (B) of a ``greater`` claim
    metric_b: str | None = None  #: the subtracted column of a ``paired`` claim
    ref: float = 0.0  #: the reference value of ``above`` / ``below``
    appears: bool = False  #: a strategy claimed to appear: "not supported" if it never occurs in condition A
    #: the results.csv column that counts an ``appears`` strategy's chances: where it is 0 in every episode of condition
    #: A, the strategy could not occur there (bait-and-bleed with no war fought), and its absence is no evidence
    opportunity: str | None = None
    #: the id of a claim this one presumes ("even by power-maximisers" presumes that they try): where that one is not
    #: supported, the verdict stands with a note saying so
    presumes: str | None = None
    context: str | None = None  #: another condition whose value is shown beside (not tested)
    scenario: str | None = None  #: read in self-play in this (held-out) scenario; None: the training scenario

    @property
    def measure(self) -> str:
        where = f", self-play in `{self.scenario}`" if self.scenario else ""
        if self.kind == "greater":
            return f"`{self.metric}`: {self.condition} > {self.other}{where}"
        if self.kind == "paired":
            return f"in {self.condition}: `{self.metric}` > `{self.metric_b}` (same episodes){where}"
        sign = ">" if self.kind == "above" else "<"
        return f"`{self.metric}` in {self.condition} {sign} {self.ref:g}{where}"

    @property
    def conditions(self) -> tuple[str, ...]:
        return tuple(c for c in (self.condition, self.other, self.context) if c is not None)


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "war",
        "Power-maximisers start more wars",
        "Mearsheimer 2001 (offensive realism)",
        "greater",
        "war_onsets",
        "power",
        "security",
    ),
    Claim(
        "war_mixed",
        "Among mixed nations, power-maximisers declare more wars than security-maximisers",
        "Mearsheimer 2001 vs Waltz 1979",
        "paired",
        "power:war_onsets",
        "mixed",
        metric_b="security:war_onsets",
    ),
    Claim(
        "security_dilemma",
        "Security-maximisers still arms-race (the security dilemma)",
        "critics of defensive realism (Jervis 1978)",
        "above",
        "arms_racing",
        "security",
        ref=0.0,
        context="power",
    ),
    Claim(
        "buck_passing",
        "Buck-passing appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "buck_passing",
        "power",
        "security",
        appears=True,
        opportunity="buck_passing_chances",
    ),
    Claim(
        "blackmail",
        "Blackmail appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "demands_made",
        "power",
        "security",
        appears=True,
    ),
    Claim(
        "bait_and_bleed",
        "Bait-and-bleed appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "bait_and_bleed",
        "power",
        "security",
        appears=True,
        opportunity="bait_and_bleed_chances",
    ),
    Claim(
        "bloodletting",
        "Bloodletting appears under power maximisation",
        "Mearsheimer 2001",
        "greater",
        "bloodletting",
        "power",
        "security",
        appears=True,
        opportunity="bait_and_bleed_chances",
    ),
    Claim(
        "status_quo",
        "Systems of security-maximisers keep the status quo (less territory changes hands than among power-maximisers)",
        "Waltz 1979 (defensive realism)",
        "greater",
        "territorial_change",
        "power",
        "security",
    ),
    Claim(
        "status_quo_absolute",
        "Systems of security-maximisers keep the status quo (most episodes end with no province changed hands)",
        "Waltz 1979 (defensive realism)",
        "above",
        "status_quo_kept",
        "security",
        ref=0.5,
        context="power",
    ),
    Claim(
        "conquest_pays",
        "Conquest pays: nations that start wars gain power relative to their targets (from the declaration on)",
        "Mearsheimer 2001 (offensive realism); against it, Waltz 1979 and Van Evera 1998 (conquest rarely pays)",
        "above",
        "conquest_gain",
        "power",
        ref=0.0,
        context="security",
    ),
    Claim(
        "human_cost",
        "Power politics has a human cost: more forces and wealth are destroyed among power-maximisers",
        "the critics of realism (the human cost of power politics)",
        "greater",
        "casualties",
        "power",
        "security",
    ),
    Claim(
        "balancing_rising_power",
        "Balancing forms against a rising power: facing it, security-maximisers ally against the strongest more often "
        "than with it (balancing, not bandwagoning; whether the alliances check it is not tested)",
        "Waltz 1979 (the balance of power)",
        "paired",
        "balancing",
        "security",
        metric_b="bandwagoning",
        scenario="rising_power",
    ),
    Claim(
        "buck_passing_rising_power",
        "The balance fails through buck-passing: facing a rising power, threatened security-maximisers pass the buck "
        "on most of their threatened turns",
        "the critics (balance failures); Mearsheimer 2001 (buck-passing)",
        "above",
        "buck_passing_rate",
        "security",
        ref=0.5,
        context="power",
        scenario="rising_power",
    ),
    Claim(
        "hegemony_attempted",
        "Hegemony is attempted: power-maximisers concentrate power (peak HHI of power shares)",
        "Mearsheimer 2001",
        "greater",
        "peak_hhi",
        "power",
        "security",
    ),
    Claim(
        "hegemony_reached",
        "Hegemony is rarely reached, even by power-maximisers (share of episodes with a hegemon below 0.25)",
        "critics of offensive realism; Waltz 1979 (balancing checks it)",
        "below",
        "hegemony_reached",
        "power",
        ref=0.25,
        context="security",
        presumes="hegemony_attempted",
    ),
)

RULE = (
    "supported: the estimate is in the predicted direction with one-sided p < alpha; not supported: it is in the "
    "opposite direction with one-sided p < alpha, or a strategy claimed to appear never occurs though it had the "
    "chance; inconclusive: otherwise (including fewer than two units per side, and a strategy that never had the "
    "chance to occur, such as bait-and-bleed where no war was fought)"
)


def verdict(estimate: float, p_predicted: float, p_opposite: float, alpha: float = 0.05, never: bool = False) -> str:
    """The verdict of a claim whose ``estimate`` is positive in the predicted direction (rule in the docstring of
    :mod:`train.report`); ``never``: the strategy never occurred in the predicted condition."""
    if never:
        return NOT_SUPPORTED
    if not (math.isfinite(estimate) and math.isfinite(p_predicted) and math.isfinite(p_opposite)):
        return INCONCLUSIVE
    if estimate > 0 and p_predicted < alpha:
        return SUPPORTED
    if estimate < 0 and p_opposite < alpha:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def judge(
    claim: Claim,
    units: Mapping[str, Sequence[float]],
    alpha: float = 0.05,
    confidence: float = 0.95,
    never: bool = False,
) -> dict[str, Any]:
    """Test ``claim`` on per-unit values (``units[condition]``: one value per seed or episode; for a ``paired`` claim,
    ``units[condition]`` holds the per-unit differences). Returns the test (see :func:`welch`), the ``verdict`` and the
    estimate oriented so that positive means "as predicted"."""
    a = units.get(claim.condition, [])
    if claim.kind == "greater":
        test = welch(a, units.get(claim.other or "", []), confidence)
        oriented, p_pred, p_opp = test["estimate"], test["p_greater"], test["p_less"]
    elif claim.kind in ("above", "paired"):
        test = one_sample(a, claim.ref if claim.kind == "above" else 0.0, confidence)
        oriented, p_pred, p_opp = test["estimate"], test["p_greater"], test["p_less"]
    elif claim.kind == "below":
        test = one_sample(a, claim.ref, confidence)
        oriented, p_pred, p_opp = -test["estimate"], test["p_less"], test["p_greater"]
    else:
        raise ValueError(f"unknown claim kind {claim.kind!r}; valid: greater, above, below, paired")
    p = p_pred if oriented >= 0 else p_opp
    result = verdict(oriented, p_pred, p_opp, alpha, never)
    return {**test, "oriented": oriented, "p": p, "verdict": result, "never": never}


def holm_verdicts(results: Sequence[Mapping[str, Any]], alpha: float = 0.05) -> list[str]:
    """Each claim's verdict after Holm's step-down correction over the claims of ``results`` (one policy's column)
    that the rule leaves to their test (:func:`decided_by_test`): a verdict its test reached (supported, or not
    supported with p < alpha) stays only where its adjusted p is below ``alpha``, and is inconclusive otherwise; the
    others (n/a, a strategy that never occurs or never had the chance) stay. Each claim's p is one-sided in its
    estimate's direction, the test the table reads at ``alpha`` in each direction, so the chance of any false verdict
    among the family is at most what the table allows one claim alone."""
    tested = [k for k, result in enumerate(results) if decided_by_test(result)]
    adjusted = dict(zip(tested, holm([results[k]["p"] for k in tested]), strict=True))
    out = []
    for k, result in enumerate(results):
        fallen = reached_by_test(result) and adjusted[k] >= alpha  # a test's verdict has a finite p: it is tested
        out.append(INCONCLUSIVE if fallen else result["verdict"])
    return out


def decided_by_test(result: Mapping[str, Any]) -> bool:
    """Whether the rule leaves a claim's verdict to its test: judged (not n/a), with a p value, and neither a strategy
    that never occurs (not supported) nor one that never had the chance (inconclusive)."""
    judged = result["verdict"] != "n/a" and math.isfinite(result.get("p", math.nan))
    return judged and not result.get("never") and not result.get("no_chance")


def reached_by_test(result: Mapping[str, Any]) -> bool:
    """Whether a claim's test reached a verdict (supported, or not supported in the opposite direction)."""
    return decided_by_test(result) and result["verdict"] in (SUPPORTED, NOT_SUPPORTED)


def claim_units(claim: Claim, rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, np.ndarray]:
    """The per-unit values each condition of ``claim`` contributes (a context condition that was not evaluated, as in
    a preset without it, contributes nothing: it is shown beside, never tested)."""
    units = {}
    for condition in claim.conditions:
        rows = rows_by_condition.get(condition, [])
        if condition == claim.context and not rows:
            continue
        if claim.kind == "paired" and condition == claim.condition:
            units[condition] = unit_values(rows, lambda r: column(r, claim.metric) - column(r, claim.metric_b or ""))
        else:
            units[condition] = metric_units(rows, claim.metric)
    return units


def _zero_everywhere(rows: Sequence[Mapping[str, Any]], name: str) -> bool:
    """Whether column ``name`` is 0 in every row where it is defined (and defined in some)."""
    x = finite(column(rows, name))
    return bool(x.size) and bool(np.all(x == 0))


def never_occurs(claim: Claim, rows: Sequence[Mapping[str, Any]]) -> bool:
    """True when a strategy claimed to appear is zero in every evaluated episode of the predicted condition."""
    return claim.appears and bool(rows) and _zero_everywhere(rows, claim.metric)


def never_had_the_chance(claim: Claim, rows: Sequence[Mapping[str, Any]]) -> bool:
    """True when the chances of a strategy claimed to appear (``claim.opportunity``) are zero in every evaluated
    episode of the predicted condition: it could not occur. False where its chances are not counted."""
    counted = claim.appears and claim.opportunity is not None and bool(rows) and claim.opportunity in rows[0]
    return counted and _zero_everywhere(rows, claim.opportunity)


def assess(
    claims: Sequence[Claim],
    rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]],
    alpha: float = 0.05,
    confidence: float = 0.95,
    by_scenario: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]] | None = None,
) -> list[dict[str, Any]]:
    """Every claim judged on ``rows_by_condition`` (doctrine -> evaluated episode rows of the training scenario), or,
    for a claim read in another scenario, on ``by_scenario[scenario]``; a claim whose conditions (or scenario) are
    missing gets verdict ``n/a``."""
    results = []
    for claim in claims:
        rows_by_condition_here = (by_scenario or {}).get(claim.scenario, {}) if claim.scenario else rows_by_condition
        results.append(_assess_one(claim, rows_by_condition_here, alpha, confidence))
    verdicts = {result["claim"].id: result["verdict"] for result in results}
    for result in results:
        presumed = result["claim"].presumes
        # (a presumed claim this preset does not test, n/a, says nothing either way)
        unmet = presumed in verdicts and verdicts[presumed] not in (SUPPORTED, "n/a")
        if unmet and result["verdict"] != "n/a" and not result.get("note"):
            text = next(claim.text for claim in claims if claim.id == presumed)
            result["note"] = f"it presumes that {text[0].lower() + text[1:]}, which is {verdicts[presumed]} here"
    return results


def _assess_one(
    claim: Claim, rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]], alpha: float, confidence: float
) -> dict[str, Any]:
    if any(c not in rows_by_condition or not rows_by_condition[c] for c in claim.conditions if c != claim.context):
        return {"claim": claim, "verdict": "n/a"}
    units = claim_units(claim, rows_by_condition)
    rows = rows_by_condition[claim.condition]
    no_chance = never_had_the_chance(claim, rows)
    result = judge(claim, units, alpha, confidence, never_occurs(claim, rows) and not no_chance)
    result["claim"] = claim
    result["no_chance"] = no_chance
    if no_chance:  # its absence is no evidence, nor is a comparison with a condition where it had chances
        result["verdict"] = INCONCLUSIVE
        result["note"] = f"it never had the chance: `{claim.opportunity}` is 0 in every episode of {claim.condition}"
    # A paired claim's values are differences; the others' are the metric's own values, within its range.
    bounds = (-math.inf, math.inf) if claim.kind == "paired" else column_bounds(claim.metric)
    result["summary"] = {c: within(mean_ci(units[c], confidence), bounds) for c in units}
    return result
