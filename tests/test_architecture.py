"""The direction of imports (realism_env <- agents <- train) and loop-free rules, checked on the source."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV_ALLOWED = {"numpy", "gymnasium", "pettingzoo", "realism_env"}
#: the optional torch backend's packages: imported inside functions only, when a torch backend is asked for
ENV_OPTIONAL = {"torch", "array_api_compat"}


def _roots(nodes) -> set[str]:
    roots: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def imported_roots(path: Path) -> set[str]:
    """Every package a file imports, anywhere in it."""
    return _roots(ast.walk(ast.parse(path.read_text(), filename=str(path))))


def module_level_roots(path: Path) -> set[str]:
    """The packages a file imports when it is imported (outside function bodies; ``if TYPE_CHECKING:`` aside)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes, pending = [], list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        nodes.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return _roots(nodes)


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", package_files("realism_env"), ids=lambda p: p.name)
def test_realism_env_depends_on_numpy_gymnasium_pettingzoo_only(path: Path) -> None:
    third_party = module_level_roots(path) - set(sys.stdlib_module_names)
    assert third_party <= ENV_ALLOWED, f"{path.relative_to(ROOT)} imports {sorted(third_party - ENV_ALLOWED)}"
    lazily = imported_roots(path) - set(sys.stdlib_module_names)
    allowed = ENV_ALLOWED | ENV_OPTIONAL
    assert lazily <= allowed, f"{path.relative_to(ROOT)} imports {sorted(lazily - allowed)}"


def test_import_realism_env_works_without_torch_or_array_api_compat() -> None:
    """torch is an optional extra: the package, the env and a numpy WorldBatch work where it cannot be imported."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'array_api_compat'):\n"
        "            raise ImportError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import realism_env\n"
        "from realism_env.batch import WorldBatch\n"
        "env = realism_env.parallel_env(n_nations=3, max_cycles=3)\n"
        "env.reset(seed=0)\n"
        "env.step({a: 0 for a in env.agents})\n"
        "batch = WorldBatch(env.config, 2, seed=0)\n"
        "batch.reset()\n"
        "try:\n"
        "    WorldBatch(env.config, 2, backend='torch')\n"
        "except ValueError as error:\n"
        "    assert 'torch' in str(error) and \"backend='numpy'\" in str(error), error\n"
        "else:\n"
        "    raise AssertionError('a torch backend without torch should raise ValueError')\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


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
    from realism_env import doctrines, maps, observation, rules, step

    return [
        rules.advance,
        rules.transition,
        rules.territory,
        rules.territory_of,
        rules._province_transfers,
        rules.action_mask,
        rules.mask_of,
        rules.act_target_validity,
        rules.attackable,
        rules.live_pairs,
        rules._pick_province,
        rules._transfer,
        rules._agreed,
        rules.power_share,
        rules.credibility,
        rules.is_over,
        observation.observe,
        observation.global_state,
        doctrines.Outcome.security_ratio.func,
        doctrines.Outcome.power_share.func,
        doctrines.Outcome.provinces_lost.func,
        doctrines.SecurityTerms.__call__,
        doctrines.PowerTerms.__call__,
        maps.initial_worlds,
        step.derive,
    ]  # (doctrines.rewards and step_worlds loop over the distinct doctrines; where_worlds over the World's fields)


@pytest.mark.parametrize("function", _turn_functions(), ids=lambda f: f.__qualname__)
def test_the_rules_of_a_turn_have_no_python_loops(function) -> None:
    """No loop over nations, wars, provinces or worlds inside a turn: the rules stay array code."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    loops = [node for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While, ast.comprehension))]
    assert not loops, (
        f"{function.__qualname__} has a Python loop at line(s) {[n.lineno for n in loops if hasattr(n, 'lineno')]}"
    )
