"""Multi-agent PPO on Ray RLlib: one policy per doctrine, on a local Ray instance or an existing Ray cluster.

Usage::

    python -m train.rllib_ppo                                   # local Ray, 2 env runners, mixed doctrines
    python -m train.rllib_ppo --iterations 200 --num-env-runners 8 --out runs/rllib
    python -m train.rllib_ppo --address auto --num-env-runners 64   # join the cluster this node belongs to
    python -m train.rllib_ppo --help

- Policies: one RLModule per doctrine present (``security``, ``power``). Nation ``i`` maps to the module of its
  doctrine (``EnvConfig.doctrine_per_nation``) through ``policy_mapping_fn``. ``--doctrines mixed`` alternates
  security and power over the nations, nation_0 security (:func:`realism_env.mixed_doctrines`, a mixed population);
  ``security`` or ``power`` gives every nation one doctrine (one policy).
- The env is built on every env runner from a plain, JSON-able config dict (``--env-config`` or the
  ``--scenario/--n-nations/--doctrines/--max-cycles`` flags), registered with ``ray.tune.registry.register_env``.
  :class:`train.rllib_env.RealismMultiAgentEnv` is RLlib's ``ParallelPettingZooEnv`` over
  :func:`realism_env.parallel_env`.
  RLlib's new API stack handles nations that leave mid-episode, so no fixed-agent wrapper is needed.
  Env runners are other processes: a doctrine of your own (:func:`realism_env.register_doctrine`) must be registered
  in each of them too, e.g. at import of the module that defines it, run on every worker through Ray's
  ``runtime_env={"worker_process_setup_hook": ...}``; otherwise building the env there fails with a ``ValueError``
  naming the registered doctrines.
- Action masks: RLlib's ``ActionMaskingTorchRLModule`` (shipped with RLlib, in ``ray.rllib.examples``) adds
  ``log(mask)`` to the logits; it reads observations ``{"observations": ..., "action_mask": ...}``, so the adapter
  renames the env's ``"observation"`` key. (Unmasked PPO would be valid too: the env plays a forbidden action as
  WAIT at its arms level; masking just keeps the policy from wasting turns on them.)
- Seeds: ``--seed`` seeds the algorithm (``config.debugging(seed=...)``); RLlib gives env runner ``w`` the seed
  ``seed + w`` for its torch/NumPy generators and its first ``reset``, and sub-env ``k`` of a runner
  ``seed + w + k``.
- Ray: without ``--address`` a new local instance is started (``ray.init(address="local")``: never a cluster that
  happens to run on this machine) with ``--num-cpus`` CPUs, a small object store (``--object-store-mb``) and no
  dashboard. ``--address auto`` (or ``HEAD_IP:6379``) joins a running cluster, whose resources are then used as
  they are (see ``docs/integrations.md``). Each env runner takes one CPU; the learner runs in the driver.
  ``--num-env-runners 0`` samples in the driver, with one torch thread, as Ray gives each env runner
  (``OMP_NUM_THREADS`` of its one CPU): with torch's thread per core, the many one-row forward passes of sampling
  waited on the thread pool (the first iteration took 91 s instead of 11 s on 2 cores, which looked like a hang).

Writes into ``--out``: ``metrics.json`` (per-iteration mean episode return per doctrine, steps, timings, the args
and the env config) and ``checkpoint/`` (``Algorithm.save_to_path``; restore with
``ray.rllib.algorithms.algorithm.Algorithm.from_checkpoint``).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import realism_env
from agents.plugins import add_import_option, import_plugins, unknown_scenario
from realism_env import EnvConfig
from train.checkpoint import atomic_write_json
from train.cli import check_numbers, check_population, dataclass_parser

ENV_NAME = "realism_env_multi_agent"


@dataclass
class Args:
    """Command-line arguments of ``python -m train.rllib_ppo`` (every field is a ``--flag``)."""

    iterations: int = 20
    """training iterations (each samples train_batch_size env steps, then updates every policy)"""
    num_env_runners: int = 2
    """Ray actors that sample episodes (one CPU each); 0 samples in the driver, with one torch thread as an env runner
    has"""
    num_envs_per_env_runner: int = 1
    """worlds stepped together by each env runner"""
    address: str = ""
    """Ray cluster to join (auto, or HEAD_IP:6379); empty starts a local Ray instance"""
    num_cpus: int = 2
    """CPUs of the local Ray instance (ignored with --address)"""
    object_store_mb: int = 200
    """object store memory of the local Ray instance, MB (ignored with --address)"""
    out: str = "runs/rllib"
    """output directory (metrics.json, checkpoint/)"""
    seed: int = 0
    """algorithm seed; env runner w seeds its generators and first reset with seed + w"""
    scenario: str = "multipolar"
    """scenario preset (realism_env.SCENARIOS)"""
    n_nations: int | None = None
    """nations per world (None: the scenario's)"""
    doctrines: str = "mixed"
    """security, power, or mixed (security and power alternate, nation_0 security), or doctrines joined by + (a mix
    of one's own: the nations take them in turn)"""
    max_cycles: int | None = None
    """turns per episode before truncation (None: the scenario's)"""
    env_config: str = ""
    """JSON dict of parallel_env keywords (scenario, any EnvConfig field, render_mode, rich_infos); overrides the four
    env flags above (e.g. '{"misperception": 0.3}')"""
    train_batch_size: int = 2000
    """env steps (turns of one world) per training iteration, over all env runners"""
    minibatch_size: int = 256
    """SGD minibatch size"""
    num_epochs: int = 4
    """passes over each training batch"""
    lr: float = 3e-4
    """learning rate"""
    gamma: float = 0.99
    """discount factor"""
    hidden: int = 64
    """width of the two hidden layers"""
    imports: tuple[str, ...] = field(default=(), metadata={"cli": False})
    """modules of yours imported first, here and on every env runner (``--import MODULE``, :mod:`agents.plugins`):
    the doctrines and scenarios they register are valid choices"""


def parse_args(argv: list[str] | None = None) -> Args:
    """One ``--flag`` per :class:`Args` field, its docstring as help, and ``--import MODULE``."""
    import_plugins(argv, "python -m train.rllib_ppo")  # before the arguments naming what it registers are read
    parser = dataclass_parser(Args, "python -m train.rllib_ppo", __doc__.split("\n\n")[0])
    add_import_option(parser)
    values = vars(parser.parse_args(argv))
    args = Args(**{**values, "imports": tuple(values["imports"])})
    for name in ("iterations", "num_envs_per_env_runner", "num_cpus", "train_batch_size", "minibatch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} is invalid; valid: an integer >= 1")
    if args.num_env_runners < 0:
        parser.error(
            f"--num-env-runners {args.num_env_runners} is invalid; valid: an integer >= 0 (0 samples in the driver)"
        )
    if args.address not in ("", "auto", "local") and not re.fullmatch(r"(ray://)?[^\s:/]+:\d+", args.address):
        parser.error(f"--address {args.address!r} is invalid; valid: empty (a local Ray instance), auto, or HOST:PORT")
    try:
        check_numbers(args, unit=("gamma",), positive=("lr",))
    except ValueError as error:
        parser.error(str(error))
    if Path(args.out).is_file():
        parser.error(f"--out {args.out} is a file; valid: a folder")
    try:
        env_config(args)
    except ValueError as error:
        parser.error(str(error))
    return args


def env_config(args: Args) -> dict[str, Any]:
    """The plain dict the env is built from on every env runner (validated here once)."""
    if args.env_config:
        try:
            config = json.loads(args.env_config)
        except ValueError:
            config = None  # not JSON: refused below, with what is valid
        if not isinstance(config, dict):
            raise ValueError(
                f"--env-config {args.env_config!r} is invalid; valid: a JSON object of parallel_env keywords, e.g. "
                '\'{"n_nations": 3, "rich_infos": true}\''
            )
    else:
        check_population("--doctrines", args.doctrines)
        given = {"n_nations": args.n_nations, "max_cycles": args.max_cycles}
        config = {"scenario": args.scenario, **{k: v for k, v in given.items() if v is not None}}
        n_nations = resolved(config).n_nations  # the scenario's, unless --n-nations
        doctrines = realism_env.population_setting(args.doctrines, n_nations)
        config["doctrines"] = doctrines if isinstance(doctrines, str) else list(doctrines)  # JSON-able
    # what each env runner builds, built once here: a ValueError names the keyword and the valid choices
    resolved(config)
    realism_env.parallel_env(**config).close()
    return config


#: parallel_env keywords that are not EnvConfig fields: how the env reports, not the world it simulates
ENV_KEYWORDS = ("render_mode", "rich_infos")


def resolved(config: dict[str, Any]) -> EnvConfig:
    """The EnvConfig of an env config dict (its ``scenario`` and EnvConfig fields; :data:`ENV_KEYWORDS` left to
    :func:`realism_env.parallel_env`); ``ValueError`` names what is invalid."""
    overrides = {k: v for k, v in config.items() if k not in ENV_KEYWORDS}
    scenario = overrides.pop("scenario", "multipolar")
    if not isinstance(scenario, str) or scenario not in realism_env.SCENARIOS:
        raise ValueError(unknown_scenario(scenario))  # EnvConfig's error would not say how to add one of your own
    return EnvConfig.from_scenario(scenario, **overrides)


def policy_mapping(config: dict[str, Any]) -> dict[str, str]:
    """Nation name -> the id of its doctrine's policy (the doctrine's name)."""
    doctrines = resolved(config).doctrine_per_nation
    return {f"nation_{i}": doctrine for i, doctrine in enumerate(doctrines)}


def build_config(args: Args) -> Any:
    """The ``PPOConfig``: the registered env, one module per doctrine, per-worker seeds, small batches."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule
    from ray.tune.registry import register_env

    from train.rllib_env import IMPORTS_KEY, make_env

    register_env(ENV_NAME, make_env)
    config = env_config(args)
    mapping = policy_mapping(config)
    policies = sorted(set(mapping.values()))
    model_config = {
        "fcnet_hiddens": [args.hidden, args.hidden],
        "head_fcnet_hiddens": [args.hidden],
        "vf_share_layers": False,
    }
    specs = {
        policy: RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config=model_config) for policy in policies
    }
    return (
        PPOConfig()
        .environment(ENV_NAME, env_config={**config, IMPORTS_KEY: list(args.imports)})
        .env_runners(
            num_env_runners=args.num_env_runners,
            num_envs_per_env_runner=args.num_envs_per_env_runner,
            num_cpus_per_env_runner=1,
            rollout_fragment_length="auto",
        )
        .multi_agent(
            policies=set(policies),
            policy_mapping_fn=lambda agent_id, episode, **kwargs: mapping[agent_id],
        )
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=specs))
        .training(
            train_batch_size_per_learner=args.train_batch_size,
            minibatch_size=args.minibatch_size,
            num_epochs=args.num_epochs,
            lr=args.lr,
            gamma=args.gamma,
        )
        .learners(num_learners=0)
        .debugging(seed=args.seed)
    )


def doctrine_returns(result: dict[str, Any]) -> dict[str, float]:
    """Mean episode return per policy (doctrine) of one ``Algorithm.train()`` result."""
    per_module = result.get("env_runners", {}).get("module_episode_returns_mean", {})
    return {module: float(value) for module, value in sorted(per_module.items())}


def train(args: Args) -> dict[str, Any]:
    """Start or join Ray, train ``args.iterations`` iterations, write ``args.out``; return the metrics."""
    if not args.address:
        # A local instance is one node: keep all of Ray's traffic on loopback (Ray otherwise binds the machine's
        # network address, as a cluster node would). Must be set before Ray is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # before Ray starts: nothing fails between its start and the try below
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(
            address="local",  # a new instance, even where ray.init() would join a cluster running on this machine
            num_cpus=args.num_cpus,
            object_store_memory=args.object_store_mb * 1024 * 1024,
            include_dashboard=False,
            configure_logging=False,
        )
    threads = torch.get_num_threads()
    if args.num_env_runners == 0:  # the driver samples: one thread, as an env runner has (see the module docstring)
        torch.set_num_threads(1)
    algo = None
    history = []
    try:
        algo = build_config(args).build_algo()
        start = time.time()
        for iteration in range(1, args.iterations + 1):
            result = algo.train()
            record = {
                "iteration": iteration,
                "env_steps": int(result.get("num_env_steps_sampled_lifetime", 0)),
                "episodes": int(result.get("env_runners", {}).get("num_episodes_lifetime", 0)),
                "episode_return": doctrine_returns(result),
                "time_s": round(time.time() - start, 2),
            }
            history.append(record)
            print(
                f"iteration {iteration}/{args.iterations} env steps {record['env_steps']} "
                f"return per doctrine {record['episode_return']} ({record['time_s']} s)",
                flush=True,
            )
        checkpoint = algo.save_to_path(str((out / "checkpoint").resolve()))
    finally:
        if algo is not None:
            algo.stop()
        ray.shutdown()
        torch.set_num_threads(threads)
    metrics = {
        "args": asdict(args),
        "env_config": env_config(args),
        "policies": sorted(set(policy_mapping(env_config(args)).values())),
        "policy_mapping": policy_mapping(env_config(args)),
        "checkpoint": str(checkpoint),
        "history": history,
    }
    atomic_write_json(out / "metrics.json", metrics)  # an interrupted write leaves an earlier run's file whole
    return metrics


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
