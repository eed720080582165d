"""Ascend NPU timer: the CUDA timer's procedure on torch.npu (torch_npu).

    flush L2 -> record start event -> call -> torch.npu.synchronize() -> record end event -> sync

Same reasons as on a GPU (profile/cuda_timer.py): the 910B's L2 (192 MB by the figures in
config/arch.yaml) holds whole KernelBench inputs, so every call is timed with it flushed; NPU
events recorded on the current stream measure device time, not the host's enqueue time; and the
device-wide synchronize before the end event keeps work on any other stream inside the
measurement. torch_npu mirrors the torch.cuda API (Event(enable_timing=True), synchronize,
current_device, get_device_properties), so only the L2 size differs: torch_npu's device
properties do not report it on every release, so the arch table's figure is the fallback.
"""

from __future__ import annotations

from akg_agents.profile.cuda_timer import CudaTimer

DEFAULT_L2_BYTES = 192 * 1024 * 1024  # Atlas A2/A3 (estimate, see arch.yaml): flushing more is harmless


class NpuTimer(CudaTimer):
    DEVICE_TYPE = "npu"

    def l2_bytes(self) -> int:
        reported = super().l2_bytes()
        if reported:
            return reported
        from akg_agents.profile.roofline import arch_for_device

        arch = arch_for_device(str(self._api.get_device_name(self.device)))
        return int(arch.l2_mb * 1e6) if arch is not None else DEFAULT_L2_BYTES
