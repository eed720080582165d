"""Shared helpers for the kernel definitions."""

from __future__ import annotations

SIZES = ("MINI", "SMALL", "MEDIUM", "LARGE", "EXTRALARGE")


def sizes(params: list[str], *rows: tuple[int, ...]) -> dict[str, dict[str, int]]:
    """``rows`` = MINI..EXTRALARGE value tuples in ``params`` order."""
    return {s: dict(zip(params, r, strict=False)) for s, r in zip(SIZES, rows, strict=False)}
