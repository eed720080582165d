"""KernelAgent: the conversation's agent. Each user message -> a few tool calls -> a reply.

Provider-agnostic tool calling: our Provider protocol is `complete(messages, level) -> Completion`
(plain text), so the model is asked to answer with ONE JSON object per turn, in text:

    {"kind": "request", "say": "Writing the task first.", "tool": "construct_task",
     "args": {"request": "elementwise ReLU on a 1024x4096 fp32 tensor"}}

`parse_tool_call` finds it whatever the wrapping (a ```json fence, prose around it, <think>,
Python-style quotes, trailing commas); an answer with no JSON object at all is taken as a plain
reply to the user (models do that). The tool's result goes back as the next user message
("Observation from construct_task: ..."), until the model calls `reply` or the step limit is hit.
A tool that fails (a bad argument, a task that does not run) is an observation too: the model
sees the one line and can try something else; a provider that fails ends the turn with LLMError.

`classify_message` is the rule-based reading of a message (task code, kernel code, other code,
a follow-up, a request in words); the model gets it as a hint, and the built-in session (no
model) acts on it alone.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from akg_agents.agents.parsing import ParseError, code_blocks
from akg_agents.agents.prompting import Metered, Sink, render
from akg_agents.errors import AkgError, LLMError
from akg_agents.llm.base import Message, split_reasoning

KINDS = ("request", "task_code", "kernel_code", "other_code", "follow_up", "question", "other")
FOLLOW_UP = re.compile(r"\b(faster|speed|slow|bf16|fp16|fp32|half|precision|show|diff|export|profile|verify|"
                       r"again|kernel|why|better|tune|it|this|that)\b", re.IGNORECASE)
MAX_STEPS = 8
HISTORY_MESSAGES = 30  # the conversation the model sees: the last N messages (plus the system prompt)
OBSERVATION_CHARS = 6000


@dataclass(frozen=True)
class ToolSpec:
    name: str
    args: str  # the JSON arguments, described for the prompt, e.g. '{"request": "<text>"}'
    does: str


class Tool(Protocol):
    spec: ToolSpec

    def __call__(self, args: dict[str, Any]) -> str:
        """Do it; return the observation (what the model reads next). Raise AkgError when it fails."""
        ...


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    kind: str = "other"
    say: str = ""


# -- reading a message -------------------------------------------------------------------------


def pasted_code(text: str) -> str:
    """The code of a message: its fenced block, or the message itself when it reads as code."""
    blocks = [code for lang, code in code_blocks(text) if code.strip()]
    if blocks:
        return max(blocks, key=len)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    code_like = sum(1 for line in lines if re.match(r"\s*(import |from \S+ import |class |def |@|#include|return |"
                                                     r"[\w.]+\s*=|\}|.*;\s*$)", line))
    return text.strip() + "\n" if len(lines) >= 3 and code_like * 2 >= len(lines) else ""


def _defines(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(re.findall(r"^(?:class|def)\s+(\w+)", code, re.MULTILINE))
    return {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))} | {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}


def classify_message(text: str, has_result: bool = False) -> str:
    """request | task_code | kernel_code | other_code | follow_up | question | other ('' when empty)."""
    if not text.strip():
        return ""
    code = pasted_code(text)
    if code:
        names = _defines(code)
        if "ModelNew" in names or re.search(r"@triton\.jit|__global__|extern \"C\"|load_inline|load_cpp", code):
            return "kernel_code"
        if {"Model", "get_inputs", "get_init_inputs"} <= names:
            return "task_code"
        return "other_code"
    words = text.strip()
    if has_result and (FOLLOW_UP.search(words) and len(words.split()) <= 12):
        return "follow_up"
    if words.endswith("?"):
        return "question"
    if re.search(r"\b(kernel|op|operator|generate|write|implement|fuse|fused|port|convert|relu|softmax|norm|"
                 r"matmul|gemm|conv|reduce|sum|attention|gelu|activation)\b", words, re.IGNORECASE):
        return "request"
    return "other"


# -- reading an answer ---------------------------------------------------------------------------


def _json_objects(text: str) -> list[str]:
    """Balanced {...} spans, outermost first, strings respected."""
    spans, depth, start, quote, escaped = [], 0, -1, "", False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'" and depth:
            quote = char
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start:index + 1])
    return spans


def _load_object(span: str) -> dict[str, Any] | None:
    for attempt in (span, re.sub(r",\s*([}\]])", r"\1", span)):
        try:
            value = json.loads(attempt)
        except json.JSONDecodeError:
            try:  # Python-style: single quotes, True/None
                value = ast.literal_eval(attempt)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
        if isinstance(value, dict):
            return value
    return None


def parse_tool_call(text: str, tools: set[str]) -> ToolCall:
    """The answer's tool call; prose without any JSON object is a reply. ParseError (sent back to
    the model) when an object is there but names no known tool or has unusable arguments."""
    answer, _ = split_reasoning(text)
    fenced = [code for lang, code in code_blocks(answer) if lang in ("json", "", "javascript")]
    objects = [obj for span in [*fenced, answer] for obj in map(_load_object, _json_objects(span)) if obj is not None]
    calls = [obj for obj in objects if "tool" in obj or "name" in obj]
    if not calls:
        if objects or not answer.strip():
            raise ParseError('the answer has no JSON object with a "tool" field; answer with exactly one, e.g. '
                             '{"tool": "reply", "args": {"text": "..."}}')
        return ToolCall("reply", {"text": answer.strip()}, "other")
    call = calls[0]
    name = str(call.get("tool") or call.get("name") or "").strip()
    if name not in tools:
        raise ParseError(f"unknown tool '{name}'; the tools are: {', '.join(sorted(tools))}")
    # {"tool": "reply", "text": "..."}: arguments written beside the tool name count as its arguments
    flat = {k: v for k, v in call.items() if k not in ("tool", "name", "kind", "say")}
    args = call.get("args", call.get("arguments", flat))
    if isinstance(args, str):
        args = _load_object(args) or {"text": args}
    if not isinstance(args, dict):
        raise ParseError(f'"args" of {name} must be a JSON object')
    kind = str(call.get("kind", "other"))
    return ToolCall(name, args, kind if kind in KINDS else "other", str(call.get("say", "") or ""))


# -- the loop ------------------------------------------------------------------------------------


class Events(Protocol):
    """What the session shows while the agent works."""

    def thinking(self, step: int) -> None: ...

    def acting(self, call: ToolCall) -> None: ...

    def observed(self, call: ToolCall, observation: str, failed: bool) -> None: ...


@dataclass
class Turn:
    reply: str
    calls: list[ToolCall] = field(default_factory=list)


class KernelAgent:
    """`history`: the conversation so far as (role, content) pairs; the agent appends to it."""

    def __init__(self, llm: Metered, tools: dict[str, Tool], context: Callable[[], dict[str, Any]],
                 sink: Sink | None = None, level: str = "standard", max_steps: int = MAX_STEPS,
                 retries: int = 2) -> None:
        self.llm = llm
        self.tools = tools
        self.context = context  # the state the system prompt shows (target, tasks, kernels ...)
        self.sink = sink
        self.level = level
        self.max_steps = max_steps
        self.retries = retries
        self.calls = 0

    def system_prompt(self) -> str:
        specs = [tool.spec for tool in self.tools.values()]
        state = {"target": "", "current_task": "", "tasks": [], "kernels": [], "pastes": [], "sketch": False,
                 **self.context()}
        return render("kernel_agent.j2", tools=specs, kinds=KINDS, **state)

    def handle(self, message: str, hint: str, history: list[list[str]], events: Events) -> Turn:
        """One user message to its reply. Blocking: tools run workflows on their own event loops."""
        history.append(["user", f"{message}\n\n[akg_agents: this message reads as: {hint}]"])
        turn = Turn("")
        for step in range(1, self.max_steps + 1):
            events.thinking(step)
            call = self._next_call(history)
            turn.calls.append(call)
            if call.tool == "reply":
                turn.reply = str(call.args.get("text", "")).strip() or call.say or "(no reply)"
                return turn
            events.acting(call)
            observation, failed = self._run(call)
            events.observed(call, observation, failed)
            history.append(["user", f"Observation from {call.tool}:\n{observation[:OBSERVATION_CHARS]}"])
        turn.reply = f"I stopped after {self.max_steps} tool steps for this message; ask me to continue if needed."
        history.append(["assistant", json.dumps({"tool": "reply", "args": {"text": turn.reply}})])
        return turn

    def _run(self, call: ToolCall) -> tuple[str, bool]:
        try:
            return self.tools[call.tool](call.args), False
        except AkgError as problem:
            hint = f" ({problem.hint})" if problem.hint else ""
            return f"FAILED: {problem}{hint}", True

    def _next_call(self, history: list[list[str]]) -> ToolCall:
        names = set(self.tools) | {"reply"}
        extra: list[Message] = []
        for attempt in range(self.retries + 1):
            messages = [Message("system", self.system_prompt()),
                        *(Message(role, content) for role, content in history[-HISTORY_MESSAGES:]), *extra]
            completion = asyncio.run(self.llm.complete(messages, self.level, agent="kernel_agent"))
            self._save(messages, completion.text)
            try:
                call = parse_tool_call(completion.text, names)
            except ParseError as problem:
                if self.sink is not None:
                    self.sink.event("answer_unusable", agent="kernel_agent", reason=str(problem), attempt=attempt + 1)
                extra = [*extra, Message("assistant", completion.text),
                         Message("user", render("unusable.j2", reason=str(problem)))]
                continue
            history.extend([m.role, m.content] for m in extra)
            history.append(["assistant", completion.text.strip()])
            return call
        raise LLMError(f"kernel_agent: the model's answer could not be used after {self.retries + 1} tries",
                       hint="the answers are in the session folder's prompts/")

    def _save(self, messages: list[Message], answer: str) -> None:
        self.calls += 1
        if self.sink is None:
            return
        name = f"{self.calls:03d}_kernel_agent"
        self.sink.save_prompt(f"{name}.prompt.md", "\n\n".join(f"## {m.role}\n\n{m.content}" for m in messages))
        self.sink.save_prompt(f"{name}.response.md", answer)
        self.sink.event("llm_call", agent="kernel_agent", level=self.level, file=name)
