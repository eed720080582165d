"""Deterministic skill selection: metadata filter, op-kind and keyword scores, token budget.

1. Keep skills for this DSL (or dsl: any) and this stage.
2. Score: 3 per op kind shared with the analysis (a skill with no op_kinds matches any task at 1),
   plus 1 per distinct keyword of the skill found in the query (task source + analysis).
3. Take the best skill of each category first (categories by their best score), then the rest by
   score; stop adding when the budget (estimated tokens) is reached. Ties break by name.
Rendering puts every selected skill, under its category, into the prompt text.
"""

from __future__ import annotations

import re

from akg_agents.skills.library import Skill

WORD = re.compile(r"[a-z][a-z0-9_]{2,}")
STOP = {"the", "and", "for", "with", "that", "this", "from", "into", "are", "not", "one", "each", "per"}


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def score(skill: Skill, op_kinds: list[str], query_words: set[str]) -> int:
    kinds = 3 * len(set(skill.op_kinds) & set(op_kinds)) if skill.op_kinds else 1
    if skill.op_kinds and kinds == 0:
        return 0  # written for other kinds of ops
    own = _words(" ".join([skill.name.replace("-", " "), skill.description, *skill.keywords]))
    return kinds + len(own & query_words)


def select_skills(skills: list[Skill], dsl: str, stage: str, op_kinds: list[str], query: str,
                  budget_tokens: int = 3000) -> list[Skill]:
    words = _words(query)
    scored = [(score(s, op_kinds, words), s) for s in skills
              if s.dsl in (dsl, "any") and stage in s.stage]
    ranked = [s for sc, s in sorted(scored, key=lambda p: (-p[0], p[1].name)) if sc > 0]
    leaders: dict[str, Skill] = {}
    for skill in ranked:
        leaders.setdefault(skill.category, skill)
    order = list(leaders.values()) + [s for s in ranked if s not in leaders.values()]
    chosen: list[Skill] = []
    used = 0
    for skill in order:
        if used + skill.tokens > budget_tokens:
            continue
        chosen.append(skill)
        used += skill.tokens
    return chosen


def render_skills(skills: list[Skill]) -> str:
    if not skills:
        return ""
    parts: list[str] = []
    for category in sorted({s.category for s in skills}):
        parts.append(f"### Category: {category}")
        for skill in (s for s in skills if s.category == category):
            parts.append(f"#### Skill `{skill.name}`: {skill.description}\n\n{skill.body}")
    return "\n\n".join(parts)
