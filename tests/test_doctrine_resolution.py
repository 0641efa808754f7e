"""Doctrines named by a config are resolved in the process that builds the env, with a clear error there.

A config holds doctrine *names*. Unpickled in a fresh process (a spawn worker of ``train.experiment``, a Ray env
runner, ``python -c``), it names doctrines that only the processes that registered them know: building an env there
must fail at once with a ``ValueError`` naming the unknown doctrine and the registered ones (it used to fail later
with a bare ``KeyError``). Registering the doctrine at import of a module that the fresh process imports fixes it,
as :func:`realism_env.register_doctrine` says.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

import realism_env
from realism_env import DOCTRINES, Doctrine, EnvConfig, PowerTerms, register_doctrine

ROOT = Path(__file__).resolve().parents[1]
NAME = "glory_test_only_in_parent"


@pytest.fixture
def parent_doctrine() -> Iterator[str]:
    """A doctrine registered in this process only (not at import of any module), removed afterwards."""
    register_doctrine(Doctrine(NAME, "power, registered at run time in the parent", PowerTerms()))
    try:
        yield NAME
    finally:
        DOCTRINES.pop(NAME, None)


def config_naming(doctrine: str) -> EnvConfig:
    return EnvConfig.from_scenario("multipolar", n_nations=4, max_cycles=5, doctrines=("security", doctrine) * 2)


CHILD = textwrap.dedent(
    """
    import pickle, sys

    for module in sys.argv[2:]:
        __import__(module)
    import realism_env
    from realism_env.batch import WorldBatch

    with open(sys.argv[1], "rb") as handle:
        config = pickle.load(handle)
    builders = {
        "parallel_env": lambda: realism_env.parallel_env(config=config),
        "WorldBatch": lambda: WorldBatch(config, 2, seed=0),
    }
    for name, build in builders.items():
        try:
            env = build()
        except ValueError as error:
            print(f"{name}: ValueError: {error}")
            continue
        except Exception as error:  # any other exception is the bug this test guards against
            print(f"{name}: {type(error).__name__}: {error}")
            continue
        if name == "parallel_env":
            observations, _ = env.reset(seed=0)
            actions = {a: 0 for a in env.agents}
            env.step(actions)
            print(f"{name}: built; terms of nation_1: {sorted(env.last_rich_infos['nation_1']['reward_terms'])}")
        else:
            print(f"{name}: built")
    """
)


def run_child(pickled: Path, *modules: str, pythonpath: Path | None = None) -> list[str]:
    paths = [str(ROOT)] + ([str(pythonpath)] if pythonpath else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(pickled), *modules],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()


def test_an_unpickled_config_with_an_unregistered_doctrine_fails_with_a_value_error_naming_it(
    parent_doctrine: str, tmp_path: Path
) -> None:
    config = config_naming(parent_doctrine)
    realism_env.parallel_env(config=config).reset(seed=0)  # fine here, where it is registered
    pickled = tmp_path / "config.pkl"
    pickled.write_bytes(pickle.dumps(config))

    lines = run_child(pickled)

    assert [line.split(":")[0] for line in lines] == ["parallel_env", "WorldBatch"]
    for line in lines:
        assert ": ValueError: " in line, line
        assert f"unknown doctrine {parent_doctrine!r}" in line
        assert "'power'" in line and "'security'" in line, line
        assert "register_doctrine" in line  # says how to fix it


def test_registering_the_doctrine_at_import_in_the_fresh_process_makes_the_config_usable(
    parent_doctrine: str, tmp_path: Path
) -> None:
    """What the error message and register_doctrine's docstring advise: register at import of a module."""
    module = tmp_path / "glory_module.py"
    module.write_text(
        "from realism_env import Doctrine, PowerTerms, register_doctrine\n"
        f"register_doctrine(Doctrine({parent_doctrine!r}, 'power, registered at import', PowerTerms()))\n"
    )
    pickled = tmp_path / "config.pkl"
    pickled.write_bytes(pickle.dumps(config_naming(parent_doctrine)))

    lines = run_child(pickled, "glory_module", pythonpath=tmp_path)

    assert lines == [
        "parallel_env: built; terms of nation_1: ['elimination', 'hegemony', 'relative_power']",
        "WorldBatch: built",
    ]


def test_an_experiment_worker_reports_an_unregistered_doctrine_by_name(parent_doctrine: str, tmp_path: Path) -> None:
    """train.experiment's spawn workers: the task fails with the ValueError (no KeyError), and ``execute`` reports
    it naming the run: ``training <run folder> (its log: ...) failed: unknown doctrine ...``."""
    from train.experiment_design import Design
    from train.experiment_presets import PRESETS
    from train.experiment_scheduler import execute
    from train.experiment_workers import train_run, worker_pool
    from train.fast_ppo import Args

    design = Design(
        name="unregistered",
        scenario="multipolar",
        doctrines=(parent_doctrine,),  # what no preset can name: built here to reach the worker
        seeds=(0,),
        workers=2,
        train={"timesteps": 64, "n_worlds": 1, "n_steps": 8, "batch_size": 8, "max_cycles": 5},
        env={},
        sweep={},
        evaluate={
            **PRESETS["quick"]["evaluate"],
            **{"heldout": [], "backgrounds": [], "baselines": [], "episodes": 1},
        },
    )
    out = tmp_path / "experiment"
    # The worker's own error, through the same spawn pool the experiment uses.
    pool = worker_pool(1)
    try:
        args = Args(doctrine=parent_doctrine, out=str(out / "direct"), timesteps=64, progress_bar=False)
        error = pool.submit(train_run, asdict(args), str(tmp_path / "train.log")).exception(timeout=120)
    finally:
        pool.shutdown(wait=True)
    assert isinstance(error, ValueError) and not isinstance(error, KeyError), repr(error)
    assert f"unknown doctrine {parent_doctrine!r}" in str(error)
    assert "'power'" in str(error) and "'security'" in str(error)

    # And what the experiment makes of it.
    with pytest.raises(
        RuntimeError, match=r"training .*/seed0 \(its log: .*/train.log\) failed: unknown doctrine"
    ) as raised:
        execute(design, out, workers=2, progress=False)
    assert isinstance(raised.value.__cause__, ValueError)
    assert "'power'" in str(raised.value) and "'security'" in str(raised.value)
