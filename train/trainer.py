"""The fast trainer's PPO (:mod:`train.fast_ppo`, whose docstring describes the design): the worlds, the networks,
the optimiser and the generator of one run (:class:`Trainer`), its rollouts on the device, GAE, and the clipped update.

:mod:`train.fast_ppo` is the command around it: arguments, run folder, checkpoints, logs and the loop.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

import realism_env
from realism_env import EnvConfig
from realism_env.batch import WorldBatch
from train.background import Background, parse_background
from train.checkpoint import env_rng_state, restore_env_rng, restore_generator
from train.kickstart import Teachers, kickstart_weight, parse_teachers
from train.masked_categorical import log_prob_and_entropy, sample_actions
from train.networks import Agent, TargetLayout, agent_of_shape
from train.population import MemberNetworks
from train.run_args import net_arch

if TYPE_CHECKING:
    from train.fast_ppo import Args


def warn_uneven_minibatches(args: Args, n_nations: int) -> None:
    """Warn (as stable-baselines3's PPO does) where ``--batch-size`` does not divide a rollout's rows: each epoch then
    ends with a smaller minibatch, or, where it exceeds them, every update is one minibatch of the whole rollout."""
    rows = args.n_steps * args.n_worlds * n_nations
    shape = f"a rollout's {rows:,} rows (n_steps {args.n_steps} x {args.n_worlds} worlds x {n_nations} nations)"
    if args.batch_size > rows:
        warnings.warn(
            f"--batch-size {args.batch_size} is more than {shape}: each update is one minibatch of {rows:,}; "
            f"for minibatches of {args.batch_size:,}, raise --n-worlds or --n-steps",
            stacklevel=2,
        )
    elif rows % args.batch_size:
        warnings.warn(
            f"--batch-size {args.batch_size} does not divide {shape}: each epoch ends with a minibatch of "
            f"{rows % args.batch_size}; a divisor of {rows:,} avoids it",
            stacklevel=2,
        )


def world_backend(args: Args) -> str:
    """The backend of the worlds: ``--backend``, where ``auto`` is numpy on a CPU and torch elsewhere."""
    if args.backend != "auto":
        return args.backend
    return "numpy" if torch.device(args.device).type == "cpu" else "torch"


# --------------------------------------------------------------------------------------------------
# Rollouts and advantages
# --------------------------------------------------------------------------------------------------


class Rollout(NamedTuple):
    """One rollout, ``[T, S, ...]`` tensors on the device (``S`` = slots = worlds x nations)."""

    inputs: torch.Tensor  #: float32 [T, S, D], observation and doctrine one-hot
    forbidden: torch.Tensor  #: bool [T, S, A], the action masks inverted
    actions: torch.Tensor  #: int64 [T, S]
    log_probs: torch.Tensor  #: float32 [T, S]
    values: torch.Tensor  #: float32 [T, S]
    rewards: torch.Tensor  #: float32 [T, S]
    next_values: torch.Tensor  #: float32 [T, S]: the value the step leads to (0 after an elimination or unification)
    continues: torch.Tensor  #: float32 [T, S]: 1 where the slot's episode goes on into turn t + 1
    active: torch.Tensor  #: float32 [T, S]: 1 where the slot's nation acted (was alive)
    teacher_actions: torch.Tensor  #: int64 [T, S]: the teacher's choice (train.kickstart; 0 where none)
    taught: torch.Tensor  #: float32 [T, S]: 1 where a teacher chose (its doctrine has one, and it was kickstarting)
    imitated: torch.Tensor  #: float32 [T, S]: 1 where the teacher's choice was played (--imitate-until)


def advantages(rollout: Rollout, gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE (Schulman et al. 2016) over the rollout: ``(advantages, returns)``, ``[T, S]`` each."""
    deltas = rollout.rewards + gamma * rollout.next_values - rollout.values
    result = torch.zeros_like(deltas)
    running = torch.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):  # over turns (the rollout's time axis), not nations or worlds
        running = deltas[t] + gamma * gae_lambda * rollout.continues[t] * running
        result[t] = running
    return result, result + rollout.values


class EpisodeStats:
    """Returns of finished episodes per group (the trainer's: member, kind of world (self-play or with a background)
    and doctrine), summed on the device turn by turn and read once per rollout."""

    def __init__(self, group_of_slot: torch.Tensor, n_groups: int, n_turns: int) -> None:
        self.one_hot = torch.nn.functional.one_hot(group_of_slot, n_groups).to(torch.float64)
        self.running = torch.zeros(group_of_slot.shape[0], dtype=torch.float64, device=group_of_slot.device)
        self.total = torch.zeros(n_turns, n_groups, dtype=torch.float64, device=group_of_slot.device)
        self.count = torch.zeros_like(self.total)
        self.turn = 0  # the row of this rollout's next turn

    def add(self, rewards: torch.Tensor, active: torch.Tensor, ended: torch.Tensor) -> None:
        """One turn: ``rewards`` [S] of the ``active`` slots; ``ended`` [S] slots whose episode is counted now (its
        return so far is added and starts again from 0)."""
        self.running += rewards.to(torch.float64) * active
        finished = ended.to(torch.float64)
        row = self.turn % self.total.shape[0]
        self.total[row] += (self.running * finished) @ self.one_hot
        self.count[row] += finished @ self.one_hot
        self.running *= 1.0 - finished
        self.turn += 1

    def take(self) -> tuple[list[list[float]], list[list[float]]]:
        """(sum of returns, number of episodes) per turn and group since the last call (one host sync)."""
        total, count = self.total.tolist(), self.count.tolist()
        self.total.zero_()
        self.count.zero_()
        self.turn = 0
        return total, count


#: what :meth:`Trainer.update` reads of the policy besides its losses: how sure it is of its arms level and its act
POLICY_DIAGNOSTICS = ("arms_level_entropy", "act_entropy")


class Trainer:
    """The worlds, the network, the optimiser and the trainer's generator of one run."""

    def __init__(self, args: Args, config: EnvConfig) -> None:
        self.args, self.config = args, config
        self.device = torch.device(args.device)
        backend = world_backend(args)
        self.members = args.population
        self.seeds = [args.seed + member for member in range(self.members)]
        self.batch = WorldBatch(
            config,
            self.members * args.n_worlds,  # member m owns worlds m * n_worlds .. (m + 1) * n_worlds - 1
            seed=args.seed,
            backend=backend,
            device=args.device if backend == "torch" else None,
            compile="reduce-overhead" if args.cuda_graphs else args.compile_worlds,
        )
        self.n_nations = config.n_nations
        self.member_slots = args.n_worlds * config.n_nations  # a member's slots, contiguous
        self.n_slots = self.members * self.member_slots
        warn_uneven_minibatches(args, config.n_nations)
        self.doctrine_names = realism_env.doctrine_names()
        n_doctrines = len(self.doctrine_names)
        one_hot = realism_env.doctrine_onehot(config.doctrine_per_nation, self.doctrine_names)  # [N, R]
        self.doctrine_inputs = torch.as_tensor(one_hot, device=self.device).repeat(self.batch.n_worlds, 1)  # [S, R]
        doctrine_of_slot = torch.as_tensor(one_hot.argmax(axis=1), device=self.device).repeat(self.batch.n_worlds)
        member_of_slot = torch.arange(self.n_slots, device=self.device) // self.member_slots
        self.doctrines_present = sorted({int(d) for d in one_hot.argmax(axis=1)})
        n_inputs = self.batch.layout.size + one_hot.shape[1]
        #: how a flat action is built from (arms level, act, target slot), and where each target's block sits
        targets = self.targets = TargetLayout.of(self.batch.layout, self.batch.n_actions)
        agents = []
        for seed in self.seeds:
            torch.manual_seed(seed)  # the member's network's initialisation, as in a run of its own seed
            agents.append(Agent(n_inputs, self.batch.n_actions, net_arch(args), args.actor, targets).to(self.device))
        self.networks = MemberNetworks(agents)
        self.optimizer = torch.optim.Adam(self.networks.parameters(), lr=args.learning_rate, eps=1e-5)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(args.seed)
        n_background = round(args.background_share * args.n_worlds) if args.background else 0  # per member
        self.background = Background(
            self.batch, parse_background(args.background), n_background, args.n_focal or self.n_nations // 2,
            seed=args.seed, members=self.members,
        )  # fmt: skip
        self.learner = torch.as_tensor(self.background.learner, device=self.device)  # [S]: 0 for background slots
        self.is_learner = self.learner > 0
        # episode returns per (member, kind of world, doctrine): the kinds are self-play (0) and with a background (1)
        with_background = (self.learner.reshape(-1, self.n_nations) == 0).any(dim=1)  # [W]
        kind_of_slot = with_background.repeat_interleave(self.n_nations).long()
        self.stats = EpisodeStats(
            (member_of_slot * 2 + kind_of_slot) * n_doctrines + doctrine_of_slot, self.members * 2 * n_doctrines,
            args.n_steps,
        )  # fmt: skip
        teachers = parse_teachers(args.teachers)
        self.teachers = Teachers(self.batch, teachers, args.seed, self.device) if teachers else None
        self.num_timesteps = 0
        self.iterations = 0
        self.inputs, self.forbidden = self._start()

    @property
    def agent(self) -> Agent:
        """The network of a one-member run (a population's members: :meth:`member_agent`)."""
        if self.networks.single is None:
            raise ValueError(f"a population of {self.members} has one network per member; valid: member_agent(m)")
        return self.networks.single

    def member_agent(self, member: int) -> Agent:
        """A copy of member ``member``'s network, as an :class:`Agent` of its own."""
        agent = agent_of_shape(self.networks.shape)
        agent.load_state_dict(self.networks.member_state_dict(member))
        return agent.to(self.device)

    def _by_member(self, slots: torch.Tensor) -> torch.Tensor:
        """``[S, ...]`` slot rows as ``[M, S / M, ...]``: each member's own slots."""
        return slots.reshape(self.members, -1, *slots.shape[1:])

    def _tensor(self, array: Any) -> torch.Tensor:
        return torch.as_tensor(array, device=self.device)

    def _inputs(self, observations: Any) -> torch.Tensor:
        """[S, D] network inputs: each slot's observation and its doctrine one-hot."""
        flat = self._tensor(observations).reshape(self.n_slots, -1).to(torch.float32)
        return torch.cat([flat, self.doctrine_inputs], dim=1)

    def _start(self) -> tuple[torch.Tensor, torch.Tensor]:
        observations, mask = self.batch.reset()
        self.seen = (observations, mask)  # what the background policies read
        self.background.reset(np.ones(self.batch.n_worlds, dtype=bool))
        if self.teachers is not None:
            self.teachers.reset(np.ones(self.batch.n_worlds, dtype=bool))
        return self._inputs(observations), self._tensor(mask).reshape(self.n_slots, -1) == 0

    def kickstart_weight(self, timesteps: int) -> float:
        """The teachers' weight in the loss of the rollout that starts at ``timesteps`` (0 without teachers)."""
        if self.teachers is None:
            return 0.0
        args = self.args
        if self.imitating(timesteps):
            return args.kickstart_coef
        return kickstart_weight(
            args.kickstart_coef, args.kickstart_until, timesteps / args.timesteps, args.kickstart_final
        )

    def imitating(self, timesteps: int) -> bool:
        """Whether the rollout that starts at ``timesteps`` plays the teachers' choices (``--imitate-until``)."""
        return self.teachers is not None and timesteps < self.args.imitate_until * self.args.timesteps

    def collect(self) -> Rollout:
        """Play ``n_steps`` turns in every world with the current policy."""
        n_steps, slots = self.args.n_steps, self.n_slots
        rows: dict[str, list[torch.Tensor]] = {name: [] for name in Rollout._fields}
        imitating = self.imitating(self.num_timesteps)
        labelling = imitating or self.kickstart_weight(self.num_timesteps) > 0.0
        # The teachers' shadows see the turns while they label, and before, where their weight rises from 0 (a final
        # weight above 0), so that their memories hold the episodes whole; the schedule is linear, then constant, so
        # once the weight is 0 with a final weight of 0 they are never asked again.
        following = labelling or (self.teachers is not None and self.args.kickstart_final > 0.0)
        if self.teachers is not None:
            if following and self.teachers.idle:  # they missed turns (a resume gave them weight again): start afresh
                self.teachers.reset(np.ones(self.batch.n_worlds, dtype=bool))
            self.teachers.idle = not following
        no_teacher = torch.zeros(slots, dtype=torch.int64, device=self.device)
        no_weight = torch.zeros(slots, device=self.device)
        if imitating:  # the learning nations whose doctrine has a teacher play its choices
            imitated = (self.teachers.taught * self.learner) > 0
        with torch.no_grad():
            for _ in range(n_steps):
                logits = self.networks.masked_logits(self._by_member(self.inputs), self._by_member(self.forbidden))
                logits = logits.reshape(slots, -1)
                actions = sample_actions(logits, self.generator)
                if following:  # the teachers' labels for what the nations see now (their memories take it in)
                    teacher_actions = self.teachers.act(*self.seen, self.batch.world.alive)
                    if imitating:
                        actions = torch.where(imitated, teacher_actions, actions)
                log_probs = torch.log_softmax(logits, dim=-1).gather(-1, actions[:, None])[:, 0]
                values = self._value(self.inputs)
                world_actions = actions.reshape(self.batch.n_worlds, self.n_nations)
                if self.batch.backend.name == "numpy":
                    world_actions = world_actions.cpu().numpy()
                if self.background.n_worlds:  # scripted nations act, beside the worlds (their rows get weight 0)
                    world_actions = self.background.act(world_actions, *self.seen, self.batch.world.alive)
                step = self.batch.step(world_actions)
                self.background.reset(step.world_reset)
                if following:
                    self.teachers.reset(step.world_reset)
                self.seen = (step.observations, step.action_mask)
                # A copy: with --cuda-graphs the next step's replay overwrites this step's outputs (float32 worlds
                # would otherwise hand over the output itself); everything else kept below is computed from them.
                rewards = self._tensor(step.rewards).reshape(slots).to(torch.float32, copy=True)
                terminated = self._tensor(step.terminated).reshape(slots)
                truncated = self._tensor(step.truncated).reshape(slots)
                active = self._tensor(step.acting).reshape(slots).to(torch.float32) * self.learner
                # The value of the last observation of a truncated episode (where no world ended, the next turn's
                # observation is that same one and its value is read below; numpy tells at no cost whether any did).
                if self.batch.backend.name != "numpy" or step.world_reset.any():
                    final_value = self._value(self._inputs(step.final_observations))
                else:
                    final_value = torch.zeros(slots, device=self.device)
                rows["inputs"].append(self.inputs)
                rows["forbidden"].append(self.forbidden)
                rows["actions"].append(actions)
                rows["log_probs"].append(log_probs)
                rows["values"].append(values)
                rows["rewards"].append(rewards)
                rows["active"].append(active)
                rows["teacher_actions"].append(teacher_actions if labelling else no_teacher)
                rows["taught"].append(self.teachers.taught * active if labelling else no_weight)
                rows["imitated"].append(imitated * active if imitating else no_weight)
                rows["continues"].append(active * (~terminated & ~truncated).to(torch.float32))
                # Truncated: bootstrap from the last observation; terminated: nothing follows.
                rows["next_values"].append(torch.where(terminated, 0.0, final_value))
                # The curve's episodes are the learners' (a background nation's earns nothing here), each counted
                # when its world ends (a nation eliminated earlier keeps its return until then): every count is of
                # whole worlds, so the curve does not swing with how many early ends a window holds.
                world_ended = self._tensor(step.world_reset)[:, None].expand(-1, self.n_nations).reshape(slots)
                self.stats.add(rewards, active, world_ended & self.is_learner)
                self.inputs = self._inputs(step.observations)
                self.forbidden = self._tensor(step.action_mask).reshape(slots, -1) == 0
            last_values = self._value(self.inputs)
        stacked = {name: torch.stack(values) for name, values in rows.items()}
        # Where the episode goes on, the next value is the value of the next turn's observation.
        following = torch.cat([stacked["values"][1:], last_values[None]])
        continues = stacked["continues"] > 0
        stacked["next_values"] = torch.where(continues, following, stacked["next_values"])
        self.num_timesteps += n_steps * self.member_slots  # each member's own agent-steps
        return Rollout(**stacked)

    def _value(self, inputs: torch.Tensor) -> torch.Tensor:
        """[S] values of every slot's ``inputs`` [S, D], each by its member's network."""
        return self.networks.value(self._by_member(inputs)).reshape(-1)

    def update(self, rollout: Rollout) -> dict[str, torch.Tensor]:
        """PPO's clipped update over the rollout, each member on its own rows; returns the mean losses and the
        :data:`POLICY_DIAGNOSTICS`, the entropies of the policy's arms-level and act marginals
        (:meth:`~train.networks.TargetLayout.marginal_entropies`) over the first minibatch's learning rows, read
        before its step (the rollout's policy) ([M] device tensors)."""
        args, members = self.args, self.members
        advantage, returns = advantages(rollout, args.gamma, args.gae_lambda)

        def by_member(value: torch.Tensor) -> torch.Tensor:  # [T, S, ...] -> [M, T * S / M, ...]
            turns = value.shape[0]
            value = value.reshape(turns, members, -1, *value.shape[2:]).transpose(0, 1)
            return value.reshape(members, -1, *value.shape[3:])

        rows = {name: by_member(value) for name, value in rollout._asdict().items()}
        rows["advantage"], rows["returns"] = by_member(advantage), by_member(returns)
        n_rows = rows["advantage"].shape[1]
        kickstart = self.kickstart_weight(self.num_timesteps - n_rows)
        if args.anneal_lr:  # the share of --timesteps done before this rollout
            done = (self.num_timesteps - n_rows) / args.timesteps
            for group in self.optimizer.param_groups:
                group["lr"] = args.learning_rate * max(1.0 - done, 0.0)
        names = ("policy", "value", "entropy", "approx_kl", "kickstart")
        sums = {name: torch.zeros(members, device=self.device) for name in names}
        diagnostics: dict[str, torch.Tensor] = {}  # POLICY_DIAGNOSTICS, read on the first minibatch
        n_batches = 0
        member = torch.arange(members, device=self.device)[:, None]
        for _ in range(args.n_epochs):
            # One shuffle of each member's rows per epoch, then contiguous minibatches (fewer, larger gathers).
            order = torch.stack(
                [torch.randperm(n_rows, generator=self.generator, device=self.device) for _ in range(members)]
            )
            # one gather of whole rows (index_select), not advanced indexing over two axes: 2-5x faster on a CPU
            rows_in_order = (member * n_rows + order).reshape(-1)
            epoch = {
                name: value.reshape(members * n_rows, *value.shape[2:])
                .index_select(0, rows_in_order)
                .reshape(members, n_rows, *value.shape[2:])
                for name, value in rows.items()
            }
            for start in range(0, n_rows, args.batch_size):
                batch = {name: value[:, start : start + args.batch_size] for name, value in epoch.items()}
                weight = batch["active"]  # [M, B]
                total_weight = weight.sum(-1).clamp(min=1.0)

                def mean(x: torch.Tensor, weight: torch.Tensor = weight, total: torch.Tensor = total_weight) -> Any:
                    return (x * weight).sum(-1) / total  # [M]: each member's mean over its rows

                # PPO's policy terms take the rows whose action the policy chose itself (not the teachers' played
                # choices of --imitate-until: off-policy, learned by the cross-entropy alone).
                own = weight - batch["imitated"]
                own_total = own.sum(-1).clamp(min=1.0)

                def own_mean(x: torch.Tensor, own: torch.Tensor = own, total: torch.Tensor = own_total) -> Any:
                    return (torch.where(own > 0, x, 0.0) * own).sum(-1) / total  # a skipped row's ratio may be inf

                logits = self.networks.masked_logits(batch["inputs"], batch["forbidden"])
                log_probs, entropy = log_prob_and_entropy(logits, batch["actions"])
                if n_batches == 0:  # one minibatch of rows shows the policy; every one would add a softmax to each
                    with torch.no_grad():  # every learning row's policy, whoever chose its action (imitated too)
                        marginal = self.targets.marginal_entropies(logits)
                        diagnostics = {f"{part}_entropy": mean(value) for part, value in marginal.items()}
                ratio = (log_probs - batch["log_probs"]).exp()
                adv = batch["advantage"]
                adv_mean = own_mean(adv)[:, None]
                adv = (adv - adv_mean) / (own_mean((adv - adv_mean) ** 2).sqrt()[:, None] + 1e-8)
                policy_loss = own_mean(
                    torch.maximum(-adv * ratio, -adv * ratio.clamp(1.0 - args.clip_range, 1.0 + args.clip_range))
                )
                value = self.networks.value(batch["inputs"])
                value_loss = 0.5 * mean((value - batch["returns"]) ** 2)
                entropy_loss = own_mean(entropy)
                loss = policy_loss - args.ent_coef * entropy_loss + args.vf_coef * value_loss
                if kickstart > 0.0:  # cross-entropy toward the teachers' choices (train.kickstart)
                    taught = batch["taught"]
                    teacher_log_p = torch.log_softmax(logits, dim=-1).gather(-1, batch["teacher_actions"][..., None])
                    # where no teacher chose, the label may be masked out (log p about -1e9): 0 before the product
                    cross_entropy = -torch.where(taught > 0, teacher_log_p[..., 0], 0.0)
                    kickstart_loss = (cross_entropy * taught).sum(-1) / taught.sum(-1).clamp(min=1.0)
                    loss = loss + kickstart * kickstart_loss
                else:
                    kickstart_loss = torch.zeros_like(policy_loss)
                # The members share no weight: the sum's gradient is each member's own loss's.
                loss = loss.sum()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.networks.clip_grad_norm_(args.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    sums["policy"] += policy_loss
                    sums["value"] += value_loss
                    sums["entropy"] += entropy_loss
                    sums["approx_kl"] += own_mean((ratio - 1.0) - torch.log(ratio))
                    sums["kickstart"] += kickstart_loss
                n_batches += 1
        self.iterations += 1
        return {**{name: total / n_batches for name, total in sums.items()}, **diagnostics}

    def health(self, rollout: Rollout) -> torch.Tensor:
        """[2] float on the device, for the run's divergence check: 1 if every weight is finite (else 0), and how
        many of the rollout's actions chosen by the policy its mask forbade: logits that outgrow
        :data:`~train.masked_categorical.MASKED_LOGIT` (a diverged network) no longer keep them out."""
        with torch.no_grad():
            finite = torch.stack([weights.isfinite().all() for weights in self.networks.parameters()]).all()
            chosen = (rollout.active > 0) & (rollout.imitated == 0)  # the teachers' played choices are theirs
            forbidden = rollout.forbidden.gather(-1, rollout.actions[..., None])[..., 0] & chosen
            return torch.stack([finite.to(torch.float32), forbidden.sum().to(torch.float32)])

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds (plain tensors and numbers): weights, optimiser, step count and RNG states, and,
        where every scripted policy's memory can be saved (array policies: all the built-in ones), the worlds as they
        stand with what the nations last saw, each episode's return so far and the scripted nations' memories, so
        that a resumed run goes on turn for turn, bit for bit."""
        state = {
            "num_timesteps": self.num_timesteps,
            "iterations": self.iterations,
            "agent": self.networks.state_dict(),
            "agent_shape": self.networks.shape,
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            **self.background.scripted.state_dict("background"),
            **(self.teachers.state_dict() if self.teachers is not None else {}),
        }
        if not self.episodes_saved:  # the worlds' generator alone: the episodes restart on a resume
            state["env_rng"] = env_rng_state(self.batch.random)
        else:
            worlds = self.batch.state_dict()
            world = {name: torch.as_tensor(array) for name, array in worlds["world"].items()}
            observations, mask = self.seen
            state["episodes"] = {
                "worlds": {**worlds, "world": world, "map_index": torch.as_tensor(worlds["map_index"])},
                "observations": torch.as_tensor(observations),
                "action_mask": torch.as_tensor(mask),
                "returns_so_far": self.stats.running,
            }
        return state

    @property
    def episodes_saved(self) -> bool:
        """Whether a checkpoint holds the episodes under way (not where a scripted policy's memory cannot be saved)."""
        scripted = [self.background.scripted, *([self.teachers] if self.teachers is not None else [])]
        return all(players.memories_saved for players in scripted)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint: weights, optimiser, RNG states, and the episodes under way where it holds them
        (otherwise, as in checkpoints written before it did, the episodes restart from fresh worlds)."""
        self.networks.load_state_dict(state["agent"])
        self.optimizer.load_state_dict(state["optimizer"])
        restore_generator(self.generator, state["generator"], "the trainer's sampling generator")
        self.num_timesteps = int(state["num_timesteps"])
        self.iterations = int(state["iterations"])
        episodes = state.get("episodes")
        try:
            if episodes is not None:
                self.batch.load_state_dict(episodes["worlds"])
            else:
                restore_env_rng(state.get("env_rng"), self.batch.random)
        except ValueError as error:  # worlds of another backend or dtype: a resume on another device
            print(f"the episodes under way restart from fresh worlds: {error}", file=sys.stderr)
            episodes = None
        # A checkpoint without the episodes, as one of a run whose scripted policy is not array code: they restart,
        # as the README says; said here as a resume on another device says it, naming the policies.
        if state.get("episodes") is None and not self.episodes_saved:
            roles = [("background", self.background.scripted)]
            roles += [("teacher", self.teachers.shadows)] if self.teachers is not None else []
            named = [f"the {role} policy {name!r}" for role, players in roles for name in players.unsaved]
            if named:
                keeps = "keeps its" if len(named) == 1 else "keep their"
                print(
                    f"the episodes under way restart from fresh worlds: {', '.join(named)} {keeps} memories as Python "
                    "objects (not array code), which a checkpoint does not hold",
                    file=sys.stderr,
                )
        self.background.scripted.load_state_dict(state, "background", memories=episodes is not None)
        if self.teachers is not None:
            self.teachers.load_state_dict(state, memories=episodes is not None)
        if episodes is None:
            self.inputs, self.forbidden = self._start()
            return
        observations, mask = episodes["observations"], episodes["action_mask"]
        if self.batch.backend.name == "numpy":
            observations, mask = observations.numpy(), mask.numpy()
        else:
            observations, mask = observations.to(self.device), mask.to(self.device)
        self.seen = (observations, mask)
        self.inputs = self._inputs(observations)
        self.forbidden = self._tensor(mask).reshape(self.n_slots, -1) == 0
        self.stats.running = episodes["returns_so_far"].to(self.device)
