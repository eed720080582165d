"""Skill documents: front matter, deterministic selection, every selected category in the prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from akg_agents.agents.prompting import render
from akg_agents.errors import ConfigError
from akg_agents.skills import load_skills, render_skills, select_skills


def test_cpp_skills_parse_and_follow_the_tutorial_order() -> None:
    skills = [s for s in load_skills() if s.dsl == "cpp"]
    assert len(skills) >= 5
    for skill in skills:
        heads = [line for line in skill.body.splitlines() if line.startswith("## ")]
        order = ["## Why", "## The kernel", "## The launcher", "## The check", "## The benchmark"]
        assert [h for h, want in zip(heads, order, strict=False) if h.startswith(want)] == heads[:5], skill.name


def test_selection_is_deterministic_budgeted_and_relevant() -> None:
    skills = load_skills()
    norm = select_skills(skills, "cpp", "codegen", ["norm"], "LayerNorm variance eps")
    assert norm == select_skills(skills, "cpp", "codegen", ["norm"], "LayerNorm variance eps")
    assert norm[0].name == "cpp-stable-softmax-norms"
    relu = [s.name for s in select_skills(skills, "cpp", "codegen", ["elementwise"], "relu")]
    assert "cpp-stable-softmax-norms" not in relu and "cpp-vectorization" in relu
    small = select_skills(skills, "cpp", "codegen", ["norm"], "norm", budget_tokens=1200)
    assert sum(s.tokens for s in small) <= 1200
    assert "cpp-fixing-failures" in [s.name for s in select_skills(skills, "cpp", "fix", ["norm"], "")]


def test_every_selected_category_reaches_the_prompt() -> None:
    chosen = select_skills(load_skills(), "cpp", "codegen", ["softmax"], "softmax exp")
    text = render_skills(chosen)
    prompt = render("designer.j2", task_source="x", analysis="a", dsl="cpp", backend="cpu", arch="x86_64",
                    contract="c", skills=text)
    for skill in chosen:
        assert f"### Category: {skill.category}" in prompt and f"Skill `{skill.name}`" in prompt


def test_user_skill_dirs_add_and_replace(tmp_path: Path) -> None:
    (tmp_path / "mine.md").write_text("---\nname: my-trick\ndsl: cpp\ncategory: tricks\ndescription: mine\n---\nbody")
    assert "my-trick" in [s.name for s in load_skills([str(tmp_path)])]
    (tmp_path / "bad.md").write_text("no front matter")
    with pytest.raises(ConfigError, match="no front matter"):
        load_skills([str(tmp_path)])
