"""triton_ascend on a machine without an NPU: static and launch checks, the built-in adapter,
prompt assembly, export, the backend's device handling, and the one-line exit-3 answers."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from akg_agents.agents.context import KernelJob
from akg_agents.agents.kernel_gen import KernelGen
from akg_agents.agents.prompting import render
from akg_agents.dsl import get_backend, get_plugin, validate_target
from akg_agents.dsl.triton_ascend_builtin import adapt_source, fits_unified_buffer
from akg_agents.dsl.triton_ascend_checks import MAX_GRID_PROGRAMS, GridLimitError, counts_launch
from akg_agents.errors import ConfigError
from akg_agents.records import Task
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.skills import load_skills, render_skills, select_skills
from akg_agents.verify.evaluate import VerifySettings
from akg_agents.verify.static import check_source

REPO = Path(__file__).resolve().parents[2]
PLUGIN = get_plugin("triton_ascend")
NO_NPU = importlib.util.find_spec("torch_npu") is None

GPU_SHAPED = '''import torch
import torch.nn as nn
import triton
import triton.language as tl

@triton.jit
def akg_kernel(in0, out, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x0 = tl.load(in0 + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out + offs, tl.where(x0 < 0.0, 0.0, x0), mask=mask)


class ModelNew(nn.Module):
    def forward(self, x):
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
        n = out.numel()
        akg_kernel[(triton.cdiv(n, 2048),)](x, out, n, BLOCK=2048, num_warps=8)
        return out
'''

GPU_DISPATCH = '''import torch
import torch.nn as nn
import triton
import triton.language as tl

@triton.jit
def akg_kernel(in0, out, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out + offs, tl.load(in0 + offs, mask=offs < n), mask=offs < n)


@triton.jit
def akg_part(in0, part, n, BLOCK: tl.constexpr, STAGES: tl.constexpr):
    blk0 = tl.program_id(0).to(tl.int64)
    acc = tl.zeros((BLOCK,), tl.float32)
    for start in tl.range(0, n, BLOCK, num_stages=STAGES):
        acc += tl.load(in0 + blk0 * n + start + tl.arange(0, BLOCK), mask=start + tl.arange(0, BLOCK) < n, other=0.0)
    tl.store(part + blk0 * 2 + tl.program_id(1), tl.sum(acc, axis=0))


class ModelNew(nn.Module):
    def forward(self, x):
        out = torch.empty_like(x)
        n = x.numel()
        rows = x.shape[0]
        nsplit = 2
        part = torch.empty((rows, nsplit), device=x.device)
        if n > 4096:
            akg_part[(triton.cdiv(rows, 1), nsplit)](x, part, n, BLOCK=1024, STAGES=3, num_warps=4, SPLITS=triton.next_power_of_2(nsplit))
        else:
            akg_kernel[(triton.cdiv(n, 2048),)](x, out, n, BLOCK=2048, num_warps=8)
        return out
'''


def rules(code: str) -> list[str]:
    return [v.rule for v in check_source(code, PLUGIN)[1]]


def test_the_worked_example_passes_and_exports_unchanged() -> None:
    assert rules(PLUGIN.example()) == []
    assert PLUGIN.export(PLUGIN.example()) == PLUGIN.example()
    assert PLUGIN.backend == "ascend" and get_backend("ascend").device_type == PLUGIN.device_type == "npu"


@pytest.mark.parametrize(("edit", "rule"), [
    (("torch.empty_like(x)", 'torch.empty(x.shape, device="cuda")'), "ascend-cuda-device"),
    (("x = x.contiguous()", "x = x.contiguous().cuda()"), "ascend-cuda-device"),
    (("n = x.numel()", "n = x.numel()\n        torch.cuda.synchronize()"), "ascend-cuda-device"),
    (("other=0.0)", "other=0.0).to(tl.float64)"), "ascend-unsupported"),
    (("import triton\n", "import triton\nfrom triton.language.extra.cuda import libdevice\n"), "ascend-unsupported"),
    (("relu_kernel[grid]", "relu_kernel[(70000,)]"), "ascend-grid-limit"),
    (("relu_kernel[grid](x, y, n, num_blocks, BLOCK=BLOCK)", "relu_kernel.warmup()"), "kernel-not-launched"),
])
def test_static_rules_reject_what_the_npu_cannot_run(edit: tuple[str, str], rule: str) -> None:
    code = PLUGIN.example().replace(*edit)
    assert code != PLUGIN.example()
    assert rule in rules(code)


def test_launches_over_the_grid_limit_stop_with_a_message_warmups_do_not_count() -> None:
    assert counts_launch((), {"grid": (MAX_GRID_PROGRAMS,)})
    assert counts_launch((), {"grid": lambda meta: (meta["n"] // meta["BLOCK"],), "n": 4096, "BLOCK": 1024})
    assert not counts_launch((), {"grid": (1,), "warmup": True})
    with pytest.raises(GridLimitError, match="at most 65535"):
        counts_launch((), {"grid": (300, 300)})
    with pytest.raises(GridLimitError):
        counts_launch((), {"grid": lambda meta: (meta["n"] // meta["BLOCK"],), "n": 2**30, "BLOCK": 1024})
    assert counts_launch((), {"grid": lambda meta: (meta["positional_only"],)})  # left to Triton


def test_the_builtin_triton_kernel_is_adapted_to_the_npu() -> None:
    adapted = adapt_source(GPU_SHAPED)
    assert adapted is not None
    assert rules(adapted) == []
    assert "num_warps" not in adapted and "import torch_npu" in adapted
    assert "for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0)):" in adapted
    assert "def akg_kernel(in0, out, n, num_blocks, BLOCK: tl.constexpr):" in adapted
    assert ("akg_kernel[(min(triton.cdiv(n, 2048), _vector_cores(x.device.index)),)]"
            "(x, out, n, triton.cdiv(n, 2048), BLOCK=2048)") in adapted
    compile(adapted, "<adapted>", "exec")
    assert adapt_source(GPU_SHAPED.replace("akg_kernel[(", "other[(")) is None  # a launch of an unknown kernel


def test_several_kernels_dispatched_in_forward_are_all_adapted() -> None:
    adapted = adapt_source(GPU_DISPATCH)
    assert adapted is not None and rules(adapted) == []
    assert adapted.count("for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0)):") == 2
    assert "def akg_part(in0, part, n, num_blocks, BLOCK: tl.constexpr, STAGES: tl.constexpr):" in adapted
    assert "for start in range(0, n, BLOCK):" in adapted and "num_stages" not in adapted
    assert ("akg_part[(min(triton.cdiv(rows, 1), _vector_cores(x.device.index)), nsplit)]"
            "(x, part, n, triton.cdiv(rows, 1), BLOCK=1024, STAGES=3, SPLITS=triton.next_power_of_2(nsplit))") in adapted
    compile(adapted, "<adapted>", "exec")
    broken = GPU_DISPATCH.replace("blk0 = tl.program_id(0).to(tl.int64)", "blk0 = tl.program_id(0)")
    assert adapt_source(broken) is None  # a kernel whose block index it cannot find is not guessed at


def test_tiles_over_the_unified_buffer_are_left_out() -> None:
    assert fits_unified_buffer({"block": 4096, "rows": 1}, GPU_SHAPED)
    assert not fits_unified_buffer({"block": 16384, "rows": 2}, GPU_SHAPED)


def test_targets_come_from_the_plugins() -> None:
    validate_target("ascend", "ascend910b2", "triton_ascend")
    validate_target("ascend", "ascend910_93", "triton_ascend")
    with pytest.raises(ConfigError, match="cannot target ascend310p3"):
        validate_target("ascend", "ascend310p3", "triton_ascend")
    with pytest.raises(ConfigError, match="does not run on backend ascend"):
        validate_target("ascend", "ascend910b4", "triton_cuda")


def test_prompt_assembly_carries_the_contract_example_and_ascend_skills() -> None:
    task = Task(name="softmax", source=(REPO / "examples" / "tasks" / "softmax.py").read_text())
    skills = select_skills(load_skills(), "triton_ascend", "codegen", ["softmax"], task.source + " softmax rows")
    names = {s.name for s in skills}
    assert {"ascend-grid-per-core", "ascend-ub-budget", "ascend-vector-rows"} <= names
    assert all(s.dsl in ("triton_ascend", "any") for s in skills)
    job = KernelJob(task, "triton_ascend", "ascend", "ascend910b4", PLUGIN.contract(), PLUGIN.example(), PLUGIN.language,
                    "softmax over rows", render_skills(skills))
    prompts: list[str] = []

    class RecordingIO:  # the agent's model call, answered with the example; the prompt is kept
        async def ask(self, agent: str, template: str, variables: dict[str, Any], level: str, parse: Any) -> Any:
            prompts.append(render(template, **variables))
            return PLUGIN.example(), None

    code = asyncio.run(KernelGen(RecordingIO()).generate(job))  # type: ignore[arg-type]
    assert code == PLUGIN.example()
    assert "Unified Buffer" in prompts[0] and "num_vectorcore" in prompts[0] and "ascend910b4" in prompts[0]
    assert "ascend-ub-budget" in prompts[0]


def test_skills_cover_vector_and_cube_blocks_ub_multibuffer_fusion_and_fixes() -> None:
    ours = {s.name: s for s in load_skills() if s.dsl == "triton_ascend"}
    assert set(ours) >= {"ascend-grid-per-core", "ascend-ub-budget", "ascend-multibuffer", "ascend-vector-rows",
                         "ascend-cube-matmul", "ascend-fusion", "ascend-fix-common"}
    assert "fix" in ours["ascend-fix-common"].stage


def test_each_npu_worker_is_pinned_by_ascend_rt_visible_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeSandbox:
        def __init__(self, cache_dir: str, env: dict[str, str]) -> None:
            self.cache_dir, self.env = cache_dir, env

        def close(self) -> None:
            pass

    monkeypatch.setenv("ASCEND_HOME_PATH", "/usr/local/Ascend/ascend-toolkit/latest")
    pool = DevicePool(["0", "3"], str(tmp_path), VerifySettings(device="npu"), sandbox_factory=FakeSandbox, backend="ascend")
    envs = [slot.verifier.sandbox.env for slot in pool.slots]
    assert [e["ASCEND_RT_VISIBLE_DEVICES"] for e in envs] == ["0", "3"]
    assert all("CUDA_VISIBLE_DEVICES" not in e for e in envs)
    assert all(e["ASCEND_HOME_PATH"] == "/usr/local/Ascend/ascend-toolkit/latest" for e in envs)
    assert [slot.verifier.settings.device for slot in pool.slots] == ["npu", "npu"]


@pytest.mark.skipif(not NO_NPU, reason="torch_npu is installed here")
def test_without_torch_npu_the_backend_says_what_is_missing() -> None:
    backend = get_backend("ascend")
    assert backend.device_count() == 0
    problem = backend.runtime_problem() or ""
    assert problem.startswith("torch_npu is not installed") and "pip install torch-npu==" in problem
    assert PLUGIN.toolchain_problem() == problem


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AKG_AGENTS_CONFIG"}
    return subprocess.run([sys.executable, "-m", "akg_agents.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.mark.skipif(not NO_NPU, reason="torch_npu is installed here")
def test_every_ascend_command_without_an_npu_is_one_line_and_exit_3(tmp_path: Path) -> None:
    relu = str(REPO / "examples" / "tasks" / "relu.py")
    target = ["--backend", "ascend", "--dsl", "triton_ascend"]
    for args in (["op", *target, "--task", relu, "-o", "runs"],
                 ["verify", relu, "--task", relu, *target, "-o", "runs"],
                 ["bench", str(REPO / "examples" / "tasks"), *target, "-o", "bench"]):
        done = _cli(*args, cwd=tmp_path)
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: torch_npu is not installed"), (args, done.stderr)


@pytest.mark.skipif(not NO_NPU, reason="torch_npu is installed here")
def test_deferred_generation_works_without_an_npu(tmp_path: Path) -> None:
    done = _cli("op", "--backend", "ascend", "--dsl", "triton_ascend", "--model", "builtin", "--task",
                str(REPO / "examples" / "tasks" / "softmax.py"), "--defer", "bundles", "-o", "runs", cwd=tmp_path)
    assert done.returncode == 75, done.stdout + done.stderr  # parked: evaluate on an Ascend host, then resume
    assert "akg_cli evaluate" in done.stdout
    assert any((tmp_path / "bundles").iterdir())
    evaluated = _cli("evaluate", "bundles", cwd=tmp_path)
    assert evaluated.returncode == 3 and "torch_npu is not installed" in evaluated.stderr


def test_the_worker_loads_the_npu_runtime_before_its_first_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    from akg_agents.verify.taskrun import use_device

    loaded: list[str] = []
    monkeypatch.setattr(get_backend("ascend"), "activate", lambda: loaded.append("torch_npu"))
    use_device("npu:0")
    use_device("cpu")  # the CPU has nothing to load
    assert loaded == ["torch_npu"]
