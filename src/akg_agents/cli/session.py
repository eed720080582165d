"""`akg_cli op` without a task: a terminal session with the KernelAgent.

    akg_cli op --framework torch --backend cpu --dsl cpp       # then: Generate a relu kernel
    akg> make it faster
    akg> /export

prompt_toolkit reads the messages: Enter sends, Alt-Enter (or a line ending in \\) adds a line,
a paste keeps its lines (bracketed paste), and an open ``` fence waits for its end. History is
kept across sessions; slash commands complete with Tab. Ctrl-C during a step cancels the step and
the session goes on; at the prompt it clears the line; Ctrl-D or /exit leaves. The session is
saved after every message (session_store.py) and reopened with `akg_cli resume SESSION`.

With a model, the KernelAgent reads each message and acts through tools (session_tools.py).
Without one (`--model builtin`), pasted KernelBench code runs the built-in generator, and words
get one line saying what needs a model.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from akg_agents.agents.kernel_agent import KernelAgent, ToolCall, classify_message, pasted_code
from akg_agents.agents.kernel_agent_tools import agent_level
from akg_agents.cli.app import console, writable_folder
from akg_agents.cli.session_store import SessionStore
from akg_agents.cli.session_tools import SessionTarget, Workbench, describe, tools_for
from akg_agents.errors import AkgError, ConfigError

__all__ = ["SessionTarget", "reopen_session", "start_session"]

SLASH = {
    "/help": "what to type, and these commands",
    "/status": "the target, the current task and the session's kernels",
    "/runs": "the kernels made in this session and their run directories",
    "/show": "/show [k1]: a kernel's code (default: the best of the current task)",
    "/export": "/export [k1] [PATH]: a self-contained kernel file",
    "/save": "save now (it is also saved after every message) and print how to reopen it",
    "/exit": "save and leave (Ctrl-D too)",
}
HINTS = {"task_code": "pasted KernelBench task code", "kernel_code": "an existing kernel (to port or to check)",
         "other_code": "code that is not a KernelBench task (no Model/get_inputs/get_init_inputs)",
         "follow_up": "a follow-up on the last result", "question": "a question", "request": "a request in words",
         "other": "words"}
NEEDS_MODEL = ("needs a model: this session runs the built-in generator (--model builtin), which takes pasted KernelBench "
               "code (Model, get_inputs, get_init_inputs) and slash commands (/help); configure an LLM "
               "(`akg_cli config init`) for requests in words, follow-ups and porting")


def start_session(target: SessionTarget) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError("give exactly one of --task FILE or --request TEXT",
                          hint="or run `akg_cli op` without them in a terminal to open an interactive session")
    settings = target.settings()
    config = target.config(settings)
    writable_folder(Path(settings.log_dir), "run folder",
                    "choose a writable one with -o DIR (or run from a folder you can write to)")
    store = SessionStore.create(settings.log_dir, target.as_dict(), config.model)
    Session(Workbench(store, target, settings, config, console, _provider(config, settings))).run()


def reopen_session(folder: Path) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError(f"{folder} is a session: reopening it needs a terminal",
                          hint="run `akg_cli resume SESSION` in a terminal; `akg_cli resume RUN_DIR` continues a run")
    store = SessionStore.open(folder)
    target = SessionTarget.from_dict(store.state.target)
    settings = target.settings()
    config = target.config(settings)
    store.state.model = config.model
    session = Session(Workbench(store, target, settings, config, console, _provider(config, settings)))
    console.print(f"reopened session [bold]{store.state.id}[/] ({store.state.messages} message(s) so far)")
    session.status()
    session.run(banner=False)


def _drop_cancelled_step() -> None:
    """A step stopped by Ctrl-C leaves the workflow's coroutines pending on a closed event loop.
    Collected later, in the middle of the next step, each would print 'Task was destroyed but it is
    pending!' and a traceback; they are collected now, quietly (nothing of them is used again)."""
    hook, logger = sys.unraisablehook, logging.getLogger("asyncio")
    level = logger.level
    sys.unraisablehook, logger.level = (lambda _: None), logging.CRITICAL + 1
    try:
        gc.collect()
    finally:
        sys.unraisablehook, logger.level = hook, level


def _provider(config: Any, settings: Any) -> Any:
    if config.model != "llm":
        return None
    from akg_agents.llm.factory import build_provider

    return build_provider(settings.llm)


class Session:
    def __init__(self, bench: Workbench) -> None:
        self.bench = bench
        self.store = bench.store
        self.agent: KernelAgent | None = None
        if bench.llm is not None:
            self.agent = KernelAgent(bench.llm, dict(tools_for(bench)), self.context, self.store,
                                     level=agent_level(bench.config, "kernel_agent", "standard"))
            self.agent.calls = len(list((self.store.root / "prompts").glob("*_kernel_agent.prompt.md")))

    # -- the loop ----------------------------------------------------------------------------------

    def run(self, banner: bool = True) -> None:
        from akg_agents.cli.session_input import make_prompt

        if banner:
            self.banner()
        prompt = make_prompt(Path(self.bench.settings.log_dir) / "sessions" / "history", list(SLASH))
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C: this step, not the CLI
        try:
            while True:
                try:
                    text = prompt.prompt("akg> ")
                except KeyboardInterrupt:
                    continue  # Ctrl-C at the prompt clears the line, like a shell
                except EOFError:
                    break
                if not self.handle(text):
                    break
        finally:
            signal.signal(signal.SIGINT, previous)
            self.store.save()
        console.print(f"session {self.store.state.id} saved; reopen it with `akg_cli resume {self.resume_name()}`")

    def resume_name(self) -> str:
        """The session's id when `akg_cli resume ID` finds it (the default log_dir), else its folder."""
        from akg_agents.cli.session_store import find_session
        from akg_agents.config.settings import load_settings

        try:
            found = find_session(self.store.state.id, load_settings().log_dir)
        except AkgError:
            found = None
        same = found is not None and found.resolve() == self.store.root.resolve()
        return self.store.state.id if same else str(self.store.root)

    def banner(self) -> None:
        state = self.store.state
        console.print(f"[bold]akg_agents[/] session [bold]{state.id}[/] on {describe(self.bench.config)}")
        console.print("Describe what you need ('Generate a relu kernel'), paste KernelBench-style PyTorch code, "
                      "or paste a kernel to port.")
        if self.agent is None:
            console.print("[yellow]model builtin:[/] pasted task code works; requests in words need an LLM "
                          "(akg_cli config init).")
        console.print("Enter sends; Alt-Enter or a trailing \\ adds a line. /help lists commands; Ctrl-C cancels a "
                      "step; /exit or Ctrl-D leaves.")

    def handle(self, text: str) -> bool:
        """One message; False when the session should end."""
        message = text.strip()
        if not message:
            console.print("[dim]empty message: describe what you need, paste code, or /help[/]")
            return True
        if message.startswith("/") and "\n" not in message:
            return self.slash(message)
        self.store.note("user", message)
        self.store.state.messages += 1
        cancelled = False
        try:
            reply = self._answer(message)
        except KeyboardInterrupt:
            cancelled = True
            reply = "cancelled: the step was stopped (Ctrl-C); the session goes on"
            if self.store.state.history and self.agent is not None:
                self.store.state.history.append(["user", "[the user cancelled that step with Ctrl-C]"])
            console.print(f"[yellow]{reply}[/]")
        except AkgError as error:
            reply = f"error: {error}"
            console.print(f"[red]error:[/] {error}")
            if error.hint:
                console.print(f"[dim]hint: {error.hint}[/]")
        except Exception as bug:  # a bug in akg_agents: the session and its work survive it
            log = self.store.root / "errors.log"
            with open(log, "a") as handle:
                handle.write(traceback.format_exc() + "\n")
            reply = f"internal error (a bug in akg_agents): {type(bug).__name__}: {bug}"
            console.print(f"[red]{reply}[/]; the session goes on (traceback in {log})", highlight=False)
        else:
            console.print(f"[bold magenta]agent:[/] {reply}", highlight=False)
        self.store.note("akg_agents", reply)
        self.store.save()
        if cancelled:
            _drop_cancelled_step()
        return True

    def _answer(self, message: str) -> str:
        kind = classify_message(message, has_result=bool(self.store.state.kernels))
        code = pasted_code(message) if kind.endswith("_code") else ""
        number = self.store.add_paste(code) if code else 0
        if self.agent is None:
            return self._builtin(message, kind, number)
        hint = HINTS.get(kind, kind) + (f"; stored as paste #{number}" if number else "")
        turn = self.agent.handle(message, hint, self.store.state.history, self)
        return turn.reply

    def _builtin(self, message: str, kind: str, number: int) -> str:
        """No model: pasted task code runs the built-in generator; the rest is one line."""
        if kind == "task_code":
            self.bench.use_paste({"paste": number, "as": "task"})
            before = len(self.store.state.kernels)
            observation = self.bench.run_workflow({})
            if len(self.store.state.kernels) == before:
                return observation.splitlines()[0]
            kernel = self.store.state.kernels[-1]
            return f"{kernel.line()}. /show {kernel.id} shows it, /export {kernel.id} writes it."
        if kind == "kernel_code":
            return (f"paste #{number} is a kernel; porting it needs a model. Without one, check a kernel of yours "
                    f"against it: akg_cli op --reference-kernel {self.store.state.pastes[number - 1]} --task T.py "
                    "--workflow verifier_only --kernel MINE.py")
        if kind == "other_code":
            return (f"paste #{number} is not a KernelBench task: it needs class Model(nn.Module), get_inputs() "
                    "and get_init_inputs()")
        words = message if len(message) <= 40 else message[:37] + "..."
        return f"'{words}' {NEEDS_MODEL}"

    # -- what the agent shows while it works (kernel_agent.Events) ------------------------------

    def thinking(self, step: int) -> None:
        console.print(f"[dim]… asking the model{f' (step {step})' if step > 1 else ''}[/]")

    def acting(self, call: ToolCall) -> None:
        if call.say:
            console.print(f"[magenta]agent:[/] {call.say}", highlight=False)
        args = ", ".join(f"{k}={str(v)[:40]!r}" for k, v in call.args.items())
        console.print(f"[cyan]→[/] {call.tool}({args})", highlight=False)

    def observed(self, call: ToolCall, observation: str, failed: bool) -> None:
        if failed:
            console.print(f"[red]✗ {call.tool}:[/] {observation.removeprefix('FAILED: ')}", highlight=False)
        self.store.save()

    def context(self) -> dict[str, Any]:
        state = self.store.state
        return {"target": describe(self.bench.config), "current_task": state.current_task,
                "tasks": [f"{t.id} '{t.name}' ({t.origin})" for t in state.tasks],
                "kernels": [k.line() for k in state.kernels],
                "pastes": [f"#{i} {Path(p).name}" for i, p in enumerate(state.pastes, start=1)],
                "sketch": bool(state.sketch)}

    # -- slash commands --------------------------------------------------------------------------

    def slash(self, line: str) -> bool:
        command, *args = line.split()
        if command in ("/exit", "/quit"):
            return False
        try:
            if command == "/help":
                self.help()
            elif command == "/status":
                self.status()
            elif command == "/runs":
                self.runs()
            elif command == "/save":
                self.store.save()
                console.print(f"saved session {self.store.state.id} in {self.store.root}; reopen it with "
                              f"`akg_cli resume {self.resume_name()}`")
            elif command == "/show":
                self.bench.show({"kernel": args[0] if args else ""})
            elif command == "/export":
                self.bench.export({"kernel": args[0] if args else "", "path": args[1] if len(args) > 1 else ""})
            else:
                console.print(f"[red]error:[/] unknown command {command}; the commands are {', '.join(SLASH)}")
        except AkgError as error:
            console.print(f"[red]error:[/] {error}")
        return True

    def help(self) -> None:
        console.print("Type what you need: 'Generate a relu kernel', a pasted KernelBench task (Model, get_inputs, "
                      "get_init_inputs), a kernel to port, or a follow-up: 'make it faster', 'now bf16', "
                      "'show the kernel', 'why is it slow?'.")
        for command, does in SLASH.items():
            console.print(f"  {command:8s} {does}")

    def status(self) -> None:
        state = self.store.state
        console.print(f"session {state.id} ({self.store.root}): {describe(self.bench.config)}")
        current = next((t for t in state.tasks if t.id == state.current_task), None)
        console.print(f"current task: {f'{current.id} {current.name!r} ({current.origin})' if current else 'none yet'}")
        best = self.store.best()
        for kernel in state.kernels:
            mark = "  [green]best[/]" if best is not None and kernel.id == best.id else ""
            console.print(f"  {kernel.line()}{mark}", highlight=False)
        if not state.kernels:
            console.print("  no kernels yet")

    def runs(self) -> None:
        if not self.store.state.kernels:
            console.print("no runs yet in this session")
        for kernel in self.store.state.kernels:
            console.print(f"  {kernel.id} {kernel.status:13s} {kernel.run_dir}", highlight=False)
