# ruff: noqa: E702  (one-line array/constant declarations read like the PolyBench headers)
"""PolyBench stencils and medley kernels in the DSL."""

from __future__ import annotations

import math
from collections.abc import Callable

from ...poly.dsl import Kernel
from ._util import sizes


def jacobi_1d() -> Kernel:
    p = ["TSTEPS", "N"]
    k = Kernel("jacobi-1d", p, sizes(p, (20, 30), (40, 120), (100, 400), (500, 2000), (1000, 4000)),
               "stencils")
    k.array("A", ["N"], init="((double)i0 + 2) / N"); k.array("B", ["N"], init="((double)i0 + 3) / N")
    with k.loop("t", 0, "TSTEPS"):
        with k.loop("i", 1, "N-1"):
            k.stmt("B[i] = 0.33333 * (A[i-1] + A[i] + A[i+1])")
        with k.loop("i", 1, "N-1"):
            k.stmt("A[i] = 0.33333 * (B[i-1] + B[i] + B[i+1])")
    return k


def jacobi_2d() -> Kernel:
    p = ["TSTEPS", "N"]
    k = Kernel("jacobi-2d", p, sizes(p, (20, 30), (40, 90), (100, 250), (500, 1300), (1000, 2800)),
               "stencils")
    k.array("A", ["N", "N"], init="((double)i0 * (i1 + 2) + 2) / N")
    k.array("B", ["N", "N"], init="((double)i0 * (i1 + 3) + 3) / N")
    with k.loop("t", 0, "TSTEPS"):
        with k.loop("i", 1, "N-1"), k.loop("j", 1, "N-1"):
            k.stmt("B[i][j] = 0.2 * (A[i][j] + A[i][j-1] + A[i][1+j] + A[1+i][j] + A[i-1][j])")
        with k.loop("i", 1, "N-1"), k.loop("j", 1, "N-1"):
            k.stmt("A[i][j] = 0.2 * (B[i][j] + B[i][j-1] + B[i][1+j] + B[1+i][j] + B[i-1][j])")
    return k


def seidel_2d() -> Kernel:
    p = ["TSTEPS", "N"]
    k = Kernel("seidel-2d", p, sizes(p, (20, 40), (40, 120), (100, 400), (500, 2000), (1000, 4000)),
               "stencils")
    k.array("A", ["N", "N"], init="((double)i0 * (i1 + 2) + 2) / N")
    with k.loop("t", 0, "TSTEPS"), k.loop("i", 1, "N-1"), k.loop("j", 1, "N-1"):
        k.stmt("A[i][j] = (A[i-1][j-1] + A[i-1][j] + A[i-1][j+1] + A[i][j-1] + A[i][j] + A[i][j+1]"
               " + A[i+1][j-1] + A[i+1][j] + A[i+1][j+1]) / 9.0")
    return k


def heat_3d() -> Kernel:
    p = ["TSTEPS", "N"]
    k = Kernel("heat-3d", p, sizes(p, (20, 10), (40, 20), (100, 40), (500, 120), (1000, 200)), "stencils")
    init = "(double)(i0 + i1 + (N - i2)) * 10 / N"
    k.array("A", ["N", "N", "N"], init=init); k.array("B", ["N", "N", "N"], init=init)
    terms = ("0.125 * ({X}[i+1][j][k] - 2.0 * {X}[i][j][k] + {X}[i-1][j][k])"
             " + 0.125 * ({X}[i][j+1][k] - 2.0 * {X}[i][j][k] + {X}[i][j-1][k])"
             " + 0.125 * ({X}[i][j][k+1] - 2.0 * {X}[i][j][k] + {X}[i][j][k-1]) + {X}[i][j][k]")
    with k.loop("t", 1, "TSTEPS+1"):
        for dst, src in (("B", "A"), ("A", "B")):
            with k.loop("i", 1, "N-1"), k.loop("j", 1, "N-1"), k.loop("k", 1, "N-1"):
                k.stmt(f"{dst}[i][j][k] = " + terms.format(X=src))
    return k


def fdtd_2d() -> Kernel:
    p = ["TMAX", "NX", "NY"]
    k = Kernel("fdtd-2d", p, sizes(p, (20, 20, 30), (40, 60, 80), (100, 200, 240), (500, 1000, 1200),
                                   (1000, 2000, 2600)), "stencils")
    k.array("ex", ["NX", "NY"], init="((double)i0 * (i1 + 1)) / NX")
    k.array("ey", ["NX", "NY"], init="((double)i0 * (i1 + 2)) / NY")
    k.array("hz", ["NX", "NY"], init="((double)i0 * (i1 + 3)) / NX")
    k.array("fict", ["TMAX"], init="(double)i0", output=False)
    with k.loop("t", 0, "TMAX"):
        with k.loop("j", 0, "NY"):
            k.stmt("ey[0][j] = fict[t]")
        with k.loop("i", 1, "NX"), k.loop("j", 0, "NY"):
            k.stmt("ey[i][j] = ey[i][j] - 0.5 * (hz[i][j] - hz[i-1][j])")
        with k.loop("i", 0, "NX"), k.loop("j", 1, "NY"):
            k.stmt("ex[i][j] = ex[i][j] - 0.5 * (hz[i][j] - hz[i][j-1])")
        with k.loop("i", 0, "NX-1"), k.loop("j", 0, "NY-1"):
            k.stmt("hz[i][j] = hz[i][j] - 0.7 * (ex[i][j+1] - ex[i][j] + ey[i+1][j] - ey[i][j])")
    return k


def adi() -> Kernel:
    p = ["TSTEPS", "N"]
    k = Kernel("adi", p, sizes(p, (20, 20), (40, 60), (100, 200), (500, 1000), (1000, 2000)), "stencils")
    k.array("u", ["N", "N"], init="(double)(i0 + N - i1) / N")
    for n in ("v", "p", "q"):
        k.array(n, ["N", "N"], init="0.0", output=(n == "v"))
    consts = {"DX": "1.0 / N", "DY": "1.0 / N", "DT": "1.0 / TSTEPS", "B1": "2.0", "B2": "1.0",
              "mul1": "B1 * DT / (DX * DX)", "mul2": "B2 * DT / (DY * DY)", "a": "-mul1 / 2.0",
              "b": "1.0 + mul1", "c": "a", "d": "-mul2 / 2.0", "e": "1.0 + mul2", "f": "d"}
    for n, v in consts.items():
        k.const(n, v)
    with k.loop("t", 1, "TSTEPS+1"):
        _adi_sweep(k, "v", "u", "a", "b", "c", "d", "f", column=True)
        _adi_sweep(k, "u", "v", "d", "e", "f", "a", "c", column=False)
    return k


def _adi_sweep(k: Kernel, out: str, src: str, a: str, b: str, c: str, d: str, f: str,
               column: bool) -> None:
    o = (lambda r, s: f"{out}[{s}][{r}]") if column else (lambda r, s: f"{out}[{r}][{s}]")
    s_ = (lambda r, s: f"{src}[{s}][{r}]") if column else (lambda r, s: f"{src}[{r}][{s}]")
    with k.loop("i", 1, "N-1"):
        k.stmt(f"{o('i', '0')} = 1.0")
        k.stmt("p[i][0] = 0.0")
        k.stmt(f"q[i][0] = {o('i', '0')}")
        with k.loop("j", 1, "N-1"):
            k.stmt(f"p[i][j] = -{c} / ({a} * p[i][j-1] + {b})")
            k.stmt(f"q[i][j] = (-{d} * {s_('i-1', 'j')} + (1.0 + 2.0 * {d}) * {s_('i', 'j')} - {f} * "
                   f"{s_('i+1', 'j')} - {a} * q[i][j-1]) / ({a} * p[i][j-1] + {b})")
        k.stmt(f"{o('i', 'N-1')} = 1.0")
        with k.loop("j", "N-2", 0, step=-1):
            k.stmt(f"{o('i', 'j')} = p[i][j] * {o('i', 'j+1')} + q[i][j]")


def floyd_warshall() -> Kernel:
    k = Kernel("floyd-warshall", ["N"], sizes(["N"], (60,), (180,), (500,), (2800,), (5600,)), "medley")
    k.array("path", ["N", "N"],
            init="((i0 + i1) % 13 == 0 || (i0 + i1) % 7 == 0 || (i0 + i1) % 11 == 0) ? 999.0"
                 " : (double)(i0 * i1 % 7 + 1)")
    with k.loop("k", 0, "N"), k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt("path[i][j] = path[i][j] < path[i][k] + path[k][j] ? path[i][j] : path[i][k] + path[k][j]")
    return k


def nussinov() -> Kernel:
    k = Kernel("nussinov", ["N"], sizes(["N"], (60,), (180,), (500,), (2500,), (5500,)), "medley")
    k.array("seq", ["N"], init="(double)((i0 + 1) % 4)", output=False)
    k.array("table", ["N", "N"], init="0.0")
    mx = "{a} >= {b} ? {a} : {b}"
    with k.loop("i", "N-1", -1, step=-1), k.loop("j", "i+1", "N"):
        k.stmt("table[i][j] = " + mx.format(a="table[i][j]", b="table[i][j-1]"), where="j - 1 >= 0")
        k.stmt("table[i][j] = " + mx.format(a="table[i][j]", b="table[i+1][j]"), where="i + 1 < N")
        k.stmt("table[i][j] = " + mx.format(a="table[i][j]",
                                            b="(table[i+1][j-1] + (seq[i] + seq[j] == 3 ? 1 : 0))"),
               where="j - 1 >= 0 and i + 1 < N and i < j - 1")
        k.stmt("table[i][j] = " + mx.format(a="table[i][j]", b="table[i+1][j-1]"),
               where="j - 1 >= 0 and i + 1 < N and i >= j - 1")
        with k.loop("k", "i+1", "j"):
            k.stmt("table[i][j] = " + mx.format(a="table[i][j]", b="(table[i][k] + table[k+1][j])"))
    return k


def deriche() -> Kernel:
    p = ["W", "H"]
    k = Kernel("deriche", p, sizes(p, (64, 64), (192, 128), (720, 480), (4096, 2160), (7680, 4320)),
               "medley")
    k.array("imgIn", ["W", "H"], init="(double)((313 * i0 + 991 * i1) % 65536) / 65535.0")
    for n in ("imgOut", "yy1", "yy2"):  # y1/y2 would clash with the Bessel functions of math.h
        k.array(n, ["W", "H"], init="0.0", output=(n == "imgOut"))
    for n in ("xm1", "tm1", "ym1", "ym2", "xp1", "xp2", "tp1", "tp2", "yp1", "yp2"):
        k.array(n, [], output=False)
    alpha = 0.25
    kk = (1.0 - math.exp(-alpha)) ** 2 / (1.0 + 2.0 * alpha * math.exp(-alpha) - math.exp(2.0 * alpha))
    consts = {"a1": kk, "a2": kk * math.exp(-alpha) * (alpha - 1.0), "a3": kk * math.exp(-alpha) * (alpha + 1.0),
              "a4": -kk * math.exp(-2.0 * alpha), "b1": 2.0 ** -alpha, "b2": -math.exp(-2.0 * alpha),
              "c1": 1.0, "c2": 1.0}
    consts.update(a5=consts["a1"], a6=consts["a2"], a7=consts["a3"], a8=consts["a4"])
    for n, v in consts.items():
        k.const(n, v)
    _deriche_pass(k, "i", "W", "j", "H", "imgIn", "xm1", "xp1", "xp2", ("a1", "a2", "a3", "a4"))
    with k.loop("i", 0, "W"), k.loop("j", 0, "H"):
        k.stmt("imgOut[i][j] = c1 * (yy1[i][j] + yy2[i][j])")
    _deriche_pass(k, "j", "H", "i", "W", "imgOut", "tm1", "tp1", "tp2", ("a5", "a6", "a7", "a8"))
    with k.loop("i", 0, "W"), k.loop("j", 0, "H"):
        k.stmt("imgOut[i][j] = c2 * (yy1[i][j] + yy2[i][j])")
    return k


def _deriche_pass(k: Kernel, o: str, on: str, r: str, rn: str, src: str, xm: str, xp1: str,
                  xp2: str, a: tuple[str, str, str, str]) -> None:
    ij = "[i][j]"
    with k.loop(o, 0, on):
        k.stmt("ym1 = 0.0"); k.stmt("ym2 = 0.0"); k.stmt(f"{xm} = 0.0")
        with k.loop(r, 0, rn):
            k.stmt(f"yy1{ij} = {a[0]} * {src}{ij} + {a[1]} * {xm} + b1 * ym1 + b2 * ym2")
            k.stmt(f"{xm} = {src}{ij}"); k.stmt("ym2 = ym1"); k.stmt(f"ym1 = yy1{ij}")
    with k.loop(o, 0, on):
        k.stmt("yp1 = 0.0"); k.stmt("yp2 = 0.0"); k.stmt(f"{xp1} = 0.0"); k.stmt(f"{xp2} = 0.0")
        with k.loop(r, f"{rn}-1", -1, step=-1):
            k.stmt(f"yy2{ij} = {a[2]} * {xp1} + {a[3]} * {xp2} + b1 * yp1 + b2 * yp2")
            k.stmt(f"{xp2} = {xp1}"); k.stmt(f"{xp1} = {src}{ij}"); k.stmt("yp2 = yp1")
            k.stmt(f"yp1 = yy2{ij}")


KERNELS: dict[str, Callable[[], Kernel]] = {
    "jacobi-1d": jacobi_1d, "jacobi-2d": jacobi_2d, "seidel-2d": seidel_2d, "heat-3d": heat_3d,
    "fdtd-2d": fdtd_2d, "adi": adi, "floyd-warshall": floyd_warshall, "nussinov": nussinov,
    "deriche": deriche,
}
