"""Fast CUDA loader: source -> nvcc -> shared library -> ctypes, cached by source hash.

Standalone on purpose (standard library + torch only): an exported cuda_c kernel inlines this
file, so it runs without akg_agents installed.

Why not `torch.utils.cpp_extension.load_inline`? It builds a Python extension against torch's
headers through ninja: about 38 s per kernel on an H100 machine, nearly all of it compiling
torch's C++ headers. A `.cu` file that takes raw pointers compiles in one or two seconds, and
the cache makes a repeated source free. Calling convention (all exported functions are
`extern "C"` host functions that launch the kernels):
    torch.Tensor -> pointer to its first element (contiguous, on the current CUDA device)
    int / bool   -> int64_t
    float        -> double
Functions return void. Launch with `kernel<<<grid, block, smem>>>(...)` on stream 0 (the legacy
default stream: the one torch, the verifier and the timer use). After every call the loader
asks the CUDA runtime for a launch error (bad grid, too much shared memory) and raises it.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from typing import Any

NVCC_FLAGS = ["-O3", "-std=c++17", "-shared", "-Xcompiler", "-fPIC", "-lineinfo"]
_LOADED: dict[str, Any] = {}
LAUNCHES = [0]  # launch counter read by the verifier (a list so importers share one cell)

# Appended to every source: lets the loader read launch errors from the library's own runtime.
_ERROR_HELPER = r"""
#include <cstdio>
#include <cuda_runtime.h>
extern "C" int akg_last_error(char* buffer, int size) {
    cudaError_t code = cudaGetLastError();
    if (code != cudaSuccess) snprintf(buffer, size, "%s: %s", cudaGetErrorName(code), cudaGetErrorString(code));
    return (int)code;
}
"""


class CudaCompileError(RuntimeError):
    """nvcc rejected the source; the message holds the compiler's output."""


class CudaKernelError(RuntimeError):
    """A launch failed (the CUDA runtime's error name and text)."""


def _cache_dir() -> str:
    root = os.environ.get("AKG_AGENTS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "akg_agents")
    path = os.path.join(root, "cuda")
    os.makedirs(path, exist_ok=True)
    return path


def nvcc_path() -> str | None:
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home and os.path.exists(os.path.join(home, "bin", "nvcc")):
            return os.path.join(home, "bin", "nvcc")
    return shutil.which("nvcc")


def default_arch() -> str:
    """`sm_90a` on an H100: the `a` variant unlocks wgmma/TMA, and the library only runs here."""
    import torch

    major, minor = torch.cuda.get_device_capability()
    suffix = "a" if major >= 9 else ""
    return f"sm_{major}{minor}{suffix}"


def compile_cuda(source: str, extra_flags: tuple[str, ...] = (), arch: str | None = None) -> str:
    """Compile once per (source, flags, arch, nvcc); safe when many processes ask at once."""
    nvcc = nvcc_path()
    if nvcc is None:
        raise CudaCompileError("nvcc was not found (set CUDA_HOME or put nvcc on PATH)")
    arch = arch or default_arch()
    full = source + "\n" + _ERROR_HELPER
    flags = [*NVCC_FLAGS, f"-arch={arch}", *extra_flags]
    key = hashlib.sha256("\0".join([full, nvcc, *flags]).encode()).hexdigest()[:24]
    directory = _cache_dir()
    library = os.path.join(directory, f"k_{key}.so")
    if os.path.exists(library):
        return library
    with open(os.path.join(directory, f"k_{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(library):
            return library
        with tempfile.TemporaryDirectory(dir=directory) as work:
            src = os.path.join(work, "kernel.cu")
            with open(src, "w") as handle:
                handle.write(full)
            tmp_lib = os.path.join(work, "kernel.so")
            proc = subprocess.run([nvcc, *flags, src, "-o", tmp_lib], capture_output=True, text=True)
            if proc.returncode != 0:
                raise CudaCompileError((proc.stderr or proc.stdout)[-4000:])
            os.replace(tmp_lib, library)  # atomic: readers never see a half-written library
    return library


def _convert(arg: Any) -> Any:
    if hasattr(arg, "data_ptr") and hasattr(arg, "is_contiguous"):
        if not arg.is_contiguous():
            raise ValueError("tensor arguments to CUDA kernels must be contiguous (call .contiguous())")
        if arg.device.type != "cuda":
            raise ValueError(f"tensor on {arg.device} passed to a CUDA kernel (move it with .cuda())")
        return ctypes.c_void_p(arg.data_ptr())
    if isinstance(arg, (bool, int)):
        return ctypes.c_int64(int(arg))
    if isinstance(arg, float):
        return ctypes.c_double(arg)
    raise TypeError(f"cannot pass {type(arg).__name__} to a CUDA kernel (use tensors, ints, floats)")


class CudaLibrary:
    """Attribute access gives the library's launchers, converting arguments as documented."""

    def __init__(self, path: str) -> None:
        self._lib = ctypes.CDLL(path)
        self._launchers: dict[str, Any] = {}
        self._error = self._lib.akg_last_error
        self._error.restype = ctypes.c_int
        self.path = path

    def _check(self, name: str) -> None:
        buffer = ctypes.create_string_buffer(512)
        if self._error(buffer, 512) != 0:
            raise CudaKernelError(f"{name}: {buffer.value.decode(errors='replace')}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._launchers:
            function = getattr(self._lib, name)
            function.restype = None

            def launch(*args: Any) -> None:
                LAUNCHES[0] += 1
                function(*[_convert(a) for a in args])
                self._check(name)

            self._launchers[name] = launch
        return self._launchers[name]


def load_cuda(source: str, extra_flags: tuple[str, ...] = (), arch: str | None = None) -> CudaLibrary:
    path = compile_cuda(source, extra_flags, arch)
    if path not in _LOADED:
        _LOADED[path] = CudaLibrary(path)
    library: CudaLibrary = _LOADED[path]
    return library
