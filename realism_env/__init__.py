"""realism_env: a PettingZoo environment for testing realist theories of international relations.

    import realism_env
    env = realism_env.parallel_env(scenario="multipolar", doctrines="power")
    observations, infos = env.reset(seed=0)

See :class:`realism_env.RealismEnv` for the specification.
"""

from realism_env.actions import (
    DEFAULT_ARMS_SHARES,
    N_ACTS,
    Act,
    DecodedAction,
    checked_action,
    decode_action,
    encode_action,
    n_actions,
    target_nation,
    target_slot,
)
from realism_env.backend import BACKENDS, array_namespace, device_of, saved_array_like
from realism_env.config import SCENARIOS, EnvConfig, Scenario, register_scenario
from realism_env.doctrines import (
    DOCTRINES,
    MIX_SEPARATOR,
    MIXED,
    MIXED_ORDER,
    Doctrine,
    Outcome,
    PowerTerms,
    SecurityTerms,
    doctrine_cycle,
    doctrine_names,
    doctrine_onehot,
    is_population,
    mixed_doctrines,
    population_doctrines,
    population_setting,
    register_doctrine,
    resolve_doctrines,
)
from realism_env.env import RealismEnv, env, parallel_env, raw_env
from realism_env.episode_log import (
    EpisodeLogError,
    dumps_episode,
    episode_document,
    jsonable,
    read_episode,
    validate_episode,
    write_episode,
)
from realism_env.events import EVENT_KINDS, Events
from realism_env.files import atomic_write_bytes, file_in_the_way, folder_problem
from realism_env.geometry import MapGeometry, map_geometry, nation_anchors
from realism_env.metrics import (
    METRICS,
    NATION_METRICS,
    EpisodeLog,
    EpisodeRecorder,
    batch_metrics,
    batch_nation_metrics,
    group_mean,
    group_means,
    metric_bounds,
    metric_table,
)
from realism_env.names import NAME_RULE, valid_name
from realism_env.observation import OTHER_FIELDS, OWN_FIELDS, ObservationLayout
from realism_env.overrides import format_value, parse_override, parse_overrides, parse_value
from realism_env.registration import register_gymnasium, register_pettingzoo
from realism_env.seeded import SeededWorlds
from realism_env.step import BatchStep
from realism_env.version import NAME, VERSION
from realism_env.world import World

register_pettingzoo()  # pettingzoo.make("parallel", "realism_env/realism-v2")
register_gymnasium()  # gymnasium.make("realism_env/SingleLearner-v2")

__version__ = "0.1.0"

__all__ = [
    "NAME_RULE",
    "valid_name",
    "atomic_write_bytes",
    "file_in_the_way",
    "folder_problem",
    "EpisodeLogError",
    "checked_action",
    "dumps_episode",
    "MapGeometry",
    "episode_document",
    "jsonable",
    "map_geometry",
    "nation_anchors",
    "read_episode",
    "validate_episode",
    "write_episode",
    "group_mean",
    "group_means",
    "format_value",
    "parse_override",
    "parse_overrides",
    "parse_value",
    "BACKENDS",
    "array_namespace",
    "device_of",
    "saved_array_like",
    "MIX_SEPARATOR",
    "MIXED",
    "MIXED_ORDER",
    "doctrine_cycle",
    "doctrine_names",
    "doctrine_onehot",
    "is_population",
    "mixed_doctrines",
    "population_doctrines",
    "population_setting",
    "resolve_doctrines",
    "METRICS",
    "NATION_METRICS",
    "EpisodeLog",
    "EpisodeRecorder",
    "batch_metrics",
    "batch_nation_metrics",
    "metric_bounds",
    "metric_table",
    "BatchStep",
    "SeededWorlds",
    "DEFAULT_ARMS_SHARES",
    "DOCTRINES",
    "EVENT_KINDS",
    "N_ACTS",
    "NAME",
    "VERSION",
    "OTHER_FIELDS",
    "OWN_FIELDS",
    "SCENARIOS",
    "Act",
    "DecodedAction",
    "Doctrine",
    "EnvConfig",
    "Events",
    "ObservationLayout",
    "Outcome",
    "PowerTerms",
    "RealismEnv",
    "Scenario",
    "SecurityTerms",
    "World",
    "decode_action",
    "encode_action",
    "env",
    "n_actions",
    "parallel_env",
    "raw_env",
    "register_doctrine",
    "register_scenario",
    "target_nation",
    "target_slot",
]
