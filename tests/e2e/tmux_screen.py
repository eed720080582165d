"""Drive a terminal program as a person would: tmux send-keys in, capture-pane out.

    with Screen("akg", ["akg_cli", "op", "--model", "builtin"], cwd, env) as screen:
        screen.wait_for("akg> ")
        screen.type("Generate a relu kernel")
        screen.wait_for("needs a model", after=mark)

Every wait polls the screen until the text appears, with a timeout (never sleep-and-hope). Each
Screen has its own tmux server (-L socket), so a person's tmux sessions are never touched. Used by
tests/e2e/test_session_tmux.py and scripts/session_exchange_demo.py.
"""

from __future__ import annotations

import builtins
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

EXITED = "[program exited with code "


class ScreenTimeout(AssertionError):
    pass


class Screen:
    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str], width: int = 200,
                 height: int = 50) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"akg-{name}-{uuid.uuid4().hex[:8]}"
        self.target = name
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
        # After the program ends, its exit code is printed and the pane stays until the test closes it.
        command = f"env -i {exports} {shlex.join(argv)}; echo '{EXITED}'$?']'; sleep 3600"
        self._tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), "-c", str(cwd), command)
        self._tmux("set-option", "-t", name, "history-limit", "20000")

    def _tmux(self, *args: str, input_text: str | None = None) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, input=input_text,
                              timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def text(self) -> str:
        """Everything printed so far (scrollback included), wrapped lines joined."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.target)

    def type(self, text: str, enter: bool = True) -> None:
        self._tmux("send-keys", "-t", self.target, "-l", text)
        if enter:
            self._tmux("send-keys", "-t", self.target, "Enter")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.target, *keys)

    def paste(self, text: str, enter: bool = True) -> None:
        """A terminal paste (bracketed, as a terminal pastes): its newlines do not send it."""
        start = self.mark()
        self._tmux("load-buffer", "-b", "akgpaste", "-", input_text=text)
        self._tmux("paste-buffer", "-p", "-d", "-b", "akgpaste", "-t", self.target)
        if enter:
            self.wait_for(text.strip().splitlines()[-1].strip(), timeout=30, after=start)
            self._tmux("send-keys", "-t", self.target, "Enter")

    def mark(self) -> int:
        """Where the screen's text ends now: `wait_for(..., after=mark)` looks only at what follows."""
        return len(self.text().rstrip())

    def wait_for(self, text: str, timeout: float = 120.0, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if text in screen[after:]:
                return screen[after:]
            if EXITED in screen[after:] and EXITED not in text:
                raise ScreenTimeout(f"the program exited before {text!r} appeared:\n{screen[-3000:]}")
            if time.monotonic() > deadline:
                raise ScreenTimeout(f"{text!r} did not appear within {timeout:.0f} s; the screen ends with:\n{screen[-3000:]}")
            time.sleep(0.2)

    def wait_prompt(self, prompt: str, timeout: float = 120.0) -> str:
        """Until the last line on screen is the bare prompt (the program waits for input)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text().rstrip()
            if screen.splitlines() and screen.splitlines()[-1].rstrip() == prompt.rstrip():
                return screen
            if EXITED in screen:
                raise ScreenTimeout(f"the program exited instead of prompting:\n{screen[-3000:]}")
            if time.monotonic() > deadline:
                raise ScreenTimeout(f"no prompt within {timeout:.0f} s; the screen ends with:\n{screen[-3000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, kind: builtins.type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
