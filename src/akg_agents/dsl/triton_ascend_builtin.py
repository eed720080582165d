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
KERNEL_HEAD = re.compile(r"@triton\.jit\ndef (?P<name>\w+)\((?P<params>[^)]*)\):\n")
LAUNCH = re.compile(r"(?P<name>\w+)\[\(triton\.cdiv\((?P<extent>[^,()]+), (?P<per>\w+)\),(?P<more>[^\]]*)\)\]\((?P<args>.*)\)$",
                    re.MULTILINE)
GPU_OPTION = re.compile(r"^(num_warps|num_stages)=")
PIPELINED_RANGE = re.compile(r"tl\.range\(([^()]*?), num_stages=\w+\)")
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
    """The GPU candidate's source rewritten for the NPU, or None when a kernel or a launch has a
    shape this adapter does not know (each kernel must find its block with one
    `tl.program_id(0).to(tl.int64)`; each launch must be `kernel[(triton.cdiv(E, B), ...)](...)`)."""
    kernels: list[str] = []
    for head in reversed(list(KERNEL_HEAD.finditer(code))):  # from the end: earlier offsets stay valid
        looped = _loop_kernel(code, head)
        if looped is None:
            return None
        code = looped
        kernels.append(head["name"])
    launched = {m["name"] for m in LAUNCH.finditer(code)}
    if not kernels or set(kernels) != launched or sum(code.count(f"{k}[") for k in kernels) != len(LAUNCH.findall(code)):
        return None
    code = LAUNCH.sub(_ascend_launch, code)
    code = PIPELINED_RANGE.sub(r"range(\1)", code)  # software pipelining is the compiler's multibuffer here
    code = code.replace("import triton\n", "import functools\n\nimport torch_npu  # noqa: F401  (the \"npu\" device)\nimport triton\n", 1)
    marker = "\n@triton.jit"
    return code.replace(marker, HELPER + marker, 1)


def _ascend_launch(launch: re.Match[str]) -> str:
    """`k[(cdiv(E, B), X)](a, b, K=1, num_warps=8)` -> `k[(min(cdiv(E, B), cores), X)](a, b, cdiv(E, B), K=1)`."""
    args = [a for a in _top_level_split(launch["args"]) if not GPU_OPTION.match(a)]
    first_kw = next((i for i, a in enumerate(args) if re.match(r"^\w+=", a)), len(args))
    blocks = f"triton.cdiv({launch['extent']}, {launch['per']})"
    grid = f"(min({blocks}, _vector_cores({args[0]}.device.index)),{launch['more']})"
    return f"{launch['name']}[{grid}]({', '.join([*args[:first_kw], blocks, *args[first_kw:]])})"


def _top_level_split(text: str) -> list[str]:
    """Split call arguments at the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def _loop_kernel(code: str, head: re.Match[str]) -> str | None:
    """Wrap one kernel's body in `for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0))`."""
    body_start = head.end()
    next_top = re.compile(r"^\S", re.MULTILINE).search(code, body_start)  # the body ends at the next unindented line
    body_end = next_top.start() if next_top else len(code)
    body = code[body_start:body_end].rstrip("\n")
    if body.count(BLOCK_INDEX) != 1 or body.count("tl.program_id(0)") != 1:
        return None
    params = head["params"].split(", ")
    first_constexpr = next((i for i, p in enumerate(params) if "tl.constexpr" in p), len(params))
    params.insert(first_constexpr, "num_blocks")
    looped = "    for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0)):\n" + "\n".join(
        "    " + line if line.strip() else line for line in body.replace(BLOCK_INDEX, "blk.to(tl.int64)").split("\n"))
    return (code[: head.start()] + f"@triton.jit\ndef {head['name']}({', '.join(params)}):\n" + looped + "\n"
            + code[body_start + len(body):])
