"""benchmarks.memory: the memory a world takes, from each configuration's peak in a process of its own."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from benchmarks.memory import main, per_world_fit

#: a fresh process fills 256 MiB and reports its peak before and after (a test process's own peak is long past)
_FILL = """
import json, numpy as np
from realism_env.backend import peak_memory_bytes, reset_peak_memory
before = peak_memory_bytes("cpu")
filled = np.ones(2**25)  # 256 MiB of float64, every page written
after = peak_memory_bytes("cpu")
del filled
reset_peak_memory("cpu")  # a run that follows in the same process: its own peak
print(json.dumps([before, after, peak_memory_bytes("cpu"), peak_memory_bytes("meta")]))
"""


def test_the_peak_memory_of_the_cpu_counts_an_array_the_process_fills_until_reset() -> None:
    before, after, reset, elsewhere = json.loads(subprocess.check_output([sys.executable, "-c", _FILL], text=True))
    assert 250 * 2**20 <= after - before <= 300 * 2**20
    assert reset < after - 200 * 2**20  # the array, freed, is no longer the peak
    assert elsewhere is None  # a device it cannot read says so


def test_the_fit_splits_peaks_into_a_fixed_part_and_a_part_per_world() -> None:
    per_world, fixed = per_world_fit([10, 100, 1000], [5000.0 + 40.0 * n for n in (10, 100, 1000)])
    assert per_world == pytest.approx(40.0) and fixed == pytest.approx(5000.0)
    assert per_world_fit([8], [800.0]) == (100.0, 0.0)  # one count: all of it per world


@pytest.mark.slow
def test_each_part_prints_its_peaks_its_fit_and_the_worlds_that_fit(capsys: pytest.CaptureFixture) -> None:
    sizes = ["--worlds", "8", "64", "--trainer-worlds", "4", "16", "--max-cycles", "3", "--n-steps", "4"]
    main([*sizes, "--batch-size", "64", "--memory-gib", "2"])
    out = capsys.readouterr().out
    assert out.count("fit: ") == 2 and "WorldBatch, numpy (float64)" in out and "train.fast_ppo, per_nation" in out
    for table in out.split("\n\n")[1:3]:
        rows = re.findall(r"^\s+([\d,]+)\s+([\d,.]+)\s+([\d,.]+)$", table, re.M)
        assert len(rows) == 2, table
        for worlds, peak, per_world in rows:  # a process's peak, and that peak over the worlds
            worlds, peak, per_world = (float(x.replace(",", "")) for x in (worlds, peak, per_world))
            assert peak > 10 and per_world == pytest.approx(peak * 1024 / worlds, rel=0.01, abs=0.1)
        assert re.search(r"worlds that fit in 2 GiB \(--memory-gib\): about [\d,]+$", table, re.M), table
    assert re.search(r"x state \(\d+\.\d KiB\)", out)  # the batch's slope against one world's own arrays


def test_bad_arguments_are_refused_before_measuring(capsys: pytest.CaptureFixture) -> None:
    for argv, expected in (
        (["--worlds", "0"], "--worlds 0 is invalid; valid: integers >= 1"),
        (["--device", "cuda"], "device='cuda' is invalid for the numpy backend"),
        (["--scenario", "mars"], "unknown scenario 'mars'; valid:"),
        (["--batch-size", "0"], "--batch-size 0 is invalid"),
        (["--memory-gib", "-1"], "--memory-gib -1.0 is invalid; valid: a number > 0"),
    ):
        with pytest.raises(SystemExit):
            main(argv)
        assert expected in capsys.readouterr().err
