"""`akg_cli skills list | show NAME`: the knowledge documents agents are given."""

from __future__ import annotations

import typer
from rich.table import Table

from akg_agents.cli.app import console
from akg_agents.config.settings import load_settings
from akg_agents.errors import ConfigError
from akg_agents.skills import load_skills

skills_app = typer.Typer(no_args_is_help=True)


@skills_app.command("list")
def list_skills(dsl: str = typer.Option("", help="Only skills for this DSL.")) -> None:
    """Every skill: packaged ones and those in the settings' skill_dirs."""
    skills = load_skills(load_settings().skill_dirs)
    table = Table(title="Skills")
    for column in ("name", "dsl", "category", "op kinds", "stage", "description"):
        table.add_column(column)
    for skill in skills:
        if dsl and skill.dsl not in (dsl, "any"):
            continue
        table.add_row(skill.name, skill.dsl, skill.category, ", ".join(skill.op_kinds) or "any",
                      ", ".join(skill.stage), skill.description)
    console.print(table)


@skills_app.command("show")
def show_skill(name: str = typer.Argument(..., help="A name from `akg_cli skills list`.")) -> None:
    """Print one skill document."""
    skills = {s.name: s for s in load_skills(load_settings().skill_dirs)}
    if name not in skills:
        raise ConfigError(f"no skill named '{name}'; valid: {', '.join(sorted(skills))}")
    skill = skills[name]
    console.print(f"# {skill.name}  ({skill.dsl}, {skill.category}; from {skill.path})\n", markup=False)
    console.print(skill.body, markup=False)
