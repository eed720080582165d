"""Shared fixtures: compiled artefacts go to a per-session temp dir."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _build_dir(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("poly_build")
    old = os.environ.get("AKG_POLY_BUILD")
    os.environ["AKG_POLY_BUILD"] = str(d)
    yield d
    if old is None:
        os.environ.pop("AKG_POLY_BUILD", None)
    else:
        os.environ["AKG_POLY_BUILD"] = old

