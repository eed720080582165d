"""The referee as a user relies on it: KernelBench files as written, references kept off disk,
precision, tasks too large for the machine, fresh timed inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from akg_agents.builtin.generator import generate
from akg_agents.dsl import get_plugin
from akg_agents.errors import TaskError
from akg_agents.records import Candidate, Status, Task
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import Verifier, VerifySettings

FIXTURES = Path(__file__).parents[1] / "fixtures"
KB_STYLE = sorted((FIXTURES / "kernelbench_style").glob("*.py"))
SETTINGS = VerifySettings(threads=1, timeout_s=30.0, memory_mb=2048, warmup_times=1, run_times=6)


@pytest.fixture(scope="module")
def verifier(cache_dir: Path) -> Iterator[Verifier]:
    v = Verifier(SETTINGS, str(cache_dir / "referee"))
    yield v
    v.close()


@pytest.mark.parametrize("path", KB_STYLE, ids=lambda p: p.stem)
def test_kernelbench_files_are_prepared_as_written(verifier: Verifier, path: Path) -> None:
    # super(Model, self), scalar forward inputs, init inputs, buffers, several outputs.
    info = verifier.reference(load_task(path))
    assert info.output_shapes and info.eager_ms > 0
    assert info.cases == ["seed0", "seed1", "seed2"]


def test_several_outputs_and_init_inputs_are_recorded(verifier: Verifier) -> None:
    info = verifier.reference(load_task(FIXTURES / "kernelbench_style" / "09_min_and_max_over_a_dimension.py"))
    assert len(info.output_shapes) == 2


@pytest.mark.parametrize("name", ["01_relu", "02_softmax", "10_layer_norm"])
def test_builtin_kernels_pass_on_kernelbench_style_tasks(verifier: Verifier, name: str) -> None:
    task = load_task(FIXTURES / "kernelbench_style" / f"{name}.py")
    candidate = generate(task, "cpp", 1)[0]
    result = verifier.evaluate(task, candidate)
    assert result.status is Status.PASSED, result.feedback()
    assert result.profile is not None and result.profile.counted
    # every timed call ran on inputs no other call saw, and its output was checked
    assert result.profile.input_sets >= 5 and result.profile.timed_checked == result.profile.input_sets


def test_no_reference_output_is_ever_written_to_disk(verifier: Verifier, cache_dir: Path) -> None:
    task = load_task(FIXTURES / "tasks" / "relu_small.py")
    verifier.evaluate(task, generate(task, "cpp", 1)[0])
    written = [p for p in (cache_dir / "referee").rglob("*") if p.is_file()]
    assert not [p for p in written if p.suffix in (".pt", ".pth", ".npy", ".bin")]
    baselines = [p for p in written if "baselines" in p.parts]
    assert baselines and all(p.stat().st_size < 512 for p in baselines)  # timings only


def test_precision_option_casts_inputs_and_weights(cache_dir: Path) -> None:
    v = Verifier(VerifySettings(threads=1, timeout_s=30.0, memory_mb=2048, warmup_times=1, run_times=5, precision="fp16"),
                 str(cache_dir / "fp16"))
    try:
        task = load_task(FIXTURES / "kernelbench_style" / "10_layer_norm.py")
        assert v.reference(task).output_dtypes == ["float16"]
        # the built-in kernel computes in fp32 and stores fp16: it passes at fp16
        result = v.evaluate(task, generate(task, "cpp", 1)[0])
        assert result.status is Status.PASSED, result.feedback()
        # a kernel written for fp32 tensors only reads fp16 data as floats: it must not pass
        relu = load_task(FIXTURES / "tasks" / "relu_small.py")
        fp32_only = v.evaluate(relu, Candidate("fp32_only", "cpp", get_plugin("cpp").example()))
        assert fp32_only.status is not Status.PASSED, fp32_only.feedback()
    finally:
        v.close()


def test_a_task_too_large_for_the_machine_is_refused_before_it_runs(verifier: Verifier) -> None:
    source = (FIXTURES / "tasks" / "relu_small.py").read_text()
    huge = Task("huge", source.replace("batch_size = 64", "batch_size = 64000000"))
    assert "batch_size = 64000000" in huge.source
    problem = verifier.fit_problem(huge)
    assert problem is not None and "GiB" in problem
    assert verifier.fit_problem(load_task(FIXTURES / "tasks" / "relu_small.py")) is None


def test_a_task_that_raises_in_get_inputs_is_one_line(verifier: Verifier) -> None:
    source = (FIXTURES / "tasks" / "relu_small.py").read_text().replace("def get_inputs():", "def get_inputs():\n    raise ValueError('no data')")
    with pytest.raises(TaskError, match="get_inputs"):
        verifier.reference(Task("raises", source))


def test_timed_outputs_are_checked_with_evidence(verifier: Verifier) -> None:
    # correct for the first calls (verification), stale afterwards: caught on fresh inputs
    code = (Path(__file__).parent / "cheats" / "count_calls.py").read_text()
    result = verifier.evaluate(load_task(FIXTURES / "tasks" / "relu_small.py"), Candidate("cc", "cpp", code))
    assert result.status is Status.REJECTED and result.rule == "timed-output-mismatch"
    assert result.mismatch is not None and result.mismatch.bad_count > 0


NOISY_SUM = '''
import torch
import torch.nn as nn

_calls = [0]


class Model(nn.Module):
    """Sums rows in an order that changes from call to call, as atomics on a GPU do."""

    def forward(self, x):
        _calls[0] += 1
        order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(_calls[0]))
        return x[:, order].sum(dim=1)


def get_inputs():
    return [torch.randn(64, 4099)]


def get_init_inputs():
    return []
'''

RANDOM_FORWARD = NOISY_SUM.replace("return x[:, order].sum(dim=1)", "return x.sum(dim=1) + torch.randn(x.shape[0])")


def test_a_reference_that_only_reorders_its_sums_is_accepted_and_randomness_is_not(verifier: Verifier, tmp_path: Path) -> None:
    (tmp_path / "noisy_sum.py").write_text(NOISY_SUM)
    (tmp_path / "random_forward.py").write_text(RANDOM_FORWARD)
    assert verifier.reference(load_task(tmp_path / "noisy_sum.py")).output_shapes == [[64]]
    with pytest.raises(TaskError, match="not deterministic"):
        verifier.reference(load_task(tmp_path / "random_forward.py"))
