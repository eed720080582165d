from __future__ import annotations

from akg_agents.dsl import get_plugin
from akg_agents.verify.static import check_source

CPP = get_plugin("cpp")


def rules(code: str) -> list[str]:
    return [v.rule for v in check_source(code, CPP)[1]]


def test_the_dsl_example_is_clean() -> None:
    assert rules(CPP.example()) == []


def test_syntax_error_is_reported_with_its_line() -> None:
    _, found = check_source("class ModelNew(:\n", CPP)
    assert found[0].rule == "syntax" and found[0].line == 1


def test_matmul_operator_in_forward_is_torch_compute() -> None:
    code = CPP.example().replace("return y", "return x @ x")
    assert "torch-compute-in-forward" in rules(code)


def test_stream_use_is_forbidden() -> None:
    code = CPP.example().replace("x = x.contiguous()", "s = torch.cuda.Stream()\n        x = x.contiguous()")
    assert "forbidden-api" in rules(code)


def test_a_candidate_that_never_builds_a_kernel_is_rejected() -> None:
    code = "import torch\nclass ModelNew(torch.nn.Module):\n    def forward(self, x):\n        return torch.empty_like(x)\n"
    assert "kernel-not-built" in rules(code)


def test_export_inlines_the_loader() -> None:
    exported = CPP.export(CPP.example())
    assert "akg_agents" not in exported.split("# --- end of loader ---")[1]
    assert "def load_cpp" in exported


def test_an_exported_kernel_is_judged_with_the_projects_loader() -> None:
    from akg_agents.verify.static import check_source

    exported = CPP.export(CPP.example())
    assert check_source(exported, CPP)[1]  # as exported: subprocess and open() in the inlined loader
    back = CPP.unexport(exported)
    assert "def load_cpp" not in back and "from akg_agents.dsl.cpp_loader import load_cpp" in back
    assert not check_source(back, CPP)[1]
    # whatever sits between the markers is dropped, not run
    planted = exported.replace("# --- end of loader ---", "import os; os.system('echo hi')\n# --- end of loader ---")
    assert "os.system" not in CPP.unexport(planted)


def test_count_method_calls_counts_and_restores() -> None:
    from akg_agents.dsl.base import count_method_calls

    class Runtime:
        def run(self, *args: object, warmup: bool = False) -> str:
            return "ran"

    original = Runtime.run
    with count_method_calls(Runtime, "run", lambda args, kwargs: not kwargs.get("warmup", False)) as launches:
        assert Runtime().run(1) == "ran"
        Runtime().run(warmup=True)  # compile-only calls are not launches
        Runtime().run(2)
        assert launches.count() == 2
    assert Runtime.run is original
