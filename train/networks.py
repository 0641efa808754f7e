"""The networks of :mod:`train.fast_ppo`: the policy and value network over a nation's observation and doctrine
one-hot, and reading a trained one back from ``model.pt`` (``weights_only``: a file never runs code on load).

The policy is a :class:`PerNationActor` (every target nation scored with the same weights) or an MLP over the flat
action (SB3's and CleanRL's network); the value network an MLP. :class:`train.population.MemberNetworks` calls one
network per member of a population.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from realism_env import N_ACTS
from train.masked_categorical import mask_logits

ACTOR_CHOICES = ("per_nation", "mlp")


def _layer(n_in: int, n_out: int, std: float) -> nn.Linear:
    """A linear layer with CleanRL's orthogonal initialisation."""
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, 0.0)
    return layer


def _mlp(n_in: int, hidden: list[int], n_out: int, last_std: float) -> nn.Sequential:
    sizes = [n_in, *hidden]
    layers: list[nn.Module] = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [_layer(a, b, math.sqrt(2.0)), nn.Tanh()]
    return nn.Sequential(*layers, _layer(sizes[-1], n_out, last_std))


class TargetLayout(NamedTuple):
    """Where a nation's view of each other nation sits in the network input, and how a flat action is built from
    (arms level, act, target slot): ``action = (level * n_acts + act) * n_targets + slot`` (:mod:`realism_env.actions`).
    """

    own_size: int  #: the observer's own block, first in the observation
    block_size: int  #: one block per other nation, in target-slot order, after the own block
    n_targets: int  #: other nations (target slots)
    n_acts: int
    n_levels: int  #: arms levels

    @classmethod
    def of(cls, layout: Any, n_actions: int) -> TargetLayout:
        """The target layout of an :class:`realism_env.ObservationLayout` and its action count."""
        n_targets = layout.n_nations - 1
        return cls(
            len(layout.own_fields), len(layout.other_fields), n_targets, N_ACTS, n_actions // (N_ACTS * n_targets)
        )

    def marginal_entropies(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """The entropy (nats) of the arms level's and of the act's marginal distribution under the masked flat
        ``logits`` ``[..., n_actions]``: how sure a policy is of each part of its action, which the flat action's
        entropy mixes (at most ``log n_levels`` and ``log n_acts``). Each ``[...]``."""
        probs = torch.softmax(logits, dim=-1).reshape(*logits.shape[:-1], self.n_levels, self.n_acts, self.n_targets)
        arms_level, act = probs.sum(dim=(-2, -1)), probs.sum(dim=(-3, -1))
        return {"arms_level": torch.special.entr(arms_level).sum(-1), "act": torch.special.entr(act).sum(-1)}


class PerNationActor(nn.Module):
    """Scores an action (arms level, act, target) as ``level_act[level, act] + target[act, slot]``.

    ``level_act`` comes from an MLP over the whole input; ``target`` scores each other nation from its block of the
    observation (and the trunk's features) with *the same* weights for every slot, as entity-based MARL networks do
    (Deep Sets, Zaheer et al. 2017; AlphaStar's pointer head, Vinyals et al. 2019). A rule learned about one nation
    ("accept the alliance it proposes", "attack the weak neighbour") then holds for every nation, whichever slot it
    sits in. A plain MLP over the flat action must learn it slot by slot, and in self-play its greedy policy tends to
    fix on one slot: each nation then proposes alliances to its left neighbour, none accepts, and no alliance forms.
    """

    def __init__(self, n_inputs: int, hidden: list[int], targets: TargetLayout) -> None:
        super().__init__()
        self.targets = targets
        sizes = [n_inputs, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            layers += [_layer(a, b, math.sqrt(2.0)), nn.Tanh()]
        self.trunk = nn.Sequential(*layers)
        self.level_act = _layer(sizes[-1], targets.n_levels * targets.n_acts, 0.01)
        # The target head's hidden layer reads [block, features]; its weights are split so the features' part is
        # computed once per row rather than once per slot.
        self.target_block = _layer(targets.block_size, hidden[-1], math.sqrt(2.0))
        self.target_features = _layer(sizes[-1], hidden[-1], math.sqrt(2.0))
        self.target_out = _layer(hidden[-1], targets.n_acts, 0.01)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        t = self.targets
        features = self.trunk(inputs)  # [..., H]
        level_act = self.level_act(features).unflatten(-1, (t.n_levels, t.n_acts))  # [..., L, K]
        blocks = inputs[..., t.own_size : t.own_size + t.n_targets * t.block_size]
        # One row per (row, target) before the layer: on a 3-D slice, a population's vmap would copy the weights for
        # every row (train.population).
        per_target = self.target_block(blocks.reshape(-1, t.block_size)).unflatten(0, (*blocks.shape[:-1], t.n_targets))
        hidden = torch.tanh(per_target + self.target_features(features).unsqueeze(-2))  # [..., T, H]
        target = self.target_out(hidden).transpose(-1, -2)  # [..., K, T]
        return (level_act.unsqueeze(-1) + target.unsqueeze(-3)).flatten(-3)  # [..., L * K * T]


class Agent(nn.Module):
    """The policy and the value network (tanh) over a nation's observation and doctrine one-hot.

    The value network is an MLP; the policy is a :class:`PerNationActor` (``actor="per_nation"``) or an MLP over the
    flat action (``actor="mlp"``, SB3's and CleanRL's network, for like-for-like comparisons).
    """

    def __init__(
        self, n_inputs: int, n_actions: int, hidden: list[int], actor: str = "mlp", targets: TargetLayout | None = None
    ) -> None:
        super().__init__()
        if actor not in ACTOR_CHOICES:
            raise ValueError(f"actor={actor!r} is invalid; valid: {', '.join(ACTOR_CHOICES)}")
        self.shape: dict[str, Any] = {"n_inputs": n_inputs, "n_actions": n_actions, "hidden": list(hidden)}
        if actor == "per_nation":
            if targets is None:
                raise ValueError("actor='per_nation' needs the observation's TargetLayout")
            self.shape.update(actor=actor, targets=list(targets))
            self.actor: nn.Module = PerNationActor(n_inputs, hidden, targets)
        else:
            self.actor = _mlp(n_inputs, hidden, n_actions, 0.01)
        self.critic = _mlp(n_inputs, hidden, 1, 1.0)

    def value(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.critic(inputs)[..., 0]

    def masked_logits(self, inputs: torch.Tensor, forbidden: torch.Tensor) -> torch.Tensor:
        """The policy's logits, masked where ``forbidden`` (the action mask inverted; :func:`mask_logits`)."""
        return mask_logits(self.actor(inputs), forbidden)


def load_agent(path: str | Path, device: str = "cpu") -> Agent:
    """The trained network of ``model.pt`` (or of a one-member run's checkpoint), read with ``weights_only=True``: a
    file never runs code on load."""
    state = torch.load(Path(path), map_location=device, weights_only=True)
    agent = agent_of_shape(state["agent_shape"])
    name, weights = next(iter(agent.state_dict().items()))
    saved = state["agent"][name]
    if saved.ndim == weights.ndim + 1:  # a population's checkpoint: its members' weights stacked
        raise ValueError(
            f"{path} holds the weights of a population of {saved.shape[0]} members; valid: one member's model.pt "
            "(in --members-dir/seed<k>)"
        )
    agent.load_state_dict(state["agent"])
    return agent.to(device)


def agent_of_shape(shape: dict[str, Any]) -> Agent:
    """A fresh :class:`Agent` of the shape saved beside its weights (``Agent.shape``)."""
    targets = TargetLayout(*(int(v) for v in shape["targets"])) if "targets" in shape else None
    hidden = [int(h) for h in shape["hidden"]]
    return Agent(int(shape["n_inputs"]), int(shape["n_actions"]), hidden, shape.get("actor", "mlp"), targets)
