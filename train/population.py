"""The networks of the members of a population: several PPO runs trained as one, on one device.

A population of ``M`` members trains ``M`` seeds of one setting together: their worlds are one batch (member ``m``
owns the ``m``-th block of ``n_worlds`` worlds) and their networks are called as one. Each member keeps a network of
its own (:class:`train.networks.Agent`, initialised from its own seed) and learns only from its own worlds: the
members' losses are summed, and since no parameter is shared, each gradient is its member's alone; Adam works element
by element, and the gradient norm is clipped member by member, so each member takes the steps it would take alone.
Why: on a GPU a run of a few hundred worlds leaves the device idle between kernel launches; ``M`` members fill one
launch with ``M`` times the work (JaxMARL and PureJaxRL train seeds side by side with ``vmap`` for the same reason).
On a CPU it brings nothing: the arithmetic is the same, and batched products are no faster there.

:class:`MemberNetworks` holds the members' parameters stacked along a leading member axis and calls the one network
definition (:class:`~train.networks.Agent`) on them with ``torch.func.vmap``; a population of one calls its
:class:`~train.networks.Agent` directly, exactly as a single run always did.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from train.masked_categorical import mask_logits

if TYPE_CHECKING:
    from train.networks import Agent


class MemberNetworks:
    """The networks of ``len(agents)`` members, called on member-major inputs ``[M, rows, ...]``."""

    def __init__(self, agents: list[Agent]) -> None:
        if not agents:
            raise ValueError("a population needs at least one member's network")
        self.members = len(agents)
        self.shape = agents[0].shape
        if self.members == 1:
            self.single: Agent | None = agents[0]
            self.stacked: dict[str, torch.Tensor] = dict(agents[0].named_parameters())
        else:
            self.single = None
            params, buffers = stack_module_state(agents)
            if buffers:
                raise ValueError(f"a population's networks hold no buffers; these do: {', '.join(buffers)}")
            self.stacked = params  # leaves of their own, [M, ...] each, that the optimiser updates
            # The members' network definition, its tensors on the meta device: functional_call supplies the weights.
            self.template = copy.deepcopy(agents[0]).to("meta")

    def parameters(self) -> list[torch.Tensor]:
        """Every trained tensor (the optimiser's)."""
        return list(self.stacked.values())

    def _call(self, part: str, inputs: torch.Tensor) -> torch.Tensor:
        """``agent.<part>(inputs[m])`` for every member ``m`` (``part``: ``actor`` or ``critic``)."""
        if self.single is not None:
            return getattr(self.single, part)(inputs[0])[None]
        module = getattr(self.template, part)
        prefix = f"{part}."
        weights = {name[len(prefix) :]: value for name, value in self.stacked.items() if name.startswith(prefix)}
        return vmap(lambda member_weights, x: functional_call(module, member_weights, (x,)))(weights, inputs)

    def masked_logits(self, inputs: torch.Tensor, forbidden: torch.Tensor) -> torch.Tensor:
        """``[M, rows, A]`` policy logits of ``inputs`` ``[M, rows, D]``, masked where ``forbidden``."""
        return mask_logits(self._call("actor", inputs), forbidden)

    def value(self, inputs: torch.Tensor) -> torch.Tensor:
        """``[M, rows]`` values of ``inputs`` ``[M, rows, D]``."""
        return self._call("critic", inputs)[..., 0]

    def clip_grad_norm_(self, max_norm: float) -> None:
        """Scale each member's gradient down to a norm of at most ``max_norm`` (``nn.utils.clip_grad_norm_``, member
        by member)."""
        if self.single is not None:
            nn.utils.clip_grad_norm_(self.single.parameters(), max_norm)
            return
        grads = [p.grad for p in self.stacked.values() if p.grad is not None]
        norms = torch.stack([g.reshape(self.members, -1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # [M]
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for grad in grads:
            grad.mul_(scale.reshape(-1, *([1] * (grad.ndim - 1))))

    def member_state_dict(self, member: int) -> dict[str, torch.Tensor]:
        """Member ``member``'s weights, in :class:`~train.networks.Agent`'s own state-dict format (a copy)."""
        if self.single is not None:
            return {name: value.detach().clone() for name, value in self.single.state_dict().items()}
        return {name: value[member].detach().clone() for name, value in self.stacked.items()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every member's weights: an Agent's state dict for one member, the stacked ``[M, ...]`` tensors else."""
        if self.single is not None:
            return self.single.state_dict()
        return {name: value.detach() for name, value in self.stacked.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Weights saved by :meth:`state_dict` of a population of the same size and network."""
        if self.single is not None:
            self.single.load_state_dict(state)
            return
        if set(state) != set(self.stacked):
            raise ValueError(f"the saved weights are not this population's: {sorted(set(state) ^ set(self.stacked))}")
        with torch.no_grad():
            for name, value in self.stacked.items():
                if tuple(state[name].shape) != tuple(value.shape):
                    raise ValueError(
                        f"saved weights {name} have shape {tuple(state[name].shape)}; this population's "
                        f"{tuple(value.shape)} (members x ...): valid: the same --population and network"
                    )
                value.copy_(state[name])
