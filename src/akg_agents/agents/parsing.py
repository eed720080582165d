"""Output parsing that survives real model output.

Models wrap code in fences (sometimes several, sometimes unterminated when the answer was cut),
think aloud in <think> tags, bold their keywords and write diffs that do not quite match. Every
parser here either returns something usable or raises ParseError with a reason precise enough to
send back to the model ("SEARCH block 2 does not occur in the code: ...").
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from akg_agents.llm.base import split_reasoning

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE)
OPEN_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n", re.MULTILINE)


class ParseError(ValueError):
    """The answer cannot be used; the message is what the model is told."""


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) for every fenced block; an unterminated last fence counts as a block."""
    text, _ = split_reasoning(text)
    blocks = [(m.group(2).lower(), m.group(3)) for m in FENCE.finditer(text)]
    tail_start = FENCE.sub("", text)
    opened = OPEN_FENCE.search(tail_start)
    if opened:  # a fence opened and never closed (answer cut off, or a forgotten ```)
        blocks.append((opened.group(1).lower(), tail_start[opened.end():]))
    return blocks


def extract_module(text: str, must_define: str = "ModelNew") -> str:
    """The Python module in the answer that defines `must_define` (the last one if several)."""
    blocks = code_blocks(text)
    pattern = re.compile(rf"^class\s+{must_define}\b|^{must_define}\s*=", re.MULTILINE)
    defining = [code for lang, code in blocks if lang in ("", "python", "py", "python3") and pattern.search(code)]
    if not defining:
        defining = [code for _, code in blocks if pattern.search(code)]
    if not defining:
        bare, _ = split_reasoning(text)
        if pattern.search(bare) and not blocks:
            defining = [bare]
    if not defining:
        raise ParseError(f"the answer has no ```python block defining `{must_define}`")
    code = defining[-1].strip("\n") + "\n"
    try:
        ast.parse(code)
    except SyntaxError as exc:
        raise ParseError(f"the Python block does not parse: line {exc.lineno}: {exc.msg}") from None
    return code


@dataclass(frozen=True)
class Edit:
    search: str
    replace: str


EDIT = re.compile(r"^<{5,}\s*SEARCH[^\n]*\n(.*?)^={5,}[ \t]*\n(.*?)^>{5,}\s*REPLACE[^\n]*$", re.DOTALL | re.MULTILINE)


def parse_edits(text: str) -> list[Edit]:
    answer, _ = split_reasoning(text)
    edits = [Edit(m.group(1), m.group(2)) for m in EDIT.finditer(answer)]
    if not edits:
        raise ParseError("the answer has no SEARCH/REPLACE block (<<<<<<< SEARCH ... ======= ... >>>>>>> REPLACE)")
    return edits


def apply_edits(code: str, edits: list[Edit]) -> str:
    """Apply each edit once, in order; exact match first, then ignoring indentation and trailing spaces."""
    for number, edit in enumerate(edits, start=1):
        if not edit.search.strip():
            raise ParseError(f"SEARCH block {number} is empty")
        count = code.count(edit.search)
        if count == 1:
            code = code.replace(edit.search, edit.replace, 1)
            continue
        if count > 1:
            raise ParseError(f"SEARCH block {number} occurs {count} times; include more lines so it is unique")
        code = _apply_loose(code, edit, number)
    return code


def _apply_loose(code: str, edit: Edit, number: int) -> str:
    lines = code.splitlines(keepends=True)
    wanted = [line.strip() for line in edit.search.strip("\n").splitlines()]
    hits = [i for i in range(len(lines) - len(wanted) + 1)
            if [line.strip() for line in lines[i:i + len(wanted)]] == wanted]
    if len(hits) != 1:
        first = wanted[0][:80] if wanted else ""
        where = "does not occur" if not hits else f"occurs {len(hits)} times"
        raise ParseError(f"SEARCH block {number} {where} in the code (first line: '{first}'); "
                         "copy the lines exactly from the current code")
    start = hits[0]
    # Re-indent the replacement by the difference between the code's and the block's indentation.
    found_indent = _indent(lines[start])
    block_indent = _indent(edit.search.strip("\n").splitlines()[0])
    replacement = []
    for line in edit.replace.strip("\n").splitlines():
        stripped = line[len(block_indent):] if line.startswith(block_indent) else line.lstrip()
        replacement.append((found_indent + stripped if line.strip() else "") + "\n")
    return "".join(lines[:start] + replacement + lines[start + len(wanted):])


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


@dataclass(frozen=True)
class Decision:
    action: str  # fix | regenerate | stop
    reason: str
    suggestion: str = ""


def parse_decision(text: str) -> Decision:
    answer, _ = split_reasoning(text)
    plain = answer.replace("**", "").replace("__", "")
    found = re.search(r"^\W*DECISION\W*[:=]?\s*\W*(fix|regenerate|stop)\b", plain, re.IGNORECASE | re.MULTILINE)
    if not found:
        raise ParseError("the answer has no line 'DECISION: fix', 'DECISION: regenerate' or 'DECISION: stop'")
    reason = re.search(r"^\W*REASON\W*[:=]\s*(.+)$", plain, re.IGNORECASE | re.MULTILINE)
    suggestion = re.search(r"^\W*SUGGESTION\W*[:=]\s*(.*)", plain, re.IGNORECASE | re.MULTILINE | re.DOTALL)
    return Decision(found.group(1).lower(), reason.group(1).strip() if reason else "(no reason given)",
                    suggestion.group(1).strip() if suggestion else "")


def parse_params(text: str) -> dict[str, str]:
    """`- NAME = VALUE` / `- NAME: VALUE` lines under a 'Tunable parameters' heading."""
    answer, _ = split_reasoning(text)
    section = re.split(r"^#+\s*Tunable parameters.*$", answer, flags=re.IGNORECASE | re.MULTILINE)
    if len(section) < 2:
        return {}
    params: dict[str, str] = {}
    for line in section[1].splitlines():
        if line.startswith("#"):
            break
        m = re.match(r"^\s*[-*]\s*`?([A-Za-z_][\w]*)`?\s*[:=]\s*`?([^`\s(,;]+)", line)
        if m:
            params[m.group(1)] = m.group(2)
    return params
