"""GPU DSL plugins, checked on the CPU: protocol, static rules, export, defaults."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import resources

import pytest
import yaml

from akg_agents.dsl import get_plugin
from akg_agents.verify.static import check_source

GPU_DSLS = ["triton_cuda", "cuda_c", "tilelang_cuda"]


def rules(dsl: str, code: str) -> set[str]:
    return {v.rule for v in check_source(code, get_plugin(dsl))[1]}


@pytest.mark.parametrize("dsl", GPU_DSLS)
def test_plugin_describes_itself_and_its_example_is_clean(dsl: str) -> None:
    plugin = get_plugin(dsl)
    assert plugin.name == dsl and plugin.backend == "cuda" and plugin.device_type == "cuda"
    assert "ModelNew" in plugin.contract()
    assert rules(dsl, plugin.example()) == set()


@pytest.mark.parametrize("dsl", GPU_DSLS)
def test_plugins_import_without_gpu_stacks(dsl: str) -> None:
    code = f"import sys, akg_agents.dsl.{dsl}; print('triton' in sys.modules, 'tilelang' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


@pytest.mark.parametrize("dsl", GPU_DSLS)
def test_default_yaml_has_the_shared_keys(dsl: str) -> None:
    text = resources.files("akg_agents.config").joinpath(f"dsl/{dsl}.yaml").read_text()
    data = yaml.safe_load(text)
    assert {"agent_model_config", "default_workflow", "profile_settings", "verify_timeout", "log_dir"} <= set(data)
    assert {"run_times", "warmup_times"} <= set(data["profile_settings"])


def test_triton_kernel_must_be_launched() -> None:
    code = get_plugin("triton_cuda").example().replace("relu_kernel[(triton.cdiv(n, BLOCK),)]", "relu_kernel.warmup")
    assert "kernel-not-launched" in rules("triton_cuda", code)
    no_jit = get_plugin("triton_cuda").example().replace("@triton.jit\n", "")
    assert "kernel-not-built" in rules("triton_cuda", no_jit)


def test_cuda_source_may_not_make_streams_or_threads() -> None:
    example = get_plugin("cuda_c").example()
    streams = example.replace("#include <cuda_runtime.h>", "#include <cuda_runtime.h>\nstatic cudaStream_t s; void f() { cudaStreamCreate(&s); }")
    assert "forbidden-api" in rules("cuda_c", streams)
    threads = example.replace("#include <cuda_runtime.h>", "#include <cuda_runtime.h>\n#include <thread>\nvoid g() { std::thread t([]{}); }")
    assert "forbidden-api" in rules("cuda_c", threads)
    no_build = example.replace("_lib = load_cuda(CUDA_SOURCE)", "_lib = None")
    assert "kernel-not-built" in rules("cuda_c", no_build)


def test_tilelang_kernel_must_be_compiled() -> None:
    code = get_plugin("tilelang_cuda").example().replace("tilelang.compile(relu, out_idx=[1])", "relu")
    assert "kernel-not-built" in rules("tilelang_cuda", code)


def test_cuda_c_export_inlines_the_loader() -> None:
    exported = get_plugin("cuda_c").export(get_plugin("cuda_c").example())
    compile(exported, "<export>", "exec")  # `from __future__` is not left in the middle
    tree = ast.parse(exported)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(name.startswith("akg_agents") for name in imported)
    assert "def load_cuda" in exported and "_lib = load_cuda(CUDA_SOURCE)" in exported


@pytest.mark.parametrize("dsl", ["triton_cuda", "tilelang_cuda"])
def test_python_dsl_exports_are_the_code_itself(dsl: str) -> None:
    example = get_plugin(dsl).example()
    assert get_plugin(dsl).export(example) == example


def test_cuda_loader_without_nvcc_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from akg_agents.dsl import cuda_loader

    monkeypatch.setattr(cuda_loader, "nvcc_path", lambda: None)
    with pytest.raises(cuda_loader.CudaCompileError, match="nvcc was not found"):
        cuda_loader.compile_cuda("__global__ void k() {}", arch="sm_90")
    assert "nvcc" in (get_plugin("cuda_c").toolchain_problem() or "")
