"""The scripted policies' batched ``act`` on torch tensors: the same actions and memories as on numpy arrays, on the
observations' device, without a host sync."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

import realism_env
from agents import POLICIES, ArrayPolicy, policy_class
from realism_env.backend import to_numpy
from realism_env.batch import WorldBatch
from tests.host_syncs import FROM_HOST, forbid_host_syncs

torch = pytest.importorskip("torch", reason="the policies' torch path needs torch (pip install realism-env[torch])")

#: wars, threats and alliances happen within a few turns: unequal nations that the realists read carefully
CONFIG = realism_env.EnvConfig.from_scenario("multipolar", max_cycles=30, capability_spread=0.5)
N_WORLDS = 32
TURNS = 30
NAMES = sorted(POLICIES)


def policy_for(name: str, batch: WorldBatch) -> ArrayPolicy:
    policy = policy_class(name).from_env(batch)
    assert isinstance(policy, ArrayPolicy)
    return policy


def as_tensor(array: np.ndarray, device: Any = "cpu") -> Any:
    return torch.tensor(array, device=device)  # a copy: the numpy array stays as it is


def memories_as_tensors(memories: Any, device: Any = "cpu") -> Any:
    if memories is None:
        return None
    fields = dataclasses.fields(memories)
    return dataclasses.replace(memories, **{f.name: as_tensor(getattr(memories, f.name), device) for f in fields})


def assert_same_memories(on_torch: Any, on_numpy: Any, device: Any = "cpu") -> None:
    """Equal field by field (floats to the last bit), the torch ones tensors of the numpy dtype on ``device``."""
    if on_numpy is None:
        assert on_torch is None
        return
    for field in dataclasses.fields(on_numpy):
        tensor, array = getattr(on_torch, field.name), getattr(on_numpy, field.name)
        assert isinstance(tensor, torch.Tensor), field.name
        assert tensor.device == torch.device(device), field.name
        assert to_numpy(tensor).dtype == array.dtype, field.name
        np.testing.assert_allclose(to_numpy(tensor), array, rtol=0, atol=0, err_msg=field.name)


def flat(observations: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[W, N, ...] as [W * N, ...]: every nation of every world in one batch."""
    return observations.reshape(-1, observations.shape[-1]), masks.reshape(-1, masks.shape[-1])


def play_both(
    policy: ArrayPolicy, observations: np.ndarray, masks: np.ndarray, memories: Any, draws: np.ndarray
) -> tuple[np.ndarray, Any]:
    """``act`` on numpy arrays and on the same values as CPU tensors; asserts they agree and returns numpy's."""
    actions, next_memories = policy.act(observations, masks, memories, draws)
    on_torch, torch_memories = policy.act(
        as_tensor(observations), as_tensor(masks), memories_as_tensors(memories), as_tensor(draws)
    )
    assert isinstance(on_torch, torch.Tensor) and on_torch.dtype == torch.int64
    assert on_torch.device == torch.device("cpu")
    assert actions.dtype == np.int64
    np.testing.assert_array_equal(to_numpy(on_torch), actions)
    assert_same_memories(torch_memories, next_memories)
    return actions, next_memories


@pytest.mark.parametrize("name", NAMES)
def test_act_on_torch_gives_the_numpy_actions_and_memories(name: str) -> None:
    """Worlds whose nations all play ``name`` (numpy), and at every turn the same policy on the same observations,
    memories and draws as torch tensors: identical actions and memories."""
    batch = WorldBatch(CONFIG, N_WORLDS, seed=11, backend="numpy")
    policy = policy_for(name, batch)
    observations, masks = batch.reset()
    assert observations.dtype == np.float32 and masks.dtype == np.int8  # what a torch WorldBatch gives too
    memories = policy.initial_states(N_WORLDS * CONFIG.n_nations)
    rng = np.random.default_rng(5)
    for _ in range(TURNS):
        draws = rng.random(N_WORLDS * CONFIG.n_nations)
        actions, memories = play_both(policy, *flat(observations, masks), memories, draws)
        out = batch.step(actions.reshape(N_WORLDS, CONFIG.n_nations))
        observations, masks = out.observations, out.action_mask


def test_act_on_torch_agrees_in_worlds_of_every_policy() -> None:
    """Worlds where the nations play the policies in turn (nation i the i-th policy), so that every policy meets
    attacks, threats, demands, alliances and peace offers: each policy, asked for every nation of every world on
    numpy and on torch, gives identical actions and memories, and these events did happen."""
    batch = WorldBatch(CONFIG, N_WORLDS, seed=3, backend="numpy")
    policies = [policy_for(name, batch) for name in NAMES]
    observations, masks = batch.reset()
    n = N_WORLDS * CONFIG.n_nations
    memories = [policy.initial_states(n) for policy in policies]
    player = np.arange(CONFIG.n_nations) % len(policies)  # the policy each nation plays
    rng = np.random.default_rng(8)
    seen = dict.fromkeys(("at_war", "allied", "demand_received", "peace_offer_received", "proposal_received"), 0)
    for _ in range(TURNS):
        rows = observations.reshape(n, -1)
        for field in seen:
            seen[field] += int((batch.layout.other(rows, field) > 0.5).sum())
        draws = rng.random(n)
        chosen = []
        for k, policy in enumerate(policies):
            actions, memories[k] = play_both(policy, *flat(observations, masks), memories[k], draws)
            chosen.append(actions.reshape(N_WORLDS, CONFIG.n_nations))
        played = np.stack(chosen)[player, :, np.arange(CONFIG.n_nations)].T  # [W, N]: nation i's own policy
        out = batch.step(played)
        observations, masks = out.observations, out.action_mask
    assert all(seen.values()), seen


def test_encode_is_the_public_encoder_on_numpy_and_torch() -> None:
    batch = WorldBatch(CONFIG, 2, seed=0, backend="numpy")
    policy = policy_for("defensive_realist", batch)
    levels, slots = np.meshgrid(np.arange(policy.n_arms_levels), np.arange(policy.n_targets), indexing="ij")
    levels, slots = levels.ravel(), slots.ravel()
    for act in realism_env.Act:
        expected = [
            realism_env.encode_action(lv, act, s, CONFIG.n_nations, policy.n_arms_levels)
            for lv, s in zip(levels, slots, strict=True)
        ]
        np.testing.assert_array_equal(policy.encode(levels, act, slots), expected)
        np.testing.assert_array_equal(to_numpy(policy.encode(as_tensor(levels), act, as_tensor(slots))), expected)


@pytest.mark.parametrize("name", NAMES)
def test_initial_states_like_a_tensor_are_tensors_on_its_device(name: str) -> None:
    batch = WorldBatch(CONFIG, 2, seed=0, backend="numpy")
    policy = policy_for(name, batch)
    like = torch.zeros(3, dtype=torch.float32)
    assert_same_memories(policy.initial_states(5, like=like), policy.initial_states(5))


@pytest.mark.parametrize("name", NAMES)
def test_act_on_torch_never_syncs_with_the_host(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tensor.__bool__, .item(), .tolist(), .numpy() (and int(), float(), .cpu()) raise inside ``act``, and so do
    torch.tensor, as_tensor and asarray (a copy from the host on a GPU): a policy decides for tensors without them,
    turn after turn, from a torch WorldBatch's own observations."""
    batch = WorldBatch(CONFIG, 8, seed=2, backend="torch", dtype="float32")
    policy = policy_for(name, batch)
    observations, masks = batch.reset()
    n = 8 * CONFIG.n_nations
    memories = policy.initial_states(n, like=observations)
    generator = torch.Generator().manual_seed(0)
    calls = []
    for _ in range(6):
        draws = torch.rand(n, generator=generator, dtype=torch.float64)
        with monkeypatch.context() as patch:
            calls.append(forbid_host_syncs(patch, f"inside {name}.act", functions=FROM_HOST))
            actions, memories = policy.act(*flat(observations, masks), memories, draws)
        assert actions.dtype == torch.int64 and actions.shape == (n,)
        assert to_numpy(torch.gather(masks.reshape(n, -1), 1, actions[:, None])).all()  # allowed by the mask
        out = batch.step(actions.reshape(8, CONFIG.n_nations))
        observations, masks = out.observations, out.action_mask
    assert not any(calls)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_act_on_cuda_gives_the_numpy_actions_without_a_sync(name: str) -> None:
    """On a GPU: the same actions and memories as numpy, on the device, with CUDA's sync debug mode set to error."""
    batch = WorldBatch(CONFIG, N_WORLDS, seed=4, backend="numpy")
    policy = policy_for(name, batch)
    observations, masks = batch.reset()
    n = N_WORLDS * CONFIG.n_nations
    memories = policy.initial_states(n)
    rng = np.random.default_rng(6)
    for _ in range(10):
        rows, row_masks = flat(observations, masks)
        draws = rng.random(n)
        inputs = [as_tensor(rows, "cuda"), as_tensor(row_masks, "cuda"), memories_as_tensors(memories, "cuda")]
        inputs.append(as_tensor(draws, "cuda"))
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            on_cuda, cuda_memories = policy.act(*inputs)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        actions, memories = policy.act(rows, row_masks, memories, draws)
        assert on_cuda.device.type == "cuda"
        np.testing.assert_array_equal(to_numpy(on_cuda), actions)
        assert_same_memories(cuda_memories, memories, on_cuda.device)
        out = batch.step(actions.reshape(N_WORLDS, CONFIG.n_nations))
        observations, masks = out.observations, out.action_mask


# --------------------------------------------------------------------------------------------------
# DevicePlayers: a policy that breaks the contract is named, without a host sync where it keeps it
# --------------------------------------------------------------------------------------------------


def _device_players(policy_class: type, **params: Any) -> tuple[Any, tuple[Any, ...]]:
    """DevicePlayers of nations 0..2 of both of two torch worlds, nation_1 of world 0 out; and a turn's arguments."""
    from agents.players import DevicePlayers

    batch = WorldBatch(CONFIG, 2, seed=0, backend="torch")
    observations, masks = batch.reset()
    policy = policy_class(batch.layout, CONFIG.n_nations, **params)
    worlds, nations = np.repeat(np.arange(2), 3), np.tile(np.arange(3), 2)
    players = DevicePlayers([(policy, worlds, nations)], 2, CONFIG.n_nations, observations)
    live = torch.ones((2, CONFIG.n_nations), dtype=torch.bool)
    live[0, 1] = False
    draws = torch.rand((2, CONFIG.n_nations), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return players, (torch.zeros((2, CONFIG.n_nations), dtype=torch.int64), observations, masks, live, draws)


def _first_forbidden(masks: Any) -> Any:
    return torch.argmax((masks == 0).to(torch.int64), dim=1)


@pytest.mark.parametrize(
    ("choose", "message"),
    [
        (_first_forbidden, r"chose action \d+ for nation_0 in world 0, which its action mask forbids"),
        (lambda m: torch.full((len(m),), 207), r"chose action 207 for nation_0 in world 0, outside the action space"),
        (lambda m: torch.zeros(len(m), dtype=torch.float64) + 0.7, "returned actions of dtype torch.float64"),
        (lambda m: torch.zeros(1, dtype=torch.int64), r"returned actions of shape \(1,\) for 6 nations"),
        (lambda m: np.zeros(len(m), dtype=np.int64), r"returned actions as numpy\.ndarray on cpu; valid: an array "
         r"like its observations, a torch\.Tensor on cpu"),
    ],
)  # fmt: skip
def test_device_players_refuse_actions_outside_the_mask_or_of_another_form_naming_the_policy(
    choose: Any, message: str
) -> None:
    """On torch an action out of the space failed as 'index out of range in self', one the mask forbids was played
    as WAIT, numpy actions failed deep in torch; on the CPU the device-side check raises at once, naming the culprit."""
    from tests.test_agents import Broken

    players, turn = _device_players(Broken, choose=choose)
    with pytest.raises(ValueError, match=f"^policy 'broken' {message}"):
        players.act(*turn)


def test_device_players_check_only_the_live_slots_and_without_a_host_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_agents import Broken

    players, (actions, observations, masks, live, draws) = _device_players(Broken, choose=_first_forbidden)
    players.act(actions, observations, masks, torch.zeros_like(live), draws)  # no live slot: nothing is played
    players, turn = _device_players(Broken, choose=lambda m: torch.zeros(len(m), dtype=torch.int64))  # WAIT
    with monkeypatch.context() as patch:
        calls = forbid_host_syncs(patch, "in DevicePlayers.act", functions=FROM_HOST)
        players.act(*turn)
    assert not calls


def test_device_players_refuse_memories_of_another_namespace_or_form_naming_the_policy() -> None:
    """Memories made with numpy (initial_states forgetting ``like``), or as a plain array, failed deep in torch."""
    from tests.test_agents import Counter, Turns

    with pytest.raises(ValueError, match=r"^the initial_states of policy 'counter' returned memory 'turn' as "
                       r"numpy\.ndarray on cpu; valid: a torch\.Tensor on cpu"):  # fmt: skip
        _device_players(Counter, initial=lambda n: Turns(np.zeros(n, dtype=np.int64)))
    with pytest.raises(ValueError, match="^the initial_states of policy 'counter' returned memories of type Tensor"):
        _device_players(Counter, initial=lambda n: torch.zeros(n))
    players, turn = _device_players(
        Counter, initial=lambda n: Turns(torch.zeros(n, dtype=torch.int64)), memory=lambda s: Turns(s.turn[:1])
    )
    with pytest.raises(ValueError, match=r"^the act of policy 'counter' returned memory 'turn' of shape \(1,\); "
                       r"valid: \(6,\), as initial_states made it"):  # fmt: skip
        players.act(*turn)
    players, turn = _device_players(Counter, initial=lambda n: None, memory=lambda s: Turns(torch.zeros(6)))
    with pytest.raises(ValueError, match="^the act of policy 'counter' returned some memories where initial_states "
                       "made none"):  # fmt: skip
        players.act(*turn)
