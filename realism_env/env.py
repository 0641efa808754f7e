"""The PettingZoo environment: a thin shell around the pure rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from realism_env.actions import N_ACTS, Act, checked_action, n_actions
from realism_env.backend import NumpyRandom, resolve_backend, seed_sequence
from realism_env.config import EnvConfig
from realism_env.doctrines import terms_per_nation
from realism_env.draws import draw_perception, draw_step
from realism_env.events import Events, event_records
from realism_env.maps import generate_world
from realism_env.observation import global_state, observe, state_size
from realism_env.rules import mask_of
from realism_env.step import Derived, derive, step_spec, step_worlds
from realism_env.version import NAME
from realism_env.world import World

_WAIT = int(Act.WAIT)  # WAIT toward slot 0 at arms level l is (l * K + _WAIT) * (N - 1)


class RealismEnv(ParallelEnv):
    """Nations under anarchy, rewarded by a realist doctrine.

    ## Description
    The international system has no authority above its sovereign states (Waltz 1979). Each turn (a year)
    every nation at once chooses how much of its income goes to arms and one foreign-policy act toward one
    other nation. Defensive realists (``security`` doctrine) are rewarded for security up to sufficiency;
    offensive realists (``power`` doctrine) for relative power and hegemony (Mearsheimer 2001). The rules
    live in :mod:`realism_env.rules`, whose docstring gives the order of resolution.

    ## Agents
    ``nation_0`` .. ``nation_{N-1}``, ``N = n_nations`` (2 to 64, default 6). An eliminated nation
    terminates and leaves ``agents``.

    ## Action Space
    ``Discrete(L * K * (N-1))``: ``action = (arms_level * K + act) * (N-1) + target_slot`` with ``L = 5``
    arms levels (share of income to arms: 0, 0.05, 0.1, 0.2, 0.4), ``K = 8`` acts and ``N-1`` target slots
    (slot ``k`` is nation ``(self + k + 1) % N``). Use :func:`realism_env.encode_action` and
    :func:`realism_env.decode_action`.

    | act | effect | valid when |
    |---|---|---|
    | WAIT | keep the status quo | always, with target slot 0 only |
    | ATTACK | declare war, or fight on and try to take a province | target alive, not allied, bordering or at war |
    | ALLY | propose an alliance, or accept the target's proposal (none forms if either attacks) | alive, not allied, not at war |
    | LEAVE_ALLIANCE | end an alliance at once | allied |
    | THREATEN | demand a border province under threat of war | bordering, not allied, not at war, no standing demand |
    | CONCEDE | give the demander one bordering province | the target demands, borders it; more than one province left |
    | SUPPORT | send ``aid_share`` of income to the target as military | target alive, not at war with it |
    | PEACE | offer peace; the war ends when both offer (now or last turn) | at war with the target |

    An in-space action that the mask forbids is played as WAIT (its arms level still applies) and recorded in
    ``infos[nation]["action_valid"] = False``. An action outside the space raises ``ValueError``.

    ## Observation Space
    ``Dict(observation=Box(0, 1, (D,), float32), action_mask=Box(0, 1, (A,), int8))``; the mask is exact and never
    all zero. ``D = 10 + (N-1) * 26`` (more with ``reveal_doctrines``). Read fields by name with
    :class:`realism_env.ObservationLayout`, never by raw index.

    Own block (first 10 entries):

    | field | meaning |
    |---|---|
    | military | own military / (own + estimated military of all others) |
    | wealth | own income / the system's income |
    | provinces | own provinces / all provinces |
    | arms_level | own arms level / highest level |
    | wars, alliances | number of wars, of allies, / (N-1) |
    | demands_made, demands_received | standing demands by and against this nation, / (N-1) |
    | credibility | own record of carrying out threats, (enforced + 1) / (made + 2) |
    | turn | turn / max_cycles |

    Then one block of 26 per other nation, in relative order (slot k is nation (self + k + 1) % N):

    | field | meaning |
    |---|---|
    | alive | 1 if it still exists |
    | military | estimated military (truth x log-normal noise, sigma ``misperception``, mean 1) / observer's perceived total |
    | wealth, provinces | its income share, province share |
    | land_border, sea_border | borders the observer by land; linked by sea only |
    | at_war, allied, war_years | with the observer; war_years / max_cycles |
    | proposal_received, proposal_made | standing alliance proposals between it and the observer |
    | peace_offer_received | it stands offering peace to the observer |
    | demand_received, demand_made | standing demands between it and the observer |
    | credibility | its record of carrying out threats |
    | wars, alliances | its wars and allies with anyone, / (N-1) (public knowledge) |
    | acted_on_observer | its public act last turn was aimed at the observer |
    | last_act_wait .. last_act_peace | one-hot of its public act last turn |

    Never shown: other nations' doctrines (unless ``reveal_doctrines=True``) or their true forces.
    ``state()`` gives the true global state (``state_space``).

    ## Rewards
    Per nation by its doctrine (``EnvConfig.doctrines``: one name, or a tuple per nation). The named terms of
    each step are in ``env.last_rich_infos[nation]["reward_terms"]`` (and in ``infos`` with ``rich_infos=True``).

    ``security`` (defensive realism, Waltz)::

        r = 0.5 * alive + min(1, S / 1.1) - 2 * provinces_lost / initial_provinces - 10 * eliminated
        S = (own + allies' military) / strongest military among non-allied neighbours and enemies
        provinces_lost = max(provinces held before the turn - held after it, 0)   (net of provinces taken)

    ``power`` (offensive realism, Mearsheimer)::

        r = N * share + 1 * [share > hegemony_share] - 10 * eliminated
        share = (military share + economic share) / 2

    Register more with :func:`realism_env.register_doctrine`.

    ## Starting State
    A seeded map of ``N * provinces_per_nation`` provinces on a grid (``islands``: two grids joined by sea),
    contiguous territories of about ``provinces_per_nation`` provinces (grown from seeds far apart; a territory
    enclosed early ends smaller and a neighbour larger: in ``multipolar`` 8% of maps come out equal) dealt to the
    nations in a random order, province wealth uniform in [0.75, 1.25] scaled to each nation's capability share
    (exact whatever the territory's size), military at the steady state of the middle arms level, no wars, alliances
    or demands (:mod:`realism_env.maps`).

    ## Episode End
    Termination: a nation with no province (it leaves ``agents``); all nations when one holds every
    province. Truncation: after ``max_cycles`` turns (default 200), for every nation that played the last turn,
    also one terminated on it (eliminated, or the world unified): at the time limit every nation's flags agree, as
    with gymnasium's ``TimeLimit``. Once ``agents`` is empty the episode is over: ``step()`` raises ``RuntimeError``
    until ``reset()``.

    ## Infos
    ``infos[nation]`` holds flat numeric values only, the same keys at reset and at every step (what TorchRL's
    ``PettingZooWrapper`` turns into tensors): ``action_valid`` (bool; ``True`` at reset). The rich records of the
    last reset or step are always on the env, whatever ``rich_infos`` is:

    - ``env.last_rich_infos``: ``{nation: {"reward_terms": {term: float}, "events": [record, ...], "action_valid":
      bool}}`` for the nations that played the last step (every nation, with empty terms and events, after reset);
      a record is ``{"kind", "actor", "target", "value"}`` (:func:`realism_env.events.event_records`);
    - ``env.last_event_records``: every record of the last step, once (``[]`` after reset);
    - ``env.last_events``: the same events as arrays (:class:`realism_env.Events`), ``None`` after reset.

    ``rich_infos=True`` puts ``env.last_rich_infos`` in ``infos``, as the env did before (Version History).

    ## Arguments
    ``realism_env.parallel_env(config=None, scenario=None, render_mode=None, rich_infos=False, **overrides)``: a
    config, or a scenario (``"multipolar"`` when neither is given), not both; every :class:`realism_env.EnvConfig`
    field may be overridden (``max_cycles``, ``doctrines``, ``offense_defense_balance``, ``conquest_payoff``,
    ``misperception``, ...).

    ## Version History
    * v2: a declining economy (``growth_rate`` or ``growth_rates`` below 0) declines faster the more it arms. Each
      share of income not invested (arms, upkeep, aid) forgoes ``|g|`` of the year's growth ``g``; v1 multiplied
      the investment by ``g``, so for ``g < 0`` arms *slowed* the decline and a nation spending everything on arms
      stopped declining. Worlds whose growth is 0 or more are unchanged to the last bit (v1's fingerprints pin v2,
      ``tests/test_rules_regression.py``), and results of v1 with such configs, every scenario's among them, stand
      for v2. The registry's ids moved with the name: ``realism_env/realism-v2``, ``realism_fixed_agents-v2``,
      ``SingleLearner-v2``.
    * v1, float range (trajectories and rewards unchanged, so no new version): a capture's force ratio is raised to
      the smallest whose power ``ratio ** -capture_steepness`` the float dtype holds (the odds there are nil either
      way; a nearly disarmed attacker overflowed float32 before); a threat too weak for the security ratio to be
      written counts as none, and the security margin caps the ratio before dividing; ``max_cycles`` is at most
      ``EnvConfig.longest_horizon()``, the turns before compounding wealth could overflow (float32 batches check
      their own); ``growth_rates`` are checked as ``growth_rate`` is, between -0.5 and 1.
    * v1, option ``capability_spread`` (default 0: trajectories unchanged, so no new version): random capability
      shares per episode, for training across distributions of power; a config with a spread draws one normal per
      nation at each reset, after the draws a config without one makes.
    * v1, infos and the last turn's flags (observations, rewards and dynamics unchanged, so no new version):
      ``infos[nation]`` is ``{"action_valid": bool}`` by default, so TorchRL's and RLlib's PettingZoo wrappers take
      the env as it is; the former ``reward_terms`` and ``events`` are on ``env.last_rich_infos``, and back in
      ``infos`` with ``rich_infos=True``. A nation eliminated on the turn that reaches ``max_cycles`` is now
      truncated as well as terminated, so that every nation's flags agree on the last step (RLlib's wrappers end an
      episode only when every nation reporting is terminated, or every one truncated). ``WorldBatch``'s
      ``truncated`` array is unchanged: there a nation terminated on the last turn is not truncated.
    * v1: the rules are written once in array-API style and run on numpy and torch (CPU, CUDA); this env is one
      world of the same step as ``realism_env.batch.WorldBatch``. The formulas of actions, observations and rewards
      are unchanged; trajectories of a seed are not, because the random draws and two details of resolution changed:
      (1) a turn's draws are made per acting nation (its capture roll; which eligible province changes hands, picked
      uniformly with one uniform; the priority of simultaneous claims) plus the misperception noise, instead of one
      draw per pair of nations and province; (2) concessions and captures change hands at once, on the borders of
      the start of the turn (a concession stands over a capture of the same province); (3) a new map deals its
      territories to the nations in a random order, and province wealth is drawn after the map.
      ``tests/test_rules_regression.py`` pins v1 trajectories of the env and of ``WorldBatch`` on both backends.
    * v0: initial release.
    """

    metadata = {"name": NAME, "render_modes": ["ansi", "rgb_array"], "is_parallelizable": True, "render_fps": 2}

    def __init__(
        self,
        config: EnvConfig | None = None,
        *,
        scenario: str | None = None,
        render_mode: str | None = None,
        rich_infos: bool = False,
        **overrides: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is invalid; valid: None, 'ansi', 'rgb_array'")
        if config is not None and not isinstance(config, EnvConfig):
            # parallel_env("bipolar") or parallel_env({...}): the first argument is the config, not a scenario
            raise ValueError(
                f"config={config!r} is invalid; valid: a realism_env.EnvConfig or None, with the scenario by keyword "
                f"(scenario='bipolar') and config fields as keywords (n_nations=3)"
            )
        if config is None:
            config = EnvConfig.from_scenario("multipolar" if scenario is None else scenario, **overrides)
        elif scenario is not None:  # the config already holds its scenario's values: one of the two would be lost
            raise ValueError(
                f"scenario={scenario!r} with a config is ambiguous; valid: a config (with keyword overrides), or a "
                "scenario (with keyword overrides), e.g. EnvConfig.from_scenario(scenario, ...) as the config"
            )
        elif overrides:
            config = config.replace(**overrides)
        self.config = config
        self.render_mode = render_mode
        if not isinstance(rich_infos, (bool, np.bool_)):
            raise ValueError(f"rich_infos={rich_infos!r} is invalid; valid: True or False")
        #: whether ``infos`` hold the rich records (``reward_terms``, ``events``) rather than numbers only
        self.rich_infos = bool(rich_infos)
        n = config.n_nations
        self.possible_agents = [f"nation_{i}" for i in range(n)]
        self.agent_name_mapping = {name: i for i, name in enumerate(self.possible_agents)}
        self._names = tuple(self.possible_agents)
        # Doctrines and constant tables are resolved once here (an unknown doctrine raises ValueError naming the
        # valid ones), never looked up by string inside step. The env is one world of the batched step, on numpy.
        self._spec = step_spec(config, resolve_backend("numpy"))
        self.doctrines = self._spec.doctrines
        self.layout = self._spec.layout
        self._n_actions = n_actions(n, len(config.arms_shares))
        # One space object per agent: each has its own random generator, so seeding one agent's space (for
        # space.sample()) leaves the others' draws alone.
        self.observation_spaces = {
            a: gymnasium.spaces.Dict(
                {
                    "observation": gymnasium.spaces.Box(0.0, 1.0, (self.layout.size,), np.float32),
                    "action_mask": gymnasium.spaces.Box(0, 1, (self._n_actions,), np.int8),
                }
            )
            for a in self.possible_agents
        }
        self.action_spaces = {a: gymnasium.spaces.Discrete(self._n_actions) for a in self.possible_agents}
        self.state_space = gymnasium.spaces.Box(0.0, 1.0, (state_size(config),), np.float32)
        self.agents: list[str] = []
        self.world: World | None = None
        self._derived: Derived | None = None
        self._mask: np.ndarray | None = None
        self._rng: np.random.Generator | None = None
        #: the last step's events as arrays (``Events``, world axis of length 1), for recorders and metrics
        self.last_events: Events | None = None
        # What the rich infos of the last step are built from, on first use: (reward terms, acting indices, invalid).
        self._last_step: tuple[dict, list[int], list[bool]] | None = None
        self._records: list[dict[str, object]] | None = None
        self._rich: dict[str, dict[str, Any]] | None = None

    def observation_space(self, agent: str) -> gymnasium.spaces.Dict:
        return self.observation_spaces[self._possible_agent(agent)]

    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        return self.action_spaces[self._possible_agent(agent)]

    def _possible_agent(self, agent: Any) -> str:
        """``agent`` when it is one of ``possible_agents``; a ``ValueError`` naming them otherwise."""
        if not isinstance(agent, str) or agent not in self.agent_name_mapping:
            raise ValueError(f"agent {agent!r} is unknown; valid: {', '.join(self.possible_agents)}")
        return agent

    # ---------------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        if seed is not None or self._rng is None:
            # seed_sequence names a bad seed (-1, 1.5, "1") where numpy would raise without naming it
            self._rng = np.random.default_rng(seed_sequence(seed))
        self.world = generate_world(self.config, self._rng)
        self._derived = derive(self.world, self._spec)
        self._mask = mask_of(self._derived.validity, self._spec.rules)
        self.agents = list(self.possible_agents)
        self.last_events = None
        self._last_step = None
        self._records = []
        self._rich = {a: {"reward_terms": {}, "events": [], "action_valid": True} for a in self.agents}
        perception = draw_perception(NumpyRandom(self._rng), 1, self.config.n_nations)
        observations = self._observations(
            observe(self.world, self.config, perception, self._spec.observation, self._derived.land)
        )
        infos = self.last_rich_infos if self.rich_infos else {a: {"action_valid": True} for a in self.agents}
        return observations, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:  # stepping on would run the world past its end, with actions no one checks
            raise RuntimeError(
                f"the episode is over (turn {int(self.world.turn[0])}: every nation terminated or truncated); call "
                "reset() before step()"
            )
        config = self.config
        flat = self._flat_actions(actions)
        draws = draw_step(NumpyRandom(self._rng), 1, config.n_nations, config.n_provinces)
        out, self.world, self._derived = step_worlds(self.world, self._derived, flat, draws, self._spec)
        self._mask = out.action_mask

        acting = self.agents
        self.last_events = out.events
        invalid = out.events.invalid_action[0].tolist()
        reward_list = out.rewards[0].tolist()
        terminated_list = out.terminated[0].tolist()
        truncated_list = out.truncated[0].tolist()
        out_of_time = int(self.world.turn[0]) >= config.max_cycles  # every nation's time is up, eliminated or not
        index = self.agent_name_mapping
        acting_index = [index[agent] for agent in acting]
        self._last_step, self._records, self._rich = (out.reward_terms, acting_index, invalid), None, None
        observations = self._observations(out.observations, acting)
        rewards_out, terminations, truncations = {}, {}, {}
        still_acting = []
        for agent, i in zip(acting, acting_index, strict=True):
            rewards_out[agent] = reward_list[i]
            terminations[agent] = terminated_list[i]
            truncations[agent] = truncated_list[i] or out_of_time
            if not (terminated_list[i] or truncations[agent]):
                still_acting.append(agent)
        if self.rich_infos:
            infos = self.last_rich_infos
        else:
            infos = {agent: {"action_valid": not invalid[i]} for agent, i in zip(acting, acting_index, strict=True)}
        self.agents = still_acting
        return observations, rewards_out, terminations, truncations, infos

    @property
    def last_event_records(self) -> list[dict[str, object]]:
        """Every event of the last step as a record ``{"kind", "actor", "target", "value"}`` (``[]`` after reset).

        Built on first use from :attr:`last_events` (:func:`realism_env.events.event_records`)."""
        if self._records is None:
            self._records = [] if self.last_events is None else event_records(self.last_events, 0, self._names)
        return self._records

    @property
    def last_rich_infos(self) -> dict[str, dict[str, Any]]:
        """``{nation: {"reward_terms", "events", "action_valid"}}`` of the nations of the last reset or step.

        ``reward_terms``: the nation's doctrine's named terms; ``events``: the records of :attr:`last_event_records`
        whose actor or target it is. What ``infos`` hold with ``rich_infos=True``. Built on first use."""
        if self._rich is None:
            if self._last_step is None:
                raise RuntimeError("call reset() before reading last_rich_infos")
            reward_terms, acting_index, invalid = self._last_step
            terms = terms_per_nation(self._spec.doctrine_terms(reward_terms), 0, acting_index)
            acting = [self._names[i] for i in acting_index]
            involving: dict[str | None, list] = {agent: [] for agent in acting}
            for record in self.last_event_records:
                actor, target = record["actor"], record["target"]
                if actor in involving:
                    involving[actor].append(record)
                if target in involving:
                    involving[target].append(record)
            self._rich = {
                agent: {"reward_terms": terms[i], "events": involving[agent], "action_valid": not invalid[i]}
                for agent, i in zip(acting, acting_index, strict=True)
            }
        return self._rich

    def _flat_actions(self, actions: dict[str, Any]) -> np.ndarray:
        """[1, N] flat actions; a live nation without an action keeps its arms level and waits."""
        n_targets = self.config.n_nations - 1
        flat = [(level * N_ACTS + _WAIT) * n_targets for level in self.world.arms_level[0].tolist()]
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"actions={actions!r} is invalid; valid: a dict {{agent: action}} over {', '.join(self.agents)}"
            )
        acting = set(self.agents)
        for agent, action in actions.items():
            if agent not in acting:
                if agent not in self.agent_name_mapping:
                    raise ValueError(f"unknown agent {agent!r}; valid: {', '.join(self.possible_agents)}")
                continue  # a nation already gone: PettingZoo lets callers pass None or stale actions
            flat[self.agent_name_mapping[agent]] = checked_action(agent, action, self._n_actions)
        return np.array([flat], dtype=np.int64)

    def _observations(self, observations: np.ndarray, agents: list[str] | None = None) -> dict[str, dict]:
        """Each agent's observation and a copy of its mask row (callers may write to what they get)."""
        masks = self._mask[0].copy()
        obs, index = observations[0], self.agent_name_mapping
        return {
            agent: {"observation": obs[index[agent]], "action_mask": masks[index[agent]]}
            for agent in (self.agents if agents is None else agents)
        }

    # ---------------------------------------------------------------------------------------------
    def state(self) -> np.ndarray:
        if self.world is None:
            raise RuntimeError("call reset() before state()")
        return global_state(self.world, self.config)[0]

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() was called without a render_mode; pass render_mode='ansi' or 'rgb_array'")
            return None
        if self.world is None:
            raise RuntimeError("call reset() before render()")
        from realism_env import render  # imported lazily: only rendering needs it

        if self.render_mode == "ansi":
            return render.render_ansi(self.world, self.config, self.last_event_records)
        return render.render_rgb(self.world, self.config)

    def close(self) -> None:
        pass


def parallel_env(config: EnvConfig | None = None, **kwargs: Any) -> RealismEnv:
    """The PettingZoo ParallelEnv. Keywords: ``scenario``, ``render_mode``, ``rich_infos``, any EnvConfig field."""
    return RealismEnv(config, **kwargs)


def env(config: EnvConfig | None = None, **kwargs: Any) -> AECEnv:
    """The AEC version (``parallel_to_aec``, which adds PettingZoo's order-enforcing wrapper)."""
    return parallel_to_aec(parallel_env(config, **kwargs))


raw_env = parallel_env
