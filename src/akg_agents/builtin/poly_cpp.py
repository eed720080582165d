"""PolyProgram -> PolyTOPS schedule -> C++ (OpenMP) -> ModelNew candidates (the cpp format).

The loop nest from poly_lower.py is scheduled by PolyTOPS (akg_agents.poly) under a scheduler
config, checked against its dependences, tiled and marked for OpenMP by the post-passes, and
printed by isl's AST generator; this module wraps that loop text in an `extern "C"` function over
float arrays with the task's constant sizes, compiled by the project's fast loader.

Tunable parameters (`PolyParams`, exposed as each candidate's `params`, the same way the row
generator exposes CppParams): `preset` (a PolyTOPS preset: the objective order and fusion),
`tile` (tile size of every tiled band member; 0 = no tiling), `simd_reduction` (innermost
reductions as `omp simd reduction`, reassociating sums), `fusion` (no | smart | max: how the
scheduler fuses statements), `relax` (reduction loops in any order: poly/relax.py), `threads` (OpenMP threads; 0 = default), `pack` (lowering: a transposed copy of linear
weights, zero-padded copies of convolution inputs).
`poly_candidate_code(task, params)` turns any point of that space into a candidate's code.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

from akg_agents.builtin.cpp_expr import math_prelude
from akg_agents.builtin.generator import launch_args, model_new_source
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.poly_lower import NoProduct, PolyProgram, lower_poly_model
from akg_agents.poly.codegen import ast_of, ast_to_c, statement_macros
from akg_agents.poly.config import PRESETS, ConfigError, SchedConfig, preset
from akg_agents.poly.deps import check_schedule, compute_dependences
from akg_agents.poly.post import postpass
from akg_agents.poly.relax import relax_reductions
from akg_agents.poly.scheduler import schedule
from akg_agents.poly.tree import to_tree
from akg_agents.records import Candidate, Task

__all__ = ["ONLY", "PARAM_SPACE", "NoProduct", "PolyParams", "poly_candidate_code", "poly_candidates", "poly_variants"]


@dataclass(frozen=True)
class PolyParams:
    preset: str = "cpu_vectorize"
    tile: int = 32
    simd_reduction: bool = True
    threads: int = 0
    fusion: str = "no"  # the scheduler's fusion: no | smart | max
    relax: bool = True  # reduction loops in any order (poly/relax.py): no skewed chains
    pack: bool = True  # lowering: W^T for linear layers, zero-padded copies of convolution inputs


# The space the search explores: every key of PolyParams except threads, with its values (the
# default first). Keys in the order their single changes are tried.
PARAM_SPACE: dict[str, list[Any]] = {
    "tile": [32, 64, 16, 128, 0],
    "simd_reduction": [True, False],
    "fusion": ["no", "smart", "max"],
    "preset": ["cpu_vectorize", "pluto_like", "isl_like", "feautrier_like"],
    "relax": [True, False],
    "pack": [True, False],
}


def poly_variants(threads: int) -> list[PolyParams]:
    """The default first, then single changes from it round-robin over the keys (a short list
    still varies several parameters), then the rest of the grid."""
    default = PolyParams(threads=threads)
    rounds = max(len(values) for values in PARAM_SPACE.values())
    singles = [PolyParams(threads=threads, **{key: values[i]}) for i in range(1, rounds)
               for key, values in PARAM_SPACE.items() if i < len(values)]
    grid = [PolyParams(p, t, r, threads, f, x, k) for p in PARAM_SPACE["preset"] for t in PARAM_SPACE["tile"]
            for r in PARAM_SPACE["simd_reduction"] for f in PARAM_SPACE["fusion"] for x in PARAM_SPACE["relax"]
            for k in PARAM_SPACE["pack"]]
    return list(dict.fromkeys([default, *singles, *grid]))


def params_from_dict(data: dict[str, Any]) -> PolyParams:
    """A PolyParams from a candidate's `params` (what a search proposes); ConfigError when invalid."""
    unknown = set(data) - {"preset", "tile", "simd_reduction", "threads", "fusion", "relax", "pack", "generator"}
    if unknown:
        raise ConfigError(f"unknown loop-nest parameters: {', '.join(sorted(unknown))}")
    params = PolyParams(**{k: v for k, v in data.items() if k != "generator"})
    if params.preset not in PRESETS:
        raise ConfigError(f"unknown preset {params.preset!r} (known: {', '.join(PRESETS)})")
    if int(params.tile) < 0 or int(params.threads) < 0:
        raise ConfigError("tile and threads must be >= 0")
    return params


def sched_config(params: PolyParams) -> SchedConfig:
    cfg = preset(params.preset)
    cfg.tile = params.tile > 0
    if params.tile > 0:
        cfg.tile_sizes = [params.tile]
    cfg.simd_reduction = params.simd_reduction
    cfg.fusion = params.fusion
    cfg.relax_reductions = params.relax
    return cfg.validate()


# isl's AST printer writes these; defined after every header so no library code sees them.
ISL_MACROS = """#define floord(n, d) (((n) < 0) ? -((-(n) + (d) - 1) / (d)) : (n) / (d))
#define ceild(n, d) (((n) < 0) ? -((-(n)) / (d)) : ((n) + (d) - 1) / (d))
#define min(x, y) ((x) < (y) ? (x) : (y))
#define max(x, y) ((x) > (y) ? (x) : (y))
"""


def scheduled_loops(program: PolyProgram, params: PolyParams, config: SchedConfig | None = None) -> str:
    """The scheduled, tiled, OpenMP-marked loop nest as C text (statements as macro calls);
    `config` (one an LLM proposed: builtin/poly_config.py) replaces the one params make."""
    kernel = program.kernel
    cfg = config or sched_config(params)
    deps = compute_dependences(kernel)
    if cfg.relax_reductions:
        deps = relax_reductions(kernel, deps)
    tree = to_tree(schedule(kernel, deps, cfg))
    final, _info = postpass(tree, kernel, cfg, {}, deps.all)
    bad = check_schedule(final.get_map(), deps.all)
    if bad:  # never emit a schedule that breaks a dependence
        raise NotCovered(f"PolyTOPS produced an invalid schedule under {cfg.name}: {bad[0]}")
    body, _pragmas = ast_to_c(ast_of(final, kernel), kernel=kernel, simd_reduction=cfg.simd_reduction,
                              acc_type="float")
    if params.threads > 0:
        body = body.replace("#pragma omp parallel for", f"#pragma omp parallel for num_threads({params.threads})")
    return body


def _array_decl(name: str, shape: tuple[int, ...], pointer: str, const: bool) -> str:
    qual = "const float" if const else "float"
    if len(shape) <= 1:
        return f"    {qual}* __restrict__ {name} = {pointer};"
    tail = "".join(f"[{n}]" for n in shape[1:])
    return f"    {qual} (*__restrict__ {name}){tail} = reinterpret_cast<{qual} (*){tail}>({pointer});"


def kernel_cpp(program: PolyProgram, params: PolyParams, config: SchedConfig | None = None) -> str:
    loops = scheduled_loops(program, params, config)
    n_in = len(program.inputs)
    scratch = [name for name, _ in program.scratch]
    signature = ", ".join([*(f"const float* __restrict__ in{i}" for i in range(n_in)), "float* __restrict__ out",
                           *(f"float* __restrict__ s{j}" for j in range(len(scratch)))])
    shapes = {name: _shape(program, name) for name in program.kernel.arrays}
    decls = [_array_decl(a, shapes[a], f"in{i}", True) for i, a in enumerate(program.input_arrays)]
    decls.append(_array_decl(program.output_array, shapes[program.output_array], "out", False))
    decls += [_array_decl(a, shapes[a], f"s{j}", False) for j, a in enumerate(scratch)]
    headers = "#include <cstdint>\n#include <cmath>\n#if defined(__AVX__)\n#include <immintrin.h>\n#endif\n\n"
    return (f"{headers}{math_prelude()}\n{ISL_MACROS}{statement_macros(program.kernel)}\n\n"
            f'extern "C" void akg_kernel({signature}) {{\n' + "\n".join(decls) + f"\n{loops}\n}}\n")


def _shape(program: PolyProgram, array: str) -> tuple[int, ...]:
    return tuple(int(d) for d in program.kernel.arrays[array].dims)


def poly_model_new(task: Task, program: PolyProgram, params: PolyParams, config: SchedConfig | None = None) -> str:
    kernel = f'KERNEL_SOURCE = r"""\n{kernel_cpp(program, params, config)}"""\n\n_lib = load_cpp(KERNEL_SOURCE)'
    first = next((s.name for s in program.inputs if not s.name.startswith("param:")), None)
    if first is None:
        raise NotCovered("forward takes no tensor input")
    device = f"{first}.device"
    lines = _shape_guard(program)
    args = [*launch_args(program), *(f"_s{j}" for j in range(len(program.scratch)))]
    if program.dtype != "float32":  # the kernel reads and writes float32: widen, and narrow the result
        widened = {a: f"_f{i}" for i, a in enumerate(a for a in args if a != "out" and not a.startswith("_s"))}
        lines += [f"        {w} = {a}.float().contiguous()" for a, w in widened.items()]
        args = [widened.get(a, a) for a in args]
    lines.append(f"        out = torch.empty({program.output_shape}, dtype=torch.float32, device={device})")
    lines += [f"        _s{j} = torch.empty({shape}, dtype=torch.float32, device={device})"
              for j, (_, shape) in enumerate(program.scratch)]
    lines.append(f"        _lib.akg_kernel({', '.join(args)})")
    if program.dtype != "float32":
        lines.append(f"        out = out.to(torch.{program.dtype})")
    label = f" (PolyTOPS {params.preset}, tile {params.tile or 'off'})" if config is None else f" (PolyTOPS, config {config.name})"
    return model_new_source(task, program, "from akg_agents.dsl.cpp_loader import load_cpp", kernel,
                            "\n".join(lines), label)


def _shape_guard(program: PolyProgram) -> list[str]:
    """forward's first lines: the kernel's sizes are compile-time constants, so a tensor of another
    shape or dtype (inputs, or parameters of a Model built with other arguments) is refused
    instead of being read out of bounds."""
    tensors = [a for a in launch_args(program) if a != "out"]
    expected = tuple(tuple(spec.shape) for spec in program.inputs)
    got = f"tuple(tuple(t.shape) for t in ({', '.join(tensors)},))"
    dtypes = f"any(t.dtype != torch.{program.dtype} for t in ({', '.join(tensors)},))"
    return [f"        if {got} != {expected!r} or {dtypes}:",
            f"            raise ValueError(f'this kernel was generated for {program.dtype} tensors of shapes {expected!r}, "
            f"got {{{got}}}')"]


def trace_poly_program(task: Task, pack: bool = True) -> PolyProgram:
    import types

    import torch

    module = types.ModuleType("akg_builtin_task")
    exec(compile(task.source, f"<task {task.name}>", "exec"), module.__dict__)
    torch.manual_seed(0)
    from akg_agents.builtin.precision import traced_inputs, traced_model

    model = traced_model(module.Model(*module.get_init_inputs()).eval())
    return lower_poly_model(model, traced_inputs(list(module.get_inputs())), pack)


def poly_candidate_code(task: Task, params: dict[str, Any] | PolyParams) -> str:
    """ModelNew source for one point of the parameter space (for searches proposing params)."""
    chosen = params if isinstance(params, PolyParams) else params_from_dict(params)
    return poly_model_new(task, trace_poly_program(task, chosen.pack), chosen)


def _scheduled_model_new(task: Task, program: PolyProgram, params: PolyParams) -> str:
    """poly_model_new; a transposed convolution whose scattered updates the scheduler cannot take
    (isl's Farkas step refuses their dependences' integer divisions: a stride with taps spanning
    more than one stride step, as in KernelBench 72 and 75) is declined with that reason."""
    import islpy as isl

    try:
        return poly_model_new(task, program, params)
    except isl.Error as exc:
        if not any(op.startswith("ConvTranspose") for op in program.ops):
            raise
        detail = str(exc).splitlines()[0][:120]
        raise NotCovered(f"this transposed convolution (the PolyTOPS scheduler cannot take its strided scatter: {detail})") from None


# Set by a search that makes chosen points of the space one at a time (workflows/lazy_space.py):
# poly_candidates then walks these parameters instead of poly_variants.
ONLY: ContextVar[tuple[PolyParams, ...] | None] = ContextVar("poly_only", default=None)


def poly_candidates(task: Task, count: int, threads: int = 0) -> list[Candidate]:
    """Up to `count` candidates over poly_variants (or ONLY); NotCovered when the task is no loop nest here."""
    programs = {True: trace_poly_program(task, True)}
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for params in ONLY.get() or poly_variants(threads):
        if len(candidates) >= max(count, 1):
            break
        if params.pack not in programs:
            programs[params.pack] = trace_poly_program(task, params.pack)
        program = programs[params.pack]
        statements = len(program.kernel.statements)
        summary = ", ".join(dict.fromkeys(program.ops))
        code = _scheduled_model_new(task, program, params)
        if code in seen:
            continue
        seen.add(code)
        index = len(candidates)
        candidates.append(Candidate(
            id=f"builtin-poly-{index}", dsl="cpp", code=code, agent="builtin", step=index,
            params={"generator": "poly", **asdict(params)},
            note=f"PolyTOPS loop nest ({statements} statements) for {summary}",
        ))
    return candidates

