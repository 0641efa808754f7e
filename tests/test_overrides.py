"""realism_env.overrides: the one FIELD=VALUE syntax of every --set, and its inverse."""

from __future__ import annotations

import pytest

import realism_env
from realism_env.overrides import format_value, parse_override, parse_value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("offense_defense_balance", 2.0),
        ("provinces_per_nation", 3),
        ("reveal_doctrines", True),
        ("map_kind", "islands"),
        ("capability_shares", (0.3, 0.3, 0.1, 0.1, 0.1, 0.1)),
    ],
)
def test_a_formatted_value_parses_back_to_itself(field, value):
    assert parse_value(field, format_value(value)) == value
    assert realism_env.EnvConfig.from_scenario("multipolar", **dict([parse_override(f"{field}={format_value(value)}")]))


def test_bad_overrides_name_the_field_and_what_is_valid():
    with pytest.raises(ValueError, match="unknown config field 'conquest'; valid: "):
        parse_override("conquest=0.5")
    with pytest.raises(ValueError, match="config field conquest_payoff='lots' is invalid; expected a number"):
        parse_override("conquest_payoff=lots")
    with pytest.raises(ValueError, match="valid: FIELD=VALUE"):
        parse_override("conquest_payoff")


def test_a_list_with_a_value_left_out_is_refused_not_shortened():
    """``0.1,,0.2`` is a typo for three values, not a list of two."""
    with pytest.raises(ValueError, match=r"growth_rates=.0.1,,0.2. is invalid; expected a comma-separated list"):
        parse_override("growth_rates=0.1,,0.2")
    with pytest.raises(ValueError, match="nation_names='a,b,' is invalid"):
        parse_override("nation_names=a,b,")
    assert parse_override("capability_shares=[0.3, 0.7]") == ("capability_shares", (0.3, 0.7))
    assert parse_override("capability_shares=") == ("capability_shares", None)
