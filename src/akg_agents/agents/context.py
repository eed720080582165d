"""What every kernel agent needs to know about the job: task, target, DSL text, analysis, skills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from akg_agents.records import Task


@dataclass(frozen=True)
class KernelJob:
    task: Task
    dsl: str
    backend: str
    arch: str
    contract: str
    example: str
    language: str
    analysis: str  # OpAnalysis.text()
    skills: str = ""  # rendered knowledge for this stage

    def variables(self) -> dict[str, Any]:
        return {"task_source": self.task.source.strip(), "dsl": self.dsl, "backend": self.backend, "arch": self.arch,
                "contract": self.contract.strip(), "example": self.example.strip(), "language": self.language,
                "analysis": self.analysis, "skills": self.skills}
