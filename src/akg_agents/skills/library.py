"""Knowledge documents: `---` YAML front matter, then markdown.

    ---
    name: cpp-openmp-rows
    dsl: cpp                      # or "any"
    category: parallelism         # every selected category reaches the prompt
    op_kinds: [elementwise, reduction]   # from the op analysis; [] = any op
    stage: [design, codegen]      # design | codegen | fix
    description: one line, also used for keyword relevance
    ---
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from akg_agents.dsl.registry import plugin_skill_dirs
from akg_agents.errors import ConfigError

REQUIRED = ("name", "dsl", "category", "description")
STAGES = ("design", "codegen", "fix")


@dataclass(frozen=True)
class Skill:
    name: str
    dsl: str
    category: str
    description: str
    body: str
    op_kinds: tuple[str, ...] = ()
    stage: tuple[str, ...] = STAGES
    path: str = ""
    keywords: tuple[str, ...] = field(default=())

    @property
    def tokens(self) -> int:
        return (len(self.body) + len(self.description)) // 4 + 8


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def parse_skill(text: str, where: str) -> Skill:
    if not text.startswith("---"):
        raise ConfigError(f"skill {where}: no front matter (the file must start with ---)")
    try:
        _, head, body = text.split("---", 2)
        meta = yaml.safe_load(head) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"skill {where}: unreadable front matter ({str(exc).splitlines()[0]})") from None
    missing = [k for k in REQUIRED if not meta.get(k)]
    if missing:
        raise ConfigError(f"skill {where}: front matter lacks {', '.join(missing)}")
    stage = _as_tuple(meta.get("stage")) or STAGES
    bad = [s for s in stage if s not in STAGES]
    if bad:
        raise ConfigError(f"skill {where}: unknown stage {', '.join(bad)} (use {', '.join(STAGES)})")
    return Skill(name=str(meta["name"]), dsl=str(meta["dsl"]), category=str(meta["category"]),
                 description=str(meta["description"]), body=body.strip(), op_kinds=_as_tuple(meta.get("op_kinds")),
                 stage=stage, path=where, keywords=_as_tuple(meta.get("keywords")))


def _package_files() -> list[tuple[str, str]]:
    root = resources.files("akg_agents.skills").joinpath("knowledge")
    found: list[tuple[str, str]] = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        if folder.is_dir():
            for item in sorted(folder.iterdir(), key=lambda p: p.name):
                if item.name.endswith(".md"):
                    found.append((f"knowledge/{folder.name}/{item.name}", item.read_text()))
    return found


def load_skills(extra_dirs: list[str] | None = None) -> list[Skill]:
    """Package skills, then user folders; a user skill with the same name replaces the package one."""
    by_name: dict[str, Skill] = {}
    for where, text in _package_files():
        skill = parse_skill(text, where)
        by_name[skill.name] = skill
    for directory in [*plugin_skill_dirs(), *(extra_dirs or [])]:  # installed DSL plugins' own, then the user's
        root = Path(directory).expanduser()
        if not root.is_dir():
            raise ConfigError(f"skill_dirs: {root} is not a folder")
        for file in sorted(root.rglob("*.md")):
            skill = parse_skill(file.read_text(), str(file))
            by_name[skill.name] = skill
    return sorted(by_name.values(), key=lambda s: s.name)
