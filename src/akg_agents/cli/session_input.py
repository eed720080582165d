"""Reading a session's messages with prompt_toolkit: multi-line input, history, slash completion.

Enter sends the message, unless it is unfinished: a ``` fence still open, or a last line ending in
a backslash (the backslash is dropped and a new line starts). Alt-Enter (Esc then Enter) always
adds a line. A paste arrives as one bracketed paste and keeps its newlines without sending, so
pasting a whole KernelBench file and pressing Enter sends it as one message.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent


class SlashCompleter(Completer):
    """Completes a slash command at the start of the message, nothing else."""

    def __init__(self, commands: list[str]) -> None:
        self.commands = commands

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or " " in text or "\n" in text:
            return
        for command in self.commands:
            if command.startswith(text):
                yield Completion(command, start_position=-len(text))


def unfinished(text: str) -> bool:
    """Whether Enter should add a line instead of sending."""
    fences = sum(1 for line in text.splitlines() if line.strip().startswith("```"))
    return fences % 2 == 1 or text.endswith("\\")


def _bindings() -> KeyBindings:
    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion is not None:
            buffer.apply_completion(buffer.complete_state.current_completion)
            return
        if unfinished(buffer.text):
            if buffer.text.endswith("\\"):
                buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
            return
        buffer.validate_and_handle()

    @keys.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return keys


def _history(path: Path) -> History:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        return FileHistory(str(path))
    except OSError:  # a read-only home or log folder: the session still works, without saved history
        return InMemoryHistory()


def make_prompt(history_file: Path, commands: list[str]) -> PromptSession[str]:
    return PromptSession(history=_history(history_file), completer=SlashCompleter(commands), multiline=True,
                         key_bindings=_bindings(), prompt_continuation="...  ", complete_while_typing=True,
                         enable_history_search=False)
