# ruff: noqa: E702  (one-line array/constant declarations read like the PolyBench headers)
"""PolyBench linear solvers and datamining kernels in the DSL."""

from __future__ import annotations

from collections.abc import Callable

from ...poly.dsl import Kernel
from ._util import sizes

N5 = ((40,), (120,), (400,), (2000,), (4000,))
MN5 = ((20, 30), (60, 80), (200, 240), (1000, 1200), (2000, 2600))
# symmetric, strictly diagonally dominant: SPD and LU-stable without pivoting, and
# O(N^2) to build (PolyBench's A*A^T init would cost O(N^3) per timed run)
SPD_INIT = """  for (int i = 0; i < N; i++) for (int j = 0; j < N; j++)
    A[i][j] = (i == j) ? 2.0 : (double)((i + j) % 7 + 1) / (7.0 * N);"""


def cholesky() -> Kernel:
    k = Kernel("cholesky", ["N"], sizes(["N"], *N5), "solvers")
    k.array("A", ["N", "N"])
    k.init_code = SPD_INIT
    with k.loop("i", 0, "N"):
        with k.loop("j", 0, "i"):
            with k.loop("k", 0, "j"):
                k.stmt("A[i][j] -= A[i][k] * A[j][k]")
            k.stmt("A[i][j] /= A[j][j]")
        with k.loop("k", 0, "i"):
            k.stmt("A[i][i] -= A[i][k] * A[i][k]")
        k.stmt("A[i][i] = sqrt(A[i][i])")
    return k


def durbin() -> Kernel:
    k = Kernel("durbin", ["N"], sizes(["N"], *N5), "solvers")
    # r is the autocorrelation at lags 1..N of a Toeplitz matrix with unit diagonal; 1/(lag+1)
    # is convex and decreasing, so the matrix is positive definite with eigenvalues above
    # 2 ln 2 - 1 = 0.39 at every N, and every iteration's reflection coefficient matters. The
    # earlier (N + 1 - i) / N made the recursion break down: the original evaluated in long
    # double, and compiled without FMA, both gave NaN at MEDIUM and LARGE, so no reordering (ours,
    # Pluto's, Polly's) could be checked against it
    k.array("r", ["N"], init="1.0 / (i0 + 2)"); k.array("y", ["N"]); k.array("z", ["N"], output=False)
    for s in ("alpha", "beta", "sum"):
        k.array(s, [], output=False)
    k.stmt("y[0] = -r[0]")
    k.stmt("beta = 1.0")
    k.stmt("alpha = -r[0]")
    with k.loop("k", 1, "N"):
        k.stmt("beta = (1 - alpha * alpha) * beta")
        k.stmt("sum = 0.0")
        with k.loop("i", 0, "k"):
            k.stmt("sum += r[k - i - 1] * y[i]")
        k.stmt("alpha = -(r[k] + sum) / beta")
        with k.loop("i", 0, "k"):
            k.stmt("z[i] = y[i] + alpha * y[k - i - 1]")
        with k.loop("i", 0, "k"):
            k.stmt("y[i] = z[i]")
        k.stmt("y[k] = alpha")
    return k


def gramschmidt() -> Kernel:
    p = ["M", "N"]
    k = Kernel("gramschmidt", p, sizes(p, *MN5), "solvers")
    # PolyBench sizes have M < N: columns >= M are rounding noise after orthogonalisation
    # (any reordering changes them), so only the numerically determined part is checked.
    # The init keeps the first M columns well conditioned (diagonal boost).
    k.array("A", ["M", "N"], init="(double)((i0 * i1) % 17 + 1) / 17.0 + (i0 == i1 ? 5.0 : 0.0)",
            check="[:, :M]")
    k.array("R", ["N", "N"], init="0.0", check="[:M, :]")
    k.array("Q", ["M", "N"], init="0.0", check="[:, :M]")
    k.array("nrm", [], output=False)
    with k.loop("k", 0, "N"):
        k.stmt("nrm = 0.0")
        with k.loop("i", 0, "M"):
            k.stmt("nrm += A[i][k] * A[i][k]")
        k.stmt("R[k][k] = sqrt(nrm)")
        with k.loop("i", 0, "M"):
            k.stmt("Q[i][k] = A[i][k] / R[k][k]")
        with k.loop("j", "k+1", "N"):
            k.stmt("R[k][j] = 0.0")
            with k.loop("i", 0, "M"):
                k.stmt("R[k][j] += Q[i][k] * A[i][j]")
            with k.loop("i", 0, "M"):
                k.stmt("A[i][j] = A[i][j] - Q[i][k] * R[k][j]")
    return k


def lu() -> Kernel:
    k = Kernel("lu", ["N"], sizes(["N"], *N5), "solvers")
    k.array("A", ["N", "N"])
    k.init_code = SPD_INIT
    with k.loop("i", 0, "N"):
        with k.loop("j", 0, "i"):
            with k.loop("k", 0, "j"):
                k.stmt("A[i][j] -= A[i][k] * A[k][j]")
            k.stmt("A[i][j] /= A[j][j]")
        with k.loop("j", "i", "N"), k.loop("k", 0, "i"):
            k.stmt("A[i][j] -= A[i][k] * A[k][j]")
    return k


def ludcmp() -> Kernel:
    k = Kernel("ludcmp", ["N"], sizes(["N"], *N5), "solvers")
    k.array("A", ["N", "N"]); k.array("b", ["N"]); k.array("x", ["N"]); k.array("y", ["N"])
    k.array("w", [], output=False)
    k.init_code = SPD_INIT + """
  for (int i = 0; i < N; i++) { b[i] = (i + 1) / (double)N / 2.0 + 4; x[i] = 0; y[i] = 0; }
  w = 0;"""
    with k.loop("i", 0, "N"):
        with k.loop("j", 0, "i"):
            k.stmt("w = A[i][j]")
            with k.loop("k", 0, "j"):
                k.stmt("w -= A[i][k] * A[k][j]")
            k.stmt("A[i][j] = w / A[j][j]")
        with k.loop("j", "i", "N"):
            k.stmt("w = A[i][j]")
            with k.loop("k", 0, "i"):
                k.stmt("w -= A[i][k] * A[k][j]")
            k.stmt("A[i][j] = w")
    with k.loop("i", 0, "N"):
        k.stmt("w = b[i]")
        with k.loop("j", 0, "i"):
            k.stmt("w -= A[i][j] * y[j]")
        k.stmt("y[i] = w")
    with k.loop("i", "N-1", -1, step=-1):
        k.stmt("w = y[i]")
        with k.loop("j", "i+1", "N"):
            k.stmt("w -= A[i][j] * x[j]")
        k.stmt("x[i] = w / A[i][i]")
    return k


def trisolv() -> Kernel:
    k = Kernel("trisolv", ["N"], sizes(["N"], *N5), "solvers")
    k.array("L", ["N", "N"], init="(i1 <= i0) ? (double)(i0 + N - i1 + 1) * 2 / N : 0.0")
    k.array("x", ["N"], init="-999.0"); k.array("b", ["N"], init="(double)i0")
    with k.loop("i", 0, "N"):
        k.stmt("x[i] = b[i]")
        with k.loop("j", 0, "i"):
            k.stmt("x[i] -= L[i][j] * x[j]")
        k.stmt("x[i] = x[i] / L[i][i]")
    return k


def correlation() -> Kernel:
    p = ["M", "N"]
    k = Kernel("correlation", p, sizes(p, (28, 32), (80, 100), (240, 260), (1200, 1400), (2600, 3000)),
               "datamining")
    k.array("data", ["N", "M"], init="(double)(i0 * i1) / M + i0")
    k.array("corr", ["M", "M"]); k.array("mean", ["M"]); k.array("stddev", ["M"])
    k.const("float_n", "(double)N"); k.const("eps", 0.1)
    with k.loop("j", 0, "M"):
        k.stmt("mean[j] = 0.0")
        with k.loop("i", 0, "N"):
            k.stmt("mean[j] += data[i][j]")
        k.stmt("mean[j] /= float_n")
    with k.loop("j", 0, "M"):
        k.stmt("stddev[j] = 0.0")
        with k.loop("i", 0, "N"):
            k.stmt("stddev[j] += (data[i][j] - mean[j]) * (data[i][j] - mean[j])")
        k.stmt("stddev[j] /= float_n")
        k.stmt("stddev[j] = sqrt(stddev[j])")
        k.stmt("stddev[j] = stddev[j] <= eps ? 1.0 : stddev[j]")
    with k.loop("i", 0, "N"), k.loop("j", 0, "M"):
        k.stmt("data[i][j] -= mean[j]")
        k.stmt("data[i][j] /= sqrt(float_n) * stddev[j]")
    with k.loop("i", 0, "M-1"):
        k.stmt("corr[i][i] = 1.0")
        with k.loop("j", "i+1", "M"):
            k.stmt("corr[i][j] = 0.0")
            with k.loop("k", 0, "N"):
                k.stmt("corr[i][j] += data[k][i] * data[k][j]")
            k.stmt("corr[j][i] = corr[i][j]")
    k.stmt("corr[M-1][M-1] = 1.0")
    return k


def covariance() -> Kernel:
    p = ["M", "N"]
    k = Kernel("covariance", p, sizes(p, (28, 32), (80, 100), (240, 260), (1200, 1400), (2600, 3000)),
               "datamining")
    k.array("data", ["N", "M"], init="(double)(i0 * i1) / M")
    k.array("cov", ["M", "M"]); k.array("mean", ["M"])
    k.const("float_n", "(double)N")
    with k.loop("j", 0, "M"):
        k.stmt("mean[j] = 0.0")
        with k.loop("i", 0, "N"):
            k.stmt("mean[j] += data[i][j]")
        k.stmt("mean[j] /= float_n")
    with k.loop("i", 0, "N"), k.loop("j", 0, "M"):
        k.stmt("data[i][j] -= mean[j]")
    with k.loop("i", 0, "M"), k.loop("j", "i", "M"):
        k.stmt("cov[i][j] = 0.0")
        with k.loop("k", 0, "N"):
            k.stmt("cov[i][j] += data[k][i] * data[k][j]")
        k.stmt("cov[i][j] /= (float_n - 1.0)")
        k.stmt("cov[j][i] = cov[i][j]")
    return k


KERNELS: dict[str, Callable[[], Kernel]] = {
    "cholesky": cholesky, "durbin": durbin, "gramschmidt": gramschmidt, "lu": lu, "ludcmp": ludcmp,
    "trisolv": trisolv, "correlation": correlation, "covariance": covariance,
}
