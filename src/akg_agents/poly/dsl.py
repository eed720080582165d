"""Loop-nest DSL: affine loop nests over arrays, lowered to isl objects and reference C.

A kernel is written with nested ``with k.loop(...)`` blocks and ``k.stmt("C body")``
calls.  Array accesses are parsed from the C body (the arrays are declared up front),
so one line of C per statement is all a kernel author writes.  Everything the
scheduler needs (domains, access relations, the original 2d+1 schedule) is derived
from that single description, which keeps the reference program and the polyhedral
model consistent by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import islpy as isl

HINTS = ("serial", "parallel", "vector", "reduce")
# assignment operator of a C statement: "=", "+=", ... but not "==", "<=", ">=", "!="
_ASSIGN = re.compile(r"(?<![=!<>+\-*/])([+\-*/]?=)(?!=)")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")


@dataclass
class Array:
    name: str
    dims: list[str]  # affine expressions of the parameters
    init: str | None = None  # C expression of the index names i0, i1, ... (None: default formula)
    output: bool = True  # compared by the checker
    check: str | None = None  # numpy slice of the compared region, e.g. "[:, :M]" (None: all)


@dataclass
class Loop:
    var: str
    lo: str
    hi: str  # exclusive bound in the direction of iteration
    step: int = 1  # +1 or -1
    hint: str | None = None


@dataclass
class Access:
    array: str
    subscripts: list[str]  # affine expressions of the iterators / parameters

    def isl_text(self) -> str:
        return f"{self.array}[{', '.join(self.subscripts)}]"


@dataclass
class Statement:
    name: str
    body: str
    loops: list[Loop]
    position: list[int]  # textual position at each depth (len = depth + 1)
    where: str | None
    reads: list[Access] = field(default_factory=list)
    writes: list[Access] = field(default_factory=list)

    @property
    def iters(self) -> list[str]:
        return [lp.var for lp in self.loops]

    @property
    def depth(self) -> int:
        return len(self.loops)


class Kernel:
    """A static control program: parameters, arrays, constants and statements."""

    def __init__(self, name: str, params: list[str], sizes: dict[str, dict[str, int]],
                 category: str = "") -> None:
        self.name = name
        self.params = list(params)
        self.sizes = sizes
        self.category = category
        self.arrays: dict[str, Array] = {}
        self.consts: dict[str, float | str] = {}  # str: C expression of the parameters
        self.statements: list[Statement] = []
        self.init_code: str | None = None  # optional C code replacing the default init
        self.context_min = 4  # parameters are assumed >= this (simplifies generated code)
        self._stack: list[Loop] = []
        self._counters: list[int] = [0]

    # ---- construction -------------------------------------------------------------
    def array(self, name: str, dims: list[str], init: str | None = None, output: bool = True,
              check: str | None = None) -> Array:
        arr = Array(name, list(dims), init, output, check)
        self.arrays[name] = arr
        return arr

    def const(self, name: str, value: float | str) -> None:
        self.consts[name] = value

    @contextmanager
    def loop(self, var: str, lo: str | int, hi: str | int, step: int = 1,
             hint: str | None = None) -> Iterator[str]:
        """Loop ``var`` from ``lo`` to ``hi`` (exclusive), step +1 or -1."""
        if step not in (1, -1):
            raise ValueError("only unit steps (+1/-1) are affine loops here")
        if hint is not None and hint not in HINTS:
            raise ValueError(f"unknown loop hint {hint!r}; expected one of {HINTS}")
        self._stack.append(Loop(var, str(lo), str(hi), step, hint))
        self._counters.append(0)
        try:
            yield var
        finally:
            self._stack.pop()
            self._counters.pop()
            self._counters[-1] += 1

    def stmt(self, body: str, where: str | None = None) -> Statement:
        """Add a statement (one C assignment) at the current loop depth."""
        body = body.strip().rstrip(";")
        position = [*self._counters]
        st = Statement(f"S{len(self.statements)}", body, list(self._stack), position, where)
        st.reads, st.writes = self._parse_accesses(body)
        self.statements.append(st)
        self._counters[-1] += 1
        return st

    def _parse_accesses(self, body: str) -> tuple[list[Access], list[Access]]:
        m = _ASSIGN.search(body)
        if m is None:
            raise ValueError(f"statement is not an assignment: {body!r}")
        lhs, rhs = body[: m.start()], body[m.end():]
        writes = self._accesses_in(lhs)
        if len(writes) != 1:
            raise ValueError(f"statement must write exactly one array element: {body!r}")
        reads = self._accesses_in(rhs)
        reads += self._accesses_in_subscripts(lhs)
        if m.group(1) != "=":
            reads.insert(0, writes[0])
        return reads, writes

    def _accesses_in(self, text: str) -> list[Access]:
        out: list[Access] = []
        for mt in _IDENT.finditer(text):
            name = mt.group(0)
            arr = self.arrays.get(name)
            if arr is None:
                continue
            subs, _end = _subscripts(text, mt.end())
            if len(subs) != len(arr.dims):
                raise ValueError(f"array {name} used with {len(subs)} subscripts, declared {len(arr.dims)}")
            out.append(Access(name, subs))
            # nested accesses inside subscripts are not affine: reject early
            for s in subs:
                if any(a in _IDENT.findall(s) for a in self.arrays):
                    raise ValueError(f"non-affine subscript {s!r} in {text!r}")
        return out

    def _accesses_in_subscripts(self, lhs: str) -> list[Access]:
        return []  # subscripts are affine, so the LHS reads nothing else

    # ---- isl views ------------------------------------------------------------------
    @property
    def param_decl(self) -> str:
        return f"[{', '.join(self.params)}]"

    def context(self) -> isl.Set:
        conds = " and ".join(f"{p} >= {self.context_min}" for p in self.params) or "true"
        return isl.Set(f"{self.param_decl} -> {{ : {conds} }}")

    def domain_of(self, st: Statement) -> isl.Set:
        conds = []
        for lp in st.loops:
            if lp.step == 1:
                conds.append(f"{lp.lo} <= {lp.var} < {lp.hi}")
            else:
                conds.append(f"{lp.hi} < {lp.var} <= {lp.lo}")
        if st.where:
            conds.append(f"({st.where})")
        cond = " and ".join(conds) if conds else "true"
        return isl.Set(f"{self.param_decl} -> {{ {st.name}[{', '.join(st.iters)}] : {cond} }}")

    def domain(self) -> isl.UnionSet:
        dom = isl.UnionSet.empty(self.context().get_space())
        for st in self.statements:
            dom = dom.union(isl.UnionSet.from_set(self.domain_of(st)))
        return dom.intersect_params(self.context())

    def _access_map(self, st: Statement, acc: Access) -> isl.UnionMap:
        return isl.UnionMap(
            f"{self.param_decl} -> {{ {st.name}[{', '.join(st.iters)}] -> {acc.isl_text()} }}"
        ).intersect_domain(isl.UnionSet.from_set(self.domain_of(st)))

    def reads(self) -> isl.UnionMap:
        return self._union_accesses(lambda st: st.reads)

    def writes(self) -> isl.UnionMap:
        return self._union_accesses(lambda st: st.writes)

    def _union_accesses(self, pick) -> isl.UnionMap:  # type: ignore[no-untyped-def]
        um = isl.UnionMap.empty(self.context().get_space())
        for st in self.statements:
            for acc in pick(st):
                um = um.union(self._access_map(st, acc))
        return um

    @property
    def max_depth(self) -> int:
        return max((st.depth for st in self.statements), default=0)

    def original_dims(self, st: Statement) -> list[str]:
        """The 2d+1 original schedule of ``st`` as affine expressions, padded with 0."""
        dims: list[str] = []
        for d, lp in enumerate(st.loops):
            dims.append(str(st.position[d]))
            dims.append(lp.var if lp.step == 1 else f"-{lp.var}")
        dims.append(str(st.position[st.depth]))
        dims += ["0"] * (2 * self.max_depth + 1 - len(dims))
        return dims

    def original_schedule(self) -> isl.UnionMap:
        um = isl.UnionMap.empty(self.context().get_space())
        for st in self.statements:
            m = isl.UnionMap(
                f"{self.param_decl} -> {{ {st.name}[{', '.join(st.iters)}] -> "
                f"[{', '.join(self.original_dims(st))}] }}"
            )
            um = um.union(m.intersect_domain(isl.UnionSet.from_set(self.domain_of(st))))
        return um

    def stmt_by_name(self, name: str) -> Statement:
        for st in self.statements:
            if st.name == name:
                return st
        raise KeyError(name)

    # ---- reference C (original order) -------------------------------------------------
    def reference_c(self, indent: str = "  ") -> str:
        """Loop nest in the original order (loop structure rebuilt from positions)."""
        lines: list[str] = []
        open_loops: list[tuple[int, Loop]] = []  # (position id, loop)
        for st in self.statements:
            # close loops that are not shared with this statement
            keep = 0
            while keep < len(open_loops) and keep < st.depth and \
                    open_loops[keep] == (st.position[keep], st.loops[keep]):
                keep += 1
            while len(open_loops) > keep:
                open_loops.pop()
                lines.append(indent * (len(open_loops) + 1) + "}")
            for d in range(keep, st.depth):
                lp = st.loops[d]
                pad = indent * (d + 1)
                if lp.step == 1:
                    lines.append(f"{pad}for (int {lp.var} = {lp.lo}; {lp.var} < {lp.hi}; {lp.var}++) {{")
                else:
                    lines.append(f"{pad}for (int {lp.var} = {lp.lo}; {lp.var} > {lp.hi}; {lp.var}--) {{")
                open_loops.append((st.position[d], lp))
            pad = indent * (st.depth + 1)
            if st.where:
                lines.append(f"{pad}if ({st.where.replace(' and ', ' && ')}) {st.body};")
            else:
                lines.append(f"{pad}{st.body};")
        while open_loops:
            open_loops.pop()
            lines.append(indent * (len(open_loops) + 1) + "}")
        return "\n".join(lines)

    def macro_body(self, st: Statement) -> str:
        """Statement body with iterators parenthesised, for ``#define Sk(i, j) ...``."""
        # ``where`` guards are part of the domain, so generated code never needs them
        return self.parenthesise(st, st.body)

    @staticmethod
    def parenthesise(st: Statement, text: str) -> str:
        """``text`` with the statement's iterators wrapped in parentheses (macro arguments)."""
        if not st.iters:
            return text
        return re.sub(r"\b(" + "|".join(map(re.escape, st.iters)) + r")\b", r"(\1)", text)

    def shape(self, arr: Array, size: str) -> tuple[int, ...]:
        """The array's extents at a dataset size (dims are affine in the parameters)."""
        vals = dict(self.sizes[size])
        return tuple(int(eval(d, {"__builtins__": {}}, vals)) for d in arr.dims)


def _subscripts(text: str, pos: int) -> tuple[list[str], int]:
    """Parse ``[e1][e2]...`` starting at ``pos``; returns the expressions and end index."""
    subs: list[str] = []
    while True:
        j = pos
        while j < len(text) and text[j].isspace():
            j += 1
        if j >= len(text) or text[j] != "[":
            return subs, pos
        depth, k = 0, j
        while k < len(text):
            if text[k] == "[":
                depth += 1
            elif text[k] == "]":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        subs.append(text[j + 1: k].strip())
        pos = k + 1
