"""Throughput of the evaluation harness (agents/evaluate.py) on the default scenario.

    python -m benchmarks.evaluate [--population offensive_realist:3,defensive_realist:3] [--scenario multipolar]
                                  [--episodes 32] [--max-cycles 200] [--seed 0] [--repeats 3]

Times what ``python -m agents.evaluate`` does for one population, split in three: playing the episodes (the scripted
policies, the rules and the recording of each turn), computing every metric from the records, and summarising
(bootstrap intervals over the episodes). Prints episodes per second, turns (parallel steps) per second and
agent-steps per second (one per live nation per turn) of the whole, twice in the same run: with the harness's
episodes played ``Episodes.TOGETHER`` at a time as one batch of worlds (one call of the rules and one per policy a
turn for all of them) and one episode at a time, and the ratio of the two. Time is the process's CPU time
(single-threaded work; steadier than wall time when other processes share the machine); the best of ``--repeats``
is reported.
"""

from __future__ import annotations

import argparse
import time

import realism_env
from agents.episodes import Episodes, matched_seeds
from agents.evaluation_report import bootstrap_settings, report
from agents.population import make_plan


def measure(
    population: str, scenario: str, episodes: int, max_cycles: int, seed: int, together: int
) -> dict[str, float]:
    """CPU seconds of each part of one harness run, and the work done."""
    plan = make_plan(population, scenario, max_cycles=max_cycles)
    seeds = matched_seeds(seed, episodes)
    boot = bootstrap_settings(0.95, 2000, seed)
    harness = Episodes(plan, together=together)
    play = metrics = 0.0
    turns = agent_steps = 0
    rows = []
    for group in harness.play(seeds):
        start = time.process_time()
        for turn in group.turns():
            agent_steps += int(turn.live.sum())
        play += time.process_time() - start
        turns += int(group.n_turns.sum())
        start = time.process_time()
        rows += [harness.row(group.log(k), s, int(group.n_turns[k])) for k, s in enumerate(group.seeds)]
        metrics += time.process_time() - start
    start = time.process_time()
    report(plan, rows, seed, boot)
    summaries = time.process_time() - start
    return {
        "play": play,
        "record_and_metrics": metrics,
        "summaries": summaries,
        "total": play + metrics + summaries,
        "episodes": float(episodes),
        "turns": float(turns),
        "agent_steps": float(agent_steps),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", default="offensive_realist:3,defensive_realist:3")
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS))
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--max-cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="measurements; the fastest is reported")
    args = parser.parse_args(argv)
    print(
        f"harness: {args.population} | scenario {args.scenario} | {args.episodes} episodes of at most "
        f"{args.max_cycles} turns (seeds {args.seed}..{args.seed + args.episodes - 1})"
    )
    out = {}
    for label, together in (("together", Episodes.TOGETHER), ("one by one", 1)):
        best: dict[str, float] | None = None
        for _ in range(args.repeats):
            result = measure(args.population, args.scenario, args.episodes, args.max_cycles, args.seed, together)
            if best is None or result["total"] < best["total"]:
                best = result
        assert best is not None
        total = best["total"]
        out[label] = best["episodes"] / total
        print(
            f"{label} ({together} at a time): episodes/s {best['episodes'] / total:.2f} | "
            f"turns/s {best['turns'] / total:,.0f} | agent-steps/s {best['agent_steps'] / total:,.0f} | "
            f"{best['turns'] / best['episodes']:.0f} turns an episode   (CPU time, best of {args.repeats})"
        )
        parts = ("play", "record_and_metrics", "summaries")
        labels = ("playing (policies, rules, records)", "metrics", "summaries (bootstrap)")
        shares = (
            f"{name} {best[p]:.2f} s ({100 * best[p] / total:.0f}%)" for p, name in zip(parts, labels, strict=True)
        )
        print("  CPU time: " + ", ".join(shares))
    print(f"together over one by one: {out['together'] / out['one by one']:.2f}x episodes/s")
    return out


if __name__ == "__main__":
    main()
