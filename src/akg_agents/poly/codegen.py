"""Code generation: isl AST -> C with OpenMP pragmas, plus the timing/check driver.

Statements are emitted as calls ``S3(c0, c1 + c2)`` to macros wrapping the DSL body
(the CLooG/Pluto convention), so isl's expression printer does all the index algebra.
Marks inserted by the post-pass become pragmas only when they sit directly on a
``for`` (a degenerate loop has nothing to parallelise).
"""

from __future__ import annotations

import re

import islpy as isl

from .dsl import Kernel
from .reduction import Reduction, is_reduction_loop
from .reduction import macros as reduction_macros

T = isl.ast_node_type

PRELUDE = """#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
/* declared, not included: clang-14 (Polly) has no omp.h here; both link libgomp */
extern double omp_get_wtime(void);
/* libgomp's entry for a parallel region: called directly, it starts the thread pool under gcc
   and under clang -fopenmp=libgomp alike (clang ignores `#pragma omp` with that flag) */
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
static void warm_up(void *data) { (void)data; }
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
    def __init__(self, kernel: Kernel | None = None, simd_reduction: bool = False,
                 acc_type: str = "double", locals_: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.locals = locals_ or {}  # privatised temporaries: name -> C declaration (privatize.py)
        self.acc_type = acc_type  # the reduction accumulator: the arrays' element type or wider
        self.pragmas = 0
        self.kernel = kernel if simd_reduction else None
        self._red_cache: dict[tuple[str, tuple[str, ...]], Reduction | None] = {}

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def node(self, n: isl.AstNode, depth: int, marks: tuple[str, ...] = ()) -> None:
        t = n.get_type()
        if t == T.mark:
            name = n.mark_get_id().get_name()
            if name.startswith("priv:"):  # per-iteration locals of the enclosing loop's body
                self.emit(depth, "{ " + " ".join(self.locals[v] for v in name[5:].split(",")))
                self.node(n.mark_get_node(), depth + 1, marks)
                self.emit(depth, "}")
                return
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
        mine = tuple(m.split("@")[0] for m in marks if m.endswith(depth_tag))
        pragma = _pragma(tuple(m.split(" ")[0] for m in mine))
        clause = next((m.split(" ", 1)[1] for m in mine if " " in m), "")
        if clause and pragma.startswith("#pragma omp parallel for"):
            pragma += " " + clause  # reduction(+: ...): see post.reduction_clause
        if not pragma and self._reduction(n, depth, it, init):
            return
        if pragma:
            self.emit(depth, pragma)
            self.pragmas += 1
        cond = n.for_get_cond().to_C_str()
        inc = n.for_get_inc().to_C_str()
        self.emit(depth, f"for (int {it} = {init}; {cond}; {it} += {inc}) {{")
        self.node(n.for_get_body(), depth + 1)
        self.emit(depth, "}")

    def _reduction(self, n: isl.AstNode, depth: int, it: str, init: str) -> bool:
        """Emit a sequential innermost reduction loop as ``omp simd reduction``; see reduction.py."""
        body = n.for_get_body()
        if self.kernel is None or body.get_type() != T.user:
            return False
        call = body.user_get_expr()
        name = call.op_get_arg(0).to_C_str()
        args = [call.op_get_arg(i).to_C_str() for i in range(1, call.op_get_n_arg())]
        st = self.kernel.stmt_by_name(name)
        uses_it = re.compile(rf"\b{re.escape(it)}\b")
        varying = tuple(v for v, a in zip(st.iters, args, strict=True) if uses_it.search(a))
        key = (name, varying)
        if key not in self._red_cache:
            self._red_cache[key] = is_reduction_loop(self.kernel, st, list(varying))
        red = self._red_cache[key]
        if red is None:
            return False
        acc = f"_r{depth}"
        self.emit(depth, f"{{ {self.acc_type} {acc} = 0;")
        self.emit(depth, f"#pragma omp simd reduction(+:{acc})")
        self.emit(depth, f"for (int {it} = {init}; {n.for_get_cond().to_C_str()}; "
                         f"{it} += {n.for_get_inc().to_C_str()}) {{")
        self.emit(depth + 1, f"{acc} += {name}_RI({', '.join(args)});")
        self.emit(depth, "}")
        at_init = uses_it.sub(f"({init})", n.for_get_cond().to_C_str())
        fixed = ", ".join(uses_it.sub(f"({init})", a) for a in args)
        # an empty loop must not touch the target: it may be out of range or owned by
        # another thread at this point of the schedule
        self.emit(depth, f"if ({at_init}) {name}_RT({fixed}) {red.op}= {acc}; }}")
        self.pragmas += 1
        return True


def _pragma(marks: tuple[str, ...]) -> str:
    par, simd = "omp_parallel" in marks, "omp_simd" in marks
    if par and simd:
        return "#pragma omp parallel for simd"
    if par:
        return "#pragma omp parallel for"
    if simd:
        return "#pragma omp simd"
    return ""


def ast_to_c(ast: isl.AstNode, depth: int = 1, kernel: Kernel | None = None,
             simd_reduction: bool = False, acc_type: str = "double",
             locals_: dict[str, str] | None = None) -> tuple[str, int]:
    """C text of the AST and the number of OpenMP pragmas emitted."""
    p = _Printer(kernel, simd_reduction, acc_type, locals_)
    p.node(ast, depth)
    return "\n".join(p.lines), p.pragmas


def statement_macros(kernel: Kernel) -> str:
    plain = "\n".join(f"#define {st.name}({', '.join(st.iters)}) {kernel.macro_body(st)}"
                      for st in kernel.statements)
    return plain + "\n" + reduction_macros(kernel)


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
    """A complete C program in PolyBench's harness: init, OpenMP warm-up, cache flush, timed kernel, dump.

    Like PolyBench, arrays live on the heap with their sizes in the parameter types, the
    loop bounds are run-time ``int`` parameters, and the kernel is a function that the
    compiler must optimise without seeing its callers (``noipa``): it cannot assume the
    arrays are distinct nor fold the bounds.  A harness with static global arrays lets
    gcc -O3 interchange and vectorize the original order (2mm ran 6x faster), which is not
    the baseline PolyBench, Pluto or Polly are measured against.  0-d arrays are the
    kernel's scalar locals (PolyBench declares them there).
    """
    sizes = kernel.sizes[size]
    arrays = [a for a in kernel.arrays.values() if a.dims]
    scalars = [a for a in kernel.arrays.values() if not a.dims]
    for a in scalars:
        if a.output:
            raise ValueError(f"{kernel.name}: scalar {a.name} cannot be an output")
    shapes = {a.name: kernel.shape(a, size) for a in arrays}

    def param_type(a: str) -> str:
        return f"double {a}{''.join(f'[{n}]' for n in shapes[a])}"

    params = ", ".join([f"int {p}" for p in kernel.params] + [param_type(a.name) for a in arrays])
    args = ", ".join([*kernel.params, *(a.name for a in arrays)])
    sizes_decl = "  ".join(f"int {p} = {sizes[p]};" for p in kernel.params)
    allocs = "\n".join(
        f"  double (*{a.name}){''.join(f'[{n}]' for n in shapes[a.name][1:])} = alloc_array("
        f"{'*'.join(str(n) for n in shapes[a.name])});" for a in arrays)
    scalar_decls = "\n".join(f"  double {a.name} = {a.init or '0.0'};" for a in scalars)
    consts = "\n".join(f"  const double {n} = {v if isinstance(v, str) else repr(v)};"
                       for n, v in kernel.consts.items())
    dumps = "\n".join(f"    fwrite({a.name}, sizeof(double), {'*'.join(str(n) for n in shapes[a.name])}, f);"
                      for a in arrays if a.output)
    frees = " ".join(f"free({a.name});" for a in arrays)
    return f"""{PRELUDE}
/* PolyBench compiles the kernel as a function whose callers it cannot see */
#if defined(__clang__)
#define KERNEL_ATTR __attribute__((noinline))
#else
#define KERNEL_ATTR __attribute__((noinline, noipa))
#endif
{statement_macros(kernel) if macros else ''}

KERNEL_ATTR static void *alloc_array(size_t n) {{
  void *p = NULL;
  if (posix_memalign(&p, 4096, n * sizeof(double)) != 0) {{ fprintf(stderr, "out of memory\\n"); exit(3); }}
  memset(p, 0, n * sizeof(double));
  return p;
}}

static void init_arrays({params}) {{
{scalar_decls}
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

KERNEL_ATTR void kernel({params}) {{
{consts}
{scalar_decls}
{body}
}}

int main(int argc, char **argv) {{
  {sizes_decl}
{allocs}
  init_arrays({args});
  /* start OpenMP's thread pool before the clock, and before the flush: every variant (the
     original, isl, Polly, Pluto, ours) is timed on its kernel, not on creating threads, which
     at MEDIUM sizes (a few hundred microseconds) would rank sequential schedules first */
  GOMP_parallel(warm_up, NULL, 0, 0);
  flush_cache();
  double t0 = omp_get_wtime();
  kernel({args});
  double t1 = omp_get_wtime();
  printf("%.9f\\n", t1 - t0);
  if (argc > 1) {{
    FILE *f = fopen(argv[1], "wb");
    if (!f) return 2;
{dumps}
    fclose(f);
  }}
  {frees}
  return 0;
}}
"""
