"""The `ascend` backend: Huawei Ascend NPUs through torch_npu (`torch.npu`, device type "npu").

One worker per NPU, pinned by ASCEND_RT_VISIBLE_DEVICES (CANN's counterpart of
CUDA_VISIBLE_DEVICES), so the candidate always sees `npu:0`. Synchronize is
`torch.npu.synchronize()` (the whole device); the timer is profile/npu_timer.py (NPU events, L2
flush, device-wide synchronize before the end event, as on a GPU). torch_npu has no IPC handles
the referee could open, so outputs reach the referee through host shared-memory slots.

Without torch_npu or an NPU every Ascend command stops with one line and exit code 3
(ToolchainError); generating candidates for later evaluation (`--defer`) needs neither.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from akg_agents.dsl.backend import Timer, visibility_env


def install_hint() -> str:
    """How to get an NPU runtime: CANN, then the torch_npu release that matches this torch."""
    import torch

    version = torch.__version__.split("+")[0]
    return ("an Ascend host needs the CANN toolkit (source /usr/local/Ascend/ascend-toolkit/set_env.sh) and the "
            f"torch_npu release for torch {version} (pip install torch-npu=={version})")


class AscendBackend:
    name = "ascend"
    device_type = "npu"
    archs = ("ascend910b1", "ascend910b2", "ascend910b3", "ascend910b4", "ascend910_93", "ascend310p3")
    default_arch = "ascend910b4"
    visibility_var = "ASCEND_RT_VISIBLE_DEVICES"
    # What CANN's set_env.sh exports and the runtime reads in the worker (toolkit and operator
    # paths, log routing); PATH and LD_LIBRARY_PATH are kept by the sandbox already.
    env_passthrough = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "ASCEND_OPP_PATH", "ASCEND_AICPU_PATH",
                       "ASCEND_CUSTOM_OPP_PATH", "TOOLCHAIN_HOME", "ASCEND_SLOG_PRINT_TO_STDOUT",
                       "ASCEND_GLOBAL_LOG_LEVEL", "ASCEND_CACHE_PATH", "ASCEND_WORK_PATH")
    single_device = False
    host_memory = False
    output_transport = "host_slots"
    runtime_starts_threads = True  # the CANN runtime starts its own threads when a stream is created
    limit_address_space = False  # the NPU driver maps device memory into the process's address space

    def worker_env(self, device_id: str) -> dict[str, str]:
        return visibility_env(self.visibility_var, device_id)

    def runtime_problem(self) -> str | None:
        if importlib.util.find_spec("torch_npu") is None:
            return f"torch_npu is not installed, so no Ascend NPU can be used here: {install_hint()}"
        torch = self._torch()
        if not torch.npu.is_available():
            return ("torch_npu sees no Ascend NPU (check `npu-smi info` and ASCEND_RT_VISIBLE_DEVICES); "
                    f"{install_hint()}")
        return None

    @staticmethod
    def _torch() -> Any:
        import torch
        import torch_npu  # noqa: F401  (registers torch.npu and the "npu" device type)

        return torch

    def activate(self) -> None:
        self._torch()

    def device_count(self) -> int:
        if importlib.util.find_spec("torch_npu") is None:
            return 0
        torch = self._torch()
        return int(torch.npu.device_count()) if torch.npu.is_available() else 0

    def synchronize(self) -> None:
        self._torch().npu.synchronize()

    def make_timer(self) -> Timer:
        self._torch()
        from akg_agents.profile.npu_timer import NpuTimer

        return NpuTimer()

    def device_name(self) -> str:
        return str(self._torch().npu.get_device_name())

    def memory_capacity(self) -> int:
        return int(self._torch().npu.mem_get_info()[1])

    def roofline_check(self, model: Any, inputs: list[Any], candidate_ms: float) -> str | None:
        torch = self._torch()
        from akg_agents.profile.gpu_flags import roofline_check
        from akg_agents.verify.taskrun import plain_outputs

        with torch.no_grad():
            return roofline_check(model, inputs, plain_outputs(model(*inputs)), candidate_ms, self.device_name())

    def arch_problem(self, arch: str, host: str) -> tuple[str, str] | None:
        return None


BACKEND = AscendBackend()
