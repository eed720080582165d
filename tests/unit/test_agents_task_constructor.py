"""TaskConstructor: the model's task is validated; the error goes back to the model; then it passes."""

from __future__ import annotations

import asyncio

from akg_agents.agents.prompting import AgentIO
from akg_agents.agents.task_constructor import TaskConstructor, task_name
from akg_agents.errors import TaskError
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.meter import MeteredProvider

BAD = "```python\nimport torch\nclass Model(torch.nn.Module):\n    pass\n```"
GOOD = "```python\nimport torch\nclass Model(torch.nn.Module):\n    pass\ndef get_inputs():\n    return []\ndef get_init_inputs():\n    return []\n```"


def test_retries_with_the_validation_error() -> None:
    fake = ScriptedProvider([("# Task: write a KernelBench task", [BAD, GOOD])])
    seen: list[str] = []

    def validate(task) -> None:
        seen.append(task.source)

    task = asyncio.run(TaskConstructor(AgentIO(MeteredProvider(fake))).construct("a fused RMSNorm", validate))
    assert "get_init_inputs" in task.source and len(seen) == 1
    assert "does not define get_inputs, get_init_inputs" in fake.calls[1][1][-1].content


def test_gives_up_with_a_task_error() -> None:
    fake = ScriptedProvider([("# Task: write a KernelBench task", GOOD)])

    def validate(task) -> None:
        raise TaskError("forward raised ValueError")

    try:
        asyncio.run(TaskConstructor(AgentIO(MeteredProvider(fake)), attempts=2).construct("x", validate))
    except TaskError as exc:
        assert "after 2 attempts" in str(exc) and "ValueError" in str(exc), str(exc)
    else:
        raise AssertionError("expected TaskError")
    assert task_name("a fused RMSNorm over 4096-wide fp32 rows, batch 64") == "fused_rmsnorm_fp32"
