"""A few seeded episodes with random masked actions, printed turn by turn (the README's demo).

python -m realism_env.demo [--episodes 3] [--max-cycles 40] [--scenario multipolar] [--seed 0] [--quiet]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

import realism_env
from realism_env.rules import power_share


def run_episode(scenario: str, seed: int, max_cycles: int, doctrines: str, quiet: bool) -> dict[str, object]:
    """Play one episode with uniformly random valid actions; return its summary."""
    env = realism_env.parallel_env(scenario=scenario, max_cycles=max_cycles, doctrines=doctrines, render_mode="ansi")
    rng = np.random.default_rng(seed)
    observations, _ = env.reset(seed=seed)
    counts: Counter[str] = Counter()
    returns: Counter[str] = Counter()
    for _ in range(max_cycles):  # the env truncates at max_cycles, so this cap is never the binding one
        if not env.agents:
            break
        actions = {}
        for agent in env.agents:
            valid = np.flatnonzero(observations[agent]["action_mask"])
            actions[agent] = int(valid[rng.integers(valid.size)])
        observations, rewards, _, _, _ = env.step(actions)
        returns.update(rewards)
        events = env.last_events
        counts["wars declared"] += int(events.war_declared.sum())
        counts["provinces conquered"] += int(events.province_taken.sum())
        counts["provinces conceded"] += int(events.concession.sum())
        counts["alliances formed"] += int(events.alliance_formed.sum()) // 2
        counts["peace treaties"] += int(events.peace.sum()) // 2
        counts["eliminations"] += int(events.eliminated.sum())
        if not quiet:
            print(env.render(), end="\n\n")
    world = env.world
    names = env.config.display_names()
    shares = power_share(world)[0]
    return {
        "turns": int(world.turn[0]),
        "counts": dict(counts),
        "shares": {names[i]: float(shares[i]) for i in range(len(names))},
        "returns": dict(returns),
        "forces_lost": float(world.forces_lost.sum()),
        "wealth_destroyed": float(world.wealth_destroyed.sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m realism_env.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=3, help="number of episodes (seeds seed, seed+1, ...)")
    parser.add_argument("--max-cycles", type=int, default=40, help="turns (years) per episode")
    parser.add_argument("--scenario", default="multipolar", choices=sorted(realism_env.SCENARIOS))
    parser.add_argument("--doctrines", default="security", choices=sorted(realism_env.DOCTRINES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="print only the summaries, not every turn")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes} is invalid; valid: an integer >= 1")
    if args.seed < 0:
        parser.error(f"--seed {args.seed} is invalid; valid: an integer >= 0")
    try:  # the episode length the scenario can hold (EnvConfig names the field and its valid range)
        realism_env.EnvConfig.from_scenario(args.scenario, max_cycles=args.max_cycles, doctrines=args.doctrines)
    except ValueError as error:
        parser.error(str(error))
    for episode in range(args.episodes):
        seed = args.seed + episode
        summary = run_episode(args.scenario, seed, args.max_cycles, args.doctrines, args.quiet)
        print(f"=== episode {episode} (scenario {args.scenario}, seed {seed}): {summary['turns']} turns")
        for what, count in sorted(summary["counts"].items()):
            print(f"  {what:<22}{count:>6}")
        print(f"  {'forces lost':<22}{summary['forces_lost']:>9.1f}")
        print(f"  {'wealth destroyed':<22}{summary['wealth_destroyed']:>9.1f}")
        shares = ", ".join(f"{name} {share:.2f}" for name, share in summary["shares"].items())
        print(f"  final power shares: {shares}")
        print()


if __name__ == "__main__":
    main()
