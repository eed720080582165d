# ruff: noqa: E702  (one-line array/constant declarations read like the PolyBench headers)
"""PolyBench linear-algebra kernels (blas + kernels categories) in the DSL."""

from __future__ import annotations

from collections.abc import Callable

from ...poly.dsl import Kernel
from ._util import sizes


def gemm() -> Kernel:
    p = ["NI", "NJ", "NK"]
    k = Kernel("gemm", p, sizes(p, (20, 25, 30), (60, 70, 80), (200, 220, 240), (1000, 1100, 1200),
                                (2000, 2300, 2600)), "blas")
    k.array("C", ["NI", "NJ"]); k.array("A", ["NI", "NK"]); k.array("B", ["NK", "NJ"])
    k.const("alpha", 1.5); k.const("beta", 1.2)
    with k.loop("i", 0, "NI"):
        with k.loop("j", 0, "NJ"):
            k.stmt("C[i][j] *= beta")
        with k.loop("k", 0, "NK", hint="reduce"), k.loop("j", 0, "NJ"):
            k.stmt("C[i][j] += alpha * A[i][k] * B[k][j]")
    return k


def mm2() -> Kernel:
    p = ["NI", "NJ", "NK", "NL"]
    k = Kernel("2mm", p, sizes(p, (16, 18, 22, 24), (40, 50, 70, 80), (180, 190, 210, 220),
                               (800, 900, 1100, 1200), (1600, 1800, 2200, 2400)), "kernels")
    for n, d in (("tmp", ["NI", "NJ"]), ("A", ["NI", "NK"]), ("B", ["NK", "NJ"]),
                 ("C", ["NJ", "NL"]), ("D", ["NI", "NL"])):
        k.array(n, d)
    k.const("alpha", 1.5); k.const("beta", 1.2)
    with k.loop("i", 0, "NI"), k.loop("j", 0, "NJ"):
        k.stmt("tmp[i][j] = 0.0")
        with k.loop("k", 0, "NK"):
            k.stmt("tmp[i][j] += alpha * A[i][k] * B[k][j]")
    with k.loop("i", 0, "NI"), k.loop("j", 0, "NL"):
        k.stmt("D[i][j] *= beta")
        with k.loop("k", 0, "NJ"):
            k.stmt("D[i][j] += tmp[i][k] * C[k][j]")
    return k


def mm3() -> Kernel:
    p = ["NI", "NJ", "NK", "NL", "NM"]
    k = Kernel("3mm", p, sizes(p, (16, 18, 20, 22, 24), (40, 50, 60, 70, 80), (180, 190, 200, 210, 220),
                               (800, 900, 1000, 1100, 1200), (1600, 1800, 2000, 2200, 2400)), "kernels")
    for n, d in (("E", ["NI", "NJ"]), ("A", ["NI", "NK"]), ("B", ["NK", "NJ"]), ("F", ["NJ", "NL"]),
                 ("C", ["NJ", "NM"]), ("D", ["NM", "NL"]), ("G", ["NI", "NL"])):
        k.array(n, d)
    for out, a, b, ni, nj, nk in (("E", "A", "B", "NI", "NJ", "NK"), ("F", "C", "D", "NJ", "NL", "NM"),
                                  ("G", "E", "F", "NI", "NL", "NJ")):
        with k.loop("i", 0, ni), k.loop("j", 0, nj):
            k.stmt(f"{out}[i][j] = 0.0")
            with k.loop("k", 0, nk):
                k.stmt(f"{out}[i][j] += {a}[i][k] * {b}[k][j]")
    return k


def atax() -> Kernel:
    p = ["M", "N"]
    k = Kernel("atax", p, sizes(p, (38, 42), (116, 124), (390, 410), (1900, 2100), (1800, 2200)), "kernels")
    k.array("A", ["M", "N"]); k.array("x", ["N"]); k.array("y", ["N"]); k.array("tmp", ["M"])
    with k.loop("i", 0, "N"):
        k.stmt("y[i] = 0.0")
    with k.loop("i", 0, "M"):
        k.stmt("tmp[i] = 0.0")
        with k.loop("j", 0, "N"):
            k.stmt("tmp[i] = tmp[i] + A[i][j] * x[j]")
        with k.loop("j", 0, "N"):
            k.stmt("y[j] = y[j] + A[i][j] * tmp[i]")
    return k


def bicg() -> Kernel:
    p = ["M", "N"]
    k = Kernel("bicg", p, sizes(p, (38, 42), (116, 124), (390, 410), (1900, 2100), (1800, 2200)), "kernels")
    k.array("A", ["N", "M"]); k.array("s", ["M"]); k.array("q", ["N"]); k.array("p", ["M"])
    k.array("r", ["N"])
    with k.loop("i", 0, "M"):
        k.stmt("s[i] = 0.0")
    with k.loop("i", 0, "N"):
        k.stmt("q[i] = 0.0")
        with k.loop("j", 0, "M"):
            k.stmt("s[j] = s[j] + r[i] * A[i][j]")
            k.stmt("q[i] = q[i] + A[i][j] * p[j]")
    return k


def doitgen() -> Kernel:
    p = ["NQ", "NR", "NP"]
    k = Kernel("doitgen", p, sizes(p, (8, 10, 12), (20, 25, 30), (40, 50, 60), (140, 150, 160),
                                   (220, 250, 270)), "kernels")
    k.array("A", ["NR", "NQ", "NP"]); k.array("C4", ["NP", "NP"]); k.array("sum", ["NP"], output=False)
    with k.loop("r", 0, "NR"), k.loop("q", 0, "NQ"):
        with k.loop("p", 0, "NP"):
            k.stmt("sum[p] = 0.0")
            with k.loop("s", 0, "NP"):
                k.stmt("sum[p] += A[r][q][s] * C4[s][p]")
        with k.loop("p", 0, "NP"):
            k.stmt("A[r][q][p] = sum[p]")
    return k


def mvt() -> Kernel:
    p = ["N"]
    k = Kernel("mvt", p, sizes(p, (40,), (120,), (400,), (2000,), (4000,)), "kernels")
    for n in ("x1", "x2", "y_1", "y_2"):
        k.array(n, ["N"])
    k.array("A", ["N", "N"])
    with k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt("x1[i] = x1[i] + A[i][j] * y_1[j]")
    with k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt("x2[i] = x2[i] + A[j][i] * y_2[j]")
    return k


def gemver() -> Kernel:
    p = ["N"]
    k = Kernel("gemver", p, sizes(p, (40,), (120,), (400,), (2000,), (4000,)), "blas")
    k.array("A", ["N", "N"])
    for n in ("u1", "v1", "u2", "v2", "w", "x", "y", "z"):
        k.array(n, ["N"])
    k.const("alpha", 1.5); k.const("beta", 1.2)
    with k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt("A[i][j] = A[i][j] + u1[i] * v1[j] + u2[i] * v2[j]")
    with k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt("x[i] = x[i] + beta * A[j][i] * y[j]")
    with k.loop("i", 0, "N"):
        k.stmt("x[i] = x[i] + z[i]")
    with k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt("w[i] = w[i] + alpha * A[i][j] * x[j]")
    return k


def gesummv() -> Kernel:
    p = ["N"]
    k = Kernel("gesummv", p, sizes(p, (30,), (90,), (250,), (1300,), (2800,)), "blas")
    k.array("A", ["N", "N"]); k.array("B", ["N", "N"])
    for n in ("tmp", "x", "y"):
        k.array(n, ["N"])
    k.const("alpha", 1.5); k.const("beta", 1.2)
    with k.loop("i", 0, "N"):
        k.stmt("tmp[i] = 0.0")
        k.stmt("y[i] = 0.0")
        with k.loop("j", 0, "N"):
            k.stmt("tmp[i] = A[i][j] * x[j] + tmp[i]")
            k.stmt("y[i] = B[i][j] * x[j] + y[i]")
        k.stmt("y[i] = alpha * tmp[i] + beta * y[i]")
    return k


def symm() -> Kernel:
    p = ["M", "N"]
    k = Kernel("symm", p, sizes(p, (20, 30), (60, 80), (200, 240), (1000, 1200), (2000, 2600)), "blas")
    k.array("C", ["M", "N"]); k.array("A", ["M", "M"]); k.array("B", ["M", "N"])
    k.array("temp2", [], output=False)
    k.const("alpha", 1.5); k.const("beta", 1.2)
    with k.loop("i", 0, "M"), k.loop("j", 0, "N"):
        k.stmt("temp2 = 0")
        with k.loop("k", 0, "i"):
            k.stmt("C[k][j] += alpha * B[i][j] * A[i][k]")
            k.stmt("temp2 += B[k][j] * A[i][k]")
        k.stmt("C[i][j] = beta * C[i][j] + alpha * B[i][j] * A[i][i] + alpha * temp2")
    return k


def syr2k() -> Kernel:
    p = ["M", "N"]
    k = Kernel("syr2k", p, sizes(p, (20, 30), (60, 80), (200, 240), (1000, 1200), (2000, 2600)), "blas")
    k.array("C", ["N", "N"]); k.array("A", ["N", "M"]); k.array("B", ["N", "M"])
    k.const("alpha", 1.5); k.const("beta", 1.2)
    with k.loop("i", 0, "N"):
        with k.loop("j", 0, "i+1"):
            k.stmt("C[i][j] *= beta")
        with k.loop("k", 0, "M"), k.loop("j", 0, "i+1"):
            k.stmt("C[i][j] += A[j][k] * alpha * B[i][k] + B[j][k] * alpha * A[i][k]")
    return k


def syrk() -> Kernel:
    p = ["M", "N"]
    k = Kernel("syrk", p, sizes(p, (20, 30), (60, 80), (200, 240), (1000, 1200), (2000, 2600)), "blas")
    k.array("C", ["N", "N"]); k.array("A", ["N", "M"])
    k.const("alpha", 1.5); k.const("beta", 1.2)
    with k.loop("i", 0, "N"):
        with k.loop("j", 0, "i+1"):
            k.stmt("C[i][j] *= beta")
        with k.loop("k", 0, "M"), k.loop("j", 0, "i+1"):
            k.stmt("C[i][j] += alpha * A[i][k] * A[j][k]")
    return k


def trmm() -> Kernel:
    p = ["M", "N"]
    k = Kernel("trmm", p, sizes(p, (20, 30), (60, 80), (200, 240), (1000, 1200), (2000, 2600)), "blas")
    k.array("A", ["M", "M"]); k.array("B", ["M", "N"])
    k.const("alpha", 1.5)
    with k.loop("i", 0, "M"), k.loop("j", 0, "N"):
        with k.loop("k", "i+1", "M"):
            k.stmt("B[i][j] += A[k][i] * B[k][j]")
        k.stmt("B[i][j] = alpha * B[i][j]")
    return k


KERNELS: dict[str, Callable[[], Kernel]] = {
    "gemm": gemm, "2mm": mm2, "3mm": mm3, "atax": atax, "bicg": bicg, "doitgen": doitgen,
    "mvt": mvt, "gemver": gemver, "gesummv": gesummv, "symm": symm, "syr2k": syr2k,
    "syrk": syrk, "trmm": trmm,
}
