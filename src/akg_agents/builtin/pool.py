"""Built-in pooling candidates (MaxPool / AvgPool 1d, 2d, 3d) for triton_cuda and cpp.

The layer's configuration is read from the embedded Model's layer when ModelNew is built, and
the output size from the input's shape in forward (PyTorch's formula, ceil_mode included), so a
candidate is right for any constructor arguments and any input of the layer's rank; another rank
or (cpp) a dtype other than the task's is refused in one line (fp16 / bf16 computed in float32).
"""

from __future__ import annotations

from akg_agents.builtin.layer_task import POOLS, TUPLE_HELPER, LayerTask, layer_model_new
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.pool_kernels import AXES, pool_cpp, pool_triton
from akg_agents.records import Candidate, Task

OUT_SIZE_HELPER = '''

def _pool_out(size, k, s, p, d, ceil):
    """PyTorch's pooling output size along one dim."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out
'''

TL_DTYPE = {"float32": "tl.float32", "float16": "tl.float16", "bfloat16": "tl.bfloat16"}


def _check(layer: LayerTask) -> tuple[str, int]:
    kind, dims = POOLS[type(layer.layer)]
    if getattr(layer.layer, "return_indices", False):
        raise NotCovered(f"{type(layer.layer).__name__} with return_indices=True (the indices output is not generated)")
    return kind, dims


def _init(dims: int) -> str:
    return f"""        if getattr(layer, "return_indices", False):
            raise ValueError("this kernel was generated for pooling without return_indices")
        stride = layer.stride if layer.stride not in (None, [], ()) else layer.kernel_size
        self.k = _tup(layer.kernel_size, {dims})
        self.s = _tup(stride, {dims})
        self.p = _tup(layer.padding, {dims})
        self.d = _tup(getattr(layer, "dilation", 1), {dims})
        self.ceil = bool(layer.ceil_mode)
        self.include_pad = bool(getattr(layer, "count_include_pad", True))
        self.divisor = int(getattr(layer, "divisor_override", None) or 0)"""


def _sizes(dims: int, dtype: str | None) -> str:
    """Shape checks and the output; `dtype`: the one input dtype accepted (None: any)."""
    guard = f" or x.dtype != torch.{dtype}" if dtype else ""
    named = f" of {dtype}" if dtype else ""
    return f"""        if x.dim() != {dims + 2}{guard}:
            raise ValueError(f"this kernel was generated for {dims}-D pooling of (N, C, {dims} spatial dims) inputs{named}, got {{tuple(x.shape)}} {{x.dtype}}")
        ins = tuple(x.shape[2:])
        outs = tuple(_pool_out(ins[i], self.k[i], self.s[i], self.p[i], self.d[i], self.ceil) for i in range({dims}))
        out = torch.empty((*x.shape[:2], *outs), dtype=x.dtype, device=x.device)"""


def triton_pool_candidates(task: Task, layer: LayerTask, count: int) -> list[Candidate]:
    kind, dims = _check(layer)
    kernel = "import triton\nimport triton.language as tl"
    candidates = []
    for index, (block, warps) in enumerate([(1024, 4), (512, 4), (2048, 8), (256, 2)][: max(count, 1)]):
        consts = ", ".join(f"{n}_{AXES[i]}=self.{n.lower()}[{i}]" for n in ("K", "S", "P", "D") for i in range(dims))
        body = _sizes(dims, None) + f"""
        total = out.numel()
        akg_pool[(triton.cdiv(total, {block}),)](x, out, total, *ins, *outs, {consts},
                 DIVISOR=self.divisor, INCLUDE_PAD=self.include_pad, BLOCK={block}, num_warps={warps})"""
        block_src = pool_triton(dims, kind == "max", TL_DTYPE[layer.dtype]) + TUPLE_HELPER + OUT_SIZE_HELPER
        code = layer_model_new(task, layer, kernel, block_src, _init(dims), body, f" (Triton {kind} pool {dims}-D)")
        candidates.append(Candidate(id=f"builtin-triton-pool-{index}", dsl="triton_cuda", code=code, agent="builtin",
                                    step=index, params={"block": block, "num_warps": warps},
                                    note=f"Triton {kind} pooling over {dims} dims, one program per {block} outputs"))
    return candidates


def cpp_pool_candidates(task: Task, layer: LayerTask, count: int, threads: int) -> list[Candidate]:
    """The C++ kernel reads and writes float32. fp16 / bf16 tasks get a widened copy of the input
    and the result narrowed back (max pooling is then exact, average pooling sums in fp32, which
    is what "accumulate in fp32" asks)."""
    kind, dims = _check(layer)
    source = pool_cpp(dims, kind == "max", threads)
    kernel = f'KERNEL_SOURCE = r"""\n{source}"""\n\n_lib = load_cpp(KERNEL_SOURCE)' + TUPLE_HELPER + OUT_SIZE_HELPER
    call = """
        _lib.akg_pool(x, out, x.shape[0] * x.shape[1], *ins, *outs, *self.k, *self.s, *self.p, *self.d,
                      self.divisor, int(self.include_pad))"""
    if layer.dtype != "float32":  # compute in float32 on a widened copy, narrow the result
        call = f"""
        narrow, x = out, x.float()
        out = torch.empty(narrow.shape, dtype=torch.float32){call}
        out = narrow.copy_(out)"""
    body = _sizes(dims, layer.dtype) + call
    code = layer_model_new(task, layer, "from akg_agents.dsl.cpp_loader import load_cpp", kernel, _init(dims), body,
                           f" (C++ {kind} pool {dims}-D)")
    del count  # one kernel: its parallel loop has no parameter worth a second candidate
    precision = "" if layer.dtype == "float32" else f", on {layer.dtype} widened to float32"
    return [Candidate(id="builtin-cpp-pool-0", dsl="cpp", code=code, agent="builtin", step=0,
                      params={"threads": threads}, note=f"C++/OpenMP {kind} pooling over {dims} dims{precision}")]
