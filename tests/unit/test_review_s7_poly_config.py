"""Review (session 7) of the poly_config validation: a model's config that YAML reads into values
JSON cannot carry (a date) crashed the workflow when it was sent to the tracing child
(json.dumps); numbers for the true/false/word keys reversal and privatize were taken as true
(reversal: 1 ran the signed ILP without the isl operation budget that reversal: true gets)."""

from __future__ import annotations

import json

import pytest

from akg_agents.agents.parsing import ParseError
from akg_agents.agents.poly_config import parse_config_answer
from akg_agents.builtin.poly_config import validate_config
from akg_agents.poly.config import ConfigError, from_dict

LOOPS = {"S0": ["i", "j"]}


def test_a_yaml_date_is_a_one_line_error_not_a_crash() -> None:
    with pytest.raises(ParseError, match="invalid config") as info:
        parse_config_answer("```yaml\nbase: cpu_vectorize\nnote: 2024-05-01\n```", LOOPS)
    assert "\n" not in str(info.value)
    # what passes is what the workflow can send to its child
    data = parse_config_answer("```yaml\nbase: cpu_vectorize\nnote: '2024-05-01'\n```", LOOPS)
    json.dumps(data)


@pytest.mark.parametrize("key, value", [("reversal", 1), ("reversal", 1.0), ("privatize", 1)])
def test_numbers_for_word_keys_are_refused(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        from_dict({key: value})
    with pytest.raises(ConfigError, match=key):
        validate_config({key: value}, LOOPS)
