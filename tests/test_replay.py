"""Episode replays without a browser: the episode log format (realism_env.episode_log), the map geometry the rgb
render and the page share, the replay page (agents.replay) and learned-run replays (train.replay). The page in a
real browser: tests/test_replay_browser.py."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import realism_env
from agents import replay
from agents.evaluate import evaluate
from realism_env import EpisodeLogError, map_geometry, read_episode, validate_episode, write_episode
from realism_env.episode_log import FORMAT, VERSION
from tests.runs import tiny_run

POPULATION = "offensive_realist:3,defensive_realist:3"
POLICIES = ["offensive_realist"] * 3 + ["defensive_realist"] * 3


@pytest.fixture(scope="module")
def document() -> dict:
    """An islands episode with wars, conquest and an elimination within its 60 turns."""
    return replay.record_episode(POPULATION, scenario="islands", seed=5, max_cycles=60)


# --------------------------------------------------------------------------------------------------
# The episode log
# --------------------------------------------------------------------------------------------------


def test_the_log_has_the_documented_shape(document: dict) -> None:
    assert document["format"] == FORMAT == "realism_env.episode" and document["version"] == VERSION == 1
    assert document["env"] == realism_env.NAME
    n, p = 6, len(document["map"]["provinces"])
    assert p == 24 and len(document["turns"]) == 61
    assert [nation["policy"] for nation in document["nations"]] == POLICIES
    assert [nation["doctrine"] for nation in document["nations"]] == ["power"] * 3 + ["security"] * 3
    assert document["meta"]["scenario"] == "islands" and document["meta"]["seed"] == 5
    assert document["config"]["max_cycles"] == 60
    for t, turn in enumerate(document["turns"]):
        assert turn["turn"] == t and len(turn["owner"]) == p
        for key in ("alive", "military", "wealth", "provinces", "arms_level", "share", "anchor", "acts"):
            assert len(turn[key]) == n, key
        assert sum(turn["provinces"]) == p
        assert np.bincount(turn["owner"], minlength=n).tolist() == turn["provinces"]
        assert sum(turn["share"]) == pytest.approx(1, abs=1e-4)
        for i, anchor in enumerate(turn["anchor"]):  # a nation is labelled on a province it holds
            assert (anchor == -1) == (not turn["alive"][i])
            assert anchor == -1 or turn["owner"][anchor] == i
    first = document["turns"][0]
    assert first["events"] == [] and first["acts"] == [None] * n and first["aid"] == []
    kinds = {event["kind"] for turn in document["turns"] for event in turn["events"]}
    assert {"war_declared", "battle", "province_taken", "eliminated"} <= kinds
    assert json.loads(json.dumps(document)) == document  # plain JSON all the way down


def test_the_log_agrees_with_the_env_turn_by_turn() -> None:
    """Written from the env's public state and env.last_events, never from infos."""
    env = realism_env.parallel_env(scenario="multipolar", max_cycles=25)
    recorder = realism_env.EpisodeRecorder(env.config)
    observations, _ = env.reset(seed=3)
    recorder.start(env.world)
    rng = np.random.default_rng(3)
    worlds, last_events = [env.world], []
    while env.agents:
        actions = {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in env.agents}
        observations, *_ = env.step(actions)
        recorder.record(env.world, env.last_events)
        worlds.append(env.world)
        last_events.append(env.last_events)
    document = recorder.episode(meta={"note": "random"})
    assert document["meta"] == {"note": "random"} and document["nations"][0]["policy"] is None
    geometry = map_geometry(env.world.province_xy[0], env.world.land_adjacency[0], env.world.sea_adjacency[0])
    assert document["map"]["sea_links"] == geometry.sea_pairs.tolist()
    assert document["map"]["land_links"] == geometry.land_pairs.tolist()
    for turn, world in zip(document["turns"], worlds, strict=True):
        assert turn["owner"] == world.owner[0].tolist()
        assert turn["military"] == pytest.approx(world.military[0].tolist(), rel=1e-5)
        assert turn["arms_level"] == world.arms_level[0].tolist()
        assert turn["wars"] == np.argwhere(np.triu(world.at_war[0], 1)).tolist()
        assert turn["alliances"] == np.argwhere(np.triu(world.allied[0], 1)).tolist()
        assert turn["demands"] == np.argwhere(world.demand[0]).tolist()
    for turn, events in zip(document["turns"][1:], last_events, strict=True):
        assert len(turn["events"]) == len(realism_env.events.event_records(events, 0, env.config.display_names()))
        aid = events.aid[0]
        assert turn["aid"] == [[i, j, pytest.approx(aid[i, j], rel=1e-5)] for i, j in np.argwhere(aid)]


def test_a_batch_world_is_logged_by_index() -> None:
    """EpisodeRecorder records W worlds; episode(world_index) logs one of them with its own map."""
    from realism_env.batch import WorldBatch

    config = realism_env.EnvConfig(max_cycles=5)
    batch = WorldBatch(config, 3, seed=0, map_bank=3)
    _, mask = batch.reset()
    recorder = realism_env.EpisodeRecorder(config)
    recorder.start(batch.world)
    for _ in range(3):
        out = batch.step(mask.argmax(axis=2))
        recorder.record(batch.world, out.events)
        mask = out.action_mask
    for w in range(3):
        document = recorder.episode(w)
        assert document["turns"][-1]["owner"] == batch.world.owner[w].tolist()
        np.testing.assert_allclose(document["map"]["provinces"], batch.world.province_xy[w], atol=1e-6)
    # Past the end the batch resets a world on a new map: two episodes are not logged as one.
    for _ in range(3):
        out = batch.step(mask.argmax(axis=2))
        recorder.record(out.final_world, out.events)
        mask = out.action_mask
    for read in (recorder.episode, recorder.metrics, recorder.nation_metrics, recorder.by_doctrine):
        with pytest.raises(ValueError, match="world 1's record holds more than one episode: .* from 5 to 1 at"):
            read(1)


def test_write_read_round_trip(document: dict, tmp_path: Path) -> None:
    path = tmp_path / "episode.json"
    write_episode(document, path)
    assert read_episode(path) == document


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(format="something_else"), "not a realism_env episode log"),
        (lambda d: d.update(version=VERSION + 1), "newer than this realism_env reads"),
        (lambda d: d.update(version="1"), "version '1' is not a number"),
        (lambda d: d.pop("turns"), "'turns' is missing"),
        (lambda d: d["turns"][3]["owner"].pop(), r"turns\[3\].owner: expected 24 entries, got 23"),
        (
            lambda d: d["turns"][2]["owner"].__setitem__(0, 9),
            r"turns\[2\].owner\[0\]: expected an index in 0..5, got 9",
        ),
        # Indices the page draws from: the page used to freeze on each, the reader having taken it.
        (lambda d: d["turns"][2]["owner"].__setitem__(0, True), r"turns\[2\].owner\[0\]: .* got True"),
        (lambda d: d["nations"][1].update(capital=99), r"nations\[1\].capital: expected -1..23, got 99"),
        (lambda d: d["turns"][3]["anchor"].__setitem__(0, 99), r"turns\[3\].anchor\[0\]: .*-1..23"),
        (lambda d: d["turns"][4]["acts"].__setitem__(0, ["attack", 6]), r"turns\[4\].acts\[0\]"),
        (lambda d: d["turns"][3]["military"].__setitem__(0, "x"), r"turns\[3\].military\[0\]: expected a finite"),
        (lambda d: d["turns"][2].update(turn=0), r"turns\[2\].turn: expected 2, got 0"),  # two episodes joined
        (
            lambda d: d["turns"][5]["events"].append(
                {"kind": "war_declared", "actor": "nation_0", "target": 1, "value": 0, "text": ""}
            ),
            r"turns\[5\].events\[\d+\].actor: expected an index in 0..5",
        ),
        (lambda d: d["turns"][1]["wars"].append([0, 17]), r"turns\[1\].wars\[\d+\]: expected two indices in 0..5"),
        (lambda d: d["map"]["sea_links"].append([1]), r"map.sea_links\[\d+\]: expected 2 entries"),
        (lambda d: d["nations"][0].pop("doctrine"), r"nations\[0\]: 'doctrine' is missing"),
        (lambda d: d["turns"][5]["events"].append({"kind": "war_declared"}), r"turns\[5\].events\[\d+\]"),
    ],
)
def test_a_malformed_log_raises_a_clear_error(document: dict, tmp_path: Path, change, message: str) -> None:
    broken = copy.deepcopy(document)
    change(broken)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(EpisodeLogError, match=message) as raised:
        read_episode(path)
    assert str(path) in str(raised.value) and isinstance(raised.value, ValueError)


def test_a_file_that_is_not_json_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(EpisodeLogError, match="not JSON"):
        read_episode(path)
    path.write_bytes(b"\xff\xfe binary")  # not even text
    with pytest.raises(EpisodeLogError, match="not JSON"):
        read_episode(path)
    with pytest.raises(EpisodeLogError, match="a JSON object"):
        validate_episode([1, 2])


def test_a_log_with_nan_is_refused_when_read(document: dict, tmp_path: Path) -> None:
    """Python's json writes NaN by default; strict JSON (and the page) lacks it, and writing the page would fail."""
    broken = copy.deepcopy(document)
    broken["turns"][3]["military"][0] = math.nan
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(EpisodeLogError, match=r"nan.json: not strict JSON \(NaN is not a JSON number"):
        read_episode(path)


def test_every_event_kind_reads_as_a_sentence() -> None:
    from realism_env.episode_log import EVENT_TEXT, event_text

    assert set(EVENT_TEXT) == set(realism_env.EVENT_KINDS) - {"forces_lost"}  # forces lost are a battle's value
    names = ["France", "Germany"]
    assert event_text({"kind": "war_declared", "actor": 0, "target": 1, "value": 1.0}, names) == (
        "France declared war on Germany"
    )
    assert event_text({"kind": "province_taken", "actor": 1, "target": 0, "value": 2.0}, names) == (
        "Germany took 2 provinces from France"
    )
    assert "France lost 1.50, Germany lost 0.25" in event_text(
        {"kind": "battle", "actor": 0, "target": 1, "value": [1.5, 0.25]}, names
    )
    assert event_text({"kind": "new_kind", "actor": 0, "target": None, "value": 1.0}, names) == "new kind: France"


# --------------------------------------------------------------------------------------------------
# Geometry shared by the rgb render and the page
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["multipolar", "islands"])
def test_geometry_borders_lie_between_neighbouring_cells(scenario: str) -> None:
    env = realism_env.parallel_env(scenario=scenario)
    env.reset(seed=1)
    world = env.world
    geometry = map_geometry(world.province_xy[0], world.land_adjacency[0], world.sea_adjacency[0])
    width, height = geometry.cell
    assert 0 < width <= 1 and 0 < height <= 1
    assert len(geometry.land_pairs) == world.land_adjacency[0].sum() // 2
    for (a, b), (x0, y0, x1, y1) in zip(geometry.land_pairs, geometry.land_borders, strict=True):
        assert a < b
        middle = (geometry.centres[a] + geometry.centres[b]) / 2
        np.testing.assert_allclose([(x0 + x1) / 2, (y0 + y1) / 2], middle)
        length = np.hypot(x1 - x0, y1 - y0)
        assert length == pytest.approx(height if abs(x1 - x0) < 1e-9 else width)
    # the render draws the same cells: each province's centre pixel has its owner's colour (sea links left out)
    from realism_env.render import PALETTE, render_rgb

    image = render_rgb(world.replace(sea_adjacency=np.zeros_like(world.sea_adjacency)), env.config)
    size = image.shape[0]
    bar, margin = size // 16, size // 32
    map_size = size - bar - 2 * margin
    for p, (x, y) in enumerate(geometry.centres):
        pixel = image[round(bar + margin + y * map_size), round(margin + x * map_size)].astype(float)
        colour = PALETTE[world.owner[0, p]].astype(float)
        np.testing.assert_allclose(pixel / pixel.max(), colour / colour.max(), atol=0.02)


def test_nation_anchors_sit_inside_each_territory() -> None:
    centres = np.array([[0.1, 0.1], [0.3, 0.1], [0.5, 0.1], [0.7, 0.1]])
    anchors = realism_env.nation_anchors(np.array([0, 0, 0, 2]), centres, 3)
    assert anchors.tolist() == [1, -1, 3]


# --------------------------------------------------------------------------------------------------
# The page and its command line
# --------------------------------------------------------------------------------------------------


def test_the_page_is_self_contained(document: dict) -> None:
    page = replay.replay_html(document)
    assert page.count('<script id="episode-data" type="application/json">') == 1
    assert replay.PLACEHOLDER not in page
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"\b(src|href)\s*=", page, re.I)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace name, never fetched
    assert "default-src 'none'" in page  # the page may not fetch anything
    data = re.search(r'<script id="episode-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data) == document


def test_text_in_the_log_cannot_end_the_script_element(document: dict) -> None:
    hostile = copy.deepcopy(document)
    hostile["meta"]["title"] = "</script><script>alert(1)</script><!-- & >"
    page = replay.replay_html(hostile)
    data = re.search(r'<script id="episode-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data and ">" not in data and "&" not in data
    assert json.loads(data)["meta"]["title"] == hostile["meta"]["title"]


def test_cli_writes_the_page_and_the_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, log = tmp_path / "replay.html", tmp_path / "episode.json"
    argv = ["--population", POPULATION, "--scenario", "islands", "--seed", "5", "--max-cycles", "12"]
    document = replay.main([*argv, "--set", "conquest_payoff=0.8", "--out", str(out), "--log", str(log)])
    assert f"wrote {out} and {log} (12 turns)" in capsys.readouterr().out
    assert read_episode(log) == document
    assert document["config"]["conquest_payoff"] == 0.8 and document["meta"]["population"] == POPULATION
    assert json.dumps(document, separators=(",", ":")) in out.read_text().replace("\\u003c", "<")
    again = tmp_path / "again.html"
    replay.main(["--from-log", str(log), "--out", str(again)])
    assert again.read_text() == out.read_text()


def test_the_issue_command_runs_as_a_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    argv = ["--population", POPULATION, "--scenario", "islands", "--seed", "5", "--max-cycles", "5"]
    out = tmp_path / "replay.html"
    result = subprocess.run(
        [sys.executable, "-m", "agents.replay", *argv, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("<!doctype html>") and "wrote" in result.stdout


def test_the_episode_is_the_harness_matched_world() -> None:
    """Replay seed s is episode s of agents.evaluate: the same metrics."""
    document = replay.record_episode(POPULATION, scenario="bipolar", seed=7, max_cycles=30)
    report = evaluate(POPULATION, scenario="bipolar", episodes=1, seed=7, max_cycles=30, n_resamples=10)
    row = report["episodes"][0]
    for name, value in document["meta"]["metrics"].items():  # NaN is written as null
        assert value == pytest.approx(row[name]) if value is not None else math.isnan(row[name]), name


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--out", "x.html"], "give --population"),
        (["--population", "nobody:6", "--out", "x.html"], "unknown policy 'nobody'"),
        (["--population", "random:5", "--out", "x.html"], "has 5 nations; expected 6"),
        (["--population", "random", "--set", "bogus=1", "--out", "x.html"], "unknown config field 'bogus'"),
        (["--population", "random", "--out", "/no/such/folder/x.html"], "does not exist"),
        (["--population", "random", "--from-log", "e.json", "--out", "x.html"], "without --population"),
        (["--population", "random", "--seed", "-1", "--out", "x.html"], "seed=-1 is invalid"),
        (["--population", "random", "--out", "."], "--out '.' is a folder; valid: a file path in it"),
        # a folder where no file can be made (even as root): a message before the episode is played, not a traceback
        (["--population", "random", "--max-cycles", "2", "--out", "/proc/x.html"], "cannot write in folder '/proc'"),
        # a log replays as it was played: the options that choose an episode would be ignored
        (
            ["--from-log", "e.json", "--seed", "3", "--set", "conquest_payoff=0.5", "--out", "x.html"],
            "without --seed, --set",
        ),
        (["--from-log", "/no/such/log.json", "--out", "x.html"], "--from-log '/no/such/log.json': No such file"),
    ],
)
def test_bad_arguments_exit_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        replay.main(argv)
    assert raised.value.code == 2 and message in capsys.readouterr().err


def test_help_lists_the_options() -> None:
    text = replay.build_parser().format_help()
    for option in ("--population", "--scenario", "--seed", "--max-cycles", "--set", "--doctrines", "--out", "--log"):
        assert option in text, option
    # train.replay's episodes last as long as the run's training episodes (its help said the scenario's 200)
    from train.replay import build_parser as learned_parser

    learned = " ".join(learned_parser().format_help().split())
    assert "--max-cycles T turns per episode (default: the length of the run's training episodes)" in learned


def test_train_replay_help_offers_only_what_model_takes_and_refuses_the_rest_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """train.replay's help listed agents.replay's --population, --doctrines and --from-log, which --model refuses
    (and a --title default that is agents.replay's): its help now offers what it takes, and each of the three given
    is refused by name, with what is valid instead."""
    from train.replay import build_parser as learned_parser
    from train.replay import main as learned_main

    text = learned_parser().format_help()
    for flag in ("--population", "--doctrines", "--from-log"):
        assert flag not in text, flag
    for flag in ("--model", "--focal", "--background", "--scenario", "--seed", "--set", "--out", "--log", "--title"):
        assert flag in text, flag
    assert "population, scenario and seed" not in " ".join(text.split())
    out = str(tmp_path / "x.html")
    for argv, refused in (
        (["--population", "random"], "--population is not taken with --model"),
        (["--doctrines", "power"], "--doctrines is not taken with --model"),
        (["--from-log", "e.json"], "--from-log is not taken with --model"),
        (["--population", "random", "--doctrines", "power"], "--population and --doctrines are not taken"),
    ):
        with pytest.raises(SystemExit) as raised:
            learned_main(["--model", str(tmp_path / "run"), *argv, "--out", out])
        err = " ".join(capsys.readouterr().err.split())
        assert raised.value.code == 2 and refused in err, err
        assert "valid: --focal K and --background POLICY" in err


# --------------------------------------------------------------------------------------------------
# Learned runs (train.replay) and the report's representative episode
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (barely trained) security run of train.fast_ppo, trained with an override."""
    return tiny_run(tmp_path_factory.mktemp("fast") / "security", "--set", "conquest_payoff=0.7")


def test_train_replay_plays_a_learned_run(fast_run: Path, tmp_path: Path) -> None:
    from train import replay as train_replay

    out, log = tmp_path / "learned.html", tmp_path / "learned.json"
    document = train_replay.main(["--model", str(fast_run), "--seed", "2", "--out", str(out), "--log", str(log)])
    assert out.is_file() and read_episode(log) == document
    assert all(nation["policy"].startswith("learned_security") for nation in document["nations"])
    assert document["config"]["conquest_payoff"] == 0.7 and len(document["turns"]) <= 10  # the run's world
    assert document["meta"]["created_by"] == "train.replay" and document["meta"]["scenario"] == "multipolar"
    focal = train_replay.main(
        ["--model", str(fast_run), "--focal", "2", "--background", "offensive_realist", "--scenario", "bipolar"]
        + ["--max-cycles", "4", "--out", str(tmp_path / "focal.html")]
    )
    policies = [nation["policy"] for nation in focal["nations"]]
    assert policies[2:] == ["offensive_realist"] * 4 and policies[0].startswith("learned_security")
    assert focal["meta"]["scenario"] == "bipolar" and len(focal["turns"]) == 5
    # --set max_cycles replaces the run's --max-cycles as --max-cycles does (it was refused as "given twice").
    shorter = train_replay.main(["--model", str(fast_run), "--set", "max_cycles=3", "--out", str(tmp_path / "s.html")])
    assert len(shorter["turns"]) == 4 and shorter["config"]["max_cycles"] == 3
    assert document["meta"]["choice"] == "act_then_target"
    flat = train_replay.main(["--model", str(fast_run), "--seed", "2", "--greedy", "flat", "--out", str(out)])
    sampled = train_replay.main(["--model", str(fast_run), "--seed", "2", "--sample", "--out", str(out)])
    assert flat["meta"]["choice"] == "flat" and sampled["meta"]["choice"] == "sampled"
    with pytest.raises(SystemExit) as exit_info:
        train_replay.main(["--model", str(fast_run), "--greedy", "argmax", "--out", str(out)])
    assert exit_info.value.code == 2


def test_a_replays_length_replaces_the_length_a_run_was_trained_with_through_set(tmp_path: Path) -> None:
    """A run trained with ``--set max_cycles=12``: a replay of ``--max-cycles 4`` is 4 turns, not an error."""
    pytest.importorskip("torch")
    from train import replay as train_replay
    from train.fast_ppo import main

    run = tmp_path / "run"
    argv = ["--timesteps", "1", "--n-worlds", "1", "--n-steps", "8", "--batch-size", "8", "--set", "max_cycles=12"]
    assert main([*argv, "--out", str(run), "--no-progress-bar"]) == 0
    assert len(train_replay.learned_episode(run, max_cycles=4)["turns"]) == 5  # the start and 4 turns
    assert len(train_replay.learned_episode(run)["turns"]) <= 13  # the run's own 12 by default


def test_write_replay_for_the_report(fast_run: Path, tmp_path: Path) -> None:
    from train.learned import learned_population, play
    from train.replay import representative_seed, write_replay

    policies, doctrines = learned_population(fast_run, n_focal=3, background="defensive_realist")
    rows, _ = play(policies, doctrines, "multipolar", range(3, 6), max_cycles=8)
    seed = representative_seed(rows)
    assert seed in (3, 4, 5)
    path = write_replay(
        tmp_path / "replays" / "security" / "focal.html",
        run_dir=fast_run,
        scenario="multipolar",
        seed=seed,
        max_cycles=8,
        n_focal=3,
        background="defensive_realist",
        log=tmp_path / "focal.json",
    )
    document = read_episode(tmp_path / "focal.json")
    assert path.is_file() and document["meta"]["seed"] == seed
    row = next(r for r in rows if r["episode_seed"] == seed)
    assert document["meta"]["metrics"]["war_onsets"] == row["war_onsets"]  # the same episode as the row
    scripted = write_replay(tmp_path / "s.html", policies=["random"] * 6, doctrines=["security"] * 6, max_cycles=3)
    assert scripted.is_file()
    with pytest.raises(ValueError, match="exactly one of run_dir"):
        write_replay(tmp_path / "x.html")


def test_representative_seed_is_the_episode_nearest_the_medians() -> None:
    from train.replay import representative_seed

    rows = [
        {"episode_seed": 10, "war_onsets": 0, "final_hhi": 0.2},
        {"episode_seed": 11, "war_onsets": 5, "final_hhi": 0.5},
        {"episode_seed": 12, "war_onsets": 30, "final_hhi": 0.9},
        {"episode_seed": 13, "war_onsets": 6, "final_hhi": float("nan")},
    ]
    assert representative_seed(rows, ("war_onsets", "final_hhi")) == 11
    assert representative_seed([{"seed": 4}], seed_key="seed") == 4
    with pytest.raises(ValueError, match="representative_seed needs at least one row"):
        representative_seed([])
