"""The replay page in a real browser (headless Chromium over the DevTools protocol, tests/browser.py): it loads with
no console error and fetches nothing, the map shows one colour per nation, the slider, the keys and the deep link
change the map and the event log, hovering a nation shows its numbers. A screenshot is kept in test-artifacts/.

Without a Chromium these tests skip and say why (``bash scripts/setup.sh`` installs one where it can); with
``REALISM_REQUIRE_BROWSER=1`` (CI sets it) a missing browser fails them instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import replay
from tests.browser import BrowserUnavailable, Chromium, Page

pytestmark = pytest.mark.browser

FILLS = "[...document.querySelectorAll('rect.province')].map(r => [+r.dataset.owner, r.getAttribute('fill')])"
LOG = "document.getElementById('log').innerText"


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """An islands episode (wars, conquest, an elimination by turn 40) and its page."""
    population = "offensive_realist:3,defensive_realist:3"
    document = replay.record_episode(population, scenario="islands", seed=5, max_cycles=60)
    path = replay.write_replay(document, tmp_path_factory.mktemp("replay") / "replay.html")
    return document, path


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    try:
        chromium = Chromium.launch()
    except BrowserUnavailable as error:
        if os.environ.get("REALISM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"REALISM_REQUIRE_BROWSER=1 but {error}")
        pytest.skip(str(error))
    with chromium:
        yield chromium


def open_page(browser: Chromium, path: Path, fragment: str = "") -> Page:
    page = browser.open(path.as_uri() + fragment)
    assert page.console_errors == [], page.console_errors
    return page


def set_slider(page: Page, turn: int) -> None:
    page.evaluate(
        f"(() => {{ const s = document.getElementById('slider'); s.value = {turn};"
        " s.dispatchEvent(new Event('input', {bubbles: true})); })()"
    )


def test_the_page_loads_without_console_errors_and_fetches_nothing(browser: Chromium, episode) -> None:
    document, path = episode
    page = open_page(browser, path)
    assert page.evaluate("document.body.dataset.turn") == "0"
    assert page.evaluate("document.getElementById('error')") is None
    assert page.evaluate("document.querySelectorAll('rect.province').length") == len(document["map"]["provinces"])
    assert page.evaluate("document.querySelectorAll('#legend tbody tr').length") == len(document["nations"])
    assert page.evaluate("document.querySelectorAll('#chart polygon').length") == len(document["nations"])
    assert page.requests == [path.as_uri()]  # the page itself, nothing else
    assert page.console_errors == []


def test_the_map_shows_one_colour_per_nation(browser: Chromium, episode) -> None:
    document, path = episode
    page = open_page(browser, path)
    for turn in (0, 40):
        set_slider(page, turn)
        colours: dict[int, set[str]] = {}
        for owner, fill in page.evaluate(FILLS):
            colours.setdefault(owner, set()).add(fill)
        holders = {o for o in document["turns"][turn]["owner"]}
        assert set(colours) == holders
        assert all(len(fills) == 1 for fills in colours.values()), colours
        assert len({next(iter(f)) for f in colours.values()}) == len(holders)  # distinct nations, distinct colours
        assert {o: next(iter(f)) for o, f in colours.items()} == {o: document["nations"][o]["colour"] for o in holders}
    assert page.console_errors == []


def test_the_slider_changes_the_map_and_the_event_log(browser: Chromium, episode) -> None:
    document, path = episode
    page = open_page(browser, path)
    start_map, start_log = page.evaluate(FILLS), page.evaluate(LOG)
    set_slider(page, 40)
    assert page.evaluate("document.body.dataset.turn") == "40"
    assert page.evaluate("location.hash") == "#turn=40"
    turn_map, turn_log = page.evaluate(FILLS), page.evaluate(LOG)
    assert turn_map != start_map and turn_log != start_log
    assert [owner for owner, _ in turn_map] == document["turns"][40]["owner"]
    for event in document["turns"][40]["events"]:
        assert event["text"] in turn_log
    anchor = document["turns"][40]["anchor"]
    drawn = [(i, j) for i, j in document["turns"][40]["wars"] if anchor[i] >= 0 and anchor[j] >= 0]
    assert page.evaluate("document.querySelectorAll('#relations path.war').length") == len(drawn) > 0
    assert page.console_errors == []


def test_the_deep_link_keys_and_buttons_move_through_turns(browser: Chromium, episode) -> None:
    document, path = episode
    page = open_page(browser, path, "#turn=40")
    assert page.evaluate("document.getElementById('slider').value") == "40"
    linked_map, linked_log = page.evaluate(FILLS), page.evaluate(LOG)
    other = open_page(browser, path)
    set_slider(other, 40)
    assert (other.evaluate(FILLS), other.evaluate(LOG)) == (linked_map, linked_log)
    page.evaluate("location.hash = '#turn=10'")
    page.evaluate("new Promise(r => setTimeout(r, 50))")  # hashchange fires asynchronously
    assert page.evaluate("document.body.dataset.turn") == "10"
    assert [owner for owner, _ in page.evaluate(FILLS)] == document["turns"][10]["owner"]
    keys = (("ArrowRight", "11"), ("ArrowRight", "12"), ("ArrowLeft", "11"), ("End", "60"), ("Home", "0"))
    for key, expected in keys:
        page.browser.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": key}, page.session)
        assert page.evaluate("document.body.dataset.turn") == expected, key
    page.evaluate("document.getElementById('forward').click()")
    assert page.evaluate("document.body.dataset.turn") == "1"
    page.evaluate("document.getElementById('play').click()")
    page.evaluate("new Promise(r => setTimeout(r, 700))")
    page.evaluate("document.getElementById('play').click()")  # pause
    played = int(page.evaluate("document.body.dataset.turn"))
    assert played > 1
    page.evaluate("new Promise(r => setTimeout(r, 400))")
    assert int(page.evaluate("document.body.dataset.turn")) == played
    beyond = open_page(browser, path, "#turn=999")
    assert beyond.evaluate("document.body.dataset.turn") == "60"
    assert page.console_errors == [] and other.console_errors == [] and beyond.console_errors == []


def test_hovering_a_nation_shows_its_numbers_and_a_screenshot_is_kept(browser: Chromium, episode, artifact) -> None:
    document, path = episode
    page = open_page(browser, path, "#turn=40")
    box = page.evaluate(
        "(() => { const r = document.querySelector('rect.province[data-owner=\"2\"]').getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    page.browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]}, page.session)
    text = page.evaluate("(t => t.hidden ? '' : t.innerText)(document.getElementById('tooltip'))")
    turn = document["turns"][40]
    for word in ("military", "wealth", "provinces", "arms level", document["nations"][2]["name"]):
        assert word in text
    assert f"{turn['military'][2]:.2f}" in text and str(turn["provinces"][2]) in text
    shot = page.screenshot(artifact("replay_islands_turn40.png"))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")
    assert page.console_errors == []


def test_a_page_with_a_bad_log_says_so_instead_of_failing_silently(browser: Chromium, episode, tmp_path: Path) -> None:
    document, _ = episode
    page_text = replay.replay_html(document)
    broken = page_text.replace(json.dumps("realism_env.episode"), json.dumps("other.format"), 1)
    path = tmp_path / "broken.html"
    path.write_text(broken)
    page = browser.open(path.as_uri())
    assert "cannot be shown" in page.evaluate("document.getElementById('error').innerText")


def test_a_turn_the_page_cannot_draw_stops_the_playback_and_says_so(browser: Chromium, episode, tmp_path: Path) -> None:
    """A log edited by hand past validate_episode (a province owned by no nation from turn 3): the page shows the
    turns before it, then names the failure instead of freezing."""
    document, _ = episode
    broken = json.loads(json.dumps(document))
    broken["turns"][3]["owner"][0] = 99
    data = json.dumps(broken).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    path = tmp_path / "bad_turn.html"
    path.write_text(replay.template().replace(replay.PLACEHOLDER, data))  # past script_safe_json's validation
    page = browser.open(path.as_uri())
    assert page.evaluate("document.getElementById('error')") is None  # turn 0 draws
    set_slider(page, 3)
    assert "This replay failed at turn 3" in page.evaluate("document.getElementById('error').innerText")
