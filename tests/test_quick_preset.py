"""The quick preset end to end, as the README's main command runs it (slow: about 10 minutes on 2 CPU cores).

What a user of the study relies on: the learners are as good as the scripted realists they are compared with (issue
10's bar: security self-play at >= 0.97x the defensive realists, focal nations at or above the scripted focal baseline
of their doctrine in the training scenario and in a held-out one), their learning curves rise, the report says which
strategies emerged and whether a scripted nation would do better in a learned one's place, and it links a replay of
each condition and setting.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_quick_preset_learns_policies_that_match_the_scripted_realists(tmp_path: Path) -> None:
    out = tmp_path / "quick"
    command = [sys.executable, "-m", "train.experiment", "--preset", "quick", "--out", str(out), "--no-progress"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (out / "report.md").read_text()

    headline = re.search(r"\*\*Learners against the scripted realists: (\d+) of (\d+) checks met\.\*\*", report)
    assert headline is not None, report[:2000]
    # per condition: security self-play (security and mixed), focal among 2 backgrounds in multipolar and held out
    assert int(headline[2]) == 5 + 4 + 5
    table = report[report.index("| check |") : report.index("## Which strategies emerge")]
    # (after "met", the sampled column: the same nations sampling, shown, not checked)
    met = dict(re.findall(r"^\| (`[^|]+) \|.* \| (yes|\*\*no\*\*) \| [^|]+ \|$", table, re.M))
    assert len(met) == 2 + 2 * 3 * 3  # self-play (security, mixed); focal: 2 backgrounds x 3 scenarios x 3
    # Every check in the training scenario is met, and every held-out requirement (met in at least one held-out
    # scenario). The closest are the power learners' in islands: on 2026-12-04 each of 10 seeds (0-9) met both bars
    # there on its own, with 49.9-50.9 among offensive realists against 49.5 and 54.1-56.1 among defensive realists
    # against 53.2 (docs/learning.md).
    assert all(ok == "yes" for label, ok in met.items() if "held out" not in label), table
    held_out_met = {}  # (condition, background): met in at least one held-out scenario
    for condition in ("security", "power", "mixed"):
        for background in ("offensive_realist", "defensive_realist"):
            focal = f"`{condition}`: focal among `{background}`"
            rows = [ok for label, ok in met.items() if label.startswith(focal) and "held out" in label]
            held_out_met[condition, background] = "yes" in rows
    assert all(held_out_met.values()), (held_out_met, table)
    assert int(headline[1]) == int(headline[2]), table
    # Sampling from their policy, as in training, the learners come near the bars too (shown, not checked by the
    # report). With train.fast_ppo's default learning rate and entropy bonus, three sampled security learners among
    # offensive realists earned 10.9 against the bar of 67.3; at the preset's (2026-12-06) 66.9 with seeds 0-4 and
    # 64.9 with seeds 5-9, the lowest of the 8 rows against its bar, the others at or above theirs (docs/learning.md).
    # A seed's sampled return there spreads by some 5 points, and another CPU's arithmetic trains other trajectories:
    # the floor, 0.85x the bar, leaves room for that and still fails a policy unsure of its arms.
    training_row = r"^\| `[^|]+ in `multipolar` \|.*\| (-?[\d.]+) \| [^|]+ \| [^|]+ \| (-?[\d.]+) \[[^|]*\|$"
    sampled_rows = re.findall(training_row, table, re.M)  # (bar, sampled mean) of each row
    assert len(sampled_rows) == 8, table
    assert all(float(sampled) >= 0.85 * float(bar) for bar, sampled in sampled_rows), sampled_rows
    assert "Every check is met." in report[: report.index("**Design.**")]

    for metrics_file in sorted(out.glob("runs/*/seed*/metrics.json")):
        curve = json.loads(metrics_file.read_text())["curve"]
        for doctrine in ("security", "power"):
            points = [point[doctrine] for point in curve if point.get(doctrine) is not None]
            if points:
                assert points[-1] > points[0], (metrics_file, doctrine, points[0], points[-1])

    for condition, opening in (
        ("security", "Playing their greedy choice, security-maximisers learned to "),
        ("power", "Playing their greedy choice, power-maximisers learned to "),
        ("mixed", "Playing their greedy choice, in mixed populations, the nations learned to "),
    ):
        section = report[report.index(f"### `{condition}`") :]
        assert section.startswith(f"### `{condition}`\n\n**{opening}"), section[:300]
    # a replay per condition and setting: self-play in multipolar and 3 held-out scenarios, focal 2 x 3, and the
    # self-play in multipolar that samples
    replays = re.findall(r"\[replay\]\(([^)]+)\)", report)
    assert len(replays) == 3 * 11 and all((out / path).is_file() for path in replays)

    # Every claim of the essay reaches a verdict for the learners and the scripted realists (rising_power's claims
    # need its self-play among the held-out scenarios); "inconclusive" is a verdict, "n/a" (no data) is not.
    claims = report[report.index("## The essay's claims") :].split("\n## ")[0]
    claim_rows = [line for line in claims.splitlines() if line.startswith("| **")]
    assert len(claim_rows) >= 15, claims
    for line in claim_rows:
        cells = [cell.strip() for cell in line.split("|")]
        learned, sampled, scripted = cells[6], cells[9], cells[-2]  # the verdict columns
        assert "n/a" not in (learned, scripted), line
        # the sampled self-play is played in the training scenario only: the claims read elsewhere have no data there
        assert (sampled == "n/a") == ("rising_power" in line), line
    rising = [line for line in claim_rows if "rising_power" in line]
    assert len(rising) == 2, claims
    # and which verdicts survive Holm's correction over the claims, column by column
    assert "**Holm's correction over the claims**" in claims and "learned: " in claims, claims

    # Would a scripted nation do better in a learned one's place? Neither deviant does where the learners trained (in
    # bipolar, where conquest pays, an offensive realist exploits the power learners, who never attack: 2026-12-05,
    # +31.3 [23.4, 39.2]; docs/learning.md).
    deviations = report[report.index("## Would a scripted nation do better") :].split("\n## ")[0]
    training = [line for line in deviations.splitlines() if line.startswith("| `multipolar` |")]
    assert len(training) == 2 and not any("exploits" in line for line in training), deviations

    # Do the seeds learn one play? Each of the 5 seeds' nations in each place among each other seed's, a row per
    # condition and ordered pair. Security learners are interchangeable (2026-12-06: every pair's gain within 0.05
    # of 0, 74.9 either way, before and after the preset's learning rate changed); mixed pairs differ by up to 4
    # points, no condition's mean clear of 0.
    with open(out / "crossplay.csv", newline="") as handle:
        crossplay = list(csv.DictReader(handle))
    assert len(crossplay) == 3 * 5 * 4
    section = report[report.index("## Do the seeds learn one play?") :].split("\n## ")[0]
    assert section.count("| `") == 3 and "![cross-play](plots/crossplay.png)" in section, section
    assert all(abs(float(r["gain"])) < 0.5 for r in crossplay if r["condition"] == "security"), section
