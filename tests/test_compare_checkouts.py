"""benchmarks.compare_checkouts: this checkout's batched step against another checkout's, in the same run."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import compare_checkouts

ROOT = Path(__file__).resolve().parents[1]


def test_each_checkout_is_stepped_in_its_own_process_and_the_ratio_of_medians_is_printed(capsys):
    argv = ["--reference", str(ROOT), "--worlds", "2", "--rounds", "2", "--episodes", "1", "--max-cycles", "3"]
    ratio = compare_checkouts.main(argv)
    out = capsys.readouterr().out
    assert out.count("round ") == 4  # 2 rounds x 2 checkouts, in turns
    medians = {
        line.split(":")[0].strip(): float(line.split("median ")[1].split(" ")[0].replace(",", ""))
        for line in out.splitlines()
        if "median" in line
    }
    assert set(medians) == {"this checkout", "reference"} and all(value > 0 for value in medians.values())
    assert ratio == pytest.approx(medians["this checkout"] / medians["reference"], rel=1e-3)
    assert out.splitlines()[-1] == f"this checkout over the reference: {ratio:.2f}x"


def test_a_reference_that_is_not_a_checkout_is_named_with_what_would_be_valid(tmp_path):
    with pytest.raises(SystemExit, match=r"holds no realism_env/batch.py; valid: the root of a checkout"):
        compare_checkouts.main(["--reference", str(tmp_path)])


def test_bad_counts_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="--rounds 0 is invalid; valid: 1 or more"):
        compare_checkouts.main(["--reference", str(ROOT), "--rounds", "0"])
