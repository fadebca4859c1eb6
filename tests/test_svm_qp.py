"""hw4/svm_qp.py, the structured KKT solver behind CVXOPTSVC(solver='structured'): its paths against scikit-learn's
SVC and each other, the custom KKT solver against the assembled KKT system, the low-rank solve and the
pivoted Cholesky factor. All package internals: nothing here is marked `course`."""
import numpy as np
import pytest
from sklearn.svm import SVC

import svm
from hw4 import svm_qp
from test_svm import blobs, pair_gap, rng_for, svc_alpha


@pytest.mark.parametrize("method", ["dense", "lowrank", "cvxopt"])
def test_solver_paths_agree(method):
    X, y = blobs(400, d=2, shift=1.0, seed=5)
    y_pm = np.where(y == 1, 1.0, -1.0)
    K = svm.kernel_matrix(X, X, {"kernel": "rbf", "gamma": 0.1})     # numerical rank ~90 < 0.4 n
    alpha, info = svm_qp.solve_dual(K, y_pm, 1.0, method=method)
    assert info["status"] == "optimal"
    assert info["solver"] == {"dense": "box-dense", "lowrank": "box-lowrank", "cvxopt": "cvxopt-default"}[method]
    if method == "lowrank":
        assert info["rank"] < 160 and info["factorizations"]["lowrank"] > 0
    reference = SVC(C=1.0, kernel="precomputed", tol=1e-12).fit(K, y)
    np.testing.assert_allclose(alpha, svc_alpha(reference, len(y)), atol=2e-4)
    P = np.outer(y_pm, y_pm) * K
    assert pair_gap(alpha, P, y_pm, 1.0, 1e-6) < 1e-5


def test_lowrank_path_is_chosen_for_large_lowrank_problems_and_matches_dense():
    X, y = blobs(600, d=3, shift=1.0, seed=6)
    y_pm = np.where(y == 1, 1.0, -1.0)
    K = svm.kernel_matrix(X, X, {"kernel": "linear"})         # rank 3
    alpha_auto, info = svm_qp.solve_dual(K, y_pm, 0.1)
    assert info["solver"] == "box-lowrank" and info["rank"] == 3
    alpha_dense, _ = svm_qp.solve_dual(K, y_pm, 0.1, method="dense")
    P = np.outer(y_pm, y_pm) * K
    objective = lambda a: 0.5 * a @ P @ a - a.sum()          # noqa: E731  (linear kernel: alpha not unique)
    assert objective(alpha_auto) == pytest.approx(objective(alpha_dense), rel=1e-8)


# ----------------------------------------------------------------------------------------------
# The custom KKT solver against the assembled KKT system
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lowrank", [False, True])
def test_box_kkt_solver_solves_cvxopts_kkt_system(lowrank):
    from cvxopt import matrix

    rng = rng_for("kkt", lowrank)
    n, r = 12, 4
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    V = rng.standard_normal((n, r))
    P = V @ V.T if lowrank else (lambda M: M @ M.T)(rng.standard_normal((n, n)))
    d = np.exp(rng.uniform(-8, 8, 2 * n))       # W = diag(d): scalings spanning many decades
    solver = svm_qp._BoxKKTSolver(P, y, V if lowrank else None)
    solve = solver({"d": matrix(d), "di": matrix(1 / d), "beta": [], "v": [], "r": [], "rti": []})
    bx, by, bz = rng.standard_normal(n), rng.standard_normal(1), rng.standard_normal(2 * n)
    x, yv, z = matrix(bx), matrix(by), matrix(bz)
    solve(x, yv, z)
    # [P A' G'W^-1; A 0 0; G 0 -W] [ux; uy; W uz] = [bx; by; bz], G = [-I; I], A = y'
    G = np.vstack([-np.eye(n), np.eye(n)])
    W = np.diag(d)
    KKT = np.block([[P, y[:, None], G.T @ np.linalg.inv(W)],
                    [y[None, :], np.zeros((1, 1)), np.zeros((1, 2 * n))],
                    [G, np.zeros((2 * n, 1)), -W]])
    expected = np.linalg.solve(KKT, np.r_[bx, by, bz])
    got = np.r_[np.ravel(x), np.ravel(yv), np.ravel(z)]
    residual = KKT @ got - np.r_[bx, by, bz]
    assert np.linalg.norm(residual) <= 1e-9 * np.linalg.norm(KKT) * np.linalg.norm(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
    assert solver.factorizations["lowrank" if lowrank else "dense"] == 1


def test_lowrank_solve_is_accurate_when_weights_span_many_decades():
    """Near the optimum most D_i are huge (alpha at a bound) and a few are tiny (free support vectors, fewer
    than the rank): plain Woodbury loses ~10 digits there (backward error ~1e-10); the split solve must not."""
    rng = rng_for("woodbury")
    n, r = 300, 20
    for n_tiny in (0, 5, 19, 60):
        V = rng.standard_normal((n, r))
        D = np.exp(rng.uniform(np.log(1e-1), np.log(1e8), n))
        D[:n_tiny] = np.exp(rng.uniform(np.log(1e-14), np.log(1e-6), n_tiny))
        solve = svm_qp._LowRankSolve(V, D, tau=1e-3)
        H = np.diag(D) + V @ V.T
        rhs = rng.standard_normal(n)
        x = solve(rhs)
        assert np.linalg.norm(H @ x - rhs) <= 1e-15 * np.linalg.norm(H, 2) * np.linalg.norm(x)


def test_pivoted_cholesky_rank_error_and_refusals():
    rng = rng_for("pchol")
    X = rng.standard_normal((200, 2))
    K = svm.kernel_matrix(X, X, {"kernel": "rbf", "gamma": 0.1})
    L = svm_qp._pivoted_cholesky(K, 1e-13, 150)
    assert L is not None and L.shape[1] < 150
    assert np.abs(K - L @ L.T).max() <= 1e-12
    assert svm_qp._pivoted_cholesky(K, 1e-13, 10) is None                        # rank above the limit
    S = svm.kernel_matrix(X, X, {"kernel": "sigmoid", "gamma": 1.0, "coef0": 0.0})
    assert np.linalg.eigvalsh(S).min() < -1e-3
    assert svm_qp._pivoted_cholesky(S, 1e-13, 150) is None                       # indefinite


def test_kkt_midpoint_bias_lies_in_the_kkt_interval():
    """With alpha = 0 the KKT conditions ask y_i b >= 1 for every i: b >= 1 from the positives, b <= -1 from the
    negatives (an empty interval, as always with two classes and no support vectors); the midpoint is 0."""
    y = np.array([1.0, 1.0, -1.0, -1.0, -1.0])
    K = np.eye(5)
    with pytest.warns(RuntimeWarning, match="KKT midpoint"):
        b = svm_qp.kkt_midpoint_bias(K, y, np.zeros(5), 1e-5)
    assert b == 0.0
