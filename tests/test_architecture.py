"""The direction of imports (realism_env <- agents <- train) and loop-free rules, checked on the source."""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV_ALLOWED = {"numpy", "gymnasium", "pettingzoo", "realism_env"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", package_files("realism_env"), ids=lambda p: p.name)
def test_realism_env_depends_on_numpy_gymnasium_pettingzoo_only(path: Path) -> None:
    third_party = imported_roots(path) - set(sys.stdlib_module_names)
    assert third_party <= ENV_ALLOWED, f"{path.relative_to(ROOT)} imports {sorted(third_party - ENV_ALLOWED)}"


@pytest.mark.parametrize("package", ["realism_env", "agents", "benchmarks"])
def test_nothing_imports_train(package: str) -> None:
    offenders = [p.relative_to(ROOT) for p in package_files(package) if "train" in imported_roots(p)]
    assert not offenders, f"these files import train/: {offenders}"


def test_realism_env_does_not_import_agents() -> None:
    offenders = [p.relative_to(ROOT) for p in package_files("realism_env") if "agents" in imported_roots(p)]
    assert not offenders, f"realism_env must not depend on agents/: {offenders}"


def test_agents_use_only_the_public_api_of_realism_env() -> None:
    """agents/ may import ``realism_env`` (the package's public names), never its internals."""
    offenders = []
    for path in package_files("agents"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("realism_env."):
                offenders.append(f"{path.relative_to(ROOT)}: from {node.module} import ...")
            if isinstance(node, ast.Import):
                offenders += [
                    f"{path.relative_to(ROOT)}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("realism_env.")
                ]
    assert not offenders, offenders


def _turn_functions() -> list:
    from realism_env import doctrines, observation, rules

    return [
        rules.transition,
        rules.action_mask,
        rules.act_target_validity,
        rules.borders,
        rules.neighbours,
        rules.live_pairs,
        rules._province_gains,
        rules._agreed,
        rules.income,
        rules.power_share,
        observation.observe,
        observation.global_state,
        doctrines.Outcome.security_ratio.func,
        doctrines.Outcome.power_share.func,
        doctrines.Outcome.provinces_lost.func,
        doctrines.SecurityTerms.__call__,
        doctrines.PowerTerms.__call__,
    ]


@pytest.mark.parametrize("function", _turn_functions(), ids=lambda f: f.__qualname__)
def test_the_rules_of_a_turn_have_no_python_loops(function) -> None:  # noqa: ANN001
    """No loop over nations, wars, provinces or worlds inside a turn: the rules stay array code."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    loops = [node for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While, ast.comprehension))]
    assert not loops, (
        f"{function.__qualname__} has a Python loop at line(s) {[n.lineno for n in loops if hasattr(n, 'lineno')]}"
    )
