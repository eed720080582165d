"""The `cuda` backend: NVIDIA GPUs through torch.cuda; one worker per GPU, pinned by
CUDA_VISIBLE_DEVICES so the candidate always sees `cuda:0` (and the CUDA loader's own runtime,
which knows nothing of torch's current device, agrees with torch)."""

from __future__ import annotations

from typing import Any

from akg_agents.dsl.backend import Timer, visibility_env


class CudaBackend:
    name = "cuda"
    device_type = "cuda"
    archs = ("h100", "h200", "a100", "l40s", "rtx4090")
    default_arch = "h100"
    visibility_var = "CUDA_VISIBLE_DEVICES"
    env_passthrough: tuple[str, ...] = ()  # CUDA_HOME and friends are in the sandbox's own list
    single_device = False
    host_memory = False
    output_transport = "ipc"
    runtime_starts_threads = True
    limit_address_space = False  # CUDA reserves huge virtual ranges

    def worker_env(self, device_id: str) -> dict[str, str]:
        return visibility_env(self.visibility_var, device_id)

    def runtime_problem(self) -> str | None:
        import torch

        if not torch.cuda.is_available():
            return f"no CUDA GPU is visible to torch {torch.__version__} (a CUDA build and a driver are needed)"
        return None

    def device_count(self) -> int:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0

    def synchronize(self) -> None:
        import torch

        torch.cuda.synchronize()

    def make_timer(self) -> Timer:
        from akg_agents.profile.cuda_timer import CudaTimer

        return CudaTimer()

    def device_name(self) -> str:
        import torch

        return str(torch.cuda.get_device_name())

    def memory_capacity(self) -> int:
        import torch

        return int(torch.cuda.mem_get_info()[1])

    def roofline_check(self, model: Any, inputs: list[Any], candidate_ms: float) -> str | None:
        import torch

        from akg_agents.profile.gpu_flags import roofline_check
        from akg_agents.verify.taskrun import plain_outputs

        with torch.no_grad():
            return roofline_check(model, inputs, plain_outputs(model(*inputs)), candidate_ms, self.device_name())

    def arch_problem(self, arch: str, host: str) -> tuple[str, str] | None:
        return None


BACKEND = CudaBackend()
