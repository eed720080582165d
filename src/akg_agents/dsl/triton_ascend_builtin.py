"""The built-in Triton generator's kernels, made valid for Triton-Ascend (a thin adapter: the
generator in builtin/ stays GPU-shaped; this file rewrites what it emits).

What changes, and why:
- grid: the GPU kernels launch one program per block (`cdiv(n, BLOCK)` programs, which passes
  Triton-Ascend's 65535 limit at KernelBench sizes and oversubscribes a few dozen cores). The
  kernel body is wrapped in a grid-stride loop over `num_blocks`, and the launch asks for
  min(num_blocks, vector cores) programs, the count read from the NPU at run time.
- num_warps / num_stages: Triton-Ascend has neither; they are dropped from the launch.
- tiles: a candidate whose live tiles would overflow the 192 KB Unified Buffer (estimated, with
  multi-buffering) is left out rather than sent to fail at compile time.
- matrix products: the generator's matmul kernels are tuned for NVIDIA tensor cores (TF32x3,
  warps); they are not adapted, and a matmul task is declined with that reason.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

UB_BYTES = 192 * 1024  # Unified Buffer per AI core on Atlas A2/A3 (config/arch.yaml)
MULTIBUFFER = 2  # Triton-Ascend double-buffers loads by default
TEMPORARIES = 3  # live fp32 tiles besides the inputs: the output and two intermediates (estimate)
BLOCK_INDEX = "tl.program_id(0).to(tl.int64)"
LAUNCH = re.compile(r"akg_kernel\[\(triton\.cdiv\((?P<extent>[^,]+), (?P<per>\d+)\),\)\]\((?P<args>[^\n]*)\)")
GPU_OPTION = re.compile(r", (num_warps|num_stages)=\d+")
HELPER = '''

@functools.lru_cache(maxsize=None)
def _vector_cores(index):
    # One program per vector core; each loops over its share of the blocks (grid-stride).
    return triton.runtime.driver.active.utils.get_device_properties(index)["num_vectorcore"]
'''


def ascend_candidates(task: Any, count: int, threads: int = 0) -> list[Any]:
    from akg_agents.builtin.lower import NotCovered
    from akg_agents.builtin.triton_codegen import triton_candidates
    from akg_agents.builtin.triton_matmul import trace_matmul

    if trace_matmul(task) is not None:
        raise NotCovered("the built-in generator's Triton matrix products are tuned for NVIDIA tensor cores; "
                         "for triton_ascend it writes elementwise and row (reduction) programs only")
    adapted: list[Any] = []
    for candidate in triton_candidates(task, max(count, 1) * 3, threads):  # some do not fit the UB
        if not fits_unified_buffer(candidate.params, candidate.code):
            continue
        code = adapt_source(candidate.code)
        if code is None or any(code == seen.code for seen in adapted):  # GPU variants differing in warps only
            continue
        index = len(adapted)
        adapted.append(replace(candidate, id=f"builtin-triton-ascend-{index}", dsl="triton_ascend", code=code, step=index,
                               params={k: v for k, v in candidate.params.items() if k not in ("num_warps", "num_stages")},
                               note=candidate.note.replace("Triton", "Triton-Ascend", 1)))
        if len(adapted) == count:
            break
    if not adapted:
        raise NotCovered("no built-in Triton kernel for this task fits Triton-Ascend (grid loop or Unified Buffer budget)")
    return adapted


def fits_unified_buffer(params: dict[str, Any], code: str) -> bool:
    """Estimated live UB bytes of one program: every input tile and the temporaries, in fp32,
    times the multi-buffer factor. Generous on purpose: the compiler's own check is exact."""
    elements = int(params.get("block", 0) or 0) * int(params.get("rows", 1) or 1)
    inputs = len(re.findall(r"tl\.load\(", code))
    return elements * 4 * (inputs + TEMPORARIES) * MULTIBUFFER <= UB_BYTES


def adapt_source(code: str) -> str | None:
    """The GPU candidate's source rewritten for the NPU, or None when its shape is not the one
    this adapter knows (one kernel, one block index, one `cdiv` launch)."""
    launch = LAUNCH.search(code)
    if code.count(BLOCK_INDEX) != 1 or launch is None or code.count("akg_kernel[") != 1:
        return None
    looped = _loop_kernel(code)
    if looped is None:
        return None
    code = looped
    launch = LAUNCH.search(code)
    assert launch is not None
    args = GPU_OPTION.sub("", launch["args"])
    parts = args.split(", ")
    first_kw = next((i for i, p in enumerate(parts) if "=" in p), len(parts))
    positional, constexprs = ", ".join(parts[:first_kw]), ", ".join(parts[first_kw:])
    indent = code[code.rfind("\n", 0, launch.start()) + 1: launch.start()]
    new_launch = (f"num_blocks = triton.cdiv({launch['extent']}, {launch['per']})\n"
                  f"{indent}grid = (min(num_blocks, _vector_cores({parts[0]}.device.index)),)\n"
                  f"{indent}akg_kernel[grid]({positional}, num_blocks{', ' + constexprs if constexprs else ''})")
    code = code[: launch.start()] + new_launch + code[launch.end():]
    code = code.replace("import triton\n", "import functools\n\nimport torch_npu  # noqa: F401  (the \"npu\" device)\nimport triton\n", 1)
    marker = "\n@triton.jit"
    return code.replace(marker, HELPER + marker, 1)


def _loop_kernel(code: str) -> str | None:
    """Wrap akg_kernel's body in `for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0))`."""
    head = re.search(r"@triton\.jit\ndef akg_kernel\((?P<params>[^)]*)\):\n", code)
    if head is None:
        return None
    params = head["params"].split(", ")
    first_constexpr = next((i for i, p in enumerate(params) if "tl.constexpr" in p), len(params))
    params.insert(first_constexpr, "num_blocks")
    body_start = head.end()
    body_end = code.find("\n\n", body_start)
    body_end = len(code) if body_end < 0 else body_end
    body = code[body_start:body_end].replace(BLOCK_INDEX, "blk.to(tl.int64)")
    looped = "    for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0)):\n" + "\n".join(
        "    " + line if line.strip() else line for line in body.split("\n"))
    return code[: head.start()] + f"@triton.jit\ndef akg_kernel({', '.join(params)}):\n" + looped + code[body_end:]
