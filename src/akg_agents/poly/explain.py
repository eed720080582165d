"""Human-readable account of a scheduling decision (``akg_cli poly explain``)."""

from __future__ import annotations

from .config import SchedConfig
from .deps import Dependences
from .dsl import Kernel
from .pipeline import build, dependences


def explain(kernel: Kernel, cfg: SchedConfig, size: str = "MINI", show_code: bool = False) -> str:
    deps = dependences(kernel)
    out: list[str] = [f"kernel {kernel.name}  params {kernel.param_decl}  config {cfg.name}"]
    out.append(f"  objectives {cfg.objectives}  per-dim {cfg.dim_objectives or '-'}  fusion {cfg.fusion}"
               f"  solver {cfg.solver}  tile {cfg.tile_sizes if cfg.tile else 'off'}")
    out.append("statements:")
    for st in kernel.statements:
        out.append(f"  {st.name}[{', '.join(st.iters)}]: {st.body}")
    out += _deps_section(deps)
    b = build(kernel, cfg, size)
    assert b is not None and b.result is not None
    res = b.result
    out.append(f"schedule ({res.seconds * 1000:.1f} ms, {len(res.levels)} dimensions"
               f"{', fallback used' if res.fallback else ''}):")
    out += [f"  {line}" for line in res.log]
    out.append("per statement:")
    for st in kernel.statements:
        dims = ", ".join(res.expr(st.name, lv) for lv in res.levels)
        out.append(f"  {st.name}: [{dims}]")
    post = b.post
    if post is not None:
        out.append(f"post-pass: tiled bands {post.tiled_bands or 'none'}, wavefronts {post.wavefronts}, "
                   f"stride-1 reorders {post.reordered}, unroll-and-jams {post.unroll_jams}, parallel tile loops moved out {post.outer_parallel}, "
                   f"parallel marks {post.parallel_marks}, "
                   f"simd marks {post.simd_marks}, vectorized reductions "
                   f"{b.source.count('omp simd reduction')}; pragmas emitted {b.pragmas}")
    if show_code:
        body = b.source.split("KERNEL_ATTR void kernel(", 1)[-1].split("\nint main", 1)[0]
        body = "void kernel(" + body
        out.append("generated kernel:")
        out.append(body)
    return "\n".join(out)


def _deps_section(deps: Dependences) -> list[str]:
    items = deps.split()
    out = [f"dependences ({len(items)} polyhedra):"]
    for d in items:
        rel = str(d.rel)
        out.append(f"  {d.kind:6s} {d.src} -> {d.dst}: {rel if len(rel) < 220 else rel[:217] + '...'}")
    return out
