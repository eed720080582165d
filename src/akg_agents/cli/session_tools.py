"""What the session's agent can do: the tools, over one Workbench (target, session store, model).

Every tool prints what a user should see (progress, the results table, the code) and returns
the observation the model reads next. Observations name kernels and tasks by session id (k1, t1)
and never carry run-directory names or clock times, so a recorded conversation replays the same.
Runs are ordinary runs (`execute`): each has its own run directory, resumable by `akg_cli resume`.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from akg_agents.agents.kernel_agent import ToolSpec
from akg_agents.agents.prompting import AgentIO
from akg_agents.cli.session_store import KernelEntry, SessionStore
from akg_agents.config.settings import Settings, load_settings
from akg_agents.errors import ConfigError, TaskError
from akg_agents.records import RunConfig, Task
from akg_agents.tasks.loader import check_task_source
from akg_agents.workflows import AVAILABLE


@dataclass
class SessionTarget:
    """The op flags a session was opened with; changed by set_target ("now bf16")."""

    framework: str = "torch"
    backend: str = "cpu"
    arch: str = ""
    dsl: str = "cpp"
    workflow: str | None = None
    model: str | None = None
    devices: str = "0"
    output: Path | None = None
    max_candidates: int = 4
    baseline: str = "eager"
    threads: int | None = None
    precision: str = "fp32"
    allow_tf32: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionTarget:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("output"):
            known["output"] = Path(known["output"])
        return cls(**known)

    def settings(self) -> Settings:
        return load_settings(self.dsl, {"log_dir": str(self.output)} if self.output else {})

    def config(self, settings: Settings) -> RunConfig:
        from akg_agents.cli.app import default_arch
        from akg_agents.cli.commands import build_config

        return build_config(settings, self.framework, self.backend, self.arch or default_arch(self.backend), self.dsl,
                            self.workflow, self.model, self.devices, self.baseline, self.max_candidates, self.threads,
                            None, self.precision, self.allow_tf32)


class Workbench:
    def __init__(self, store: SessionStore, target: SessionTarget, settings: Settings, config: RunConfig,
                 console: Console, llm: Any = None) -> None:
        self.store = store
        self.target = target
        self.settings = settings
        self.config = config
        self.console = console
        self.llm = llm  # MeteredProvider, None in a built-in session
        self._analysis: dict[str, Any] = {}  # task digest -> OpAnalysis

    # -- tasks -------------------------------------------------------------------------------------

    def construct_task(self, args: dict[str, Any]) -> str:
        from akg_agents.agents.task_constructor import task_from_request

        request = _text(args, "request")
        self.console.print("[cyan]•[/] TaskConstructor: writing the task and checking it runs in the sandbox ...")
        task, _ = task_from_request(request, self.settings, self.config)
        entry = self.store.add_task(task.name, task.source, f"request: {request[:80]}")
        self.console.print(f"[green]task {entry.id}[/] '{task.name}' written and validated: {entry.path}")
        return f"task {entry.id} '{task.name}' written and validated (it runs in the sandbox):\n```python\n{task.source}```"

    def use_paste(self, args: dict[str, Any]) -> str:
        number = _int(args, "paste")
        code = self.store.paste(number)
        role = str(args.get("as", "task"))
        if role == "reference_kernel":
            return self._port(number, code, str(args.get("inputs", "")))
        if role != "task":
            raise ConfigError(f'use_paste "as" must be "task" or "reference_kernel" (got "{role}")')
        check_task_source(code, f"paste #{number}")
        name = _name(str(args.get("name", "")) or _docstring_name(code) or f"paste{number}")
        entry = self.store.add_task(name, code, f"paste #{number}")
        self.console.print(f"[green]task {entry.id}[/] '{name}' from paste #{number}")
        return f"task {entry.id} '{name}' made from paste #{number} (it is validated when a run starts)"

    def _port(self, number: int, code: str, inputs_id: str) -> str:
        from akg_agents.agents.kernel_agent_port import has_own_inputs, kernel_bindings, reference_task

        kernel_bindings(code, f"paste #{number}")
        inputs = None
        if not has_own_inputs(code):
            entry = self.store.task(inputs_id)
            inputs = Task(entry.name, Path(entry.path).read_text(), entry.path)
        task = reference_task(code, f"paste-{number}.py", inputs)
        entry = self.store.add_task(task.name, task.source, f"ported from paste #{number}")
        self.console.print(f"[green]task {entry.id}[/] '{task.name}': the kernel of paste #{number} is the reference "
                           f"(its outputs are the ground truth)")
        return (f"task {entry.id} '{task.name}' made: the kernel of paste #{number} is its reference Model; a new kernel "
                f"for {self.config.dsl} is verified against its outputs")

    def task(self) -> Task:
        entry = self.store.task()
        return Task(entry.name, Path(entry.path).read_text(), entry.path)

    # -- kernels -----------------------------------------------------------------------------------

    def run_workflow(self, args: dict[str, Any]) -> str:
        workflow = str(args.get("workflow") or self.config.workflow)
        if workflow not in AVAILABLE or workflow == "verifier_only":
            raise ConfigError(f"unknown workflow '{workflow}'; valid: {', '.join(w for w in AVAILABLE if w != 'verifier_only')}")
        count = int(args.get("max_candidates") or self.config.max_candidates)
        config = replace(self.config, workflow=workflow, max_candidates=max(1, count))
        return self._run(self.task(), self.store.state.current_task, config, None, f"run_workflow {workflow}")

    def design(self, args: dict[str, Any]) -> str:
        from akg_agents.agents.kernel_agent_tools import design_kernel

        task = self.task()
        self.console.print("[cyan]•[/] KernelDesigner: sketching the algorithm ...")
        design = asyncio.run(design_kernel(self._job(task, "design"), self._io(), self.config))
        self.store.state.sketch = design.sketch
        self.console.print(design.sketch, markup=False, highlight=False)
        return f"design sketch for task {self.store.state.current_task}:\n{design.sketch}"

    def generate(self, args: dict[str, Any]) -> str:
        from akg_agents.agents.kernel_agent_tools import generate_kernel

        task = self.task()
        base = self.store.kernel(str(args["from"])) if args.get("from") else None
        suggestion = str(args.get("suggestion", "") or "")
        previous = Path(base.path).read_text() if base else ""
        self.console.print(f"[cyan]•[/] KernelGen: writing a kernel{f' from {base.id}' if base else ''} ...")
        code = asyncio.run(generate_kernel(self._job(task, "codegen"), self._io(), self.config,
                                           sketch=self.store.state.sketch, previous=previous,
                                           feedback=base.feedback if base else "", suggestion=suggestion))
        how = f"generate from {base.id}: {suggestion[:60]}" if base else f"generate: {suggestion[:60] or 'first kernel'}"
        return self._verify_code(task, self.store.state.current_task, code, how, self.config)

    def verify(self, args: dict[str, Any]) -> str:
        kernel = self.store.kernel(str(args.get("kernel", "")))
        return self._verify_code(self.task_of(kernel), kernel.task, Path(kernel.path).read_text(), f"verify {kernel.id}", self.config)

    def profile(self, args: dict[str, Any]) -> str:
        kernel = self.store.kernel(str(args.get("kernel", "")))
        config = replace(self.config, baseline="compile")
        return self._verify_code(self.task_of(kernel), kernel.task, Path(kernel.path).read_text(),
                                 f"profile {kernel.id} (eager and torch.compile baselines)", config)

    def show(self, args: dict[str, Any]) -> str:
        kernel = self.store.kernel(str(args.get("kernel", "")))
        code = Path(kernel.path).read_text()
        self.console.print(f"[bold]{kernel.id}[/] ({kernel.path}):")
        self.console.print(code, markup=False, highlight=False)
        return f"shown {kernel.id} ({len(code.splitlines())} lines):\n```python\n{code}```"

    def diff(self, args: dict[str, Any]) -> str:
        first, second = self.store.kernel(str(args.get("a", ""))), self.store.kernel(str(args.get("b", "")))
        lines = difflib.unified_diff(Path(first.path).read_text().splitlines(), Path(second.path).read_text().splitlines(),
                                     first.id, second.id, lineterm="")
        text = "\n".join(lines) or f"{first.id} and {second.id} are the same code"
        self.console.print(text, markup=False, highlight=False)
        return text

    def export(self, args: dict[str, Any]) -> str:
        from akg_agents.dsl import get_plugin

        kernel = self.store.kernel(str(args.get("kernel", "")))
        default = self.store.root / "exports" / f"{self.task_of(kernel).name}_{kernel.dsl}_{kernel.id}.py"
        path = Path(str(args.get("path") or default)).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(get_plugin(kernel.dsl).export(Path(kernel.path).read_text()))
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
        warn = "" if kernel.status == "passed" else f" (note: {kernel.id} did not pass verification: {kernel.status})"
        self.console.print(f"[green]exported[/] {kernel.id} to {path}{warn}")
        return f"exported {kernel.id} (self-contained: runs with torch, without akg_agents){warn}"

    def set_target(self, args: dict[str, Any]) -> str:
        changes: dict[str, Any] = {k: str(v) for k, v in args.items()
                                   if k in ("precision", "dsl", "backend", "arch", "devices", "workflow")}
        if changes.get("dsl") == "cuda":  # the original tool's name
            changes["dsl"] = "cuda_c"
        if not changes:
            raise ConfigError("set_target changes precision, dsl, backend, arch, devices or workflow; none was given")
        target = replace(self.target, **changes)
        settings = target.settings() if target.dsl != self.target.dsl else self.settings
        config = target.config(settings)  # validated: a bad combination is one line, nothing changes
        self.target, self.settings, self.config = target, settings, config
        self.store.state.target = target.as_dict()
        said = ", ".join(f"{k} {v}" for k, v in changes.items())
        self.console.print(f"[cyan]•[/] target now {describe(config)}")
        return f"target changed ({said}): {describe(config)}"

    # -- shared ------------------------------------------------------------------------------------

    def task_of(self, kernel: KernelEntry) -> Task:
        entry = self.store.task(kernel.task)
        return Task(entry.name, Path(entry.path).read_text(), entry.path)

    def _job(self, task: Task, stage: str) -> Any:
        from akg_agents.agents.kernel_agent_tools import kernel_job
        from akg_agents.tasks.isolated import analyze_isolated

        if task.digest not in self._analysis:
            self.console.print("[cyan]•[/] analysing the task (op kinds, shapes, work) ...")
            self._analysis[task.digest] = analyze_isolated(task)
        return kernel_job(task, self.config, self.settings, self._analysis[task.digest], stage)

    def _io(self) -> AgentIO:
        if self.llm is None:
            raise ConfigError("this needs a model; the session runs the built-in generator (--model builtin)")
        return AgentIO(self.llm, self.store, start=len(list((self.store.root / "prompts").glob("*.prompt.md"))))

    def _verify_code(self, task: Task, task_id: str, code: str, how: str, config: RunConfig) -> str:
        path = self.store.root / "kernels" / f"k{len(self.store.state.kernels) + 1}.py"
        path.write_text(code)
        return self._run(task, task_id, replace(config, workflow="verifier_only", max_candidates=1), path, how)

    def _run(self, task: Task, task_id: str, config: RunConfig, kernel: Path | None, how: str) -> str:
        from akg_agents.cli.commands import run_with_progress, show_outcome

        self.console.print(f"[cyan]•[/] {how} on task {task_id} '{task.name}' ({describe(config)})")
        outcome = run_with_progress(task, config, self.settings, kernel)
        show_outcome(outcome)
        results = list(outcome.store.results.values())
        if not results:
            why = outcome.declined or "no candidate was produced"
            return f"{how}: nothing was evaluated: {why}"
        candidate, result = outcome.best or results[-1]
        p = result.profile
        entry = self.store.add_kernel(candidate.code, KernelEntry(
            "", task_id, config.dsl, "", result.status.value, how,
            p.speedup if p else None, p.candidate.median_ms if p else None, p.eager.median_ms if p else None,
            str(outcome.store.root), result.message, result.feedback()))
        statuses = ", ".join(f"{c.id} {r.status.value}" for c, r in results)
        lines = [f"{how}: {len(results)} candidate(s) evaluated ({statuses}).", f"Recorded as {entry.line()}"]
        if p is not None and p.speedup_vs_compile is not None:
            lines.append(f"{p.speedup_vs_compile:.2f}x over torch.compile")
        if not result.ok or outcome.declined:
            lines.append(f"verifier evidence:\n{result.feedback()[:2500]}" + (f"\n{outcome.declined}" if outcome.declined else ""))
        return "\n".join(lines)


def describe(config: RunConfig) -> str:
    return (f"{config.backend}/{config.arch}, dsl {config.dsl}, precision {config.precision}, workflow {config.workflow}, "
            f"model {config.model}")


def _text(args: dict[str, Any], key: str) -> str:
    value = str(args.get(key, "") or "").strip()
    if not value:
        raise ConfigError(f'the "{key}" argument is missing or empty')
    return value


def _int(args: dict[str, Any], key: str) -> int:
    try:
        return int(str(args.get(key, "")).lstrip("#"))
    except ValueError:
        raise ConfigError(f'the "{key}" argument must be a number (got {args.get(key)!r})') from None


def _docstring_name(code: str) -> str:
    """'Elementwise ReLU: y = max(x, 0).' on class Model -> 'elementwise_relu' (KernelBench pastes have no file name)."""
    import ast

    from akg_agents.agents.task_constructor import task_name

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    model = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model"), None)
    doc = ast.get_docstring(model) if model is not None else None
    if not doc:
        return ""
    name = task_name(doc.splitlines()[0].split(":")[0])
    return "" if name == "constructed" else name


def _name(text: str) -> str:
    import re

    name = re.sub(r"\W+", "_", text.strip()).strip("_")[:40]
    if not name:
        raise TaskError("a task name needs letters or digits")
    return name


SPECS = {
    "construct_task": ToolSpec("construct_task", '{"request": "<the op in words, with shapes and dtype if known>"}',
                               "TaskConstructor: writes a KernelBench task for the request and validates it; it becomes the current task"),
    "use_paste": ToolSpec("use_paste", '{"paste": <N>, "as": "task" | "reference_kernel", "name": "<short task name, optional>"}',
                          "makes pasted code the current task; a reference_kernel's outputs become the ground truth (inputs from the kernel file, or the current task)"),
    "design": ToolSpec("design", "{}", "KernelDesigner: an algorithm sketch for the current task (generate then uses it)"),
    "generate": ToolSpec("generate", '{"from": "<kernel id, optional>", "suggestion": "<what to do, e.g. how to make it faster>"}',
                         "KernelGen: writes one kernel (from an earlier one and its timing when given), then verifies and profiles it"),
    "run_workflow": ToolSpec("run_workflow", '{"workflow": "' + " | ".join(w for w in AVAILABLE if w != "verifier_only") + '", "max_candidates": <N, optional>}',
                             "a whole search on the current task (generate, verify, fix, profile); the best kernel is recorded"),
    "verify": ToolSpec("verify", '{"kernel": "<id>"}', "verifies and times a kernel again (e.g. after set_target)"),
    "profile": ToolSpec("profile", '{"kernel": "<id>"}', "times a kernel against eager PyTorch and torch.compile"),
    "show": ToolSpec("show", '{"kernel": "<id>"}', "shows a kernel's code to the user (and to you)"),
    "diff": ToolSpec("diff", '{"a": "<id>", "b": "<id>"}', "shows the differences between two kernels"),
    "export": ToolSpec("export", '{"kernel": "<id, default: the best>", "path": "<file, optional>"}',
                       "writes a self-contained kernel file (runs with torch alone)"),
    "set_target": ToolSpec("set_target", '{"precision": "fp32|fp16|bf16", "dsl": "...", "backend": "...", "arch": "...", "devices": "0,1", "workflow": "..."}',
                           "changes the session's target (only the keys given)"),
}


@dataclass
class BoundTool:
    spec: ToolSpec
    bench: Workbench

    def __call__(self, args: dict[str, Any]) -> str:
        result: str = getattr(self.bench, self.spec.name)(args)
        return result


def tools_for(bench: Workbench) -> dict[str, BoundTool]:
    return {name: BoundTool(spec, bench) for name, spec in SPECS.items()}
