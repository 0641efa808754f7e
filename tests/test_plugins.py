"""``--import MODULE``: a user's module registering doctrines, scenarios and policies, used from the command lines."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import realism_env
from agents.plugins import PluginNotFound, import_plugin
from agents.policies import POLICIES
from realism_env import DOCTRINES, SCENARIOS

PLUGIN = """
from agents import StatusQuo, register_policy
from realism_env import Doctrine, Scenario, register_doctrine, register_scenario

register_doctrine(Doctrine("prosperity", "its power share only", lambda out, config: {"share": out.power_share}))
register_scenario(Scenario("tight_multipolar", "six powers, offence strong", {"offense_defense_balance": 2.0}))


@register_policy
class Hermit(StatusQuo):
    name = "hermit"
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``my_realism.py`` in a fresh current folder; every registry and module as it was afterwards."""
    (tmp_path / "my_realism.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    registries = [(registry, dict(registry)) for registry in (DOCTRINES, SCENARIOS, POLICIES)]
    modules = set(sys.modules)
    path = list(sys.path)
    yield tmp_path / "my_realism.py"
    for registry, saved in registries:
        registry.clear()
        registry.update(saved)
    for name in set(sys.modules) - modules:  # the user's modules only: a library's must stay (torch's would break)
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
    sys.path[:] = path


def test_a_module_of_the_current_folder_registers_its_names_once(plugin: Path) -> None:
    module = import_plugin("my_realism")
    assert "prosperity" in DOCTRINES and "tight_multipolar" in SCENARIOS and "hermit" in POLICIES
    assert import_plugin("my_realism") is module  # a second --import of it registers nothing twice
    config = realism_env.EnvConfig.from_scenario("tight_multipolar", doctrines="prosperity")
    assert config.offense_defense_balance == 2.0


def test_a_file_path_is_imported_once_however_it_is_spelt(plugin: Path) -> None:
    module = import_plugin(str(plugin))
    assert "prosperity" in DOCTRINES
    assert import_plugin("./my_realism.py") is module


def test_a_module_named_by_its_path_and_by_its_name_is_imported_once(plugin: Path) -> None:
    by_path = import_plugin("./my_realism.py")
    assert import_plugin("my_realism") is by_path  # registering twice would fail
    assert import_plugin(str(plugin)) is by_path


def test_a_module_run_twice_registers_its_scenario_again_but_one_redefining_a_built_in_is_refused(
    plugin: Path,
) -> None:
    """A module executed a second time in one process (imported under another name: a copy in a package, a name
    dropped from sys.modules) registers the same scenario again, which is no change; a module that registers a
    built-in scenario's name for another world is refused, naming overwrite=True, and the built-in stays."""
    import_plugin("my_realism")
    DOCTRINES.pop("prosperity")  # doctrines refuse any second registration: this checks the scenario alone
    sys.modules.pop("my_realism")
    import_plugin("my_realism")
    assert SCENARIOS["tight_multipolar"].overrides == {"offense_defense_balance": 2.0}
    islands = SCENARIOS["islands"]
    (plugin.parent / "my_islands.py").write_text(
        "from realism_env import Scenario, register_scenario\n"
        "register_scenario(Scenario('islands', 'cheap sea', {'map_kind': 'islands', 'sea_penalty': 0.9}))\n"
    )
    with pytest.raises(ValueError, match=r"scenario 'islands' is already registered .*pass overwrite=True"):
        import_plugin("my_islands")
    assert SCENARIOS["islands"] is islands


@pytest.mark.parametrize("name", ["", ".my_realism", "my-realism"])
def test_what_is_no_module_name_is_named(plugin: Path, name: str) -> None:
    with pytest.raises(PluginNotFound, match="not a module name"):
        import_plugin(name)


def test_a_missing_module_or_file_is_named_but_an_error_inside_the_module_propagates(plugin: Path) -> None:
    with pytest.raises(PluginNotFound, match="no module named 'no_such_plugin'"):
        import_plugin("no_such_plugin")
    with pytest.raises(PluginNotFound, match="no_such.py: no such file"):
        import_plugin("no_such.py")
    (plugin.parent / "broken.py").write_text("import no_such_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):  # the user's own bug, as Python tells it
        import_plugin("broken")


def test_a_policy_module_imported_again_under_another_name_registers_its_policies_again(plugin: Path) -> None:
    """A plugin imported by its path, then by its module name from another plugin of the user's (``from
    my_policies import Grudger``), runs twice and defines its classes again: the same policies, accepted; a policy of
    another module taking a registered name is refused, naming both."""
    (plugin.parent / "my_policies.py").write_text(
        "from agents import StatusQuo, register_policy\n\n\n@register_policy\nclass Hawk(StatusQuo):\n"
        "    name = 'hawk'\n"
    )
    (plugin.parent / "derived.py").write_text(
        "from agents import register_policy\nfrom my_policies import Hawk\n\n\n@register_policy\n"
        "class Dove(Hawk):\n    name = 'dove'\n"
    )
    (plugin.parent / "rival.py").write_text(
        "from agents import StatusQuo, register_policy\n\n\n@register_policy\nclass Hawk(StatusQuo):\n"
        "    name = 'hawk'\n"
    )
    import_plugin("./my_policies.py")
    import_plugin("derived")  # imports my_policies by its name: a second module object of the same file
    assert POLICIES["hawk"].__module__ == "my_policies" and "dove" in POLICIES
    with pytest.raises(ValueError, match=r"rival\.Hawk has name 'hawk', already registered for my_policies\.Hawk"):
        import_plugin("rival")


def test_the_command_lines_take_the_registered_names(plugin: Path, capsys: pytest.CaptureFixture) -> None:
    from agents.evaluate import main as evaluate

    report = evaluate(["--import", "my_realism", "--population", "hermit:3,defensive_realist:3", "--scenario",
                       "tight_multipolar", "--episodes", "2", "--max-cycles", "5", "--quiet"])  # fmt: skip
    assert report["population"]["policies"][:3] == ["hermit"] * 3
    assert report["config"]["offense_defense_balance"] == 2.0
    with pytest.raises(SystemExit) as raised:
        evaluate(["--import", "no_such_plugin", "--population", "random"])
    assert raised.value.code == 2
    assert "python -m agents.evaluate: error: --import no_such_plugin: no module named" in capsys.readouterr().err


def test_a_run_on_a_doctrine_of_ones_own_trains_and_is_scored_with_the_same_import(
    plugin: Path, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("torch")
    from train.evaluate import main as score
    from train.fast_ppo import main as train

    run = plugin.parent / "run"
    argv = ["--timesteps", "1", "--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--max-cycles", "6"]
    assert train(["--import", "my_realism", *argv, "--doctrine", "prosperity", "--scenario", "tight_multipolar",
                  "--out", str(run), "--no-progress-bar"]) == 0  # fmt: skip
    printed = capsys.readouterr().out  # the scoring command it prints needs the module, and a baseline of its own
    assert "--import=my_realism" in printed and "--baseline status_quo" in printed
    document = score(["--import", "my_realism", "--model", str(run), "--episodes", "2", "--baseline", "hermit",
                      "--background", "hermit", "--no-progress"])  # fmt: skip
    group = document["groups"][0]
    assert group["doctrine"] == "prosperity" and group["scenario"] == "tight_multipolar"
    assert list(group["settings"]) == ["selfplay", "focal_vs_hermit"]
    # the scripted baseline is the theories' agent of security or power: a doctrine of one's own names its own
    with pytest.raises(SystemExit):
        score(["--import", "my_realism", "--model", str(run), "--no-progress"])
    assert "doctrine 'prosperity' has no scripted counterpart" in capsys.readouterr().err


def test_the_trainers_list_registered_doctrines_and_scenarios_among_their_choices(plugin: Path) -> None:
    from train.fast_ppo import build_parser

    import_plugin("my_realism")
    text = build_parser().format_help()
    assert "{security,power,mixed,prosperity,...}" in text and "tight_multipolar" in text


def test_a_mix_with_a_doctrine_of_ones_own_trains_one_network_and_is_evaluated_as_it_was_trained(
    plugin: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--doctrine security+prosperity``: the nations take the two in turn (nation_0 security) with the doctrine
    indicator; evaluated at another nation count the alternation holds; scored, with a baseline of its own."""
    pytest.importorskip("torch")
    from train.evaluate import main as score
    from train.fast_ppo import main as train
    from train.learned import RunInfo, learned_population

    run = plugin.parent / "mix"
    argv = ["--timesteps", "1", "--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--max-cycles", "6"]
    assert train(["--import", "my_realism", *argv, "--doctrine", "security+prosperity", "--out", str(run),
                  "--no-progress-bar"]) == 0  # fmt: skip
    assert "--baseline status_quo" in capsys.readouterr().out  # prosperity has no scripted counterpart
    info = RunInfo.read(run)
    assert info.doctrine == "security+prosperity" and info.indicator
    assert info.doctrine_per_nation == ("security", "prosperity") * 3
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["mean_episode_return"]) == {"security", "prosperity"}  # both doctrines learned, one network
    _, doctrines = learned_population(str(run), n_nations=5)
    assert doctrines == ["security", "prosperity", "security", "prosperity", "security"]
    document = score(["--import", "my_realism", "--model", str(run), "--episodes", "2", "--baseline", "status_quo",
                      "--no-progress"])  # fmt: skip
    assert document["groups"][0]["doctrine"] == "security+prosperity"
    with pytest.raises(SystemExit) as stopped:  # three doctrines cannot take turns over two nations
        train(["--import", "my_realism", "--doctrine", "security+prosperity+power", "--set", "n_nations=2",
               "--out", str(plugin.parent / "never_written")])  # fmt: skip
    assert stopped.value.code == 2 and not (plugin.parent / "never_written").exists()
    assert "alternates 3 doctrines over 2 nations, so 'power' would have none" in capsys.readouterr().err


def test_a_run_is_resumed_and_scored_only_with_the_doctrines_it_was_made_with(
    plugin: Path, capsys: pytest.CaptureFixture
) -> None:
    """Its networks read a doctrine one-hot over the registered doctrines: another set is refused, naming the --import
    the run was made with, before anything is written (a resume rewrote config.json, then failed on the weights)."""
    pytest.importorskip("torch")
    from train.evaluate import main as score
    from train.fast_ppo import main as train

    run = plugin.parent / "run"
    argv = ["--timesteps", "1", "--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--max-cycles", "6",
            "--out", str(run), "--no-progress-bar"]  # fmt: skip
    assert train(["--import", "my_realism", *argv]) == 0  # a security run, made with prosperity registered
    record = (run / "config.json").read_text()
    prosperity = DOCTRINES.pop("prosperity")  # as a process without the --import
    with pytest.raises(SystemExit, match=r"made with the doctrines power, prosperity, security registered \(--import "
                       r"my_realism\), and here they are power, security"):  # fmt: skip
        train([*argv, "--resume", "--timesteps", "20"])
    assert (run / "config.json").read_text() == record
    with pytest.raises(SystemExit):
        score(["--model", str(run), "--episodes", "1", "--no-progress"])
    assert "valid: the same --import as it was made with" in capsys.readouterr().err
    # The module edited since: its doctrines may reward otherwise, so a run of them does not go on under it.
    DOCTRINES["prosperity"] = prosperity
    own = plugin.parent / "own"
    own_argv = [*argv[:-3], "--out", str(own), "--no-progress-bar", "--doctrine", "prosperity"]
    assert train(["--import", "my_realism", *own_argv]) == 0
    own_record = (own / "config.json").read_text()
    plugin.write_text(plugin.read_text() + "\n# edited\n")
    edited = r"holds a different run \(it differs in the source of --import {} \(not what the run was made with: "
    edited += r"it or a module of yours it imports edited since, or another module\)\)"
    with pytest.raises(SystemExit, match=edited.format("my_realism")):
        train(["--import", "my_realism", *own_argv, "--resume", "--timesteps", "20"])
    with pytest.raises(SystemExit, match=edited.format(re.escape(str(plugin)))):  # named by its path this time
        train(["--import", str(plugin), *own_argv, "--resume", "--timesteps", "20"])
    assert (own / "config.json").read_text() == own_record
    # The security run is made of nothing the module registers (its one-hot's doctrines, checked above, are the same)
    assert train(["--import", "my_realism", *argv, "--resume", "--timesteps", "20"]) == 0


def test_the_source_of_a_module_covers_the_modules_of_yours_it_imports_and_no_library(plugin: Path) -> None:
    """A run records its modules' source: the modules of the user's that the plugin's import statements name (its
    doctrine's terms, a weight, a helper imported in a function; in turn) are part of it, whatever it imports from
    them; the libraries and this project's packages are not; an edit to any of the user's files is seen."""
    from agents.plugins import own_sources, source_digests

    folder = plugin.parent
    (folder / "my_weights.py").write_text("WEIGHT = 1.0\n")
    (folder / "my_terms.py").write_text("from my_weights import WEIGHT\nfrom realism_env import PowerTerms\n\n"
                                        "TERMS = PowerTerms(share=WEIGHT)\n")  # fmt: skip
    (folder / "my_helpers.py").write_text("def helper():\n    return 1\n")
    (folder / "split_realism.py").write_text(
        "import numpy as np\nfrom agents import StatusQuo\nfrom my_terms import TERMS\n"
        "from realism_env import Doctrine, register_doctrine\n\n"
        "def later():\n    import my_helpers\n\n"
        "register_doctrine(Doctrine('split_power', 'its terms in another file', TERMS))\n"
    )
    sources = own_sources(import_plugin("split_realism"))
    assert [f.name for f in sources] == ["my_helpers.py", "my_terms.py", "my_weights.py", "split_realism.py"]
    assert own_sources(import_plugin("my_realism")) == [plugin.resolve()]  # agents and realism_env are not its own
    before = source_digests(["split_realism", "my_realism"])
    (folder / "unrelated.py").write_text("x = 1\n")  # a file of the folder the plugin does not import
    assert source_digests(["split_realism", "my_realism"]) == before
    for edited in ("my_weights.py", "my_helpers.py"):  # a constant two imports away; a function-level import
        (folder / edited).write_text((folder / edited).read_text() + "# edited\n")
        after = source_digests(["split_realism", "my_realism"])
        assert after["split_realism"] != before["split_realism"] and after["my_realism"] == before["my_realism"]
        before = after


def test_a_run_records_the_source_of_the_modules_that_registered_what_it_is_made_of(plugin: Path) -> None:
    """A module that registers only a policy the evaluation plays is not a trained run's: editing it (a bug fixed in
    that policy) leaves the runs as they were; a module imported before --import saw it counts, as it may."""
    import importlib

    from agents.plugins import source_digests

    (plugin.parent / "my_evaluation.py").write_text(PLUGIN.replace("prosperity", "thrift").replace("tight_", "loose_")
                                                    .replace("hermit", "sentinel"))  # fmt: skip
    (plugin.parent / "my_unseen.py").write_text("X = 1\n")
    sys.path.insert(0, str(plugin.parent))  # (the fixture puts sys.path back)
    importlib.import_module("my_unseen")  # imported by other means: what it registered is not known
    modules = ["my_realism", "my_evaluation", "my_unseen"]
    assert set(source_digests(modules)) == set(modules)  # everything, where what the run is made of is not given
    assert set(source_digests(modules, {("doctrine", "prosperity")})) == {"my_realism", "my_unseen"}
    assert set(source_digests(modules, {("policy", "sentinel"), ("scenario", "multipolar")})) == {
        "my_evaluation", "my_unseen"
    }  # fmt: skip
    assert set(source_digests(modules, {("doctrine", "security")})) == {"my_unseen"}
    # a module that replaces a built-in doctrine (overwrite=True: no new name) is the source of its runs' rewards
    (plugin.parent / "my_override.py").write_text(
        "from realism_env import DOCTRINES, Doctrine, register_doctrine\n"
        "register_doctrine(Doctrine('security', 'mine', DOCTRINES['security'].terms), overwrite=True)\n"
    )
    assert set(source_digests(["my_override"], {("doctrine", "security")})) == {"my_override"}


def test_a_doctrine_of_ones_own_without_its_import_says_how_to_register_it(capsys: pytest.CaptureFixture) -> None:
    from train.fast_ppo import main as train

    with pytest.raises(SystemExit) as stopped:
        train(["--doctrine", "prosperity", "--out", "never_written"])
    message = capsys.readouterr().err
    assert stopped.value.code == 2 and "invalid choice: 'prosperity'; valid: security, power, mixed" in message
    assert "a doctrine of your own: --import the module that registers it, on a resume too" in message


# --------------------------------------------------------------------------------------------------
# The experiment: [experiment] imports (or --import)
# --------------------------------------------------------------------------------------------------

# A doctrine of one's own beside security; the module's scenario held out, its policy a background and a deviant.
EXPERIMENT = """
base = "quick"
[experiment]
seeds = [0, 1]
workers = 2
conditions = ["security", "prosperity"]
imports = ["{module}"]
[train]
timesteps = 192
max_cycles = 6
n_worlds = 2
n_steps = 16
batch_size = 64
background_share = 0.5
background = "hermit,defensive_realist"
[evaluate]
episodes = 2
heldout = ["tight_multipolar"]
backgrounds = ["hermit"]
focal_heldout = []
deviation_scenarios = ["multipolar"]
deviants = ["hermit"]
deviation_episodes = 1
"""


def test_a_preset_names_the_doctrines_of_its_imports_and_a_missing_module_is_named(plugin: Path) -> None:
    from train.experiment import build_parser, load_design
    from train.experiment_jobs import baseline_jobs
    from train.experiment_presets import PresetError, load_preset, resolve

    without = plugin.parent / "without.toml"
    without.write_text(EXPERIMENT.replace('imports = ["{module}"]\n', ""))
    with pytest.raises(PresetError, match=r"conditions = \['security', 'prosperity'\] is invalid; valid: .*imports"):
        resolve(load_preset(path=without))
    missing = plugin.parent / "missing.toml"
    missing.write_text(EXPERIMENT.format(module="no_such_plugin"))
    with pytest.raises(PresetError, match="imports: --import no_such_plugin: no module named 'no_such_plugin'"):
        resolve(load_preset(path=missing))
    # --import adds to the preset's imports, which the resolved preset (preset.toml) keeps
    design = load_design(build_parser().parse_args(["--preset-file", str(without), "--import", "my_realism"]))
    assert design.imports == ("my_realism",) and design.preset()["experiment"]["imports"] == ["my_realism"]
    named_once = plugin.parent / "string.toml"  # a string, not a list: named as such, with --import or without
    named_once.write_text(EXPERIMENT.replace('imports = ["{module}"]', 'imports = "my_realism"'))
    with pytest.raises(PresetError, match=r"\[experiment\] imports = 'my_realism' is invalid; valid: list\[str\]"):
        load_design(build_parser().parse_args(["--preset-file", str(named_once), "--import", "other"]))
    # no scripted policy stands for prosperity: its condition has the random baseline only
    played = {(job["meta"]["condition"], job["policy"]) for job in baseline_jobs(design, plugin.parent / "out")}
    assert played == {("security", "scripted"), ("security", "random"), ("prosperity", "random")}


def test_a_preset_may_mix_doctrines_of_its_imports_and_a_bad_mix_is_named(plugin: Path) -> None:
    from train.experiment_jobs import baseline_jobs
    from train.experiment_presets import PresetError, load_preset, resolve

    preset = plugin.parent / "mix.toml"
    preset.write_text(EXPERIMENT.format(module="my_realism").replace('"prosperity"', '"security+prosperity", "mixed"'))
    design = resolve(load_preset(path=preset))
    assert design.doctrines == ("security", "security+prosperity", "mixed")
    # the mix has a doctrine no scripted policy acts out: its worlds get no scripted baseline; mixed's do
    played = {(job["meta"]["condition"], job["policy"]) for job in baseline_jobs(design, plugin.parent / "out")}
    assert ("security+prosperity", "scripted") not in played and ("mixed", "scripted") in played
    for mix, message in (
        ("security+glory", r"\[experiment\] conditions: security\+glory: unknown doctrine 'glory'"),
        ("security+power", r"'security\+power' is the built-in mix; valid: name it 'mixed'"),
    ):
        preset.write_text(EXPERIMENT.format(module="my_realism").replace('"prosperity"', f'"{mix}"'))
        with pytest.raises(PresetError, match=message):
            resolve(load_preset(path=preset))


def test_a_policy_that_acts_out_a_doctrine_of_ones_own_is_its_scripted_counterpart(plugin: Path) -> None:
    """``Policy.doctrine``: the scripted baselines (train.evaluate's default, the experiment's) play it in the
    learned nations' places, and a nation playing it is rewarded by that doctrine unless told otherwise."""
    from agents import StatusQuo, counterpart, register_policy
    from agents.population import default_doctrines
    from train.experiment_jobs import baseline_jobs
    from train.experiment_presets import load_preset, resolve
    from train.learned import scripted_names

    import_plugin("my_realism")
    with pytest.raises(ValueError, match="no scripted counterpart .*class attribute doctrine = 'prosperity'"):
        scripted_names({"prosperity"})

    class Steward(StatusQuo):
        name = "steward"
        doctrine = "prosperity"

    register_policy(Steward)
    assert counterpart("prosperity") == "steward" and counterpart("security") == "defensive_realist"
    assert scripted_names({"prosperity", "power"}) == {"prosperity": "steward", "power": "offensive_realist"}
    assert default_doctrines(["steward", "hermit", "offensive_realist"]) == ("prosperity", "security", "power")
    preset = plugin.parent / "steward.toml"
    preset.write_text(EXPERIMENT.format(module="my_realism"))
    jobs = baseline_jobs(resolve(load_preset(path=preset)), plugin.parent / "out")
    assert ("prosperity", "scripted") in {(job["meta"]["condition"], job["policy"]) for job in jobs}

    class Lost(StatusQuo):
        name = "lost"
        doctrine = "no_such_doctrine"

    with pytest.raises(ValueError, match="acts out doctrine 'no_such_doctrine', which is not registered; valid: "):
        register_policy(Lost)


def test_the_report_says_a_doctrine_of_ones_own_was_not_checked_against_the_scripted_realists(plugin: Path) -> None:
    from train.experiment_presets import load_preset, resolve
    from train.report_sections import claims_section, learners_section

    def rows_of(world: str, condition: str, policy: str, setting: str) -> list[dict]:
        if policy == "scripted" and condition == "prosperity":  # no scripted baseline was played for it
            return []
        seeds = (0, 1) if policy == "learned" else ("",)
        return [{"seed": seed, "focal:return": 50.0, "security:return": 70.0} for seed in seeds]

    both = plugin.parent / "both.toml"
    both.write_text(EXPERIMENT.format(module="my_realism"))
    verdict_line, _ = learners_section(resolve(load_preset(path=both)), rows_of, 0.95)
    assert verdict_line.startswith("**Learners against the scripted realists: 2 of 2 checks met.**"), verdict_line
    assert verdict_line.endswith("Not checked: `prosperity` (no scripted policy acts out `prosperity`).")
    alone = plugin.parent / "alone.toml"
    alone.write_text(EXPERIMENT.format(module="my_realism").replace('"security", "prosperity"', '"prosperity"'))
    verdict_line, _ = learners_section(resolve(load_preset(path=alone)), rows_of, 0.95)
    # the claims compare security, power and mixed: with none of them trained there is nothing to judge
    assert claims_section(resolve(load_preset(path=alone)), rows_of, 0.95, 0.05) == [
        "## The essay's claims",
        "Not judged: the claims compare the conditions `mixed`, `power`, `security`, and this experiment trains none "
        "of them (`prosperity`).",
    ]
    assert verdict_line == (
        "**Learners against the scripted realists: not checked.** No condition has a scripted policy of its doctrine "
        "to be checked against (`prosperity`; a policy acts a doctrine out with its class attribute `doctrine`)."
    )


@pytest.mark.slow
def test_an_experiment_trains_evaluates_and_reports_a_doctrine_of_ones_own_in_spawned_workers(
    plugin: Path, tmp_path: Path
) -> None:
    """The workers (spawned: they know only what they import) import the preset's modules; a rerun after the module
    was edited is refused (its runs were trained on what it was)."""
    pytest.importorskip("sb3_contrib")
    import csv
    import subprocess

    preset, out = tmp_path / "mine.toml", tmp_path / "out"
    # by its path (the experiment runs from the repository), with a mix of the doctrine and security beside
    preset.write_text(EXPERIMENT.format(module=plugin).replace('"prosperity"]', '"prosperity", "security+prosperity"]'))

    def run() -> subprocess.CompletedProcess:
        command = ["-m", "train.experiment", "--no-progress", "--preset-file", str(preset), "--out", str(out)]
        return subprocess.run(
            [sys.executable, *command], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True
        )

    first = run()
    assert first.returncode == 0, first.stderr[-3000:]
    assert "6 runs trained (0 already finished)" in first.stdout
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    played = {(r["condition"], r["policy"]) for r in rows}
    conditions = ("security", "prosperity", "security+prosperity")
    # (learned_sampled: the learned nations sampling in self-play, [evaluate] sampled_strategy)
    assert played == {(c, p) for c in conditions for p in ("learned", "random", "learned_sampled")} | {
        ("security", "scripted")
    }
    mix = [r for r in rows if r["condition"] == "security+prosperity" and r["setting"] == "selfplay@multipolar"]
    assert mix and all(r["security:return"] != "" and r["prosperity:return"] != "" for r in mix)
    assert {r["setting"] for r in rows if r["condition"] == "prosperity"} >= {
        "selfplay@tight_multipolar", "focal_vs_hermit@multipolar"
    }  # fmt: skip
    assert all(r["prosperity:return"] != "" for r in rows if r["condition"] == "prosperity")
    report = (out / "report.md").read_text()
    assert (
        "Not checked: `prosperity`, `security+prosperity` (no scripted policy acts out `prosperity`)."
        in (report.splitlines()[2])
    )
    assert "Playing their greedy choice, nations rewarded by `prosperity` learned to" in report
    mixed = "Playing their greedy choice, in populations of `security` and `prosperity`, the nations learned to"
    assert mixed in report
    assert "security+prosperity: nations alternate security and prosperity, nation_0 security" in report
    # beside the learned prosperity nations, only the baselines played for them (no scripted policy acts it out)
    prosperity = report.split("### `prosperity`")[1].split("\n## ")[0]
    assert "|  | learned | learned, sampled | random |" in prosperity
    assert "|  | learned among `hermit` | learned, sampled, among `hermit` |\n" in prosperity
    assert "scripted focal baseline" not in prosperity and "scripted among" not in prosperity
    assert f'imports = ["{plugin}"]' in (out / "preset.toml").read_text()

    # The module edited: its doctrine may reward otherwise now, and the runs were trained on the old one.
    plugin.write_text(plugin.read_text() + "\n# edited\n")
    again = run()
    assert again.returncode == 2 and f"differs in the source of --import {plugin}" in again.stderr


def test_the_readmes_doctrine_and_policy_of_ones_own_run_as_written(plugin: Path) -> None:
    """The README's prosperity doctrine and the trader that acts it out, executed from its code blocks."""
    from agents import counterpart

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "prosperity" in b or "Trader" in b]
    assert len(blocks) == 2, "the README's doctrine and policy of one's own"
    namespace: dict = {}
    for block in blocks:
        exec(block, namespace)  # noqa: S102 - the README's own code
    assert counterpart("prosperity") == "trader"
    env = namespace["env"]
    env.reset(seed=0)
    env.step({agent: 0 for agent in env.agents})
    terms = env.last_rich_infos["nation_0"]["reward_terms"]
    assert set(terms) == {"growth", "eliminated"} and all(np.isfinite(v) for v in terms.values())


def test_the_cleanrl_and_rllib_scripts_import_a_module_of_ones_own_for_a_mix(plugin: Path) -> None:
    """``--import`` in train.cleanrl_ppo and train.rllib_ppo (whose env runners, processes of their own, import it
    through the env config) so their ``--doctrines`` may mix a doctrine of one's own."""
    from train import cleanrl_ppo, rllib_ppo

    flags = ["--import", "my_realism", "--doctrines", "security+prosperity", "--n-nations", "3"]
    cleanrl_args, config = cleanrl_ppo.parse_args(flags)
    assert config.doctrine_per_nation == ("security", "prosperity", "security")
    assert cleanrl_args.imports == ("my_realism",)  # recorded in its metrics.json (asdict of the arguments)
    args = rllib_ppo.parse_args(flags)
    assert args.imports == ("my_realism",)
    assert rllib_ppo.env_config(args)["doctrines"] == ["security", "prosperity", "security"]
    pytest.importorskip("ray")
    from train.rllib_env import IMPORTS_KEY, make_env

    config = rllib_ppo.build_config(args).env_config  # what each env runner builds its env from
    assert config[IMPORTS_KEY] == ["my_realism"]
    DOCTRINES.pop("prosperity")  # as an env runner's fresh process, before it imports the module
    sys.modules.pop("my_realism")
    env = make_env(config)
    assert env.par_env.unwrapped.config.doctrine_per_nation == ("security", "prosperity", "security")
