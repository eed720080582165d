"""The Python side of a row-program candidate, shared by the Triton and cpp generators: the
guards that make a kernel refuse what it was not generated for, the arrangement of each input into
the layout the kernel addresses (layout.py), and the output's allocation.

Each generated forward:
  1. takes the full shape as torch broadcasts the forward inputs, and refuses another rank;
  2. refuses floating inputs other than float32 / float16 / bfloat16, or of mixed dtypes;
  3. arranges every input as a contiguous tensor of the full rank whose broadcast dims have size 1
     (a copy only when the caller's tensor is not already so; a runtime broadcast the kernel did
     not plan for is materialized), refusing a shape that cannot broadcast as planned;
  4. allocates the output in the inputs' dtype (int64 for argmax / argmin).
"""

from __future__ import annotations

from typing import Any

from akg_agents.builtin.ir import INDEX_REDUCTIONS, RowProgram, RowRef

CONSTANTS_HELPER = '''
_SIZE_ONLY = ("num_features", "num_channels")  # norm sizes: their parameters' shapes carry them


def _constants(module):
    """The plain (non-tensor) attributes of a Model and its submodules: the constants (eps, a
    slope, a reduced dim ...) a generated kernel may bake in. Sizes only count where the kernel
    depends on them: a LayerNorm's normalized_shape by its length (the dims it reduces)."""
    found = {}
    for prefix, sub in module.named_modules():
        for key, value in sub.__dict__.items():
            if key.startswith("_") or key == "training" or key in _SIZE_ONLY:
                continue
            if key == "normalized_shape":
                value = len(value)
            plain = (bool, int, float, str, type(None))
            if isinstance(value, plain) or (isinstance(value, (tuple, list)) and all(isinstance(v, plain) for v in value)):
                found[f"{prefix}.{key}" if prefix else key] = value
    return found
'''

HELPERS = CONSTANTS_HELPER + '''
_FLOATS = (torch.float32, torch.float16, torch.bfloat16)


def _full_shape(tensors, rank):
    """The shape the forward inputs broadcast to; the kernel was generated for rank `rank`."""
    shape = tuple(tensors[0].shape) if tensors else ()
    if any(t.shape != shape for t in tensors[1:]):  # torch.broadcast_shapes costs ~10 us a call
        shape = tuple(torch.broadcast_shapes(*(t.shape for t in tensors)))
    if len(shape) != rank:
        raise ValueError(f"this kernel was generated for rank-{rank} inputs; got shape {shape}")
    return shape


def _float_dtype(tensors, names):
    if tensors and tensors[0].dtype in _FLOATS and all(t.dtype == tensors[0].dtype for t in tensors[1:]):
        return tensors[0].dtype  # the common case, checked in a few us
    dtypes = {t.dtype for t in tensors if t.is_floating_point()}
    for t, name in zip(tensors, names):
        if name is not None and not t.is_floating_point():
            raise TypeError(f"{name} is {t.dtype}; this kernel was generated for a floating tensor there")
    if len(dtypes) > 1 or not dtypes <= set(_FLOATS):
        got = ", ".join(sorted(str(d).replace("torch.", "") for d in dtypes))
        raise TypeError(f"this kernel was generated for float32, float16 or bfloat16 inputs of one dtype; got {got}")
    return dtypes.pop() if dtypes else torch.float32


def _arrange(t, shape, varies, reshaped, name):
    """`t` as a contiguous tensor of shape `shape`, size 1 along the dims it does not vary along."""
    target = tuple(n if v else 1 for n, v in zip(shape, varies))
    if t.shape == target and t.is_contiguous():  # already laid out: no view ops (each costs a dispatch)
        return t
    if reshaped:  # aligned on other dims than the trailing ones (a per-channel weight, a label per row)
        if t.numel() != math.prod(target):
            raise ValueError(f"{name} has shape {tuple(t.shape)}; this kernel expects {math.prod(target)} elements")
        return t.reshape(target).contiguous()
    padded = (1,) * (len(shape) - t.dim()) + tuple(t.shape)
    if len(padded) != len(shape) or any(n != want and n != 1 for n, want in zip(padded, target)):
        raise ValueError(f"{name} has shape {tuple(t.shape)}; this kernel was generated for it to broadcast "
                         f"as {target} against the full shape {shape}")
    return t.reshape(padded).expand(target).contiguous()
'''


def dim_varies(program: RowProgram, index: int) -> tuple[bool, ...]:
    """Per full dim: does input `index` vary along it (its group does)?"""
    spec, layout = program.inputs[index], program.layout
    assert layout is not None and spec.varies is not None
    flags = [False] * layout.rank
    for group, dims in enumerate(layout.groups):
        for d in dims:
            flags[d] = spec.varies[group]
    return tuple(flags)


def source_of(program: RowProgram, index: int) -> str:
    name = program.inputs[index].name
    return f"self.p{index}" if name.startswith("param:") else name


def index_output(program: RowProgram) -> bool:
    out = program.output
    return isinstance(out, RowRef) and out.index >= 0 and program.reductions[out.index].op in INDEX_REDUCTIONS


def forward_prelude(program: RowProgram, compute_dtype: str = "") -> list[str]:
    """forward's lines up to the launch: `shape`, `g0..g3`, `rows`, `cols`, `t0..tn` (the
    arranged inputs, converted to `compute_dtype` when given), `out`, `dtype`."""
    layout = program.layout
    assert layout is not None
    sources = [source_of(program, i) for i in range(len(program.inputs))]
    trailing = [s for s, spec in zip(sources, program.inputs, strict=False) if spec.name not in program_reshaped(program)]
    floats = [f"{spec.name!r}" if spec.dtype == "float" else "None" for spec in program.inputs]
    lines = [
        f"        shape = _full_shape([{', '.join(trailing)}], {layout.rank})",
        f"        dtype = _float_dtype([{', '.join(sources)}], [{', '.join(floats)}])",
    ]
    if program.view_groups:  # GroupNorm: (N, C, *rest) viewed as (N, groups, C / groups, prod(rest))
        groups = program.view_groups
        lines[0] = f"        source_shape = _full_shape([{', '.join(trailing)}], {program.source_rank})"
        lines += [f"        if source_shape[1] % {groups}:",
                  f"            raise ValueError(f\"this kernel was generated for {groups} groups of channels; got {{source_shape[1]}} channels\")",
                  f"        shape = (source_shape[0], {groups}, source_shape[1] // {groups}, math.prod(source_shape[2:]))"]
        sources = [f"{src}.reshape(shape)" if spec.name in program.viewed else src for src, spec in zip(sources, program.inputs, strict=True)]
    for group, dims in enumerate(layout.groups):
        lines.append(f"        g{group} = {' * '.join(f'shape[{d}]' for d in dims) or '1'}")
    lines.append("        rows, cols = g0 * g1, g2 * g3")
    convert = f".to({compute_dtype})" if compute_dtype else ""
    for i, spec in enumerate(program.inputs):
        reshaped = spec.name in program_reshaped(program)
        lines.append(f"        t{i} = _arrange({sources[i]}, shape, {dim_varies(program, i)}, {reshaped}, {spec.name!r}){convert}")
    out_shape = ", ".join("1" if d is None else f"shape[{d}]" for d in program.out_dims)
    out_dtype = "torch.int64" if index_output(program) else ("torch.float32" if compute_dtype else "dtype")
    device = "t0.device" if program.inputs else "'cpu'"
    lines.append(f"        out = torch.empty(({out_shape}{',' if len(program.out_dims) == 1 else ''}), dtype={out_dtype}, device={device})")
    return lines


def forward_epilogue(program: RowProgram) -> list[str]:
    """forward's last lines: the GroupNorm view's output back to the input's shape."""
    return ["        out = out.reshape(source_shape)"] if program.view_groups else []


def program_reshaped(program: RowProgram) -> set[str]:
    """Inputs the lowering aligned on other dims than the trailing ones (BatchNorm's weight)."""
    return set(program.reshaped)


def constants_of(model: Any) -> str:
    """The constants a kernel generated from `model` may bake in (the candidate's own
    _constants), as a Python literal for the candidate's source."""
    namespace: dict[str, Any] = {}
    exec(CONSTANTS_HELPER, namespace)
    found: dict[str, Any] = namespace["_constants"](model)
    return "{" + ", ".join(f"{key!r}: {_literal(value)}" for key, value in sorted(found.items())) + "}"


def _literal(value: Any) -> str:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "math.nan" if value != value else ("math.inf" if value > 0 else "-math.inf")
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_literal(v) for v in value) + ("," if isinstance(value, tuple) and len(value) == 1 else "")
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


def init_guard(program: RowProgram) -> str:
    """__init__'s lines once the task's Model is built: refuse one whose constants differ from
    those the kernel was generated with (it bakes them in), naming the first difference."""
    if not program.constants:
        return ""
    return (f"        _expected = {program.constants}\n"
            "        _got = _constants(reference)\n"
            "        if _got != _expected:\n"
            "            _key = next(k for k in sorted(set(_expected) | set(_got)) if _expected.get(k) != _got.get(k))\n"
            "            raise ValueError(f\"this kernel was generated for Model with {_key}={_expected.get(_key)!r}; \"\n"
            "                             f\"got {_key}={_got.get(_key)!r}\")\n")


def training_guard(program: RowProgram) -> list[str]:
    if not program.training_only:
        return []
    return ["        if not self.training:",
            "            raise RuntimeError(\"this kernel computes BatchNorm with the batch's statistics (training mode, "
            "as KernelBench runs it); in eval mode use the task's Model\")"]
