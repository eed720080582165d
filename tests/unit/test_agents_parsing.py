"""Output parsing on the kinds of answers real models give."""

from __future__ import annotations

import pytest

from akg_agents.agents.parsing import (
    ParseError,
    apply_edits,
    extract_module,
    parse_decision,
    parse_edits,
    parse_params,
)

CODE = "import torch\n\nclass ModelNew:\n    def forward(self, x):\n        return x\n"


def test_extract_module_picks_the_last_defining_block_and_ignores_think() -> None:
    text = f"<think>```python\nclass ModelNew: wrong\n```</think>Draft:\n```cpp\nint x;\n```\n```python\n{CODE}```\nFinal:\n```python\n{CODE.replace('x', 'y')}```"
    assert "return y" in extract_module(text)


def test_extract_module_accepts_an_unterminated_fence_and_rejects_prose() -> None:
    assert "class ModelNew" in extract_module("Here it is\n```python\n" + CODE)
    with pytest.raises(ParseError, match="no ```python block"):
        extract_module("I would write a kernel that ...")
    with pytest.raises(ParseError, match="does not parse"):
        extract_module("```python\nclass ModelNew(:\n```")


def test_edits_apply_exactly_or_loosely_and_explain_failures() -> None:
    answer = "<<<<<<< SEARCH\n        return x\n=======\n        return x + 1\n>>>>>>> REPLACE\n"
    assert "return x + 1" in apply_edits(CODE, parse_edits(answer))
    loose = "<<<<<<< SEARCH\nreturn x\n=======\nreturn x * 2\n>>>>>>> REPLACE"
    assert "        return x * 2\n" in apply_edits(CODE, parse_edits(loose))
    missing = "<<<<<<< SEARCH\nreturn z\n=======\nreturn 0\n>>>>>>> REPLACE"
    with pytest.raises(ParseError, match="SEARCH block 1 does not occur"):
        apply_edits(CODE, parse_edits(missing))
    with pytest.raises(ParseError, match="no SEARCH/REPLACE"):
        parse_edits("just change line 3")


def test_decision_survives_markdown_and_reasoning() -> None:
    d = parse_decision("<think>stop? no</think>**DECISION:** Fix\n**REASON:** shape wrong\nSUGGESTION: use (n,)\nand more")
    assert (d.action, d.reason) == ("fix", "shape wrong") and d.suggestion.startswith("use (n,)")
    with pytest.raises(ParseError):
        parse_decision("I think we should fix it")


def test_params_from_the_design_sketch() -> None:
    sketch = "## Plan\nx\n## Tunable parameters\n- BLOCK = 256  (64..1024)\n- `SCHEDULE`: static\n## Risks\n- BAD = 1"
    assert parse_params(sketch) == {"BLOCK": "256", "SCHEDULE": "static"}
