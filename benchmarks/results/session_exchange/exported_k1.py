import torch
import torch.nn as nn

# --- inlined from akg_agents.dsl.cpp_loader ---
"""Fast C++ loader: source -> g++ -> shared library -> ctypes, cached by source hash.

This file is deliberately standalone (standard library + torch only): an exported cpp kernel
inlines it so it runs without akg_agents installed.

Why not `torch.utils.cpp_extension.load_inline`? It builds a Python extension against torch's
headers through ninja: about 30 s per kernel on two cores, most of it parsing torch headers. A
kernel that takes raw pointers compiles in well under a second, and the cache makes a repeated
source free. Calling convention of the returned library's functions (all `extern "C"`):
    torch.Tensor -> pointer to its first element (must be contiguous and on the CPU)
    int / bool   -> int64_t
    float        -> double
Functions return void.
"""


import ctypes
import fcntl
import hashlib
import os
import subprocess
import tempfile
from typing import Any

CXX_FLAGS = ["-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-std=c++17", "-fno-math-errno"]
_LOADED: dict[str, Any] = {}
LAUNCHES = [0]  # launch counter read by the verifier (a list so importers share one cell)


class CppCompileError(RuntimeError):
    """g++ rejected the source; the message holds the compiler's output."""


def _cache_dir() -> str:
    root = os.environ.get("AKG_AGENTS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "akg_agents")
    path = os.path.join(root, "cpp")
    os.makedirs(path, exist_ok=True)
    return path


def compile_cpp(source: str, extra_flags: tuple[str, ...] = ()) -> str:
    """Compile once per (source, flags, compiler); safe when many processes ask at the same time."""
    cxx = os.environ.get("CXX", "g++")
    key = hashlib.sha256("\0".join([source, cxx, *CXX_FLAGS, *extra_flags]).encode()).hexdigest()[:24]
    directory = _cache_dir()
    library = os.path.join(directory, f"k_{key}.so")
    if os.path.exists(library):
        return library
    # One compile per key: others wait on the lock, then find the finished library.
    with open(os.path.join(directory, f"k_{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(library):
            return library
        with tempfile.TemporaryDirectory(dir=directory) as work:
            src = os.path.join(work, "kernel.cpp")
            with open(src, "w") as handle:
                handle.write(source)
            tmp_lib = os.path.join(work, "kernel.so")
            report = os.path.join(work, "vec.txt")  # which loops g++ vectorized: evidence for tuning
            proc = subprocess.run(
                [cxx, *CXX_FLAGS, *extra_flags, f"-fopt-info-vec-all={report}", src, "-o", tmp_lib],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise CppCompileError(proc.stderr[-4000:] or proc.stdout[-4000:])
            if os.path.exists(report):
                os.replace(report, library[: -len(".so")] + ".vec.txt")
            os.replace(tmp_lib, library)  # atomic: readers never see a half-written library
    return library


def _tensor_pointer(arg: Any) -> int:
    if not arg.is_contiguous():
        raise ValueError("tensor arguments to C++ kernels must be contiguous (call .contiguous())")
    if not arg.is_cpu:  # cheaper than arg.device.type, which builds a device object per call
        raise ValueError(f"tensor on {arg.device} passed to a CPU kernel")
    return int(arg.data_ptr())


def _argument_kind(arg: Any) -> tuple[Any, Any]:
    """(ctypes type, converter) for one argument; the first call of a function fixes them."""
    if hasattr(arg, "data_ptr") and hasattr(arg, "is_contiguous"):
        return ctypes.c_void_p, _tensor_pointer
    if isinstance(arg, (bool, int)):
        return ctypes.c_int64, int
    if isinstance(arg, float):
        return ctypes.c_double, float
    raise TypeError(f"cannot pass {type(arg).__name__} to a C++ kernel (use tensors, ints, floats)")


class CppLibrary:
    """Attribute access gives the library's functions, converting arguments as documented.

    The argument types are read from the first call and set as the function's `argtypes`, so later
    calls only turn tensors into pointers (about 1 us per launch instead of 4).
    """

    def __init__(self, path: str) -> None:
        self._lib = ctypes.CDLL(path)
        self._launchers: dict[str, Any] = {}
        self.path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._launchers:
            self._launchers[name] = self._make_launcher(name)
        return self._launchers[name]

    def _make_launcher(self, name: str) -> Any:
        function = getattr(self._lib, name)
        function.restype = None
        converters: list[Any] = []

        def launch(*args: Any) -> None:
            if not converters:
                kinds = [_argument_kind(a) for a in args]
                function.argtypes = [kind for kind, _ in kinds]
                converters.extend(convert for _, convert in kinds)
            if len(args) != len(converters):
                raise TypeError(f"{name}() was first called with {len(converters)} arguments, now {len(args)}")
            LAUNCHES[0] += 1
            function(*[convert(a) for convert, a in zip(converters, args, strict=True)])

        return launch


def loaded_paths() -> list[str]:
    return list(_LOADED)


def load_cpp(source: str, extra_flags: tuple[str, ...] = ()) -> CppLibrary:
    path = compile_cpp(source, extra_flags)
    if path not in _LOADED:
        _LOADED[path] = CppLibrary(path)
    library: CppLibrary = _LOADED[path]
    return library

# --- end of loader ---



CPP_SOURCE = r"""
#include <cstdint>
#include <immintrin.h>

#define BLOCK 16384   // floats per work item (64 KB), a multiple of 64 -> block edges on cache lines

// y = relu(x): one pass, contiguous blocks per thread (static schedule), plain stores.
extern "C" void relu_forward(const float* __restrict x, float* __restrict y, int64_t n) {
    const int64_t nblocks = (n + BLOCK - 1) / BLOCK;
    #pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblocks; ++blk) {
        const int64_t i0 = blk * BLOCK;
        const int64_t i1 = (i0 + BLOCK < n) ? i0 + BLOCK : n;
        int64_t i = i0;
#if defined(__AVX512F__)
        const __m512 z = _mm512_setzero_ps();
        // max(0, v) returns the second operand when v is NaN -> NaN is kept, like torch.relu
        for (; i + 64 <= i1; i += 64) {
            const __m512 a0 = _mm512_loadu_ps(x + i);
            const __m512 a1 = _mm512_loadu_ps(x + i + 16);
            const __m512 a2 = _mm512_loadu_ps(x + i + 32);
            const __m512 a3 = _mm512_loadu_ps(x + i + 48);
            _mm512_storeu_ps(y + i,      _mm512_max_ps(z, a0));
            _mm512_storeu_ps(y + i + 16, _mm512_max_ps(z, a1));
            _mm512_storeu_ps(y + i + 32, _mm512_max_ps(z, a2));
            _mm512_storeu_ps(y + i + 48, _mm512_max_ps(z, a3));
        }
        if (i < i1) {
            #pragma omp simd
            for (int64_t j = i; j < i1; ++j) {
                const float v = x[j];
                y[j] = v < 0.0f ? 0.0f : v;
            }
        }
#else
        #pragma omp simd
        for (int64_t j = i; j < i1; ++j) {
            const float v = x[j];
            y[j] = v < 0.0f ? 0.0f : v;
        }
#endif
    }
}
"""

_lib = load_cpp(CPP_SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_forward(x, y, x.numel())
        return y
