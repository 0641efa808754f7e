"""Scripted nations that act out the realist theories, and the loop that plays them.

:mod:`agents.single_learner` (imported on its own) gives one nation to a learner among them, as a ``gymnasium.Env``
(``gymnasium.make("realism_env/SingleLearner-v2")`` once :mod:`realism_env` is imported).

import realism_env
from agents import make_policy, POLICIES

env = realism_env.parallel_env(scenario="multipolar")
policy = make_policy("defensive_realist", env)
state = policy.initial_state()
action, state = policy.step(observations["nation_0"], state, rng)
"""

from agents.policies import (
    POLICIES,
    ArrayPolicy,
    Bandwagoner,
    DefensiveRealist,
    Memories,
    Memory,
    OffensiveRealist,
    Policy,
    RandomPolicy,
    Realist,
    StatusQuo,
    TitForTat,
    View,
    counterpart,
    counterparts,
    make_policy,
    policy_class,
    put_rows,
    register_policy,
    take_rows,
    without_counterpart,
)
from agents.rollout import Nations, Transition, build_policies, rollout

__all__ = [
    "POLICIES",
    "ArrayPolicy",
    "Bandwagoner",
    "DefensiveRealist",
    "Memories",
    "Memory",
    "Nations",
    "OffensiveRealist",
    "Policy",
    "RandomPolicy",
    "Realist",
    "StatusQuo",
    "TitForTat",
    "Transition",
    "View",
    "build_policies",
    "counterpart",
    "counterparts",
    "make_policy",
    "policy_class",
    "put_rows",
    "register_policy",
    "rollout",
    "take_rows",
    "without_counterpart",
]
