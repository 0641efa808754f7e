"""Scripted nations: pure policies with explicit state that act out the realist theories.

Every policy follows the Melting Pot contract (``meltingpot/utils/policies/policy.py``): it holds no
mutable state of its own; ``initial_state()`` gives its memory and ``step(observation, state, rng)``
returns ``(action, next_state)`` without touching the state it was given. The random generator is passed
in. A policy reads the observation only through the env's :class:`realism_env.ObservationLayout` (named
fields, never raw indices), builds its action with :func:`realism_env.encode_action`, and always returns
an action the mask allows (it falls back to WAIT, target slot 0, which is always valid).

Build one with ``Policy(layout, n_nations, n_arms_levels)`` or from an env with
``make_policy(name, env)`` (which also gives the realists the rules they reason with: the offence-defence
balance, the payoff of conquest, the stopping power of water and the sufficiency ratio; all public config).

Quantities the realists reason with, all read from one observation:

- *relative strength* of nation ``j``: its estimated military over one's own (both observation fields share
  the observer's perceived total as denominator), smoothed over turns in the policy's memory to damp the
  misperception noise (fast and slow exponential averages; a power whose fast average runs ahead of its
  slow one is *rising*);
- *security ratio* ``S``: (own + allies' military) / the strongest non-allied neighbour or enemy, the
  ratio of the ``security`` doctrine (M3 security rule, sufficiency ``S* = 1.1``), read prudently: allies at
  war elsewhere count half and any aggressive power counts as a threat;
- *front ratio* against ``j``: the force one can commit on that front (own military split evenly over one's
  wars, times the sea penalty when only the sea links the two) over the force ``j`` can commit (its military
  split over its own fronts, guessed from its public acts), as the rules split forces across fronts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from realism_env import Act, ObservationLayout, encode_action

_EPS = 1e-9
#: public acts that show a nation is fighting a war (it attacked, or it offered peace to an enemy)
_WAR_ACTS = ("last_act_attack", "last_act_peace")

Observation = Mapping[str, np.ndarray]


# --------------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------------


class Policy:
    """A scripted nation. Subclasses implement :meth:`initial_state` and :meth:`step`.

    Args:
        layout: the env's observation layout (``env.layout``).
        n_nations: nations in the world (``env.config.n_nations``).
        n_arms_levels: domestic arms levels (``len(env.config.arms_shares)``).
    """

    name: ClassVar[str] = "policy"

    def __init__(self, layout: ObservationLayout, n_nations: int, n_arms_levels: int = 5) -> None:
        if n_nations < 2:
            raise ValueError(f"n_nations={n_nations} is invalid; valid: an integer >= 2")
        if n_arms_levels < 2:
            raise ValueError(f"n_arms_levels={n_arms_levels} is invalid; valid: an integer >= 2")
        if layout.n_nations != n_nations:
            raise ValueError(f"layout is for {layout.n_nations} nations but n_nations={n_nations}")
        self.layout = layout
        self.n_nations = n_nations
        self.n_arms_levels = n_arms_levels
        self.n_targets = n_nations - 1
        # [level, act, slot] -> flat action, built once with the public encoder.
        self._actions = np.array(
            [
                [[encode_action(lv, act, s, n_nations, n_arms_levels) for s in range(self.n_targets)] for act in Act]
                for lv in range(n_arms_levels)
            ]
        )

    @classmethod
    def from_env(cls, env: Any, **params: Any) -> Policy:
        """A policy for ``env`` (any object with ``layout`` and ``config`` like :class:`realism_env.RealismEnv`)."""
        return cls(env.layout, env.config.n_nations, len(env.config.arms_shares), **params)

    def initial_state(self) -> Any:
        """The memory at the start of an episode."""
        return ()

    def step(self, observation: Observation, state: Any, rng: np.random.Generator) -> tuple[int, Any]:
        """``(action, next_state)`` for ``observation = {"observation": ..., "action_mask": ...}``."""
        raise NotImplementedError

    # -- helpers shared by the policies ----------------------------------------------------------
    def own(self, observation: Observation, field: str) -> float:
        return float(self.layout.own(observation["observation"], field))

    def others(self, observation: Observation, field: str) -> np.ndarray:
        return np.asarray(self.layout.other(observation["observation"], field), dtype=np.float64)

    def flags(self, observation: Observation, field: str) -> np.ndarray:
        return self.others(observation, field) > 0.5

    def arms_level(self, observation: Observation) -> int:
        """The domestic arms level the nation chose last turn."""
        return int(round(self.own(observation, "arms_level") * (self.n_arms_levels - 1)))

    def clamp_level(self, level: int) -> int:
        return int(min(max(level, 0), self.n_arms_levels - 1))

    def encode(self, level: int, act: Act, slot: int) -> int:
        """The flat action (``realism_env.encode_action``) with the level clamped to the valid range."""
        return int(self._actions[self.clamp_level(level), int(act), slot])

    def valid(self, mask: np.ndarray, level: int, act: Act) -> np.ndarray:
        """[N-1] bool: whether ``act`` toward each target slot is allowed at arms ``level``."""
        return np.asarray(mask)[self._actions[self.clamp_level(level), int(act)]] > 0

    def wait(self, mask: np.ndarray, level: int) -> int:
        """WAIT at ``level``; if the mask forbade that (it never does in realism_env), the first valid action."""
        action = self.encode(level, Act.WAIT, 0)
        if mask[action]:
            return action
        return int(np.flatnonzero(mask)[0])

    def choose(self, mask: np.ndarray, level: int, act: Act, candidates: np.ndarray, score: np.ndarray) -> int | None:
        """The action doing ``act`` to the valid candidate slot with the highest score (ties: lowest slot), or
        None when no candidate is valid."""
        ok = np.asarray(candidates, dtype=bool) & self.valid(mask, level, act)
        if not ok.any():
            return None
        slot = int(np.argmax(np.where(ok, score, -np.inf)))
        return self.encode(level, act, slot)


# --------------------------------------------------------------------------------------------------
# Simple baselines
# --------------------------------------------------------------------------------------------------


class StatusQuo(Policy):
    """Keeps its forces at one arms level and never acts abroad: always WAIT.

    The pure status-quo state of defensive realism with none of its balancing (Waltz 1979 ch. 6 calls
    states that only wish to be left alone the status-quo case; Cederman 1997's "prey" units): a baseline
    that shows what balancing and fighting back add.
    """

    name = "status_quo"

    def __init__(
        self, layout: ObservationLayout, n_nations: int, n_arms_levels: int = 5, arms_level: int | None = None
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels)
        self.fixed_level = n_arms_levels // 2 if arms_level is None else arms_level
        if not 0 <= self.fixed_level < n_arms_levels:
            raise ValueError(f"arms_level={arms_level} is out of range; valid: 0..{n_arms_levels - 1}")

    def step(self, observation: Observation, state: Any, rng: np.random.Generator) -> tuple[int, Any]:
        return self.wait(observation["action_mask"], self.fixed_level), state


class RandomPolicy(Policy):
    """Uniform over the actions the mask allows: the null model with no theory at all."""

    name = "random"

    def step(self, observation: Observation, state: Any, rng: np.random.Generator) -> tuple[int, Any]:
        valid = np.flatnonzero(observation["action_mask"])
        return int(valid[rng.integers(len(valid))]), state


class Bandwagoner(Policy):
    """Allies with the strongest power and gives in to stronger ones: bandwagoning.

    Waltz (1979, p. 126) holds that states balance rather than bandwagon; Walt (1987) and Schweller (1994)
    describe weak states that join the strongest side instead. This policy is that alternative: it proposes
    to (or accepts) the strongest nation it is not at war with, concedes to any demand from a nation stronger
    than itself, offers peace in every war, and keeps its forces at the middle arms level.
    """

    name = "bandwagoner"

    def step(self, observation: Observation, state: Any, rng: np.random.Generator) -> tuple[int, Any]:
        mask = observation["action_mask"]
        level = self.n_arms_levels // 2
        own = max(self.own(observation, "military"), _EPS)
        military = self.others(observation, "military") * self.flags(observation, "alive")
        at_war = self.flags(observation, "at_war")
        # At war it sues for peace, with the strongest enemy first.
        if at_war.any():
            action = self.choose(mask, level, Act.PEACE, at_war, military)
            if action is not None:
                return action, state
        demand = self.flags(observation, "demand_received")
        action = self.choose(mask, level, Act.CONCEDE, demand & (military > own), military)
        if action is not None:
            return action, state
        strongest = int(np.argmax(np.where(at_war, -np.inf, military)))
        if not at_war[strongest] and not self.flags(observation, "allied")[strongest]:
            pick = np.arange(self.n_targets) == strongest
            action = self.choose(mask, level, Act.ALLY, pick, military)
            if action is not None:
                return action, state
        return self.wait(mask, level), state


class TitForTat(Policy):
    """Mirrors what each nation did to it last turn (Axelrod 1984), starting and staying cooperative.

    Reads every other nation's public act of the last turn and whether it was aimed at the observer
    (``acted_on_observer``, ``last_act_*``) and the standing offers between them. In order: it attacks a
    nation that attacked it; makes peace with one that offered peace, or with an enemy that stopped attacking;
    threatens back one that threatened it; allies with one that proposed; aids back one that aided it; else it
    waits. Ties within a rule are broken by the passed-in generator. Forces stay at the middle arms level.
    """

    name = "tit_for_tat"

    def step(self, observation: Observation, state: Any, rng: np.random.Generator) -> tuple[int, Any]:
        mask = observation["action_mask"]
        level = self.n_arms_levels // 2
        aimed = self.flags(observation, "acted_on_observer")
        at_war = self.flags(observation, "at_war")

        def did(act: str) -> np.ndarray:
            return aimed & self.flags(observation, f"last_act_{act}")

        attacked = did("attack")
        rules = (
            (Act.ATTACK, attacked),
            (Act.PEACE, self.flags(observation, "peace_offer_received") | did("peace") | (at_war & ~attacked)),
            (Act.THREATEN, did("threaten") | self.flags(observation, "demand_received")),
            (Act.ALLY, self.flags(observation, "proposal_received") | did("ally")),
            (Act.SUPPORT, did("support")),
        )
        for act, candidates in rules:
            ok = candidates & self.valid(mask, level, act)
            if ok.any():
                slots = np.flatnonzero(ok)
                return self.encode(level, act, int(slots[rng.integers(len(slots))])), state
        return self.wait(mask, level), state


# --------------------------------------------------------------------------------------------------
# The realists: perception and memory
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """What a realist remembers between turns (immutable; each step returns a new one).

    ``fast``/``slow`` are exponential averages of each other nation's military relative to one's own;
    ``aggression`` a decaying count of each nation's public attacks and threats; ``demand_turns`` how many
    observations in a row one's own demand on each nation has stood unanswered; ``last_aid`` the turn of the
    last aid sent.
    """

    turn: int = 0
    initial_provinces: float = -1.0
    fast: tuple[float, ...] = ()
    slow: tuple[float, ...] = ()
    aggression: tuple[float, ...] = ()
    demand_turns: tuple[int, ...] = ()
    last_aid: int = -1_000_000


@dataclass(frozen=True)
class View:
    """One turn's reading of the observation, in relative target slots (arrays of length N-1)."""

    relative: np.ndarray  #: smoothed estimate of each nation's military / own military (0 when dead)
    rising: np.ndarray  #: its fast average runs more than 10% ahead of its slow one
    aggression: np.ndarray  #: decaying count of its attacks and threats
    alive: np.ndarray
    land: np.ndarray
    sea: np.ndarray
    neighbour: np.ndarray
    at_war: np.ndarray
    allied: np.ndarray
    engaged: np.ndarray  #: it fights a war with someone other than the observer (public acts)
    lost_territory: bool  #: fewer provinces than at the start of the episode
    own_level: int
    n_wars: int


class Realist(Policy):
    """Shared perception of the two realist policies: smoothed relative strength, aggression, fronts.

    Args beyond :class:`Policy` (defaults are the env's defaults; :meth:`from_env` reads them from the config):
        offense_defense_balance: the force ratio an attacker needs for even odds of taking a province.
        conquest_payoff: the share of a conquered province's wealth the conqueror keeps.
        sea_penalty: the multiplier on force projected across sea only.
        sufficiency: the security ratio S* beyond which more power adds no security.
        misperception: the log-normal noise on estimates of others' forces (sets how cautious initiatives are).
    """

    fast_rate: ClassVar[float] = 0.3
    slow_rate: ClassVar[float] = 0.05
    aggression_decay: ClassVar[float] = 0.8

    def __init__(
        self,
        layout: ObservationLayout,
        n_nations: int,
        n_arms_levels: int = 5,
        *,
        offense_defense_balance: float = 2.5,
        conquest_payoff: float = 0.5,
        sea_penalty: float = 0.5,
        sufficiency: float = 1.1,
        misperception: float = 0.2,
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels)
        self.misperception = float(misperception)
        self.offense_defense_balance = float(offense_defense_balance)
        self.conquest_payoff = float(conquest_payoff)
        self.sea_penalty = float(sea_penalty)
        self.sufficiency = float(sufficiency)

    @classmethod
    def from_env(cls, env: Any, **params: Any) -> Policy:
        config = env.config
        beliefs = {
            "offense_defense_balance": config.offense_defense_balance,
            "conquest_payoff": config.conquest_payoff,
            "sea_penalty": config.sea_penalty,
            "sufficiency": config.security_sufficiency,
            "misperception": config.misperception,
        }
        return super().from_env(env, **{**beliefs, **params})

    def initial_state(self) -> Memory:
        n = self.n_targets
        return Memory(fast=(), slow=(), aggression=(0.0,) * n, demand_turns=(0,) * n)

    def perceive(self, observation: Observation, memory: Memory) -> tuple[View, Memory]:
        """Read the observation, update the memory (returning a new one)."""
        alive = self.flags(observation, "alive")
        own = max(self.own(observation, "military"), _EPS)
        raw = np.where(alive, self.others(observation, "military") / own, 0.0)
        if memory.fast:
            fast = np.where(alive, (1 - self.fast_rate) * np.asarray(memory.fast) + self.fast_rate * raw, 0.0)
            slow = np.where(alive, (1 - self.slow_rate) * np.asarray(memory.slow) + self.slow_rate * raw, 0.0)
        else:
            fast, slow = raw, raw
        aimed = self.flags(observation, "acted_on_observer")
        hostile = self.flags(observation, "last_act_attack") | self.flags(observation, "last_act_threaten")
        # A hostile act aimed at oneself counts fully; one aimed elsewhere counts half.
        aggression = self.aggression_decay * np.asarray(memory.aggression) + hostile * np.where(aimed, 1.0, 0.5)
        aggression = np.where(alive, aggression, 0.0)
        demand_made = self.flags(observation, "demand_made")
        demand_turns = np.where(demand_made, np.asarray(memory.demand_turns) + 1, 0)
        provinces = self.own(observation, "provinces")
        initial = memory.initial_provinces if memory.initial_provinces >= 0 else provinces
        land, sea = self.flags(observation, "land_border"), self.flags(observation, "sea_border")
        at_war = self.flags(observation, "at_war")
        fighting = self.flags(observation, _WAR_ACTS[0]) | self.flags(observation, _WAR_ACTS[1])
        # A war act not aimed at oneself means a war with a third nation.
        engaged = alive & ~at_war & fighting & ~aimed
        view = View(
            relative=fast,
            rising=alive & (fast > 1.1 * slow),
            aggression=aggression,
            alive=alive,
            land=land & alive,
            sea=sea & alive,
            neighbour=(land | sea) & alive,
            at_war=at_war & alive,
            allied=self.flags(observation, "allied") & alive,
            engaged=engaged,
            lost_territory=provinces < initial - 1e-6,
            own_level=self.arms_level(observation),
            n_wars=int((at_war & alive).sum()),
        )
        memory = dataclasses.replace(
            memory,
            turn=memory.turn + 1,
            initial_provinces=float(initial),
            fast=tuple(float(x) for x in fast),
            slow=tuple(float(x) for x in slow),
            aggression=tuple(float(x) for x in aggression),
            demand_turns=tuple(int(x) for x in demand_turns),
        )
        return view, memory

    def estimate_noise(self, n_observations: int) -> float:
        """Log-standard deviation of the smoothed strength estimate after ``n_observations`` (the fast
        average starts at the first reading and then weighs each new one by ``fast_rate``)."""
        a, n = self.fast_rate, max(n_observations, 1)
        keep = (1.0 - a) ** (2 * (n - 1))
        return self.misperception * float(np.sqrt(keep + a * a * (1.0 - keep) / (1.0 - (1.0 - a) ** 2)))

    def projection(self, view: View) -> np.ndarray:
        """[N-1] multiplier on force sent against each nation: 1 over land, the sea penalty across sea only."""
        return np.where(view.land, 1.0, self.sea_penalty)

    def own_side(self, view: View) -> float:
        """Own military plus allies', relative to own; an ally fighting a war of its own counts half (its
        forces are split), a prudent reading of the alliance's strength."""
        return 1.0 + float((view.relative / (1.0 + view.engaged))[view.allied].sum())

    def threats(self, view: View) -> np.ndarray:
        """[N-1] the nations that could threaten it: non-allied neighbours and enemies, as in the ``security``
        doctrine, plus any power whose recent attacks and threats make it aggressive (it may border one soon)."""
        return (view.neighbour | view.at_war | (view.aggression > 0.5)) & ~view.allied & view.alive

    def security_ratio(self, view: View) -> float:
        """(own + allies' military) / the strongest of :meth:`threats` (inf when none), the ``security``
        doctrine's ratio read prudently (allies at war elsewhere counting half)."""
        own_side = self.own_side(view)
        threats = self.threats(view)
        strongest = float(view.relative[threats].max()) if threats.any() else 0.0
        return own_side / strongest if strongest > _EPS else float("inf")

    def front_ratio(self, view: View, extra_fronts: int = 0) -> np.ndarray:
        """[N-1] force one commits against each nation over the force it commits back, with one's military
        split over ``n_wars + extra_fronts`` fronts and its own split over the wars it visibly fights."""
        mine = self.projection(view) / max(view.n_wars + extra_fronts, 1)
        theirs = view.relative / (1.0 + view.engaged)
        return np.where(view.alive, mine / np.maximum(theirs, _EPS), 0.0)


# --------------------------------------------------------------------------------------------------
# Defensive realism
# --------------------------------------------------------------------------------------------------


class DefensiveRealist(Realist):
    """Defensive realism: a security maximiser that wants enough power and no more (Waltz 1979, *Theory of
    International Politics*, ch. 6 and 8; the "security-seeking" rule of the M3 simulation in anchors.md).

    - **Internal balancing to sufficiency.** Its security ratio ``S`` is (own + allies' military) over the
      strongest non-allied neighbour, enemy or aggressive power. It raises its arms level by one while
      ``S < S*`` (1.1), or while a threat is rising or aggressive and ``S <= comfort * S*``; it lowers it by one
      (never below level 1) once ``S > comfort * S*`` with no threat rising or aggressive; it mobilises fully
      only while at war. Power
      beyond sufficiency buys nothing and only feeds the security dilemma.
    - **External balancing.** While ``S < comfort * S*`` it accepts, and while ``S < S*`` it also proposes,
      alliances with nations that are not the threat: the threat is the non-allied neighbour or enemy with the
      highest strength weighted by its recent aggression and by whether it is rising; partners are live
      nations that are neither the threat, nor aggressive, nor at war with it, nor demanding from it (states
      balance rather than bandwagon, Waltz 1979 p. 126). It never allies with the threat.
    - **Fights back, then makes peace.** At war it accepts any peace offer; it attacks an enemy that attacked it
      last turn, or that holds part of its territory, when its front ratio is at least ``fight_ratio`` (odds
      allow a counter-attack); otherwise it offers peace to the strongest enemy. It never attacks a nation it
      is not at war with and never threatens.
    - **Stands by its allies without attacking.** When secure and at peace it sends military aid (SUPPORT) to
      an ally that fights a war (the weakest such ally): balancing by transfer, not by war.
    - **Concedes to overwhelming force, once.** It gives in to a demand when the demander is ``concede_ratio``
      times stronger than it and its allies, but never once it holds less than its starting territory (no
      appeasement spiral).
    """

    name = "defensive_realist"

    def __init__(
        self,
        layout: ObservationLayout,
        n_nations: int,
        n_arms_levels: int = 5,
        *,
        comfort: float = 1.5,
        fight_ratio: float = 1.0,
        concede_ratio: float = 2.0,
        min_level: int = 1,
        **beliefs: float,
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels, **beliefs)
        self.comfort = comfort
        self.fight_ratio = fight_ratio
        self.concede_ratio = concede_ratio
        self.min_level = min(min_level, n_arms_levels - 1)

    def arms(self, view: View, security: float) -> int:
        """Internal balancing: up while insecure (or while a threat is rising and the margin is thin), down
        once comfortably sufficient and nothing around is rising or aggressive."""
        if view.n_wars:
            return self.n_arms_levels - 1
        threats = self.threats(view)
        rising = bool((threats & view.rising).any())
        menacing = bool((threats & (view.aggression > 0.5)).any())
        comfortable = security > self.comfort * self.sufficiency
        if security < self.sufficiency or ((rising or menacing) and not comfortable):
            return self.clamp_level(view.own_level + 1)
        if comfortable and not rising and not menacing:
            return max(self.min_level, view.own_level - 1)
        return view.own_level

    def step(self, observation: Observation, state: Memory, rng: np.random.Generator) -> tuple[int, Memory]:
        view, memory = self.perceive(observation, state)
        mask = observation["action_mask"]
        security = self.security_ratio(view)
        level = self.arms(view, security)
        for decide in (self._war, self._demands, self._balance, self._aid_ally):
            action = decide(observation, view, mask, level, security)
            if action is not None:
                return action, memory
        return self.wait(mask, level), memory

    def _war(self, observation: Observation, view: View, mask: np.ndarray, level: int, security: float) -> int | None:
        if not view.n_wars:
            return None
        offered = view.at_war & self.flags(observation, "peace_offer_received")
        action = self.choose(mask, level, Act.PEACE, offered, view.relative)
        if action is not None:
            return action
        attacked = self.flags(observation, "acted_on_observer") & self.flags(observation, "last_act_attack")
        provoked = view.at_war & (attacked | view.lost_territory)
        odds = self.front_ratio(view)
        action = self.choose(mask, level, Act.ATTACK, provoked & (odds >= self.fight_ratio), odds)
        if action is not None:
            return action
        return self.choose(mask, level, Act.PEACE, view.at_war, view.relative)

    def _demands(
        self, observation: Observation, view: View, mask: np.ndarray, level: int, security: float
    ) -> int | None:
        if view.lost_territory:
            return None  # it gave up all it will: no appeasement spiral, province after province
        own_side = self.own_side(view)
        overwhelming = self.flags(observation, "demand_received") & (view.relative >= self.concede_ratio * own_side)
        return self.choose(mask, level, Act.CONCEDE, overwhelming, view.relative)

    def _aid_ally(
        self, observation: Observation, view: View, mask: np.ndarray, level: int, security: float
    ) -> int | None:
        if security < self.sufficiency:
            return None
        return self.choose(mask, level, Act.SUPPORT, view.allied & view.engaged, -view.relative)

    def threat(self, view: View) -> int | None:
        """Slot of the power it balances against: the non-allied neighbour or enemy with the highest strength
        weighted by its aggression and its rise."""
        candidates = self.threats(view)
        if not candidates.any():
            return None
        score = view.relative * (1.0 + view.aggression) * (1.0 + 0.5 * view.rising)
        return int(np.argmax(np.where(candidates, score, -np.inf)))

    def _balance(
        self, observation: Observation, view: View, mask: np.ndarray, level: int, security: float
    ) -> int | None:
        if security >= self.comfort * self.sufficiency:
            return None
        threat = self.threat(view)
        partners = view.alive & ~view.at_war & (view.aggression <= 0.5) & ~self.flags(observation, "demand_received")
        if threat is not None:
            partners &= np.arange(self.n_targets) != threat
        proposing = partners & self.flags(observation, "proposal_received")
        action = self.choose(mask, level, Act.ALLY, proposing, view.relative)
        if action is not None or security >= self.sufficiency:
            return action
        return self.choose(mask, level, Act.ALLY, partners, view.relative)


# --------------------------------------------------------------------------------------------------
# Offensive realism
# --------------------------------------------------------------------------------------------------


class OffensiveRealist(Realist):
    """Offensive realism: a power maximiser pressing toward hegemony (Mearsheimer 2001, *The Tragedy of Great
    Power Politics*, ch. 2 on power maximising, ch. 5 on the strategies: war, blackmail, bait and bleed,
    bloodletting, balancing and buck-passing; the "power-maximising" rule of the M3 simulation in anchors.md).

    In order of priority each turn:

    1. **Offers peace when losing**: at war, if its front ratio against an enemy is below ``peace_ratio``, or an
       enemy offers peace while conquest looks out of reach (front ratio below the war threshold), it offers
       peace to that enemy.
    2. **Carries out threats** to keep its credibility (Schelling 1966): a demand that stood unanswered for a
       full turn is enforced by war.
    3. **War**: attacks the bordering nation with the best front ratio if that ratio (its forces split over one
       more front, the target's over the wars it visibly fights, the sea penalty applied) reaches the war
       threshold ``offense_defense_balance * (1.5 - conquest_payoff)``: the odds it needs fall as conquest pays
       more and as offence dominates. It opens no new front while any war would go below even odds. Like every
       initiative (blackmail, leaving an ally) it rests on a cautious reading of the ratio: divided by
       ``exp(caution * sd)``, ``sd`` the spread of its smoothed estimate under the misperception noise, so
       misperception still starts wars (Bremer & Mihalka 1977) but noise alone rarely does.
    4. **Fights on** against the enemy with the best front ratio.
    5. **Concedes** to a demand only from a nation strong enough to win a war against it (war threshold).
    6. **Balance or pass the buck**: facing a stronger, aggressive neighbour, it lets the buck pass to another
       nation that visibly balances (its last act was ALLY, or it fights while the threat fights), neither allying
       nor arming beyond the middle level; when nobody else balances it allies with the strongest other nation
       and mobilises fully.
    7. **Blackmail**: when no standing demand of its own is pending and it is at peace, it threatens the
       bordering nation with the best front ratio if that ratio reaches ``blackmail_share`` of the war threshold
       (at least 1.1): a threat may win a province without war, and it is backed by step 2.
    8. **Bloodletting and bait-and-bleed**: when at least two rivals fight wars it is out of, it aids (SUPPORT)
       a rival weaker than itself, at most once every ``aid_interval`` turns: the weakest one that offered
       peace (bloodletting: the losing side kept fighting), else the weakest attacker (bait and bleed: one
       rival helped to fight the other while it stays out).
    9. **Alliances are marriages of convenience**: it leaves an alliance with an ally it could conquer when no
       stronger power threatens it.

    Arms: full mobilisation by default (power is pursued for its own sake), the middle level while passing
    the buck.
    """

    name = "offensive_realist"

    def __init__(
        self,
        layout: ObservationLayout,
        n_nations: int,
        n_arms_levels: int = 5,
        *,
        peace_ratio: float = 1.0,
        blackmail_share: float = 0.5,
        threat_ratio: float = 1.2,
        aid_interval: int = 3,
        caution: float = 1.0,
        **beliefs: float,
    ) -> None:
        super().__init__(layout, n_nations, n_arms_levels, **beliefs)
        self.caution = caution
        self.peace_ratio = peace_ratio
        self.blackmail_share = blackmail_share
        self.threat_ratio = threat_ratio
        self.aid_interval = aid_interval

    @property
    def war_ratio(self) -> float:
        """Front ratio at which it starts a war."""
        return self.offense_defense_balance * (1.5 - self.conquest_payoff)

    @property
    def blackmail_ratio(self) -> float:
        """Front ratio at which it makes a demand: ``blackmail_share`` of the war threshold, at least 1.1 (a
        threat costs nothing to make and may win without war, but only from a position of strength)."""
        return max(1.1, self.blackmail_share * self.war_ratio)

    def step(self, observation: Observation, state: Memory, rng: np.random.Generator) -> tuple[int, Memory]:
        view, memory = self.perceive(observation, state)
        mask = observation["action_mask"]
        top = self.n_arms_levels - 1
        menace = self.menace(view)
        buck_catcher = menace is not None and self.buck_catcher(observation, view, menace)
        passing_buck = menace is not None and buck_catcher and not view.n_wars
        level = self.n_arms_levels // 2 if passing_buck else top

        odds = self.front_ratio(view)
        new_front = self.front_ratio(view, extra_fronts=1)
        # Initiatives rest on a conservative reading of the odds, discounted for misperception.
        sure = new_front / np.exp(self.caution * self.estimate_noise(memory.turn))
        # 1. Offer peace when losing.
        offered = self.flags(observation, "peace_offer_received")
        losing = view.at_war & ((odds < self.peace_ratio) | (offered & (odds < self.war_ratio)))
        action = self.choose(mask, level, Act.PEACE, losing, -odds)
        if action is not None:
            return action, memory
        # 2. Carry out threats that were refused.
        refused = self.flags(observation, "demand_made") & (np.asarray(memory.demand_turns) >= 2)
        action = self.choose(mask, level, Act.ATTACK, refused, new_front)
        if action is not None:
            return action, memory
        # 3. War against a weaker neighbour when the odds favour it, fronts split in mind: a new front must pay
        # with its share of the forces, and every running war must still hold at even odds.
        holds = not view.n_wars or bool((new_front[view.at_war] >= self.peace_ratio).all())
        if holds:
            prey = view.neighbour & ~view.allied & ~view.at_war & (sure >= self.war_ratio)
            action = self.choose(mask, level, Act.ATTACK, prey, new_front)
            if action is not None:
                return action, memory
        # 4. Fight on.
        action = self.choose(mask, level, Act.ATTACK, view.at_war, odds)
        if action is not None:
            return action, memory
        # 5. Concede only to a nation that would win the war.
        demand = self.flags(observation, "demand_received")
        stronger = 1.0 / np.maximum(self.front_ratio(view, extra_fronts=1), _EPS)
        action = self.choose(mask, level, Act.CONCEDE, demand & (stronger >= self.war_ratio), view.relative)
        if action is not None:
            return action, memory
        # 6. Balance only if nobody else will (otherwise the buck passes).
        if menace is not None and not buck_catcher:
            partners = view.alive & ~view.at_war & (np.arange(self.n_targets) != menace)
            proposing = partners & self.flags(observation, "proposal_received")
            action = self.choose(mask, level, Act.ALLY, proposing, view.relative)
            if action is None:
                action = self.choose(mask, level, Act.ALLY, partners, view.relative)
            if action is not None:
                return action, memory
        # 7. Blackmail.
        if not view.n_wars and not self.flags(observation, "demand_made").any():
            victims = view.neighbour & ~view.allied & (sure >= self.blackmail_ratio)
            action = self.choose(mask, level, Act.THREATEN, victims, new_front)
            if action is not None:
                return action, memory
        # 8. Bloodletting and bait-and-bleed.
        if not view.n_wars and memory.turn - memory.last_aid >= self.aid_interval:
            action = self.bleed(observation, view, mask, level)
            if action is not None:
                return action, dataclasses.replace(memory, last_aid=memory.turn)
        # 9. Leave an alliance with a nation worth conquering.
        if menace is None:
            prey = view.allied & view.neighbour & (sure >= self.war_ratio)
            action = self.choose(mask, level, Act.LEAVE_ALLIANCE, prey, new_front)
            if action is not None:
                return action, memory
        return self.wait(mask, level), memory

    def menace(self, view: View) -> int | None:
        """Slot of a stronger, aggressive, non-allied neighbour or enemy (the power to balance against)."""
        candidates = (
            (view.neighbour | view.at_war)
            & ~view.allied
            & (view.relative > self.threat_ratio)
            & ((view.aggression > 0.1) | view.at_war)
        )
        if not candidates.any():
            return None
        return int(np.argmax(np.where(candidates, view.relative, -np.inf)))

    def buck_catcher(self, observation: Observation, view: View, menace: int) -> bool:
        """Whether another nation visibly balances against the menace: it proposed or accepted an alliance last
        turn, or it fights while the menace fights (a nation one is not allied with, so the buck is passed)."""
        others = view.alive & (np.arange(self.n_targets) != menace) & ~view.allied
        allying = self.flags(observation, "last_act_ally")
        menace_fights = bool(view.engaged[menace])
        return bool((others & (allying | (view.engaged & menace_fights))).any())

    def bleed(self, observation: Observation, view: View, mask: np.ndarray, level: int) -> int | None:
        """SUPPORT for one side of a war between two rivals that it stays out of."""
        belligerents = view.engaged & ~view.allied
        if belligerents.sum() < 2:
            return None
        weaker = belligerents & (view.relative < 1.0)
        losing_side = weaker & self.flags(observation, "last_act_peace")
        action = self.choose(mask, level, Act.SUPPORT, losing_side, -view.relative)  # bloodletting
        if action is None:
            attackers = weaker & self.flags(observation, "last_act_attack")
            action = self.choose(mask, level, Act.SUPPORT, attackers, -view.relative)  # bait and bleed
        return action


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (DefensiveRealist, OffensiveRealist, StatusQuo, RandomPolicy, Bandwagoner, TitForTat)
}
"""Every scripted policy by name: ``POLICIES[name](layout, n_nations, n_arms_levels, **params)``."""


def policy_class(name: str) -> type[Policy]:
    """The policy class registered as ``name``; ``ValueError`` lists the valid names."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; valid: {', '.join(sorted(POLICIES))}") from None


def make_policy(name: str, env: Any, **params: Any) -> Policy:
    """The policy ``name`` built for ``env`` (its layout, nation count, arms levels and rules)."""
    return policy_class(name).from_env(env, **params)


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Add a policy class to :data:`POLICIES` under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise ValueError(f"{cls!r} is not a Policy subclass")
    POLICIES[cls.name] = cls
    return cls
