"""Learned nations in the evaluation harness: a scripted-policy adapter for trained SB3 models.

A run of ``python -m train.ppo`` (its ``model.zip`` and ``config.json``) becomes a policy of ``agents.POLICIES``, so
``agents.evaluate`` and ``agents.rollout`` play learned nations exactly like scripted ones: in self-play, or as
*focal* nations among a scripted *background population* (Melting Pot's design), in the training scenario or in
held-out ones::

    from agents.evaluate import evaluate
    from train.learned import learned_population, play, register_learned

    names = register_learned("runs/sec0")                  # {doctrine: policy name}; two names for a mixed run
    policies, doctrines = learned_population("runs/sec0", n_nations=6, n_focal=3, background="offensive_realist")
    report = evaluate(policies, scenario="multipolar", episodes=20, doctrines=doctrines, max_cycles=50)

    rows, trace = play(policies, doctrines, "bipolar", seeds=range(20), max_cycles=50, focal=[True] * 3 + [False] * 3)

:class:`LearnedPolicy` follows the Policy contract of :mod:`agents.policies` (``initial_state()``,
``step(observation, state, rng)``, no mutable state): it feeds ``observation["observation"]`` (plus the one-hot of
its own doctrine when the run was trained with the doctrine indicator, i.e. by ``train.fast_ppo``, or by
``train.ppo`` with a mix of doctrines (``--doctrine mixed``, or ``security+prosperity``): the one-hot of
:func:`realism_env.doctrine_onehot`, as in training) to the policy network, sets the logits of actions the mask
forbids to -inf and plays its greedy choice (``deterministic=True``, the default; :func:`greedy_choice`: the most
likely arms level and act, then the most likely target for it) or samples one with the generator it is given.
Works for MaskablePPO and PPO models (the mask is applied at evaluation even when training ignored it).

The network runs in numpy (the MLP's weights are copied once per model), which is several times faster than a
torch call per nation and turn; networks other than SB3's default MLP fall back to torch. Models are loaded once
per process and shared by every nation that plays them.

:func:`play` runs the harness's episodes (``agents.episodes.Episodes``: the same matched worlds and seeded policy
generators) and returns one row per episode: the episode metrics (``realism_env.METRICS``), the nation metrics and
episode returns averaged over the focal nations (``focal:<metric>``, ``focal:return``) and over each doctrine's
nations (``<doctrine>:<metric>``, ``<doctrine>:return``), and optionally the power shares of every nation over the
first episode.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np

import realism_env
from agents.episodes import Episodes
from agents.plugins import IMPORT_IT, doctrines_differ
from agents.policies import POLICIES, ArrayPolicy, Policy, counterparts, register_policy, without_counterpart
from agents.population import default_doctrines, make_plan
from realism_env import EnvConfig, ObservationLayout
from realism_env.metrics import batch_metrics, batch_nation_metrics
from train.checkpoint import read_json
from train.run_args import PPOArgs, make_config
from train.run_folder import config_differences, option_defaults, trained_env
from train.strategy import StrategyTracker

#: A run's model: train.fast_ppo's weights, or train.ppo's SB3 archive.
MODEL_FILES = ("model.pt", "model.zip")


# --------------------------------------------------------------------------------------------------
# Runs and models
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What evaluation needs from a training run's ``config.json``."""

    run_dir: str
    model_path: str
    algo: str  #: maskable_ppo or ppo
    doctrine: str  #: the run's --doctrine: security, power, mixed, or one's own (a doctrine, or a mix such as a+b)
    doctrine_per_nation: tuple[str, ...]  #: the doctrine of each nation in training
    indicator: bool  #: trained with the doctrine indicator appended to observations
    scenario: str
    env_config: dict[str, Any]
    imports: tuple[str, ...] = ()  #: the modules its training imported (``--import``: doctrines, scenarios of its own)

    @classmethod
    def read(cls, run_dir: str | Path) -> RunInfo:
        """Read ``run_dir/config.json``; raises ``ValueError`` when the run or its model is missing, when its
        doctrines or scenario are not registered in this process (a run trained with ``--import``), or when its
        scenario here makes another world than the one it was trained in (:func:`scenario_changed`). A run of
        ``train.fast_ppo`` (``model.pt``) always feeds its network the doctrine one-hot; one of ``train.ppo``
        (``model.zip``) only when trained with a mix of doctrines (``--doctrine mixed`` or ``security+prosperity``)."""
        run = Path(run_dir)
        config_path = run / "config.json"
        model_path = next((run / name for name in MODEL_FILES if (run / name).is_file()), None)
        metrics = (read_json(run / "metrics.json") or {}) if model_path is None else {}
        members = metrics.get("members_dir")
        if members is not None:  # a population's --out: its checkpoints, and its members' runs elsewhere
            seeds = [m["seed"] for m in metrics.get("members", [])]
            runs = " ".join(str(Path(members) / f"seed{seed}") for seed in seeds)
            raise ValueError(f"{run} holds a population's checkpoints, not a run; valid: its members' runs, {runs}")
        if not config_path.is_file() or model_path is None:
            raise ValueError(
                f"{run} is not a finished training run: it needs config.json and a model ({' or '.join(MODEL_FILES)})"
            )
        check_model_current(run, model_path)
        record = read_json(config_path)
        try:
            args, env_config = record["args"], record["env_config"]
            doctrines = env_config["doctrines"]
            per_nation = (doctrines,) * env_config["n_nations"] if isinstance(doctrines, str) else tuple(doctrines)
            doctrine, scenario = args["doctrine"], args["scenario"]
        except (KeyError, TypeError):
            raise ValueError(
                f"{config_path} is not the config.json of a training run (unreadable, not JSON, or without its args "
                "and env_config); valid: the folder of a finished train.fast_ppo or train.ppo run, as it wrote it"
            ) from None
        trained_in = trained_env(record)
        if trained_in != realism_env.NAME:
            raise ValueError(
                f"{run} was trained in {trained_in}, and this is {realism_env.NAME}: the rules changed since (the "
                "Version History in realism_env.env); valid: a run trained in this version (train it again)"
            )
        fast = model_path.name == "model.pt"
        imports = tuple(args.get("imports") or ())
        unknown = [d for d in dict.fromkeys(per_nation) if d not in realism_env.DOCTRINES]
        unknown += [scenario] if scenario not in realism_env.SCENARIOS else []
        if unknown:
            given = f"it was trained with {' '.join(f'--import {name}' for name in imports)}" if imports else ""
            raise ValueError(
                f"{run} was trained on {unknown[0]!r}, which is not registered here; valid: {IMPORT_IT}"
                f"{' (' + given + ')' if given else ''}"
            )
        problem = scenario_changed(run, record, imports)
        if problem is not None:
            raise ValueError(problem)
        indicator = fast or realism_env.is_population(doctrine)  # train.ppo adds it to mixed conditions only
        reads_onehot = indicator or env_config.get("reveal_doctrines", False)
        problem = doctrines_differ(record.get("doctrine_names"), imports, str(run)) if reads_onehot else None
        if problem is not None:
            raise ValueError(problem)
        return cls(
            run_dir=str(run),
            model_path=str(model_path),
            algo="fast_ppo" if fast else args.get("algo", "maskable_ppo"),
            doctrine=doctrine,
            doctrine_per_nation=per_nation,
            indicator=indicator,
            scenario=scenario,
            env_config=env_config,
            imports=imports,
        )


#: EnvConfig fields a run's world is not compared on when its scenario is rebuilt (:func:`scenario_changed`): the
#: doctrines come from its --doctrine, not from the scenario, and :meth:`RunInfo.read` checks them on their own.
UNCOMPARED_FIELDS = frozenset(("doctrines",))


def scenario_changed(run: Path, record: Mapping[str, Any], imports: Sequence[str]) -> str | None:
    """Where the run's scenario, rebuilt here from its name and the run's own arguments (``--set``, ``--max-cycles``,
    ``--capability-spread``: :func:`train.run_args.make_config`, as its training built it), is not the world its
    ``config.json`` records, the message naming the fields that differ, their values here and then, and the modules
    the run imported; None where it is the same. A scenario is looked up by name: after an edit to the module that
    registers it, or with its name registered otherwise, the run would be evaluated, replayed or deviated from in
    another world than its own, unnoticed. An evaluation's own changes (its scenario, ``--set``, ``--max-cycles``) are
    made on top of this world, not compared."""
    args, scenario = record["args"], record["args"]["scenario"]
    given = " ".join(f"--import {name}" for name in imports)
    if given:
        valid = f"the scenario as the run had it ({given} as it was then: edited since, or another module redefines it)"
    else:
        valid = (
            "the scenario as the run had it (the run imported no module: the built-in one, redefined here by a module "
            "imported, or changed in realism_env since)"
        )
    try:
        # the arguments make_config reads, those of a run made before an option existed as the option's default
        rebuilt = make_config(SimpleNamespace(**{**option_defaults(PPOArgs), **args}))
    except ValueError as error:
        return f"the scenario {scenario!r} here does not make the world {run} was trained in ({error}); valid: {valid}"
    current = json.loads(json.dumps(rebuilt.to_dict()))
    recorded = record["env_config"]
    changed = [k for k in config_differences(recorded, current) if k not in UNCOMPARED_FIELDS]
    if not changed:
        return None
    then = json.loads(json.dumps(EnvConfig().to_dict())) | dict(recorded)  # a field added since: its default then
    values = ", ".join(f"{k} {current[k]!r} here ({then[k]!r} then)" for k in changed)
    return f"the scenario {scenario!r} here differs from the one {run} was trained in: {values}; valid: {valid}"


def model_timesteps(model_path: Path) -> int | None:
    """The timesteps a run's model was trained for: ``model.pt``'s ``num_timesteps`` (``train.fast_ppo`` writes it),
    or the step count in ``model.zip``'s SB3 data; None where the file does not say (a model.pt written before)."""
    try:
        if model_path.suffix == ".pt":
            import torch

            value = torch.load(model_path, map_location="cpu", weights_only=True).get("num_timesteps")
        else:
            with zipfile.ZipFile(model_path) as archive:
                value = json.loads(archive.read("data")).get("num_timesteps")
    except Exception:  # noqa: BLE001 - an unreadable model is named where it is loaded
        return None
    return value if isinstance(value, int) else None


def check_model_current(run: Path, model_path: Path) -> None:
    """Raise ``ValueError`` where the run has gone on past its model: a finished run resumed toward a larger
    ``--timesteps`` and stopped before its end leaves its ``metrics.json`` unfinished at more timesteps than the model
    it wrote when it finished, which is then not the run's policy (its weights are in the checkpoint)."""
    metrics = read_json(run / "metrics.json") or {}
    current = metrics.get("num_timesteps")
    if metrics.get("finished", True) or not isinstance(current, int):
        return
    trained = model_timesteps(model_path)
    if trained is not None and trained >= current:
        return
    trainer = "train.fast_ppo" if model_path.suffix == ".pt" else "train.ppo"
    of = "an earlier step count" if trained is None else f"{trained:,} timesteps"
    target = metrics.get("target_timesteps")
    toward = f" of {target:,}" if isinstance(target, int) else ""
    raise ValueError(
        f"{run}: its {model_path.name} is of {of}, but the run has gone on to {current:,} timesteps{toward} (resumed "
        f"and stopped before its end), so the model is out of date; valid: --resume it to its end (python -m "
        f"{trainer} with the run's options and --resume), which writes its model again"
    )


def _activation(module: Any) -> Any:
    name = type(module).__name__
    if name == "Tanh":
        return np.tanh
    if name == "ReLU":
        return lambda x: np.maximum(x, 0.0)
    if name == "Identity":
        return lambda x: x
    return None


def _numpy_mlp(modules: Sequence[Any]) -> list[tuple[np.ndarray, np.ndarray, Any]] | None:
    """[(W, b, activation)] of a chain of torch ``Linear`` layers and activations, or None if it is not one."""
    layers: list[tuple[np.ndarray, np.ndarray, Any]] = []
    for module in modules:
        if type(module).__name__ == "Linear":
            weight = module.weight.detach().cpu().numpy().astype(np.float64).T
            bias = module.bias.detach().cpu().numpy().astype(np.float64)
            layers.append((weight, bias, None))
        else:
            act = _activation(module)
            if act is None or not layers or layers[-1][2] is not None:
                return None
            layers[-1] = (layers[-1][0], layers[-1][1], act)
    return layers


def _numpy_forward(layers: list[tuple[np.ndarray, np.ndarray, Any]], x: np.ndarray) -> np.ndarray:
    h = np.asarray(x, dtype=np.float64)
    for weight, bias, act in layers:
        h = h @ weight + bias
        if act is not None:
            h = act(h)
    return h


class FastPolicyNetwork:
    """The action logits of a ``train.fast_ppo`` run's actor, in numpy (``model.pt`` read with ``weights_only``):
    an MLP over the flat action, or the :class:`train.networks.PerNationActor`'s two heads."""

    def __init__(self, model_path: str | Path) -> None:
        from train.networks import PerNationActor, load_agent

        agent = load_agent(model_path)
        self.observation_size = int(agent.shape["n_inputs"])
        self.n_actions = int(agent.shape["n_actions"])
        actor = agent.actor
        self.targets = actor.targets if isinstance(actor, PerNationActor) else None
        if self.targets is None:
            parts = {"mlp": list(actor)}
        else:
            parts = {"trunk": list(actor.trunk), "level_act": [actor.level_act], "target_out": [actor.target_out]}
            parts |= {"target_block": [actor.target_block], "target_features": [actor.target_features]}
        self.parts = {name: _numpy_mlp(modules) for name, modules in parts.items()}
        if any(layers is None for layers in self.parts.values()):
            raise ValueError(f"{model_path}: the actor is not made of Linear layers and tanh/ReLU")

    def logits(self, x: np.ndarray) -> np.ndarray:
        """[..., A] logits of network inputs ``x`` ([..., D])."""
        if self.targets is None:
            return _numpy_forward(self.parts["mlp"], x)
        t = self.targets
        x = np.asarray(x, dtype=np.float64)
        features = _numpy_forward(self.parts["trunk"], x)
        level_act = _numpy_forward(self.parts["level_act"], features).reshape(*x.shape[:-1], t.n_levels, t.n_acts)
        blocks = x[..., t.own_size : t.own_size + t.n_targets * t.block_size].reshape(*x.shape[:-1], t.n_targets, -1)
        hidden = np.tanh(
            _numpy_forward(self.parts["target_block"], blocks)
            + _numpy_forward(self.parts["target_features"], features)[..., None, :]
        )
        target = np.swapaxes(_numpy_forward(self.parts["target_out"], hidden), -1, -2)
        return (level_act[..., None] + target[..., None, :, :]).reshape(*x.shape[:-1], self.n_actions)


class PolicyNetwork:
    """The action logits of an SB3 actor-critic policy: numpy for the default MLP, torch otherwise."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.observation_size = int(np.prod(model.observation_space.shape))
        self.n_actions = int(model.action_space.n)
        self.layers = self._numpy_layers(model.policy)

    @staticmethod
    def _numpy_layers(policy: Any) -> list[tuple[np.ndarray, np.ndarray, Any]] | None:
        """[(W, b, activation)] of the actor (MLP + action head) if it is a plain MLP, else None."""
        extractor = getattr(policy, "pi_features_extractor", None)
        if type(extractor).__name__ != "FlattenExtractor":
            return None
        return _numpy_mlp(list(policy.mlp_extractor.policy_net) + [policy.action_net])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """[..., A] logits of observations ``x`` ([..., D])."""
        if self.layers is not None:
            return _numpy_forward(self.layers, x)
        return self.torch_logits(x)

    def torch_logits(self, x: np.ndarray) -> np.ndarray:
        """The same logits through SB3's torch modules (the reference the numpy path is tested against)."""
        import torch

        policy = self.model.policy
        with torch.no_grad():
            obs = torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(-1, self.observation_size))
            features = policy.extract_features(obs, policy.pi_features_extractor)
            out = policy.action_net(policy.mlp_extractor.forward_actor(features)).cpu().numpy()
        return out.reshape(*np.shape(x)[:-1], self.n_actions).astype(np.float64)


_NETWORKS: dict[tuple[str, float, int], PolicyNetwork | FastPolicyNetwork] = {}


def load_network(model_path: str | Path, algo: str = "maskable_ppo") -> PolicyNetwork | FastPolicyNetwork:
    """The policy network of ``model_path``, loaded once per process (keyed by path, mtime and size); ``algo``:
    fast_ppo, maskable_ppo or ppo."""
    path = Path(model_path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime, stat.st_size)
    if key in _NETWORKS:
        return _NETWORKS[key]
    try:
        if algo == "fast_ppo":
            network: PolicyNetwork | FastPolicyNetwork = FastPolicyNetwork(path)
        else:
            if algo == "maskable_ppo":
                from sb3_contrib import MaskablePPO as Algo
            else:
                from stable_baselines3 import PPO as Algo
            network = PolicyNetwork(Algo.load(path, device="cpu"))
    except ValueError:
        raise
    except Exception as error:  # a truncated or foreign file: torch and zipfile raise many kinds
        first_line = (str(error).splitlines() or [""])[0][:120]
        raise ValueError(
            f"{path} cannot be read as the model of a {algo} run ({type(error).__name__}: {first_line}); valid: the "
            "model a finished run wrote (train it again, or resume it from its checkpoints)"
        ) from None
    _NETWORKS[key] = network
    return network


def file_digest(path: str | Path) -> str:
    """sha256 of a file (identifies a model in evaluation caches)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------------


#: How a deterministic learned nation chooses (``greedy``): ``act_then_target`` (the default) plays the most likely
#: (arms level, act), its probability summed over its allowed targets, then that act's most likely target; ``flat``
#: plays the most likely single flat action. The flat mode favours the acts with the fewest allowed targets: waiting
#: has one, while the probability of an attack or an alliance is split over up to N-1 nations, so a policy that
#: attacks with probability 0.6 split over three targets, 0.2 each, against 0.3 for waiting, waits.
GREEDY_CHOICES = ("act_then_target", "flat")


def check_greedy(greedy: str) -> str:
    """``greedy`` if it names a greedy choice (:data:`GREEDY_CHOICES`); ValueError naming the valid ones otherwise."""
    if greedy not in GREEDY_CHOICES:
        raise ValueError(f"unknown greedy choice {greedy!r}; valid: {', '.join(GREEDY_CHOICES)}")
    return greedy


def greedy_choice(logits: np.ndarray, masks: np.ndarray, n_targets: int, greedy: str = "act_then_target") -> np.ndarray:
    """[B] the greedy actions the masks allow (``logits`` and ``masks``: [B, A], A = levels x acts x ``n_targets``,
    the layout of :func:`realism_env.encode_action`), as ``greedy`` says (:data:`GREEDY_CHOICES`); ties go to the
    lowest index."""
    check_greedy(greedy)
    masked = _masked(logits, masks)
    if greedy == "flat":
        return np.argmax(masked, axis=-1)
    weights = np.exp(masked - masked.max(axis=-1, keepdims=True))  # the masked softmax, unnormalised: 0 if forbidden
    by_act = weights.reshape(len(weights), -1, n_targets)  # [B, levels x acts, targets]
    level_act = np.argmax(by_act.sum(axis=-1), axis=-1)
    target = np.argmax(by_act[np.arange(len(weights)), level_act], axis=-1)  # an allowed one: its act's sum is > 0
    return level_act * n_targets + target


def _masked(logits: np.ndarray, masks: np.ndarray) -> np.ndarray:
    allowed = np.asarray(masks).astype(bool)
    if not allowed.any(axis=-1).all():
        raise ValueError("the action mask allows no action")
    return np.where(allowed, logits, -np.inf)


def masked_choice(
    logits: np.ndarray,
    masks: np.ndarray,
    deterministic: bool,
    draws: np.ndarray,
    n_targets: int | None = None,
    greedy: str = "act_then_target",
) -> np.ndarray:
    """[B] actions the masks allow (``logits`` and ``masks``: [B, A]): the greedy choice (:func:`greedy_choice`; the
    most likely flat action when ``n_targets`` is not given), or a sample of the masked softmax by inverse transform of
    ``draws`` ([B] uniforms in [0, 1))."""
    if deterministic and n_targets is None:
        return greedy_choice(logits, masks, 1, "flat")
    if deterministic:
        return greedy_choice(logits, masks, n_targets, greedy)
    allowed = np.asarray(masks).astype(bool)
    masked = _masked(logits, masks)
    weights = np.exp(masked - masked.max(axis=-1, keepdims=True))
    cumulative = np.cumsum(weights, axis=-1)
    # the first allowed action whose cumulative weight passes the draw (never a masked one: its weight is 0)
    passed = (cumulative > draws[:, None] * cumulative[:, -1:]) & allowed
    return np.argmax(passed, axis=-1)


class LearnedPolicy(ArrayPolicy):
    """A nation played by a trained network (see the module docstring). Subclasses made by
    :func:`register_learned` carry the run in ``spec``; construct them with ``make_policy(name, env)``.

    Args:
        layout, n_nations, n_arms_levels: as every :class:`agents.Policy`.
        model_path: the run's ``model.pt`` (train.fast_ppo) or SB3 ``model.zip``.
        algo: fast_ppo, maskable_ppo or ppo.
        doctrine: this nation's doctrine for the indicator, or None when the run had no indicator.
        deterministic: play the greedy choice (True) or sample (False).
        greedy: how the greedy choice is made (:data:`GREEDY_CHOICES`).
    """

    name: ClassVar[str] = "learned"
    spec: ClassVar[dict[str, Any] | None] = None

    def __init__(
        self,
        layout: ObservationLayout,
        n_nations: int,
        n_arms_levels: int = 5,
        model_path: str | None = None,
        algo: str = "maskable_ppo",
        doctrine: str | None = None,
        deterministic: bool = True,
        network: PolicyNetwork | FastPolicyNetwork | None = None,
        greedy: str = "act_then_target",
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels)
        self.greedy = check_greedy(greedy)
        self.n_targets = n_nations - 1
        if network is None:
            if model_path is None:
                raise ValueError("LearnedPolicy needs model_path (or network)")
            network = load_network(model_path, algo)
        self.network = network
        self.deterministic = bool(deterministic)
        # training's indicator; an unknown doctrine raises ValueError naming the registered ones
        self.indicator = (
            realism_env.doctrine_onehot([doctrine])[0].astype(np.float64)
            if doctrine is not None
            else np.zeros(0, dtype=np.float64)
        )
        expected = layout.size + self.indicator.size
        if network.observation_size != expected:
            raise ValueError(
                f"the model takes observations of size {network.observation_size} but this env gives {layout.size}"
                + (f" + {self.indicator.size} (doctrine indicator)" if self.indicator.size else "")
                + f" = {expected}: evaluate it with the nation count ({n_nations}) and doctrine indicator of its run"
            )
        expected_actions = realism_env.n_actions(n_nations, self.n_arms_levels)
        if network.n_actions != expected_actions:
            raise ValueError(f"the model has {network.n_actions} actions but this env has {expected_actions}")

    @classmethod
    def from_env(cls, env: Any, **params: Any) -> Policy:
        return cls(env.layout, env.config.n_nations, len(env.config.arms_shares), **{**(cls.spec or {}), **params})

    def features(self, observation: Mapping[str, np.ndarray]) -> np.ndarray:
        """The network's input: the observation vector, then the doctrine one-hot (if the run used it)."""
        return self.batch_features(np.asarray(observation["observation"])[None])[0]

    def batch_features(self, observations: np.ndarray) -> np.ndarray:
        """[B, D] the network's inputs of ``observations`` ([B, size]), as :meth:`features`."""
        x = np.asarray(observations, dtype=np.float64)
        if not self.indicator.size:
            return x
        return np.concatenate([x, np.broadcast_to(self.indicator, (len(x), self.indicator.size))], axis=1)

    def act(
        self, observations: np.ndarray, masks: np.ndarray, states: Any, draws: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        logits = self.network.logits(self.batch_features(observations))
        return masked_choice(logits, masks, self.deterministic, draws, self.n_targets, self.greedy), states


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def register_learned(
    run_dir: str | Path, name: str | None = None, deterministic: bool = True, greedy: str = "act_then_target"
) -> dict[str, str]:
    """Register the policy of a training run in ``agents.POLICIES``; returns ``{doctrine: policy name}`` (one entry
    per doctrine of the run: a mixed run gives a security and a power name, whose indicators differ; a mix of one's
    own, a name per doctrine of it).

    Names default to ``learned_<run folder>_<hash of its path>`` (plus ``_<doctrine>`` for a mixed run); they hold
    no ``:`` or ``,`` so they can stand in population specs.
    """
    info = RunInfo.read(run_dir)
    if name is None:
        digest = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:6]
        name = f"learned_{_slug(Path(run_dir).name)}_{digest}"
    names: dict[str, str] = {}
    for doctrine in dict.fromkeys(info.doctrine_per_nation):
        policy_name = f"{name}_{doctrine}" if info.indicator else name
        spec = {
            "model_path": info.model_path,
            "algo": info.algo,
            "doctrine": doctrine if info.indicator else None,
            "deterministic": deterministic,
            "greedy": greedy,
        }
        cls = type(f"Learned_{_slug(policy_name)}", (LearnedPolicy,), {"name": policy_name, "spec": spec})
        register_policy(cls)
        names[doctrine] = policy_name
    return names


def learned_population(
    run_dir: str | Path,
    n_nations: int | None = None,
    n_focal: int | None = None,
    background: str | None = None,
    deterministic: bool = True,
    policy: Mapping[str, str] | None = None,
    name: str | None = None,
    greedy: str = "act_then_target",
) -> tuple[list[str], list[str]]:
    """(policy per nation, doctrine per nation) for evaluating a run: nations ``0 .. n_focal - 1`` are learned (with
    the doctrines they had in training: a mixed run's are :func:`realism_env.population_doctrines`, security and
    power alternating from nation 0, or those of its own mix), the others play ``background``
    (with its default doctrine, ``agents.population.default_doctrines``). ``n_focal=None`` is self-play.
    ``policy`` replaces the learned policy of each doctrine by another (the scripted baselines); ``name``,
    ``deterministic`` and ``greedy`` are passed to :func:`register_learned`."""
    info = RunInfo.read(run_dir)
    n = n_nations or len(info.doctrine_per_nation)
    names = dict(policy) if policy is not None else register_learned(run_dir, name, deterministic, greedy)
    # a mixed run stays mixed at any nation count (an odd training count would break the alternation if cycled)
    mixed = realism_env.is_population(info.doctrine)
    doctrines = realism_env.population_doctrines(info.doctrine, n) if mixed else info.doctrine_per_nation
    return population(doctrines, names, n, n_focal, background)


def population(
    doctrine_per_nation: Sequence[str],
    names: Mapping[str, str],
    n_nations: int,
    n_focal: int | None = None,
    background: str | None = None,
) -> tuple[list[str], list[str]]:
    """The population of :func:`learned_population` from the training doctrines and ``{doctrine: policy}``."""
    k = n_nations if n_focal is None else n_focal
    if not 1 <= k <= n_nations:
        raise ValueError(f"n_focal={n_focal} is invalid; valid: 1..{n_nations}")
    if k < n_nations and background is None:
        raise ValueError("focal nations need a background policy; valid: " + ", ".join(sorted(POLICIES)))
    if background is not None and background not in POLICIES:
        raise ValueError(f"unknown background policy {background!r}; valid: {', '.join(sorted(POLICIES))}")
    train_doctrines = list(doctrine_per_nation)
    doctrines = [train_doctrines[i % len(train_doctrines)] for i in range(k)]
    policies = [names[d] for d in doctrines]
    rest = [background] * (n_nations - k) if k < n_nations else []
    return policies + rest, doctrines + list(default_doctrines(rest))


def check_distinct_runs(run_dirs: Sequence[str]) -> None:
    """Raise ``ValueError`` where ``--model`` names one run twice (however spelt): it would be counted as two runs and
    narrow the interval over runs."""
    resolved = [Path(run_dir).resolve() for run_dir in run_dirs]
    repeated = next((run_dir for k, run_dir in enumerate(run_dirs) if resolved[k] in resolved[:k]), None)
    if repeated is not None:
        raise ValueError(f"--model names {repeated} twice; valid: each run once")


def scripted_policies() -> list[str]:
    """The registered policies but the learned ones (:func:`register_learned` adds a name per run it loads)."""
    return sorted(name for name, cls in POLICIES.items() if not issubclass(cls, LearnedPolicy))


def scripted_names(doctrines: Iterable[str], kind: str = "scripted") -> dict[str, str]:
    """``{doctrine: policy}`` of a baseline: ``scripted`` (each doctrine's scripted counterpart,
    :func:`agents.policies.counterpart`: defensive_realist for security, offensive_realist for power) or any registered
    policy name (``random``) for every doctrine."""
    if kind == "scripted":
        found = counterparts()
        unmatched = sorted(without_counterpart(doctrines))
        if unmatched:
            pairs = ", ".join(f"{d}: {p}" for d, p in found.items())
            raise ValueError(
                f"doctrine {unmatched[0]!r} has no scripted counterpart ({pairs}; a policy of yours acts one out "
                f"with its class attribute doctrine = {unmatched[0]!r}); valid: a policy name as the baseline, one of "
                f"{', '.join(scripted_policies())}"
            )
        return {d: found[d] for d in doctrines}
    if kind not in POLICIES:
        raise ValueError(f"unknown baseline {kind!r}; valid: scripted, {', '.join(scripted_policies())}")
    return dict.fromkeys(doctrines, kind)


# --------------------------------------------------------------------------------------------------
# Playing episodes
# --------------------------------------------------------------------------------------------------


class _Episodes(Episodes):
    """The harness's episodes, with episode returns and focal / per-doctrine group means in each row."""

    def __init__(self, plan: Any, focal: np.ndarray, strategy: bool = False) -> None:
        super().__init__(plan)
        self.focal = focal
        self.strategy = strategy

    def run_with_logs(self, seeds: Sequence[int], progress: Any = None) -> Iterator[tuple[dict[str, Any], Any]]:
        """(row, episode log) of each episode ``seeds``, in order (played in groups, as one batch of worlds each);
        ``progress`` (a tqdm bar or None) is advanced as episodes end."""
        for group in self.play(seeds):
            returns = np.zeros((len(group.seeds), self.plan.config.n_nations))
            tracker = StrategyTracker(group.worlds, self.focal, group.seeds) if self.strategy else None
            for turn in group.turns():
                returns += turn.earned
                if progress is not None:
                    progress.update(int(turn.ended.sum()))
                if tracker is not None:
                    tracker.observe(turn.live, turn.observations, turn.masks, turn.actions)
            for k, seed in enumerate(group.seeds):
                log = group.log(k)
                row = self._row_with_groups(log, seed, int(group.n_turns[k]), returns[k])
                if tracker is not None:
                    row.update(tracker.row(k))
                yield row, log

    def _row_with_groups(self, log: Any, seed: int, turns: int, returns: np.ndarray) -> dict[str, Any]:
        row: dict[str, Any] = {"episode_seed": int(seed), "turns": turns}
        row.update({name: float(v[0]) for name, v in batch_metrics(log).items()})
        per_nation = {name: v[0] for name, v in batch_nation_metrics(log).items()}
        per_nation["return"] = returns
        doctrines = np.asarray(self.plan.doctrines)
        groups = {"focal": self.focal, **{d: doctrines == d for d in realism_env.doctrine_names()}}
        for group, members in groups.items():
            for name, values in per_nation.items():
                row[f"{group}:{name}"] = realism_env.group_mean(values, members)
        return row


def play(
    policies: Sequence[str],
    doctrines: Sequence[str],
    scenario: str,
    seeds: Iterable[int],
    overrides: Mapping[str, Any] | None = None,
    max_cycles: int | None = None,
    focal: Sequence[bool] | None = None,
    trace: bool = False,
    strategy: bool = False,
    progress: Any = None,
) -> tuple[list[dict[str, Any]], list[list[float]] | None]:
    """Play the population (one policy name and doctrine per nation) in the matched worlds ``seeds``; returns one row
    per episode (see the module docstring) and, with ``trace``, the power shares ``[turn][nation]`` of the live
    nations over the first episode (``realism_env.EpisodeLog.shares``). With ``strategy``, each row also holds the
    focal nations' acts, arms levels and agreement with the scripted archetypes (:mod:`train.strategy`). ``progress``
    (a tqdm bar or None) is advanced as episodes end."""
    plan = make_plan(list(policies), scenario, overrides, max_cycles, list(doctrines))
    members = np.ones(len(policies), dtype=bool) if focal is None else np.asarray(focal, dtype=bool)
    episodes = _Episodes(plan, members, strategy)
    rows: list[dict[str, Any]] = []
    shares = None
    for k, (row, log) in enumerate(episodes.run_with_logs([int(seed) for seed in seeds], progress)):
        rows.append(row)
        if trace and k == 0:
            shares = np.round(log.shares[0], 6).tolist()
    return rows, shares
