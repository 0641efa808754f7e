"""benchmarks.operations prints each operation beside its reference and their ratio (a figure, never a timed test)."""

from __future__ import annotations

import re

import pytest

from benchmarks.operations import main


def test_every_operation_is_printed_beside_its_reference_with_their_ratio(capsys: pytest.CaptureFixture) -> None:
    main(["--worlds", "8", "--nations", "3", "--repeats", "3"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if re.match(r"^(numpy|torch) ", line)]
    torch_installed = any(line.startswith("torch") for line in rows)
    assert len(rows) == 4 + (5 if torch_installed else 0), lines
    assert all(re.search(r"\d+\.\d+x$", row) for row in rows), rows
    assert all("[8, 3, 3]" in row for row in rows if "tanh" not in row)
    for row in rows:  # the ratio is the operation's time over its reference's, within the printed precision
        found, reference, ratio = (float(x) for x in ROW.search(row).groups())
        low, high = (found - 0.05) / (reference + 0.05), (found + 0.05) / max(reference - 0.05, 1e-9)
        assert low - 0.05 <= ratio <= high + 0.05, row


#: a row's end: the operation's microseconds, its reference's name and microseconds, and the ratio
ROW = re.compile(r"\s(\d+\.\d)\s{2,}\S.*?\s(\d+\.\d)\s+(\d+\.\d+)x$")


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--nations", "1"])
