"""The experiment's design, resolved from a preset (:mod:`train.experiment_presets`): the trained conditions (a
doctrine in one world of the sweep), the evaluation settings, the training runs and their train.fast_ppo arguments."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from realism_env import EnvConfig
from realism_env.overrides import format_value
from train.checkpoint import read_json
from train.fast_ppo import Args

#: short names of sweep fields in condition names
SHORT = {"offense_defense_balance": "odb", "conquest_payoff": "cp", "misperception": "mis", "sea_penalty": "sea"}


@dataclass(frozen=True)
class Condition:
    """A trained condition: a doctrine in one world (a point of the sweep)."""

    name: str
    doctrine: str
    world: str
    point: tuple[tuple[str, Any], ...]  #: the sweep values of its world


@dataclass(frozen=True)
class Setting:
    """An evaluation setting: self-play or focal-vs-background, in a scenario."""

    name: str
    scenario: str
    heldout: bool
    n_focal: int | None = None
    background: str | None = None

    @property
    def selfplay(self) -> bool:
        return self.n_focal is None


@dataclass(frozen=True)
class Design:
    """A validated, resolved preset."""

    name: str
    scenario: str
    doctrines: tuple[str, ...]
    seeds: tuple[int, ...]
    workers: int
    train: dict[str, Any]
    env: dict[str, Any]
    sweep: dict[str, list[Any]]
    evaluate: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    #: modules every process imports first (``[experiment] imports``, ``--import``): doctrines, scenarios and
    #: policies of the user's own
    imports: tuple[str, ...] = ()

    def preset(self) -> dict[str, Any]:
        """The resolved preset (every [experiment] and [evaluate] key filled in), as
        :func:`~train.experiment_presets.load_preset` reads it."""
        return {
            "experiment": {
                "name": self.name,
                "scenario": self.scenario,
                "conditions": list(self.doctrines),
                "seeds": list(self.seeds),
                "workers": self.workers,
                "imports": list(self.imports),
            },
            "train": dict(self.train),
            "env": {k: list(v) if isinstance(v, tuple) else v for k, v in self.env.items()},
            "sweep": {k: [list(x) if isinstance(x, tuple) else x for x in v] for k, v in self.sweep.items()},
            "evaluate": dict(self.evaluate),
        }

    @property
    def worlds(self) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
        """(name, sweep point) of every world: ``base`` without a sweep."""
        if not self.sweep:
            return [("base", ())]
        keys = list(self.sweep)
        out = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            point = tuple(zip(keys, values, strict=True))
            name = "_".join(f"{SHORT.get(k, k)}{_value_text(v)}" for k, v in point)
            out.append((name, point))
        return out

    @property
    def conditions(self) -> list[Condition]:
        out = []
        for world, point in self.worlds:
            for doctrine in self.doctrines:
                name = doctrine if world == "base" else f"{doctrine}-{world}"
                out.append(Condition(name, doctrine, world, point))
        return out

    def runs(self, out: Path) -> list[tuple[Condition, int, Path]]:
        """(condition, seed, run folder) of every training run under ``out``."""
        return [(c, s, out / "runs" / c.name / f"seed{s}") for c in self.conditions for s in self.seeds]

    @property
    def settings(self) -> list[Setting]:
        ev = self.evaluate
        out = [Setting(f"selfplay@{self.scenario}", self.scenario, False)]
        out += [Setting(f"selfplay@{s}", s, True) for s in ev["heldout"] if s != self.scenario]
        scenarios = [self.scenario, *(s for s in ev["focal_heldout"] if s != self.scenario)]
        out += [
            Setting(f"focal_vs_{b}@{s}", s, s != self.scenario, ev["n_focal"], b)
            for s in scenarios
            for b in ev["backgrounds"]
        ]
        return out

    @property
    def training_setting(self) -> Setting:
        """Self-play in the training scenario (the first of :meth:`settings`)."""
        return self.settings[0]

    @property
    def deviation_scenarios(self) -> list[str]:
        """Where the deviations are played (``[evaluate] deviation_scenarios``; none without ``deviants``)."""
        return list(dict.fromkeys(self.evaluate["deviation_scenarios"])) if self.evaluate["deviants"] else []

    @property
    def crossplay(self) -> bool:
        """Whether each condition's runs play against each other (``[evaluate] crossplay_episodes`` above 0, and two
        seeds or more; :func:`train.experiment_jobs.crossplay_jobs`)."""
        return self.evaluate["crossplay_episodes"] > 0 and len(self.seeds) > 1

    @property
    def timesteps(self) -> int:
        """Agent-steps a run trains (``[train] timesteps``, or train.fast_ppo's default)."""
        return int(self.train.get("timesteps", Args.timesteps))

    @property
    def eval_max_cycles(self) -> int:
        if self.evaluate.get("max_cycles") is not None:
            return int(self.evaluate["max_cycles"])
        if self.train.get("max_cycles") is not None:
            return int(self.train["max_cycles"])
        return EnvConfig.from_scenario(self.scenario, **self.env).max_cycles

    def overrides(self, condition: Condition) -> dict[str, Any]:
        """EnvConfig overrides of a condition (the [env] table and its sweep point)."""
        return {**self.env, **dict(condition.point)}

    @property
    def populations(self) -> list[tuple[int, ...]]:
        """The seeds trained together (``[train] population``, :mod:`train.population`): runs of consecutive seeds,
        at most ``population`` long, in the order of ``seeds``; without it, each seed alone."""
        size = int(self.train.get("population", 1))
        return [
            run[start : start + size]
            for run in consecutive_runs(list(self.seeds))
            for start in range(0, len(run), size)
        ]

    def population_of(self, seed: int) -> tuple[int, ...]:
        """The seeds trained with ``seed`` (itself included)."""
        for group in self.populations:
            if seed in group:
                return group
        raise ValueError(f"seed {seed} is not one of the experiment's seeds; valid: {list(self.seeds)}")

    def args(self, condition: Condition, seed: int, out: Path, population: int | None = None) -> Args:
        """The train.fast_ppo arguments of one run (of a member of a population: as its run folder records them);
        ``population``: the members trained with it, itself included (default: its group's size)."""
        sets = tuple(f"{k}={format_value(v)}" for k, v in self.overrides(condition).items())
        return Args(
            **{**self.train, "population": population or len(self.population_of(seed))},
            doctrine=condition.doctrine,
            scenario=self.scenario,
            seed=seed,
            out=str(out),
            resume=True,
            set=sets,
            progress_bar=False,
            imports=self.imports,
        )

    def training_jobs(self, out: Path, unfinished: list[tuple[Condition, int, Path]]) -> list[TrainingJob]:
        """The training jobs that finish the ``unfinished`` runs: a run alone, or the population it belongs to (all
        its members train together, in ``runs/<condition>/population_seed<first>-<last>``, each member's run in its
        own folder, as a run alone writes it)."""
        jobs, done = [], set()
        to_train = {(condition.name, seed) for condition, seed, _ in unfinished}
        for condition, seed, run_dir in unfinished:
            # A group's finished members stay as they are: only the unfinished ones train together (a seed added to
            # the preset joins a group whose other members were trained before). The trainer trains the consecutive
            # seeds --seed .. --seed + M - 1, so unfinished members on either side of a finished one train apart.
            unfinished_members = [s for s in self.population_of(seed) if (condition.name, s) in to_train]
            group = trained_together(run_dir) or next(r for r in consecutive_runs(unfinished_members) if seed in r)
            if (condition.name, group) in done:
                continue
            done.add((condition.name, group))
            if len(group) == 1:
                jobs.append(TrainingJob(condition, self.args(condition, seed, run_dir, 1), ((seed, run_dir),)))
                continue
            folder = out / "runs" / condition.name
            population_dir = folder / f"population_seed{group[0]}-{group[-1]}"
            args = replace(self.args(condition, group[0], population_dir, len(group)), members_dir=str(folder))
            jobs.append(TrainingJob(condition, args, tuple((s, folder / f"seed{s}") for s in group)))
        return jobs


def trained_together(run_dir: Path) -> tuple[int, ...] | None:
    """The seeds of the population ``run_dir`` finished in, where its files were damaged since (a model or config.json
    gone or truncated): that population is resumed at its end, which writes its members' files again (a member alone
    is another run); None for a run trained alone or not finished."""
    metrics = read_json(run_dir / "metrics.json")
    if metrics is not None and not metrics.get("finished"):
        return None
    for record in (metrics or {}, read_json(run_dir / "config.json") or {}):  # either may be the damaged file
        population = record.get("population_out")
        if population is not None:
            args = (read_json(Path(population) / "config.json") or {}).get("args", {})
            first, size = args.get("seed"), args.get("population")
            return tuple(range(first, first + size)) if isinstance(first, int) and isinstance(size, int) else None
    return None


def consecutive_runs(seeds: list[int]) -> list[tuple[int, ...]]:
    """``seeds`` split, in their order, where one is not the last plus 1: [0, 2, 3] gives (0,), (2, 3)."""
    runs: list[list[int]] = []
    for seed in seeds:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return [tuple(run) for run in runs]


class TrainingJob(NamedTuple):
    """One train.fast_ppo run of the experiment: a run alone or a population of runs."""

    condition: Condition
    args: Args
    members: tuple[tuple[int, Path], ...]  #: (seed, run folder) of each run it trains

    @property
    def agent_steps(self) -> int:
        """The agent-steps it trains: each member's ``timesteps``."""
        return int(self.args.timesteps) * len(self.members)


def _value_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace(" ", "")
