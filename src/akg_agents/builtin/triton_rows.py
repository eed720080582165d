"""RowProgram -> Triton kernel text (the launcher is in triton_codegen.py).

Kernels (all address tensors through the layout's four index groups, see ir.Layout):
- akg_kernel: one program per ROWS rows. When BLOCK covers the row it is loaded once into
  registers and every reduction and the output come from them (one DRAM read, one write);
  wider rows are walked in BLOCK-wide chunks, one loop per reduction plus one for the output.
- akg_part{k} / akg_out: the two-stage form for few, long rows (a reduction over every dim, or
  over a large extent with few rows left): the columns are cut into `nsplit` chunks, a grid
  (row blocks x chunks) writes partial results, and each later stage finishes the earlier
  reductions from those partials (a handful of values per row) before its own pass.
- akg_scan: a running sum / product along the columns, chunk by chunk with a carry.
- akg_final: the mean / sum over rows of per-row values (losses).
"""

from __future__ import annotations

from akg_agents.builtin.ir import INDEX_REDUCTIONS, Binary, Expr, RowProgram, Size, Unary, Where

NEUTRAL = {"sum": "0.0", "max": "float('-inf')", "min": "float('inf')", "prod": "1.0", "argmax": "float('-inf')",
           "argmin": "float('inf')"}
COMBINE = {"sum": "acc + v", "max": "tl.maximum(acc, v)", "min": "tl.minimum(acc, v)", "prod": "acc * v"}
INDEX_NAMES = ("ro", "ri", "co", "ci")
MUL_HELPER = """@triton.jit
def _akg_mul(a, b):
    return a * b
"""


def reduce_call(op: str, value: str) -> str:
    """The reduction of a [ROWS, BLOCK] tile along the columns, as a [ROWS, 1] tile."""
    if op == "prod":
        return f"tl.reduce({value}, 1, _akg_mul)[:, None]"
    return f"tl.{op}({value}, axis=1)[:, None]"


class TritonRows:
    def __init__(self, program: RowProgram, expr_tl: object) -> None:
        assert program.layout is not None
        self.p = program
        self.layout = program.layout
        self.expr_tl = expr_tl
        self.names = {i: f"x{i}" for i in range(len(program.inputs))}

    # -- addressing ----------------------------------------------------------------------------

    def address(self, varies: tuple[bool, ...]) -> str:
        order = [g for g in self.layout.order if varies[g]]
        terms = []
        for k, g in enumerate(order):
            stride = " * ".join(f"g{h}" for h in order[k + 1:])
            terms.append(f"{INDEX_NAMES[g]} * {stride}" if stride else INDEX_NAMES[g])
        return " + ".join(terms) or "0"

    def full_varies(self) -> tuple[bool, ...]:
        return tuple(bool(dims) for dims in self.layout.groups)

    def row_index_lines(self, indent: str) -> list[str]:
        lines = [f"{indent}r = tl.program_id(0).to(tl.int64) * ROWS + tl.arange(0, ROWS)[:, None]", f"{indent}rmask = r < rows"]
        if self.layout.groups[1]:
            lines += [f"{indent}ro = r // g1", f"{indent}ri = r % g1"]
        else:
            lines.append(f"{indent}ro = r")
        return lines

    def col_index_lines(self, start: str, indent: str, reverse: bool = False) -> list[str]:
        lane = "tl.arange(0, BLOCK)" if self.layout.simple else "tl.arange(0, BLOCK).to(tl.int64)"
        jj = f"{start} + {lane}" if start != "0" else lane
        j = f"(cols - 1 - ({jj}))[None, :]" if reverse else f"({jj})[None, :]"
        lines = [f"{indent}j = {j}", f"{indent}cmask = (j >= 0) & (j < cols)" if reverse else f"{indent}cmask = j < cols",
                 f"{indent}mask = rmask & cmask"]
        if self.layout.groups[2]:
            lines += [f"{indent}co = j // g3", f"{indent}ci = j % g3"]
        else:
            lines.append(f"{indent}ci = j")
        return lines

    def loads(self, indent: str, per_row: bool) -> list[str]:
        """Loads of the inputs that vary along the columns (per_row False) or only the rows."""
        lines = []
        for i, spec in enumerate(self.p.inputs):
            varies = spec.varies or (False,) * 4
            by_col = varies[2] or varies[3]
            if by_col == per_row:
                continue
            by_row = varies[0] or varies[1]
            mask = "mask" if by_col and by_row else ("cmask" if by_col else ("rmask" if by_row else ""))
            extra = f", mask={mask}, other=0.0" if mask else ""
            lines.append(f"{indent}x{i} = tl.load(in{i} + {self.address(varies)}{extra}).to(tl.float32)")
        return lines

    def expr(self, expr: Expr) -> str:
        return self.expr_tl(expr, self.names)  # type: ignore[operator]

    # -- reductions ----------------------------------------------------------------------------

    def whole_row_reduction(self, index: int) -> list[str]:
        red = self.p.reductions[index]
        value = f"tl.where(mask, {self.expr(red.body)}, {NEUTRAL[red.op]})"
        if red.op in INDEX_REDUCTIONS:
            pick = "max" if red.op == "argmax" else "min"
            return [f"    v = {value}", f"    m = tl.{pick}(v, axis=1)[:, None]",
                    f"    r{index} = tl.min(tl.where((v == m) & mask, j, cols), axis=1)[:, None]"]
        return [f"    r{index} = {reduce_call(red.op, value)}"]

    def chunked_reduction(self, index: int, start: str = "0", stop: str = "cols", store: str = "") -> list[str]:
        red = self.p.reductions[index]
        lines = [f"    acc = tl.full((ROWS, BLOCK), {NEUTRAL[red.op]}, tl.float32)"]
        if red.op in INDEX_REDUCTIONS:
            lines.append("    acci = tl.zeros((ROWS, BLOCK), tl.int64)")
        lines.append(f"    for start in tl.range({start}, {stop}, BLOCK, num_stages=STAGES):")
        lines += self.col_index_lines("start", "        ") + self.loads("        ", per_row=False)
        lines.append(f"        v = tl.where(mask, {self.expr(red.body)}, {NEUTRAL[red.op]})")
        if red.op in INDEX_REDUCTIONS:
            sign = ">" if red.op == "argmax" else "<"
            pick = "max" if red.op == "argmax" else "min"
            lines += [f"        better = v {sign} acc", "        acc = tl.where(better, v, acc)",
                      "        acci = tl.where(better, j, acci)", f"    m = tl.{pick}(acc, axis=1)[:, None]",
                      f"    r{index} = tl.min(tl.where(acc == m, acci, cols), axis=1)[:, None]"]
        else:
            lines += [f"        acc = {COMBINE[red.op]}", f"    r{index} = {reduce_call(red.op, 'acc')}"]
        if store:
            lines.append(store.format(value=f"r{index}"))
        return lines

    def finish_partials(self, count: int) -> list[str]:
        """r0..r{count-1} from the partial results of the chunks (the two-stage form)."""
        lines = ["    sp = tl.arange(0, SPLITS)[None, :]"] if count else []
        for k in range(count):
            op = self.p.reductions[k].op
            lines += [f"    pv = tl.load(part + ({k} * rows + r) * nsplit + sp, mask=rmask & (sp < nsplit), other={NEUTRAL[op]})",
                      f"    r{k} = {reduce_call(op, 'pv')}"]
        return lines

    # -- outputs -------------------------------------------------------------------------------

    def output_lines(self, whole_row: bool, start: str = "0", stop: str = "cols") -> list[str]:
        p = self.p
        if p.output_kind == "row":
            target = "vals" if p.final else "out"
            lines = [f"    tl.store({target} + r, {self.expr(p.output)}, mask=rmask)"]
            if p.final_weight is not None:
                lines.append(f"    tl.store(wts + r, {self.expr(p.final_weight)}, mask=rmask)")
            return lines
        store = f"tl.store(out + {self.address(self.full_varies())}, {self.expr(p.output)}, mask=mask)"
        if whole_row:
            return [f"    {store}"]
        lines = [f"    for start in tl.range({start}, {stop}, BLOCK, num_stages=STAGES):"]
        lines += self.col_index_lines("start", "        ") + self.loads("        ", per_row=False)
        return [*lines, f"        {store}"]

    # -- kernels -------------------------------------------------------------------------------

    def sizes(self) -> list[str]:
        """The full dims whose runtime size an expression uses (Size("d0"): a batchmean)."""
        roots = [r.body for r in self.p.reductions] + [self.p.output]
        roots += [e for e in (self.p.final_weight, self.p.scan.body if self.p.scan else None) if e is not None]
        return sorted({e.name for root in roots for e in expr_nodes(root) if isinstance(e, Size) and e.name.startswith("d")})

    def signature(self, name: str, extra: list[str], constexprs: list[str]) -> str:
        targets = ["vals", "wts"] if self.p.final_weight is not None else (["vals"] if self.p.final else ["out"])
        args = [*(f"in{i}" for i in range(len(self.p.inputs))), *targets, *extra, "rows", "cols", "g0", "g1", "g2", "g3",
                *self.sizes(), *(f"{c}: tl.constexpr" for c in constexprs)]
        return f"@triton.jit\ndef {name}({', '.join(args)}):"

    def fused(self, whole_row: bool) -> str:
        lines = [self.signature("akg_kernel", [], ["ROWS", "BLOCK", "STAGES"])]
        lines += self.row_index_lines("    ") + self.loads("    ", per_row=True)
        if whole_row:
            lines += ["    # The whole row fits in registers: one DRAM read serves every pass below."]
            lines += self.col_index_lines("0", "    ") + self.loads("    ", per_row=False)
            for k in range(len(self.p.reductions)):
                lines += self.whole_row_reduction(k)
        else:
            for k in range(len(self.p.reductions)):
                lines += self.chunked_reduction(k)
        return "\n".join(lines + self.output_lines(whole_row)) + "\n"

    def staged(self) -> str:
        """akg_part{k} for every reduction, then akg_out (the two-stage form)."""
        chunk = ["    lo = tl.program_id(1) * chunk", "    hi = lo + chunk"]
        kernels = []
        for k in range(len(self.p.reductions)):
            lines = [self.signature(f"akg_part{k}", ["part", "nsplit", "chunk"], ["ROWS", "BLOCK", "STAGES", "SPLITS"])]
            lines += self.row_index_lines("    ") + self.loads("    ", per_row=True) + self.finish_partials(k) + chunk
            store = f"    tl.store(part + ({k} * rows + r) * nsplit + tl.program_id(1), {{value}}, mask=rmask)"
            lines += self.chunked_reduction(k, "lo", "hi", store)
            kernels.append("\n".join(lines) + "\n")
        lines = [self.signature("akg_out", ["part", "nsplit", "chunk"], ["ROWS", "BLOCK", "STAGES", "SPLITS"])]
        lines += self.row_index_lines("    ") + self.loads("    ", per_row=True)
        lines += self.finish_partials(len(self.p.reductions)) + chunk + self.output_lines(False, "lo", "hi")
        kernels.append("\n".join(lines) + "\n")
        return "\n\n".join(kernels)

    def scan(self) -> str:
        scan = self.p.scan
        assert scan is not None
        neutral = "0.0" if scan.op == "sum" else "1.0"
        running = "tl.cumsum(v, axis=1)" if scan.op == "sum" else "tl.associative_scan(v, 1, _akg_mul)"
        total = reduce_call(scan.op, "v")
        lines = [self.signature("akg_scan", [], ["ROWS", "BLOCK", "STAGES"])]
        lines += self.row_index_lines("    ") + self.loads("    ", per_row=True)
        lines += [f"    carry = tl.full((ROWS, 1), {neutral}, tl.float32)",
                  "    for start in tl.range(0, cols, BLOCK, num_stages=STAGES):"]
        lines += self.col_index_lines("start", "        ", reverse=scan.reverse) + self.loads("        ", per_row=False)
        combine = "carry + s" if scan.op == "sum" else "carry * s"
        lines += [f"        v = tl.where(mask, {self.expr(scan.body)}, {neutral})", f"        s = {running}",
                  f"        res = {combine}" + (" - v" if scan.exclusive else ""),
                  f"        tl.store(out + {self.address(self.full_varies())}, res, mask=mask)",
                  f"        carry = carry {'+' if scan.op == 'sum' else '*'} {total}"]
        return "\n".join(lines) + "\n"


FINAL_KERNEL = """@triton.jit
def akg_final(vals, wts, out, rows, WEIGHTED: tl.constexpr, MEAN: tl.constexpr, BLOCK: tl.constexpr):
    # One program sums the per-row values (and weights) of a loss: rows are few by then.
    acc = tl.zeros((BLOCK,), tl.float32)
    wacc = tl.zeros((BLOCK,), tl.float32)
    for start in tl.range(0, rows, BLOCK):
        k = start + tl.arange(0, BLOCK)
        acc += tl.load(vals + k, mask=k < rows, other=0.0)
        if WEIGHTED:
            wacc += tl.load(wts + k, mask=k < rows, other=0.0)
    total = tl.sum(acc, axis=0)
    if MEAN:
        if WEIGHTED:
            total = total / tl.sum(wacc, axis=0)
        else:
            total = total / rows
    tl.store(out, total)
"""


def uses_product(program: RowProgram) -> bool:
    return any(r.op == "prod" for r in program.reductions) or (program.scan is not None and program.scan.op == "prod")


def expr_nodes(expr: Expr) -> list[Expr]:
    out: list[Expr] = [expr]
    if isinstance(expr, Unary):
        out += expr_nodes(expr.a)
    elif isinstance(expr, Binary):
        out += expr_nodes(expr.a) + expr_nodes(expr.b)
    elif isinstance(expr, Where):
        out += expr_nodes(expr.cond) + expr_nodes(expr.a) + expr_nodes(expr.b)
    return out
