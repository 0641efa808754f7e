"""PPO in one file over the PettingZoo parallel env, CleanRL style: a reference for writing your own loop.

Usage::

    python -m train.cleanrl_ppo                                   # about a minute on 2 CPU cores
    python -m train.cleanrl_ppo --doctrines mixed --total-timesteps 500000 --out runs/cleanrl
    python -m train.cleanrl_ppo --help

What it shows, with no wrapper between the loop and ``realism_env.parallel_env``:

- Manual batching with parameter sharing: ``num_envs`` worlds of ``n_nations`` nations give
  ``num_envs * n_nations`` *slots*; one network acts for every slot in one forward pass. The network sees a nation's
  ``obs["observation"]`` plus a one-hot of its own doctrine (:func:`realism_env.doctrine_onehot`, over
  :func:`realism_env.doctrine_names`), so one network can serve a mixed population (``--doctrines mixed``:
  :func:`realism_env.mixed_doctrines`, security and power alternating, nation_0 security).
- Action masking: the logits of actions that ``obs["action_mask"]`` forbids are set to ``-inf`` before sampling
  and in the loss, so the policy never picks them and their gradient is zero.
- Nations leave ``env.agents`` when eliminated (PettingZoo semantics). A slot whose nation is gone is *inactive*
  until its world ends: it sends no action, its rows get ``valid = 0`` and are left out of every loss and mean. A
  world whose ``agents`` is empty is reset (``reset()`` with no seed continues the world's seeded generator).
- GAE as in CleanRL: ``dones[t]`` marks that the observation at ``t`` starts afresh (or the slot is inactive); as
  in CleanRL, a ``max_cycles`` truncation is treated as an end (no bootstrap).
- Seeding: torch's generator (weights, action sampling, minibatch order) from ``--seed``; world ``e`` starts from
  ``reset(seed=seed + e)`` and draws from its own generator after that. The same arguments give the same run.

``--total-timesteps`` counts slot-turns (inactive slots included), rounded up to whole rollouts of
``num_steps * num_envs * n_nations``. With ``--out DIR`` it writes ``DIR/agent.pt`` (the network's
``state_dict``), ``DIR/metrics.json`` (per-iteration losses and episode returns per doctrine) and TensorBoard
logs in ``DIR/tb``.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.distributions.categorical import Categorical

import realism_env
from agents.plugins import add_import_option, import_plugins, unknown_scenario
from realism_env import EnvConfig, atomic_write_bytes
from train.cli import check_numbers, check_population


@dataclass
class Args:
    """Command-line arguments of ``python -m train.cleanrl_ppo`` (every field is a ``--flag``)."""

    seed: int = 0
    """seed of torch's generator; world e starts from reset(seed=seed + e)"""
    scenario: str = "multipolar"
    """scenario preset (realism_env.SCENARIOS)"""
    n_nations: int | None = None
    """nations per world (None: the scenario's)"""
    doctrines: str = "security"
    """reward of every nation: a doctrine name, or mixed (security and power alternate, nation_0 security), or
    doctrines joined by + (a mix of one's own: the nations take them in turn)"""
    max_cycles: int | None = None
    """turns per episode before truncation (None: the scenario's)"""
    provinces_per_nation: int | None = None
    """provinces each nation starts with (None: the scenario's; fewer: eliminations come sooner)"""
    total_timesteps: int = 102_400
    """slot-turns to train for (rounded up to whole rollouts of num_steps * num_envs * n_nations)"""
    num_envs: int = 4
    """worlds stepped together"""
    num_steps: int = 64
    """turns per world in each rollout"""
    learning_rate: float = 2.5e-4
    """Adam learning rate"""
    anneal_lr: bool = True
    """anneal the learning rate linearly to 0"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    num_minibatches: int = 4
    """minibatches per epoch"""
    update_epochs: int = 4
    """passes over each rollout"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    clip_coef: float = 0.2
    """PPO clipping coefficient"""
    clip_vloss: bool = True
    """clip the value loss as in the PPO paper"""
    ent_coef: float = 0.01
    """entropy bonus coefficient"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """gradient clipping norm"""
    hidden: int = 64
    """width of the two hidden layers"""
    torch_threads: int = 1
    """torch's intra-op threads: 1 is fastest for these small networks (more threads spin and contend)"""
    out: str = ""
    """output directory for agent.pt, metrics.json and tb/ (nothing is written when empty)"""
    imports: tuple[str, ...] = ()
    """modules of yours imported first (``--import MODULE``, repeatable): their doctrines widen the one-hot that
    ``agent.pt`` reads, so metrics.json records them"""


def parse_args(argv: list[str] | None = None) -> tuple[Args, EnvConfig]:
    """One ``--flag`` per :class:`Args` field, its docstring as help (CleanRL uses ``tyro`` for this); the arguments
    and the world's config (:func:`make_config`). Exits with status 2 and a message naming what is wrong and what is
    valid. ``--import MODULE`` imports a module of yours first (:mod:`agents.plugins`), so ``--doctrines`` and
    ``--scenario`` may name what it registers."""
    import_plugins(argv, "python -m train.cleanrl_ppo")
    parser = argparse.ArgumentParser(
        prog="python -m train.cleanrl_ppo",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    helps = _field_docs()
    for f in fields(Args):
        if f.name == "imports":
            continue  # --import, below
        flag = "--" + f.name.replace("_", "-")
        # annotations are strings here
        kind = {"bool": bool, "int": int, "int | None": int, "float": float, "str": str}[f.type]
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=helps[f.name])
        else:
            parser.add_argument(flag, type=kind, default=f.default, help=helps[f.name], metavar=f.name.upper())
    add_import_option(parser)  # acted on above, before the choices were read
    values = vars(parser.parse_args(argv))
    args = Args(**{**values, "imports": tuple(values["imports"])})
    try:
        check_population("--doctrines", args.doctrines)
    except ValueError as error:
        parser.error(str(error))
    for name in (
        "max_cycles",
        "total_timesteps",
        "num_envs",
        "num_steps",
        "num_minibatches",
        "update_epochs",
        "hidden",
        "torch_threads",
    ):
        if getattr(args, name) is not None and getattr(args, name) < 1:  # max_cycles None: the scenario's
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} is invalid; valid: an integer >= 1")
    try:
        check_numbers(
            args,
            unit=("gamma", "gae_lambda"),
            positive=("learning_rate", "clip_coef", "max_grad_norm"),
            non_negative=("ent_coef", "vf_coef"),
        )
    except ValueError as error:
        parser.error(str(error))
    if args.out and Path(args.out).is_file():
        parser.error(f"--out {args.out} is a file; valid: a folder")
    if args.scenario not in realism_env.SCENARIOS:
        parser.error(unknown_scenario(args.scenario))
    try:
        config = make_config(args)
    except ValueError as error:  # a nation count the scenario cannot take, ...
        parser.error(str(error))
    return args, config


def _field_docs() -> dict[str, str]:
    """The string under each field of :class:`Args` (read from the source, as tyro does)."""
    import ast
    import inspect

    body = ast.parse(inspect.getsource(Args)).body[0].body
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            docs[node.target.id] = str(after.value.value)
    return docs


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """Separate actor and critic MLPs; the actor's invalid-action logits are set to -inf."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, n_actions), std=0.01),
        )

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)

    def get_action_and_value(
        self, x: torch.Tensor, mask: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.actor(x).masked_fill(~mask, float("-inf"))  # invalid actions: probability 0
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def make_config(args: Args) -> EnvConfig:
    """The world's config: the scenario with ``--n-nations``, ``--max-cycles`` and ``--provinces-per-nation`` where
    given (each otherwise the scenario's own: a scenario of one's own keeps its episode length and map), each nation's
    doctrine ``--doctrines`` (:func:`realism_env.population_doctrines`: ``mixed`` alternates security and power,
    ``a+b`` a mix of one's own). ``ValueError`` names a value the scenario cannot take."""
    given = {name: getattr(args, name) for name in ("n_nations", "max_cycles", "provinces_per_nation")}
    config = EnvConfig.from_scenario(args.scenario, **{k: v for k, v in given.items() if v is not None})
    return config.replace(doctrines=realism_env.population_setting(args.doctrines, config.n_nations))


def train(args: Args, config: EnvConfig | None = None) -> dict:
    """Train and return the metrics (also written to ``args.out`` when set); ``config`` defaults to
    :func:`make_config`'s."""
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)  # the only generators in play: torch's (network, sampling) and each world's

    config = make_config(args) if config is None else config
    doctrines = config.doctrine_per_nation
    n_nations = config.n_nations
    envs = [realism_env.parallel_env(config) for _ in range(args.num_envs)]
    nations = envs[0].possible_agents
    n_slots = args.num_envs * n_nations  # slot e * n_nations + i: world e, nation i
    n_actions = envs[0].action_space(nations[0]).n
    doctrine_list = realism_env.doctrine_names()
    onehot = realism_env.doctrine_onehot(doctrines)  # [n_nations, len(doctrine_list)]
    obs_dim = envs[0].observation_space(nations[0])["observation"].shape[0] + onehot.shape[1]
    slot_doctrine = np.tile(np.array(doctrines), args.num_envs)

    agent = Agent(obs_dim, n_actions, args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    batch_size = args.num_steps * n_slots
    minibatch_size = max(1, batch_size // args.num_minibatches)
    num_iterations = -(-args.total_timesteps // batch_size)

    obs = torch.zeros((args.num_steps, n_slots, obs_dim))
    masks = torch.zeros((args.num_steps, n_slots, n_actions), dtype=torch.bool)
    actions = torch.zeros((args.num_steps, n_slots), dtype=torch.long)
    logprobs = torch.zeros((args.num_steps, n_slots))
    rewards = torch.zeros((args.num_steps, n_slots))
    dones = torch.zeros((args.num_steps, n_slots))
    valids = torch.zeros((args.num_steps, n_slots))
    values = torch.zeros((args.num_steps, n_slots))

    def gather(e: int, observations: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World e's slots: observation (+ doctrine one-hot), action mask, and whether the nation is in play."""
        x = np.zeros((n_nations, obs_dim), dtype=np.float32)
        m = np.zeros((n_nations, n_actions), dtype=bool)
        m[:, 0] = True  # an inactive slot keeps one allowed action, so its logits are never all -inf
        live = np.zeros(n_nations, dtype=bool)
        for nation in envs[e].agents:
            i = envs[e].agent_name_mapping[nation]
            x[i] = np.concatenate([observations[nation]["observation"], onehot[i]])
            m[i] = observations[nation]["action_mask"].astype(bool)
            live[i] = True
        return x, m, live

    def reset_all() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [gather(e, envs[e].reset(seed=args.seed + e)[0]) for e in range(args.num_envs)]
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    next_x, next_m, next_live = reset_all()
    next_done = np.zeros(n_slots, dtype=np.float32)
    episode_return = np.zeros(n_slots)
    finished: dict[str, list[float]] = {d: [] for d in doctrine_list}
    history = []
    writer = None
    if args.out:
        from torch.utils.tensorboard import SummaryWriter

        Path(args.out).mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(str(Path(args.out) / "tb"))
    start = time.time()
    global_step = 0

    for iteration in range(1, num_iterations + 1):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate
        returns_this_iteration: dict[str, list[float]] = {d: [] for d in doctrine_list}

        for step in range(args.num_steps):
            global_step += int(next_live.sum())
            obs[step] = torch.from_numpy(next_x)
            masks[step] = torch.from_numpy(next_m)
            valids[step] = torch.from_numpy(next_live.astype(np.float32))
            dones[step] = torch.from_numpy(np.maximum(next_done, ~next_live))
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(obs[step], masks[step])
            actions[step], logprobs[step], values[step] = action, logprob, value.flatten()

            step_rewards = np.zeros(n_slots, dtype=np.float32)
            step_done = np.zeros(n_slots, dtype=np.float32)
            parts = []
            action_np = action.numpy()
            for e, env in enumerate(envs):
                base = e * n_nations
                acting = {
                    nation: int(action_np[base + env.agent_name_mapping[nation]]) for nation in env.agents
                }  # inactive slots send nothing
                observations, r, terminations, truncations, _ = env.step(acting)
                for nation in acting:
                    i = base + env.agent_name_mapping[nation]
                    step_rewards[i] = r[nation]
                    step_done[i] = float(terminations[nation] or truncations[nation])
                    episode_return[i] += r[nation]
                if not env.agents:  # the world is over for every nation: record returns, start a new world
                    for i in range(base, base + n_nations):
                        returns_this_iteration[slot_doctrine[i]].append(float(episode_return[i]))
                    episode_return[base : base + n_nations] = 0.0
                    observations, _ = env.reset()
                parts.append(gather(e, observations))
            rewards[step] = torch.from_numpy(step_rewards)
            next_x, next_m, next_live = (np.concatenate(p) for p in zip(*parts, strict=True))
            next_done = step_done

        # Generalised advantage estimation, bootstrapped from the value of the next observation.
        with torch.no_grad():
            next_value = agent.get_value(torch.from_numpy(next_x)).flatten()
            last_done = torch.from_numpy(np.maximum(next_done, ~next_live).astype(np.float32))
            advantages = torch.zeros_like(rewards)
            lastgaelam = torch.zeros(n_slots)
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal, nextvalues = 1.0 - last_done, next_value
                else:
                    nextnonterminal, nextvalues = 1.0 - dones[t + 1], values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        # Flatten the batch and keep only the rows of nations in play.
        keep = valids.reshape(-1).bool()
        b_obs = obs.reshape(-1, obs_dim)[keep]
        b_masks = masks.reshape(-1, n_actions)[keep]
        b_actions = actions.reshape(-1)[keep]
        b_logprobs = logprobs.reshape(-1)[keep]
        b_advantages = advantages.reshape(-1)[keep]
        b_returns = returns.reshape(-1)[keep]
        b_values = values.reshape(-1)[keep]
        n_rows = b_obs.shape[0]

        clipfracs = []
        for _ in range(args.update_epochs):
            order = torch.randperm(n_rows)
            for begin in range(0, n_rows, minibatch_size):
                mb = order[begin : begin + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_masks[mb], b_actions[mb])
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > args.clip_coef).float().mean().item())
                mb_advantages = b_advantages[mb]
                if args.norm_adv and len(mb) > 1:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                pg_loss = torch.max(
                    -mb_advantages * ratio, -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                ).mean()
                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_unclipped = (newvalue - b_returns[mb]) ** 2
                    v_clipped = b_values[mb] + torch.clamp(newvalue - b_values[mb], -args.clip_coef, args.clip_coef)
                    v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - b_returns[mb]) ** 2).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        for d, values_d in returns_this_iteration.items():
            finished[d] += values_d
        record = {
            "iteration": iteration,
            "global_step": global_step,
            "value_loss": v_loss.item(),
            "policy_loss": pg_loss.item(),
            "entropy": entropy_loss.item(),
            "approx_kl": approx_kl.item(),
            "clipfrac": float(np.mean(clipfracs)),
            "episode_return": {d: float(np.mean(v)) for d, v in returns_this_iteration.items() if v},
            "sps": int(global_step / (time.time() - start)),
        }
        history.append(record)
        if writer is not None:
            for key in ("value_loss", "policy_loss", "entropy", "approx_kl", "clipfrac", "sps"):
                writer.add_scalar(f"losses/{key}" if key != "sps" else "charts/SPS", record[key], global_step)
            for d, value in record["episode_return"].items():
                writer.add_scalar(f"charts/episode_return/{d}", value, global_step)
        print(
            f"iteration {iteration}/{num_iterations} step {global_step} sps {record['sps']} "
            f"return {record['episode_return']} entropy {record['entropy']:.3f}",
            flush=True,
        )

    metrics = {
        "args": asdict(args),
        "doctrines": list(doctrines),
        "global_step": global_step,
        "episodes": {d: len(v) for d, v in finished.items() if v},
        "mean_episode_return": {d: float(np.mean(v)) for d, v in finished.items() if v},
        "history": history,
    }
    if args.out:
        # Atomic writes: an interrupted save leaves an earlier run's files whole.
        weights = io.BytesIO()
        torch.save(agent.state_dict(), weights)
        atomic_write_bytes(Path(args.out) / "agent.pt", weights.getvalue())
        atomic_write_bytes(Path(args.out) / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
        writer.close()
    for env in envs:
        env.close()
    return metrics


def main(argv: list[str] | None = None) -> int:
    train(*parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
