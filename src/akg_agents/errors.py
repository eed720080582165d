"""Errors, in two kinds, drawn once.

A *failed candidate* is data: it becomes an `EvalResult` (compile_error, runtime_error, timeout,
mismatch, rejected) and the search goes on. Nothing in this module is used for that.

A *broken system* raises, with a message a user can act on:

    AkgError                      base; `str(e)` is one line, `e.hint` says what to do
    ├── ConfigError               bad flags, settings file or combination of backend/arch/dsl
    ├── TaskError                 the task file cannot be used (syntax, missing function, ...)
    ├── ToolchainError            a compiler or runtime the DSL needs is missing
    ├── RunStoreError             a run directory is missing or unreadable
    ├── WorkerError               the sandbox itself failed (not the candidate)
    └── LLMError                  provider unreachable, bad key, unusable answer

The CLI catches AkgError, prints one line (plus the hint) and exits with `exit_code`.
"""

from __future__ import annotations


class AkgError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(AkgError):
    exit_code = 2


class TaskError(AkgError):
    exit_code = 2


class ToolchainError(AkgError):
    exit_code = 3


class RunStoreError(AkgError):
    exit_code = 2


class WorkerError(AkgError):
    exit_code = 4


class LLMError(AkgError):
    exit_code = 5
