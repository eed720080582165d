"""KernelAgent: reading messages, reading answers, the tool loop and its failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from akg_agents.agents.kernel_agent import (
    KernelAgent,
    ToolCall,
    ToolSpec,
    classify_message,
    parse_tool_call,
    pasted_code,
)
from akg_agents.agents.parsing import ParseError
from akg_agents.errors import LLMError, TaskError
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.meter import MeteredProvider

ROOT = Path(__file__).resolve().parents[2]
RELU = (ROOT / "examples" / "tasks" / "relu.py").read_text()
KERNEL = '''import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SRC = r"""
extern "C" void relu(const float* x, float* y, long n) { for (long i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : 0; }
"""
_lib = load_cpp(SRC)


class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        _lib.relu(x.contiguous(), y, x.numel())
        return y
'''
TOOLS = {"construct_task", "run_workflow", "show"}


@pytest.mark.parametrize(("text", "has_result", "kind"), [
    ("", False, ""),
    ("   \n ", True, ""),
    (RELU, False, "task_code"),
    (f"convert this please\n```python\n{RELU}```", False, "task_code"),
    (KERNEL, False, "kernel_code"),
    ("def add(a, b):\n    c = a + b\n    return c\n", False, "other_code"),
    ("make it faster", True, "follow_up"),
    ("now bf16", True, "follow_up"),
    ("show the kernel", True, "follow_up"),
    ("why is it slow?", True, "follow_up"),
    ("Generate a relu kernel", False, "request"),
    ("a fused RMSNorm for 4096-wide rows", False, "request"),
    ("what can you do?", False, "question"),
    ("hello there", False, "other"),
])
def test_messages_are_classified(text: str, has_result: bool, kind: str) -> None:
    assert classify_message(text, has_result) == kind


def test_pasted_code_takes_the_fenced_block_or_the_whole_paste() -> None:
    assert pasted_code(f"here:\n```python\n{RELU}```\nthanks") == RELU
    assert pasted_code(RELU).strip() == RELU.strip()
    assert pasted_code("Generate a relu kernel") == ""


@pytest.mark.parametrize("answer", [
    '{"kind": "request", "tool": "construct_task", "args": {"request": "relu"}}',
    'Sure!\n```json\n{"kind": "request", "tool": "construct_task", "args": {"request": "relu"}}\n```',
    '<think>the user wants {a kernel}</think>\nI will write the task. {"tool": "construct_task", "args": {"request": "relu",},}',
    "{'tool': 'construct_task', 'args': {'request': 'relu'}, 'kind': 'request'}",
    '{"name": "construct_task", "arguments": "{\\"request\\": \\"relu\\"}"}',
])
def test_tool_calls_are_found_however_they_are_wrapped(answer: str) -> None:
    call = parse_tool_call(answer, TOOLS)
    assert call.tool == "construct_task" and call.args == {"request": "relu"}


def test_prose_without_json_is_a_reply_and_bad_calls_say_why() -> None:
    assert parse_tool_call("The kernel is memory-bound.", TOOLS) == ToolCall("reply", {"text": "The kernel is memory-bound."})
    assert parse_tool_call('{"tool": "reply", "text": "done"}', TOOLS | {"reply"}).args == {"text": "done"}
    assert parse_tool_call('{"tool": "show", "kernel": "k2", "say": "here"}', TOOLS) == ToolCall("show", {"kernel": "k2"}, "other", "here")
    with pytest.raises(ParseError, match="unknown tool 'compile'"):
        parse_tool_call('{"tool": "compile", "args": {}}', TOOLS)
    with pytest.raises(ParseError, match='no JSON object with a "tool"'):
        parse_tool_call('{"answer": 42}', TOOLS)
    with pytest.raises(ParseError, match="must be a JSON object"):
        parse_tool_call('{"tool": "show", "args": [1]}', TOOLS)


class FakeTool:
    def __init__(self, name: str, result: str | Exception) -> None:
        self.spec = ToolSpec(name, "{}", f"the {name} tool")
        self.result = result
        self.seen: list[dict[str, Any]] = []

    def __call__(self, args: dict[str, Any]) -> str:
        self.seen.append(args)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Events:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def thinking(self, step: int) -> None:
        self.lines.append(f"thinking {step}")

    def acting(self, call: ToolCall) -> None:
        self.lines.append(f"acting {call.tool}")

    def observed(self, call: ToolCall, observation: str, failed: bool) -> None:
        self.lines.append(f"observed {call.tool} {'FAILED' if failed else 'ok'}")


def agent_with(rules: list[tuple[str, Any]], tools: dict[str, FakeTool]) -> tuple[KernelAgent, ScriptedProvider]:
    fake = ScriptedProvider(rules)
    agent = KernelAgent(MeteredProvider(fake), dict(tools), lambda: {"target": "cpu/x86_64, dsl cpp", "current_task": ""})
    return agent, fake


def test_the_loop_calls_tools_until_the_model_replies() -> None:
    construct = FakeTool("construct_task", "task t1 'relu' written and validated")
    run = FakeTool("run_workflow", "Recorded as k1: passed, 1.50x over eager")
    answers = ['{"kind": "request", "say": "Writing the task.", "tool": "construct_task", "args": {"request": "relu 1024x4096"}}',
               '{"tool": "run_workflow", "args": {"workflow": "default"}}',
               '{"tool": "reply", "args": {"text": "k1 passed: 1.50x over eager."}}']
    agent, fake = agent_with([("", answers)], {"construct_task": construct, "run_workflow": run})
    history: list[list[str]] = []
    events = Events()
    turn = agent.handle("Generate a relu kernel", "a request in words", history, events)
    assert turn.reply == "k1 passed: 1.50x over eager."
    assert [c.tool for c in turn.calls] == ["construct_task", "run_workflow", "reply"]
    assert construct.seen == [{"request": "relu 1024x4096"}] and run.seen == [{"workflow": "default"}]
    assert events.lines == ["thinking 1", "acting construct_task", "observed construct_task ok", "thinking 2",
                            "acting run_workflow", "observed run_workflow ok", "thinking 3"]
    # the model saw the tool's result, and the system prompt lists the tools and the answer format
    last_messages = fake.calls[-1][1]
    assert "Observation from run_workflow:\nRecorded as k1" in last_messages[-1].content
    assert "- construct_task {}: the construct_task tool" in last_messages[0].content
    assert '"tool": "<tool name>"' in last_messages[0].content


def test_an_unusable_answer_is_sent_back_with_the_reason() -> None:
    answers = ['{"tool": "compile_it", "args": {}}', '{"tool": "reply", "args": {"text": "done"}}']
    agent, fake = agent_with([("", answers)], {})
    turn = agent.handle("hello", "words", [], Events())
    assert turn.reply == "done"
    assert "unknown tool 'compile_it'" in fake.calls[1][1][-1].content


def test_a_failing_tool_is_an_observation_the_model_can_act_on() -> None:
    failing = FakeTool("construct_task", TaskError("the constructed task: not a KernelBench task", hint="define Model"))
    answers = ['{"tool": "construct_task", "args": {"request": "?"}}',
               '{"tool": "reply", "args": {"text": "I could not write a valid task; please give shapes."}}']
    agent, fake = agent_with([("", answers)], {"construct_task": failing})
    events = Events()
    turn = agent.handle("make me something", "words", [], events)
    assert "observed construct_task FAILED" in events.lines
    assert "FAILED: the constructed task: not a KernelBench task (define Model)" in fake.calls[1][1][-1].content
    assert turn.reply.startswith("I could not")


def test_a_provider_failure_ends_the_turn_with_llm_error() -> None:
    agent, _ = agent_with([("never matches this marker", "x")], {})
    with pytest.raises(LLMError, match="no scripted answer"):
        agent.handle("Generate a relu kernel", "a request in words", [], Events())


def test_the_loop_is_bounded() -> None:
    show = FakeTool("show", "shown k1")
    agent, _ = agent_with([("", '{"tool": "show", "args": {"kernel": "k1"}}')], {"show": show})
    agent.max_steps = 3
    turn = agent.handle("show it", "a follow-up", [], Events())
    assert len(show.seen) == 3 and "stopped after 3 tool steps" in turn.reply
