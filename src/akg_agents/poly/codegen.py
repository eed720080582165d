"""Code generation: isl AST -> C with OpenMP pragmas, plus the timing/check driver.

Statements are emitted as calls ``S3(c0, c1 + c2)`` to macros wrapping the DSL body
(the CLooG/Pluto convention), so isl's expression printer does all the index algebra.
Marks inserted by the post-pass become pragmas only when they sit directly on a
``for`` (a degenerate loop has nothing to parallelise).
"""

from __future__ import annotations

import islpy as isl

from .dsl import Kernel

T = isl.ast_node_type

PRELUDE = """#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
/* declared, not included: clang-14 (Polly) has no omp.h here; both link libgomp */
extern double omp_get_wtime(void);
#define floord(n, d) (((n) < 0) ? -((-(n) + (d) - 1) / (d)) : (n) / (d))
#define ceild(n, d) (((n) < 0) ? -((-(n)) / (d)) : ((n) + (d) - 1) / (d))
#define min(x, y) ((x) < (y) ? (x) : (y))
#define max(x, y) ((x) > (y) ? (x) : (y))
"""


def ast_of(sched: isl.Schedule, kernel: Kernel) -> isl.AstNode:
    build = isl.AstBuild.from_context(kernel.context())
    # "_cN" iterators cannot clash with kernel constants such as c1/c2 (deriche)
    ids = isl.IdList.alloc(build.get_ctx(), 64)
    for i in range(64):
        ids = ids.add(isl.Id(f"_c{i}"))
    return build.set_iterators(ids).node_from_schedule(sched)


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pragmas = 0

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def node(self, n: isl.AstNode, depth: int, marks: tuple[str, ...] = ()) -> None:
        t = n.get_type()
        if t == T.mark:
            name = n.mark_get_id().get_name()
            self.node(n.mark_get_node(), depth, (*marks, name))
        elif t == T.for_:  # type: ignore[attr-defined]  # islpy's stubs miss the keyword-named members
            self.for_(n, depth, marks)
        elif t == T.if_:  # type: ignore[attr-defined]
            self.emit(depth, f"if ({n.if_get_cond().to_C_str()}) {{")
            self.node(n.if_get_then_node(), depth + 1)
            if n.if_has_else_node():
                self.emit(depth, "} else {")
                self.node(n.if_get_else_node(), depth + 1)
            self.emit(depth, "}")
        elif t == T.block:
            children = n.block_get_children()
            for i in range(children.n_ast_node()):
                self.node(children.get_at(i), depth)
        elif t == T.user:
            self.emit(depth, n.user_get_expr().to_C_str() + ";")
        else:
            raise ValueError(f"unexpected AST node type {t}")

    def for_(self, n: isl.AstNode, depth: int, marks: tuple[str, ...]) -> None:
        it = n.for_get_iterator().to_C_str()
        init = n.for_get_init().to_C_str()
        if n.for_is_degenerate():
            self.emit(depth, f"{{ const int {it} = {init};")
            self.node(n.for_get_body(), depth + 1)
            self.emit(depth, "}")
            return
        depth_tag = "@" + it[2:] if it.startswith("_c") else ""
        pragma = _pragma(tuple(m.split("@")[0] for m in marks if m.endswith(depth_tag)))
        if pragma:
            self.emit(depth, pragma)
            self.pragmas += 1
        cond = n.for_get_cond().to_C_str()
        inc = n.for_get_inc().to_C_str()
        self.emit(depth, f"for (int {it} = {init}; {cond}; {it} += {inc}) {{")
        self.node(n.for_get_body(), depth + 1)
        self.emit(depth, "}")


def _pragma(marks: tuple[str, ...]) -> str:
    par, simd = "omp_parallel" in marks, "omp_simd" in marks
    if par and simd:
        return "#pragma omp parallel for simd"
    if par:
        return "#pragma omp parallel for"
    if simd:
        return "#pragma omp simd"
    return ""


def ast_to_c(ast: isl.AstNode, depth: int = 1) -> tuple[str, int]:
    """C text of the AST and the number of OpenMP pragmas emitted."""
    p = _Printer()
    p.node(ast, depth)
    return "\n".join(p.lines), p.pragmas


def statement_macros(kernel: Kernel) -> str:
    return "\n".join(f"#define {st.name}({', '.join(st.iters)}) {kernel.macro_body(st)}"
                     for st in kernel.statements)


def _init_code(kernel: Kernel) -> str:
    if kernel.init_code:
        return kernel.init_code
    lines = []
    for a in kernel.arrays.values():
        idx = [f"i{d}" for d in range(len(a.dims))]
        expr = a.init or _default_init(idx, a.dims)
        loops = "".join(f"for (int {i} = 0; {i} < {dim}; {i}++) " for i, dim in zip(idx, a.dims, strict=False))
        ref = a.name + "".join(f"[{i}]" for i in idx)
        lines.append(f"  {loops}{ref} = {expr};")
    return "\n".join(lines)


def _default_init(idx: list[str], dims: list[str]) -> str:
    if not idx:
        return "0.5"
    # deterministic, bounded values in [0, 1): PolyBench-like ((i*j + c) % n) / n
    num = " + ".join(f"{3 + 2 * k}*{i}" for k, i in enumerate(idx)) + " + 1"
    den = dims[0]
    prod = "*".join(idx)
    return f"(double)((({prod}) + {num}) % ({den})) / ({den})"


def program(kernel: Kernel, body: str, size: str, macros: bool = True) -> str:
    """A complete C program: arrays, init, kernel, timing, binary dump of the arrays."""
    sizes = kernel.sizes[size]
    defs = "\n".join(f"#define {p} {sizes[p]}" for p in kernel.params)
    arrays = "\n".join(f"static double {a.name}{''.join(f'[{d}]' for d in a.dims)};"
                       for a in kernel.arrays.values())
    consts = "\n".join(f"  const double {n} = {v if isinstance(v, str) else repr(v)};"
                       for n, v in kernel.consts.items())
    dumps = "\n".join(f"  fwrite({'&' if not a.dims else ''}{a.name}, sizeof(double), "
                      f"sizeof({a.name}) / sizeof(double), f);"
                      for a in kernel.arrays.values() if a.output)
    return f"""{PRELUDE}
{defs}
{arrays}
{statement_macros(kernel) if macros else ''}

static void init_arrays(void) {{
{_init_code(kernel)}
}}

static void flush_cache(void) {{
  /* PolyBench protocol: touch a buffer larger than the last-level cache */
  size_t n = 32 * 1024 * 1024 / sizeof(double);
  double *buf = (double *)calloc(n, sizeof(double));
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += buf[i];
  if (s > 10.0) printf("%f\\n", s);
  free(buf);
}}

__attribute__((noinline)) static void kernel(void) {{
{consts}
{body}
}}

int main(int argc, char **argv) {{
  init_arrays();
  flush_cache();
  double t0 = omp_get_wtime();
  kernel();
  double t1 = omp_get_wtime();
  printf("%.9f\\n", t1 - t0);
  if (argc > 1) {{
    FILE *f = fopen(argv[1], "wb");
    if (!f) return 2;
{dumps}
    fclose(f);
  }}
  return 0;
}}
"""
