"""Skills: markdown knowledge documents with front matter, selected per task and stage.

    library.py   find and parse documents (package knowledge/<dsl>/*.md + settings `skill_dirs`)
    select.py    deterministic selection within a token budget, and rendering for prompts
"""

from akg_agents.skills.library import Skill, load_skills
from akg_agents.skills.select import render_skills, select_skills

__all__ = ["Skill", "load_skills", "render_skills", "select_skills"]
