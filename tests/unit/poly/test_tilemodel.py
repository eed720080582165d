"""The tile-size model: sizes from cache sizes and band footprints, and schedules it tiles stay correct."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from poly_check import assert_same_results

from akg_agents.poly import kernels
from akg_agents.poly.config import ConfigError, from_dict
from akg_agents.poly.pipeline import build
from akg_agents.poly.tilemodel import CANDIDATE_SIZES, CacheSizes, detect_caches, footprint, model_sizes

GEMM_ACCESSES = [{0, 1}, {0, 2}, {2, 1}]  # C[i][j], A[i][k], B[k][j] over members (i, j, k)


def test_sizes_are_the_largest_that_fit() -> None:
    budget = 64 * 1024
    sizes = model_sizes(GEMM_ACCESSES, 3, budget, 8)
    assert footprint(sizes, GEMM_ACCESSES, 8) <= budget
    uniform = sizes[0]
    bigger = [t for t in CANDIDATE_SIZES if t > uniform]
    assert all(footprint([t] * 3, GEMM_ACCESSES, 8) > budget for t in bigger)
    assert footprint([*sizes[:-1], sizes[-1] * 2], GEMM_ACCESSES, 8) > budget  # inner doubled while it fit


def test_smaller_cache_gives_smaller_tiles() -> None:
    small = model_sizes(GEMM_ACCESSES, 3, 16 * 1024, 8)
    large = model_sizes(GEMM_ACCESSES, 3, 1024 * 1024, 8)
    assert small[0] < large[0]
    assert model_sizes(GEMM_ACCESSES, 3, 16 * 1024, 4)[0] >= small[0]  # floats: twice the elements


def test_detect_caches_reads_sysfs(tmp_path: Path) -> None:
    for i, (kind, level, size) in enumerate([("Data", 1, "48K"), ("Instruction", 1, "32K"), ("Unified", 2, "2048K")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "type").write_text(kind + "\n")
        (d / "level").write_text(f"{level}\n")
        (d / "size").write_text(size + "\n")
    assert detect_caches(tmp_path) == CacheSizes(48 * 1024, 2048 * 1024)
    assert detect_caches(tmp_path / "missing") == CacheSizes()


def test_config_checks_the_model_keys() -> None:
    with pytest.raises(ConfigError, match="tile_share"):
        from_dict({"base": "cpu_tilemodel", "tile_share": 0})


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("name", ["gemm", "2mm", "jacobi-2d", "syrk"])
def test_modelled_tiles_are_partial_at_mini_and_correct(name: str) -> None:
    cfg = from_dict({"base": "cpu_tilemodel", "cache_l2": 16 * 1024}, name="model16k")
    k = kernels.get(name)
    got = build(k, cfg, "MINI")
    ref = build(k, "orig", "MINI")
    assert got is not None and ref is not None and got.post is not None
    assert got.post.tile_sizes and all(t <= 64 for sizes in got.post.tile_sizes for t in sizes)
    assert_same_results(k, "MINI", ref, got, f"tm-{name}")
