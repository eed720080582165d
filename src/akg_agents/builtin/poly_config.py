"""A PolyTOPS scheduler config proposed from outside (an LLM): the loop nest it schedules, the
schema it must follow, its validation, and the candidate it becomes.

The `poly_config` workflow shows a model the task's loop nest (as poly_lower.py lowers it, in the
loop-nest DSL), the config keys with their types and ranges, the presets, and the built-in
generator's default config; the model answers a YAML config. `validate_config` turns that YAML
into a SchedConfig or raises ConfigError with one line the model is told; `config_candidate_code`
schedules the nest under it and emits the ModelNew exactly as the built-in generator does
(poly_cpp.poly_model_new), so the candidate differs from a built-in one only by its schedule.

Tracing runs the task's code, so `nest_info` and `config_candidate_code` run in the tracing child
(tasks/isolated.py, jobs `poly_nest` and `poly_code`); validation is pure and runs anywhere.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import yaml

from akg_agents.poly.config import FUSIONS, OBJECTIVES, PRESETS, SOLVERS, ConfigError, SchedConfig, from_dict

DSL = "cpp"  # the language poly_cpp emits these loop nests in
# Bounds beyond the scheduler's own checks: an ILP with large coefficient or shift ranges takes
# minutes per dimension, and a tile larger than any loop here is no tile.
MAX_COEF, MAX_SHIFT, MAX_TILE = 8, 32, 4096
BOOL_KEYS = tuple(f.name for f in fields(SchedConfig) if f.type in ("bool", bool))  # not `bool | str` keys
# The keys the prompt explains. Validation accepts every SchedConfig field (a key added to the
# scheduler works at once); the prompt shows it once it is described here.
# The keys the prompt explains. The scheduler's reversal, diamond and privatize keys are left out
# on purpose: the lowered nests have no downward loops, always have a parallel loop and write no
# temporaries, so those keys would only spend the model's attempts (validation still accepts them).
SCHEMA: dict[str, str] = {
    "base": f"preset to start from; the other keys override it: {' | '.join(PRESETS)}",
    "objectives": f"ordered list, first = highest priority, of: {', '.join(OBJECTIVES)}",
    "dim_objectives": "per schedule dimension {0: [objectives], 1: [...]}: replaces `objectives` there",
    "fusion": f"{' | '.join(FUSIONS)}: max fuses statements whenever legal, no distributes every SCC",
    "coef_bound": f"int 1..{MAX_COEF}: iterator coefficients of a hyperplane in [0, coef_bound] (1: no skewing)",
    "shift_bound": f"int 0..{MAX_SHIFT}: constant shifts in [0, shift_bound]",
    "solver": f"{' | '.join(SOLVERS)}",
    "rar": "bool: add read-after-read reuse to proximity (costly)",
    "relax_reductions": "bool: reduction loops (hint reduce) of W op= e may run in any order (reassociates sums)",
    "tile": "bool: tile permutable bands",
    "tile_sizes": f"list of ints 1..{MAX_TILE}, per band member (the last repeats)",
    "tile_model": "bool: tile sizes from the cache sizes instead of tile_sizes",
    "tile_share": "float in (0, 1]: share of the per-core L2 one tile may take (tile_model)",
    "elem_bytes": "int: bytes per element for tile_model (these kernels compute in float: 4)",
    "cache_l2": "int: per-core L2 bytes for tile_model; 0 = this machine's",
    "intra_tile_stride1": "bool: the stride-1 loop innermost inside tiles",
    "wavefront": "bool: skew tile loops into a wavefront when no tile loop is parallel",
    "parallel": "bool: `omp parallel for` on the outermost parallel loop (false: one thread)",
    "simd": "bool: `omp simd` on the innermost parallel loop",
    "simd_reduction": "bool: innermost reduction loops as `omp simd reduction` (reassociates sums)",
    "parallel_reductions": "bool: a loop carrying only sum updates runs `omp parallel for reduction(+: X)`",
    "min_parallel_work": "int >= 0: a parallel loop nested in serial loops is marked only above this many instances",
    "directives": "{S<n>: {serial: [loop names]}}: loops of that statement never marked parallel",
}


def default_config(relax: bool = True) -> dict[str, Any]:
    """The built-in generator's default schedule (poly_cpp.PolyParams()) as config keys."""
    from akg_agents.builtin.poly_cpp import PolyParams, sched_config

    params = PolyParams(relax=relax)
    cfg = sched_config(params)
    return {"base": params.preset, "fusion": cfg.fusion, "tile": cfg.tile, "tile_sizes": cfg.tile_sizes,
            "simd_reduction": cfg.simd_reduction, "relax_reductions": cfg.relax_reductions}


def schema_text() -> str:
    lines = [f"{key}: {meaning}" for key, meaning in SCHEMA.items()]
    lines.append("objectives mean: " + "; ".join(f"{name}: {text}" for name, text in OBJECTIVES.items()))
    lines.append("presets: " + "; ".join(f"{name} = {_flat(values)}" for name, values in PRESETS.items()))
    return "\n".join(lines)


def _flat(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in values.items())


# ---- validation (pure) ---------------------------------------------------------------------


def parse_yaml(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"the YAML does not parse: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping of keys to values")
    return data


def validate_config(data: dict[str, Any], loops: dict[str, list[str]]) -> SchedConfig:
    """A SchedConfig from a proposed mapping; ConfigError naming the first problem.
    `loops`: statement name -> its loop names (what `directives` may refer to)."""
    unknown = sorted(map(str, set(data) - set(SCHEMA) - {f.name for f in fields(SchedConfig)} - {"note"}))
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(unknown)} (known: {', '.join(SCHEMA)})")
    try:  # the config travels to the tracing child as JSON (a YAML date would crash the workflow there)
        json.dumps(data)
    except (TypeError, ValueError):
        raise ConfigError("the config may hold only strings, numbers, true/false, lists and mappings "
                          "(quote dates and other YAML types)") from None
    for key in BOOL_KEYS:
        if key in data and not isinstance(data[key], bool):
            raise ConfigError(f"{key} must be true or false, not {data[key]!r}")
    _check_types(data)
    _check_directives(data.get("directives"), loops)
    if "tile_sizes" in data and isinstance(data["tile_sizes"], int):
        data = {**data, "tile_sizes": [data["tile_sizes"]]}
    try:
        cfg = from_dict(dict(data), name="llm")
    except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
        raise ConfigError(str(exc).splitlines()[0]) from None
    if not 1 <= cfg.coef_bound <= MAX_COEF or not 0 <= cfg.shift_bound <= MAX_SHIFT:
        raise ConfigError(f"coef_bound must be in 1..{MAX_COEF} and shift_bound in 0..{MAX_SHIFT}")
    if any(t > MAX_TILE for t in cfg.tile_sizes) or cfg.min_parallel_work < 0:
        raise ConfigError(f"tile sizes must be at most {MAX_TILE} and min_parallel_work >= 0")
    return cfg


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_types(data: dict[str, Any]) -> None:
    for key in ("coef_bound", "shift_bound", "elem_bytes", "cache_l2", "min_parallel_work"):
        if key in data and not _is_int(data[key]):
            raise ConfigError(f"{key} must be an integer, not {data[key]!r}")
    if "tile_share" in data and not (_is_int(data["tile_share"]) or isinstance(data["tile_share"], float)):
        raise ConfigError(f"tile_share must be a number, not {data['tile_share']!r}")
    for key in ("base", "fusion", "solver", "name"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{key} must be a string, not {data[key]!r}")
    if "base" in data and data["base"] not in PRESETS:
        raise ConfigError(f"unknown base preset {data['base']!r} (known: {', '.join(PRESETS)})")
    sizes = data.get("tile_sizes", [32])
    if not (_is_int(sizes) or (isinstance(sizes, list) and sizes and all(_is_int(t) for t in sizes))):
        raise ConfigError(f"tile_sizes must be a non-empty list of integers, not {sizes!r}")
    lists = [data.get("objectives", [])]
    per_dim = data.get("dim_objectives", {}) or {}
    if not isinstance(per_dim, dict) or not all(_is_int(k) or (isinstance(k, str) and k.isdigit()) for k in per_dim):
        raise ConfigError("dim_objectives must map dimension numbers (0, 1, ...) to lists of objectives")
    lists += list(per_dim.values())
    for objectives in lists:
        if not isinstance(objectives, list) or not all(isinstance(o, str) for o in objectives):
            raise ConfigError(f"objectives must be lists of names, not {objectives!r}")


def _check_directives(directives: Any, loops: dict[str, list[str]]) -> None:
    if directives is None:
        return
    if not isinstance(directives, dict):
        raise ConfigError("directives must map statement names to {serial: [loop names]}")
    for statement, entry in directives.items():
        if statement not in loops:
            raise ConfigError(f"directives: no statement {statement!r} (statements: {', '.join(loops)})")
        if not isinstance(entry, dict) or set(entry) - {"serial"}:
            raise ConfigError(f"directives.{statement} must be {{serial: [loop names]}}")
        names = entry.get("serial") or []
        bad = [n for n in names if n not in loops[statement]] if isinstance(names, list) else [names]
        if bad:
            raise ConfigError(f"directives.{statement}.serial: {bad[0]!r} is not a loop of {statement} "
                              f"(its loops: {', '.join(loops[statement])})")


def config_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None).strip()


# ---- in the tracing child ------------------------------------------------------------------


def nest_text(program: Any) -> str:
    """The loop nest as loop-nest DSL text (poly.dsl.Kernel calls), statements named as the
    scheduler names them (S0, S1, ...), arrays with their role in ModelNew."""
    kernel = program.kernel
    roles = {a: f"input {i}" for i, a in enumerate(program.input_arrays)}
    roles[program.output_array] = "output"
    roles.update({name: "scratch" for name, _ in program.scratch})
    lines = [f'k = Kernel("{kernel.name}", [], {{}})  # sizes are constants']
    for array in kernel.arrays.values():
        lines.append(f'k.array("{array.name}", [{", ".join(array.dims)}])  # {roles.get(array.name, "temporary")}')
    for name, value in kernel.consts.items():
        lines.append(f'k.const("{name}", {value!r})')
    open_loops: list[tuple[int, Any]] = []
    for st in kernel.statements:
        keep = 0
        while keep < len(open_loops) and keep < st.depth and open_loops[keep] == (st.position[keep], st.loops[keep]):
            keep += 1
        del open_loops[keep:]
        for depth in range(keep, st.depth):
            loop = st.loops[depth]
            extra = (f", step={loop.step}" if loop.step != 1 else "") + (f', hint="{loop.hint}"' if loop.hint else "")
            lines.append("    " * depth + f'with k.loop("{loop.var}", {loop.lo}, {loop.hi}{extra}):')
            open_loops.append((st.position[depth], loop))
        where = f', where="{st.where}"' if st.where else ""
        lines.append("    " * st.depth + f'k.stmt("{st.body}"{where})  # {st.name}')
    return "\n".join(lines)


def nest_info(program: Any) -> dict[str, Any]:
    """What the prompt shows: the nest's DSL text, its statements' loops, the default config."""
    return {"nest": nest_text(program), "ops": list(dict.fromkeys(program.ops)),
            "loops": {st.name: st.iters for st in program.kernel.statements}, "default": default_config()}


def config_candidate_code(task: Any, program: Any, config: dict[str, Any], threads: int = 0) -> str:
    """ModelNew for the nest scheduled under `config` (poly_cpp.poly_model_new, as the built-in
    generator emits it). ConfigError for an invalid config; scheduler errors propagate."""
    from akg_agents.builtin.poly_cpp import PolyParams, poly_model_new

    cfg = validate_config(config, {st.name: st.iters for st in program.kernel.statements})
    return poly_model_new(task, program, PolyParams(threads=threads), cfg)


def traced_program(task: Any) -> Any:
    """The task's loop nest, traced on meta tensors where that works (tasks/isolated.py)."""
    from akg_agents.builtin.poly_cpp import trace_poly_program
    from akg_agents.tasks.isolated import _shapes_only

    return _shapes_only(lambda: trace_poly_program(task, True)) or trace_poly_program(task, True)


def child_reply(task: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The tracing child's jobs `poly_nest` and `poly_code` (tasks/isolated.py). A task that is no
    loop nest here -> {"declined"}; a config the scheduler cannot take -> {"error"}."""
    from akg_agents.builtin.lower import NotCovered
    from akg_agents.builtin.precision import check_precision, tracing_precision

    with tracing_precision(check_precision(request.get("precision", "fp32"))):
        try:
            program = traced_program(task)
        except NotCovered as why:
            return {"declined": str(why)}
    if request["job"] == "poly_nest":
        return {"info": nest_info(program)}
    try:
        return {"code": config_candidate_code(task, program, request["config"], int(request.get("threads", 0)))}
    except ConfigError as exc:
        return {"error": f"invalid config: {exc}"}
    except Exception as exc:  # whatever the scheduler raises under this config is the model's feedback
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return {"error": f"the scheduler failed under this config: {type(exc).__name__}: {first}"}
