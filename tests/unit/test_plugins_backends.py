"""Backend plugins: a third-party device found through an `akg_agents.backends` entry point pins
its workers and shows up in the target table; the CUDA and NPU timers keep the procedure the
verifier relies on (cache flush, start event, call, device-wide synchronize, end event)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import torch

from akg_agents.dsl import backend_for_device, get_backend, registry, target_table, validate_target
from akg_agents.errors import ConfigError
from akg_agents.profile import cuda_timer
from akg_agents.profile.cuda_timer import CudaTimer
from akg_agents.profile.npu_timer import NpuTimer
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.verify.evaluate import VerifySettings

PACKAGE = '''
from contextlib import contextmanager


class FakeDevice:
    name = "fakedev"
    device_type = "fakedev"
    archs = ("fd1", "fd2")
    default_arch = "fd1"
    visibility_var = "FAKEDEV_VISIBLE_DEVICES"
    env_passthrough = ("FAKEDEV_HOME",)
    single_device = False
    host_memory = False
    output_transport = "host_slots"
    runtime_starts_threads = True
    limit_address_space = False

    def worker_env(self, device_id):
        return {self.visibility_var: device_id}

    def runtime_problem(self):
        return "no fakedev here: install fakedev-runtime"

    def device_count(self):
        return 0

    def synchronize(self):
        pass

    def make_timer(self):
        raise RuntimeError("no device")

    def device_name(self):
        return "FakeDev 1"

    def memory_capacity(self):
        return 0

    def roofline_check(self, model, inputs, candidate_ms):
        return None

    def arch_problem(self, arch, host):
        return None


class Broken:
    name = "broken"


class FakeDsl:
    name = "fake_dsl"
    backend = "fakedev"
    device_type = "fakedev"
    language = "python"

    def static_check(self, tree, code):
        return []

    @contextmanager
    def instrument(self):
        yield None

    def toolchain_problem(self):
        return "no fakedev here: install fakedev-runtime"

    def export(self, code):
        return code

    def contract(self):
        return "ModelNew on a fake device"

    def example(self):
        return ""


BACKEND = FakeDevice()
BROKEN = Broken()
PLUGIN = FakeDsl()
'''

ENTRY_POINTS = """[akg_agents.backends]
fakedev = akg_ext_fakedev:BACKEND
broken = akg_ext_fakedev:BROKEN

[akg_agents.dsl]
fake_dsl = akg_ext_fakedev:PLUGIN
"""


@pytest.fixture()
def fake_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    (site / "akg_ext_fakedev").mkdir(parents=True)
    (site / "akg_ext_fakedev" / "__init__.py").write_text(PACKAGE)
    dist = site / "akg_ext_fakedev-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: akg-ext-fakedev\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    for cache in ("_dsls", "_backends", "_by_device"):
        monkeypatch.setattr(registry, cache, {})


def test_an_installed_backend_and_its_dsl_are_valid_targets(fake_device: None) -> None:
    assert target_table()["fakedev"] == (("fd1", "fd2"), ["fake_dsl"])
    validate_target("fakedev", "fd2", "fake_dsl")
    with pytest.raises(ConfigError, match="is not a fakedev arch; valid: fd1, fd2"):
        validate_target("fakedev", "h100", "fake_dsl")
    assert backend_for_device("fakedev:0").name == "fakedev"
    with pytest.raises(ConfigError, match="backend plugin 'broken' is incomplete"):
        get_backend("broken")
    assert "broken" not in target_table()


def test_its_workers_are_pinned_by_its_own_visibility_variable(fake_device: None, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeSandbox:
        def __init__(self, cache_dir: str, env: dict[str, str]) -> None:
            self.cache_dir, self.env = cache_dir, env

        def close(self) -> None:
            pass

    monkeypatch.setenv("FAKEDEV_HOME", "/opt/fakedev")
    pool = DevicePool(["2", "5"], str(tmp_path), VerifySettings(device="fakedev"), sandbox_factory=FakeSandbox,
                      backend="fakedev")
    envs = [slot.verifier.sandbox.env for slot in pool.slots]
    assert [e["FAKEDEV_VISIBLE_DEVICES"] for e in envs] == ["2", "5"]
    assert all(e["FAKEDEV_HOME"] == "/opt/fakedev" and "CUDA_VISIBLE_DEVICES" not in e for e in envs)
    assert [slot.torch_device for slot in pool.slots] == ["fakedev", "fakedev"]


def test_unknown_backend_is_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown --backend 'tpu'; valid: cpu, cuda, ascend"):
        get_backend("tpu")


class FakeRuntime:
    """torch.cuda / torch.npu as the timers use them, logging the order of operations."""

    def __init__(self, log: list[str], name: str = "Ascend910B4") -> None:
        self.log, self.name = log, name

    def current_device(self) -> int:
        return 0

    def get_device_properties(self, device: Any) -> Any:
        return type("Props", (), {"L2_cache_size": 1024})()

    def get_device_name(self, device: Any = None) -> str:
        return self.name

    def synchronize(self, device: Any = None) -> None:
        self.log.append("synchronize")

    def Event(self, enable_timing: bool = False) -> Any:
        log = self.log

        class Event:
            def record(self) -> None:
                log.append("record")

            def elapsed_time(self, other: Any) -> float:
                return 1.5

        return Event()


class LoggedFlush:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def sum(self) -> None:
        self.log.append("flush")


@pytest.mark.parametrize(("timer_class", "api"), [(CudaTimer, "cuda"), (NpuTimer, "npu")])
def test_timers_flush_record_call_synchronize_then_record_the_end(timer_class: type[CudaTimer], api: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    monkeypatch.setattr(torch, api, FakeRuntime(log), raising=False)
    monkeypatch.setattr(cuda_timer, "MIN_FLUSH_BYTES", 4096)  # a tiny CPU buffer stands for the L2 flush
    timer = timer_class(device="cpu")
    timer._flush = LoggedFlush(log)
    log.clear()
    assert timer.time_one(lambda: log.append("call")) == 1.5
    # The end event is recorded only after the whole device is synchronized: work the call queued
    # on any stream (or from a thread) is inside the measurement.
    assert log == ["flush", "record", "call", "synchronize", "record", "synchronize"]


def test_the_npu_timer_falls_back_to_the_arch_table_for_its_l2(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = FakeRuntime([])
    runtime.get_device_properties = lambda device: object()  # type: ignore[method-assign]
    monkeypatch.setattr(torch, "npu", runtime, raising=False)
    timer = NpuTimer(device="cpu", flush="none")
    assert timer.l2_bytes() == 192_000_000  # config/arch.yaml: ascend910b4, l2_mb 192
