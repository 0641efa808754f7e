"""Your own doctrines, scenarios and policies on the command lines: ``--import MODULE``.

A module of yours that registers them when it is imported::

    # my_realism.py
    from agents import StatusQuo, register_policy
    from realism_env import Doctrine, Scenario, register_doctrine, register_scenario

    register_doctrine(Doctrine("prosperity", "its power share only", lambda out, config: {"share": out.power_share}))
    register_scenario(Scenario("tight_multipolar", "six powers, offence strong", {"offense_defense_balance": 2.0}))


    @register_policy
    class Trader(StatusQuo):
        name = "trader"
        doctrine = "prosperity"  # acts it out: its scripted counterpart in the scripted baselines

is imported by every command line that makes worlds or plays policies before it reads its other options, so their
names are valid there: ``python -m train.fast_ppo --import my_realism --doctrine prosperity --scenario
tight_multipolar``, ``python -m agents.evaluate --import my_realism --population trader``. ``MODULE`` is a module
name, found in the current folder or the installed packages, or the path of a ``.py`` file; ``--import`` repeats.
``train.experiment`` imports the modules of its preset's ``[experiment] imports`` (and ``--import``) in every worker
process too, so a preset's conditions may name a doctrine of yours.

Import the same modules wherever the names are used again: a run trained on a doctrine of yours is evaluated or
replayed with the same ``--import`` (a registered doctrine also widens the doctrine one-hot that learned networks
read, so a run is played with the doctrines registered as in its training). A run records the source of each module
that registered what it is made of (:func:`source_digests`: its file, or a package's files, and those of the modules
of yours it imports); resuming the run, or rerunning its experiment, after an edit to any of them is refused. The
module runs as code of yours: import only modules you trust.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Collection, Sequence
from pathlib import Path
from types import ModuleType

import realism_env

#: The help of ``--import``.
IMPORT_HELP = (
    "import MODULE first (repeatable): a module name or a .py file that registers doctrines "
    "(realism_env.register_doctrine), scenarios (realism_env.register_scenario) or policies "
    "(agents.register_policy), so that their names are valid in the other options"
)


#: How a name of one's own becomes valid: on a command line (``--import``), and in a preset of ``train.experiment``.
IMPORT_IT = "--import the module that registers it"
PRESET_IMPORT_IT = "name the module that registers it in [experiment] imports, or --import it"


def own_name_hint(kind: str, how: str = IMPORT_IT) -> str:
    """What an error refusing an unknown ``kind`` (doctrine, scenario) says of one of your own: ``how`` the module
    that registers it is imported (:data:`IMPORT_IT`, :data:`PRESET_IMPORT_IT`). One text for every such error, so
    that each command line and the experiment's preset give the same advice."""
    return f"a {kind} of your own: {how}"


def unknown_scenario(scenario: object, how: str = IMPORT_IT) -> str:
    """The message that refuses the unknown ``scenario``: the registered ones, and how to make one of yours known."""
    registered = ", ".join(sorted(realism_env.SCENARIOS))
    return f"unknown scenario {scenario!r}; valid: {registered} ({own_name_hint('scenario', how)})"


def add_import_option(parser: argparse.ArgumentParser) -> None:
    """``--import MODULE`` (repeatable), collected in ``imports``; :func:`import_plugins` acts on it."""
    parser.add_argument("--import", action="append", default=[], dest="imports", metavar="MODULE", help=IMPORT_HELP)


def _loaded_from(path: Path) -> ModuleType | None:
    """The module already imported from the file ``path``, if any."""
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file is not None and Path(file).resolve() == path:
            return module
    return None


class PluginNotFound(ValueError):
    """An ``--import`` module that is not there."""


def import_plugins(argv: Sequence[str] | None, prog: str) -> list[str]:
    """Import the ``--import`` modules of ``argv`` (``None``: ``sys.argv[1:]``) now, before the command line
    ``prog`` builds its parser, whose choices (scenarios, doctrines) then include what they register; returns their
    names. A module that cannot be found exits with status 2 and a message naming it; an error inside the module
    propagates as it is."""
    reader = argparse.ArgumentParser(prog=prog, add_help=False)
    add_import_option(reader)
    names = reader.parse_known_args(argv)[0].imports
    for name in names:
        try:
            import_plugin(name)
        except PluginNotFound as error:
            reader.error(str(error))
    return names


def doctrines_differ(recorded: Sequence[str] | None, imports: Sequence[str], what: str) -> str | None:
    """Where the doctrines registered now are not ``recorded`` (those registered when ``what``, a run, was made: its
    networks read a doctrine one-hot over them), the message that says which ``--import`` to give; None where they
    are the same, or not recorded (a run made before they were)."""
    current = list(realism_env.doctrine_names())
    if recorded is None or list(recorded) == current:
        return None
    given = " ".join(f"--import {name}" for name in imports) or "no --import"
    return (
        f"{what} was made with the doctrines {', '.join(recorded)} registered ({given}), and here they are "
        f"{', '.join(current)}: its networks read a one-hot over them; valid: the same --import as it was made with"
    )


#: The packages of this project (pyproject's): a plugin's use of them is not the plugin's own source.
PROJECT_PACKAGES = ("realism_env", "agents", "train", "benchmarks")
#: Folders that hold installed packages, wherever they are (a virtual environment, the user site, a distribution's).
LIBRARY_FOLDERS = ("site-packages", "dist-packages")


def _module_files(spec: importlib.machinery.ModuleSpec) -> list[Path]:
    """The source files of a module found by ``spec``: its file, or every ``.py`` file of a package."""
    if spec.submodule_search_locations:
        return sorted(f.resolve() for folder in spec.submodule_search_locations for f in Path(folder).rglob("*.py"))
    return [Path(spec.origin).resolve()] if spec.origin and spec.origin.endswith(".py") else []


def _imported_names(file: Path, package: str) -> list[str]:
    """The modules the import statements of ``file`` name, anywhere in it (in functions too): ``import a.b`` names
    ``a.b``; ``from a import b`` names ``a`` and ``a.b`` (b may be a module); relative ones resolved in ``package``."""
    names = []
    for node in ast.walk(ast.parse(file.read_bytes(), str(file))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package or None)
            except (ImportError, ValueError):  # a relative import beyond a top-level module: nothing to follow
                continue
            names += [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return names


def _spec_of(name: str) -> importlib.machinery.ModuleSpec | None:
    """Where the module ``name`` is, without running it if it is not imported yet; None where it is nowhere (or
    ``from a import b`` named a value b, not a module)."""
    if name in sys.modules:
        return getattr(sys.modules[name], "__spec__", None)
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def own_sources(module: ModuleType) -> list[Path]:
    """The source files of ``module`` (its file, or every ``.py`` file of a package) and of every module of the
    user's that its import statements name, and theirs in turn: a module whose file lies in the plugin's folder or the
    current folder, outside this project's packages (:data:`PROJECT_PACKAGES`), the standard library and any folder of
    installed packages (:data:`LIBRARY_FOLDERS`). What the doctrines, scenarios and policies of a plugin are made of,
    whether it imports a function, a constant or a whole module from a file of the user's."""
    roots = [Path.cwd().resolve()]
    if module.__spec__ is not None and module.__spec__.origin:
        roots.append(Path(module.__spec__.origin).resolve().parent)
    standard = [Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib")]

    def users_own(name: str, file: Path) -> bool:
        installed = any(part in LIBRARY_FOLDERS for part in file.parts)
        in_library = installed or any(file.is_relative_to(folder) for folder in standard)
        in_project = name.split(".")[0] in PROJECT_PACKAGES
        return not in_library and not in_project and any(file.is_relative_to(root) for root in roots)

    files: dict[Path, str] = {f: module.__name__ for f in _module_files(module.__spec__)} if module.__spec__ else {}
    if not files and getattr(module, "__file__", None):
        files[Path(module.__file__).resolve()] = module.__name__
    pending = list(files.items())
    while pending:
        file, name = pending.pop()
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        for imported in _imported_names(file, package):
            spec = _spec_of(imported)
            for found in _module_files(spec) if spec is not None else []:
                if found not in files and users_own(imported, found):
                    files[found] = imported
                    pending.append((found, imported))
    return sorted(files)


def _registered() -> dict[tuple[str, str], object]:
    """Everything registered now, ``{(kind, name): what}``: doctrines, scenarios and policies."""
    from agents.policies import POLICIES

    registries = {"doctrine": realism_env.DOCTRINES, "scenario": realism_env.SCENARIOS, "policy": POLICIES}
    return {(kind, name): value for kind, registry in registries.items() for name, value in registry.items()}


#: ``{module name: what importing it registered}``: a module's doctrines, scenarios and policies (with those of the
#: modules it imported that were not imported yet), known for the modules :func:`import_plugin` itself imported
REGISTERED_BY: dict[str, frozenset[tuple[str, str]]] = {}


def source_digests(names: Sequence[str], uses: Collection[tuple[str, str]] | None = None) -> dict[str, str]:
    """``{name: sha256 of its source}`` of the modules ``names`` (imported here if they are not yet): the files of
    :func:`own_sources`, the module's and those of the modules of yours it imports; what a run or a cached evaluation
    records of the code its doctrines, scenarios and policies came from. ``uses``: the ``(kind, name)`` a run is made
    of (:func:`_registered`'s kinds); then only the modules that registered one of them count (and those whose
    registrations are not known: imported before :func:`import_plugin` saw them), so that editing a policy that only
    the evaluation plays leaves the trained runs as they are."""
    digests = {}
    for name in names:
        module = import_plugin(name)
        registered = REGISTERED_BY.get(module.__name__)
        if uses is not None and registered is not None and not registered & set(uses):
            continue
        digest = hashlib.sha256()
        for file in own_sources(module):
            digest.update(file.read_bytes())
        digests[name] = digest.hexdigest()
    return digests


def import_plugin(name: str) -> ModuleType:
    """Import the module ``name``: a path ending in ``.py``, or a module name looked up from the current folder first
    (as ``python -m`` does), then the installed packages. A module is imported once per process, however often it
    is named (registering twice would fail); what its first import registered goes into :data:`REGISTERED_BY`.
    :class:`PluginNotFound` when it is not there."""
    before, loaded = _registered(), set(sys.modules)
    module = _import(name)
    if module.__name__ not in loaded:  # imported now: what it registered is what came since (before: unknown)
        # a name registered anew, or registered again with overwrite=True (the same name, another definition)
        after = _registered()
        REGISTERED_BY[module.__name__] = frozenset(key for key, value in after.items() if before.get(key) is not value)
    return module


def _import(name: str) -> ModuleType:
    """:func:`import_plugin`'s import itself."""
    if name.endswith(".py"):
        path = Path(name).resolve()
        if not path.is_file():
            raise PluginNotFound(f"--import {name}: no such file; valid: the path of a .py file, or a module name")
        loaded = _loaded_from(path)  # a file is imported once however it is spelt, by path or by module name
        if loaded is not None:
            return loaded
        module_name = f"realism_plugin_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]  # a failed import leaves nothing half-registered under its name
            raise
        return module
    if not name or name.startswith(".") or not all(part.isidentifier() for part in name.split(".")):
        valid = "a dotted name (my_realism, pkg.mod) or the path of a .py file"
        raise PluginNotFound(f"--import {name!r}: not a module name; valid: {valid}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if name not in sys.modules:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None  # its package is missing: import_module below names it
        if spec is not None and spec.origin is not None:
            loaded = _loaded_from(Path(spec.origin).resolve())
            if loaded is not None:  # imported by its path before
                return loaded
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.split(".")[: len(error.name.split("."))] == error.name.split("."):
            raise PluginNotFound(
                f"--import {name}: no module named {error.name!r} in the current folder or the installed packages; "
                "valid: a module name or the path of a .py file"
            ) from None
        raise
