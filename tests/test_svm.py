"""svm.py: kernels and the course API against direct formulas and scikit-learn's pairwise kernels; the dual
solution against scikit-learn's SVC (libsvm) and cvxopt's own solver; the KKT conditions; the custom KKT
solver against the assembled KKT system; scikit-learn compatibility; bad input; no mutation."""
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.svm import SVC

import svm

ROOT = Path(__file__).resolve().parents[1]
KERNEL_CASES = [
    {"kernel": "linear"},
    {"kernel": "poly", "degree": 2, "gamma": 0.7, "coef0": 1.5},
    {"kernel": "poly", "degree": 3, "gamma": 0.3, "coef0": -0.4},
    {"kernel": "rbf", "gamma": 0.4},
    {"kernel": "sigmoid", "gamma": 0.3, "coef0": -0.2},
]


def rng_for(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def full_params(kp):
    return {**svm.KERNEL_DEFAULTS, **kp}


def direct_kernel(x, z, kp):
    """k(x, z) for one pair, written from the definitions (no shared code with svm.py)."""
    kp = full_params(kp)
    dot = float(np.dot(x, z))
    if kp["kernel"] == "linear":
        return dot
    if kp["kernel"] == "poly":
        return (kp["gamma"] * dot + kp["coef0"]) ** kp["degree"]
    if kp["kernel"] == "rbf":
        return float(np.exp(-kp["gamma"] * np.sum((np.asarray(x) - np.asarray(z)) ** 2)))
    return float(np.tanh(kp["gamma"] * dot + kp["coef0"]))


def sklearn_gram(X1, X2, kp):
    kp = full_params(kp)
    name = {"poly": "polynomial"}.get(kp["kernel"], kp["kernel"])
    extra = {"linear": {}, "polynomial": dict(degree=kp["degree"], gamma=kp["gamma"], coef0=kp["coef0"]),
             "rbf": dict(gamma=kp["gamma"]), "sigmoid": dict(gamma=kp["gamma"], coef0=kp["coef0"])}[name]
    return pairwise_kernels(X1, X2, metric=name, **extra)


def svc_alpha(model, n):
    alpha = np.zeros(n)
    alpha[model.support_] = np.abs(model.dual_coef_.ravel())
    return alpha


def blobs(n, d=2, shift=1.5, seed=0):
    """Two overlapping Gaussian blobs with labels {0, 1}."""
    rng = rng_for("blobs", n, d, shift, seed)
    y = rng.permutation(np.arange(n) % 2)
    X = rng.standard_normal((n, d)) + np.where(y[:, None] == 1, shift, -shift) / np.sqrt(d)
    return X, y


def pair_gap(alpha, P, y, C, bound_tol):
    """libsvm's KKT measure m(alpha) - M(alpha) of a dual point (<= 0 at an optimum), written here."""
    grad = P @ alpha - 1.0
    score = -y * grad
    at_zero, at_C = alpha <= bound_tol, alpha >= C - bound_tol
    up = ((y > 0) & ~at_C) | ((y < 0) & ~at_zero)
    low = ((y > 0) & ~at_zero) | ((y < 0) & ~at_C)
    return score[up].max() - score[low].min()


# ----------------------------------------------------------------------------------------------
# Kernels
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kp", KERNEL_CASES, ids=lambda kp: kp["kernel"] + str(kp.get("degree", "")))
def test_kernel_matrix_matches_sklearn_and_direct_formula(kp):
    rng = rng_for("gram", kp["kernel"], kp.get("degree"))
    X1, X2 = rng.standard_normal((7, 4)), rng.standard_normal((5, 4))
    K = svm.kernel_matrix(X1, X2, kp)
    assert K.shape == (7, 5) and K.dtype == np.float64
    np.testing.assert_allclose(K, sklearn_gram(X1, X2, kp), rtol=1e-12, atol=1e-12)
    direct = np.array([[direct_kernel(a, b, kp) for b in X2] for a in X1])
    np.testing.assert_allclose(K, direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kp", KERNEL_CASES, ids=lambda kp: kp["kernel"] + str(kp.get("degree", "")))
def test_kernel_dot_is_the_diagonal_pairing(kp):
    rng = rng_for("dot", kp["kernel"], kp.get("degree"))
    X1, X2 = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    k = svm.kernel_dot(X1, X2, kp)
    assert k.shape == (6,) and k.dtype == np.float64
    np.testing.assert_allclose(k, [direct_kernel(a, b, kp) for a, b in zip(X1, X2)], rtol=1e-12, atol=1e-12)


def test_kernel_defaults_and_symmetry():
    rng = rng_for("defaults")
    X = rng.standard_normal((9, 3))
    K = svm.kernel_matrix(X, X, {"kernel": "poly"})                # degree 3, gamma 1, coef0 0
    np.testing.assert_allclose(K, (X @ X.T) ** 3, rtol=1e-12)
    assert np.array_equal(K, K.T)
    K_rbf = svm.kernel_matrix(X, X, {"kernel": "rbf"})
    assert np.array_equal(np.diag(K_rbf), np.ones(9))


def test_rbf_gram_keeps_precision_far_from_the_origin():
    rng = rng_for("offset")
    X = 1e4 + 1e-2 * rng.standard_normal((6, 2))
    Z = 1e4 + 1e-2 * rng.standard_normal((4, 2))
    kp = {"kernel": "rbf", "gamma": 1e3}
    direct = np.array([[direct_kernel(a, b, kp) for b in Z] for a in X])
    np.testing.assert_allclose(svm.kernel_matrix(X, Z, kp), direct, rtol=1e-6, atol=1e-12)


def test_unknown_kernel_and_bad_kernel_params():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="unknown kernel 'cubic'"):
        svm.kernel_matrix(X, X, {"kernel": "cubic"})
    with pytest.raises(ValueError, match="unknown kernel"):
        svm.kernel_dot(X, X, {"kernel": "precomputed"})
    with pytest.raises(ValueError, match="degree"):
        svm.kernel_matrix(X, X, {"kernel": "poly", "degree": -1})
    with pytest.raises(ValueError, match="gamma"):
        svm.kernel_matrix(X, X, {"kernel": "rbf", "gamma": float("nan")})
    with pytest.raises(TypeError, match="kernel_params must be a dict"):
        svm.kernel_matrix(X, X, "rbf")
    with pytest.raises(ValueError, match="same number of features"):
        svm.kernel_matrix(X, np.ones((3, 4)), {"kernel": "linear"})
    with pytest.raises(ValueError, match="same shape"):
        svm.kernel_dot(X, np.ones((4, 2)), {"kernel": "linear"})


# ----------------------------------------------------------------------------------------------
# get_qp_params, fit_bias, decision_function
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels", ["pm1", "real"])
@pytest.mark.parametrize("kp", KERNEL_CASES[:4:3] + KERNEL_CASES[4:], ids=lambda kp: kp["kernel"])
def test_get_qp_params_shapes_dtypes_values(kp, labels):
    rng = rng_for("qp", kp["kernel"], labels)
    n, d, C = 7, 3, 0.7
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0) if labels == "pm1" else rng.standard_normal(n)
    P, q, G, h, A, b = svm.get_qp_params(X, y, C, kp)
    expected_shapes = [(n, n), (n,), (2 * n, n), (2 * n,), (1, n), (1,)]
    for array, shape in zip((P, q, G, h, A, b), expected_shapes):
        assert isinstance(array, np.ndarray) and array.shape == shape and array.dtype == np.float64
    K = np.array([[direct_kernel(a, c, kp) for c in X] for a in X])
    np.testing.assert_allclose(P, [[y[i] * y[j] * K[i, j] for j in range(n)] for i in range(n)], rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(q, -np.ones(n))
    np.testing.assert_array_equal(G[:n], -np.eye(n))
    np.testing.assert_array_equal(G[n:], np.eye(n))
    np.testing.assert_array_equal(h, np.r_[np.zeros(n), C * np.ones(n)])
    np.testing.assert_array_equal(A, y[None, :])
    np.testing.assert_array_equal(b, [0.0])


def test_get_qp_params_accepts_int_and_float32_and_solves_in_cvxopt():
    from cvxopt import matrix, solvers

    X = np.array([[0, 0], [1, 1], [2, 0], [3, 1], [0, 3]], dtype=np.int64)
    y = np.array([-1, -1, 1, 1, -1], dtype=np.int32)
    out = svm.get_qp_params(X.astype(np.float32), y, 1, {"kernel": "linear"})
    assert all(a.dtype == np.float64 for a in out)
    np.testing.assert_array_equal(out[0], svm.get_qp_params(X, y, 1, {"kernel": "linear"})[0])
    P, q, G, h, A, b = (matrix(a if a.ndim == 2 else a.reshape(-1, 1)) for a in out)
    sol = solvers.qp(P, q, G, h, A, b, options={"show_progress": False})
    assert sol["status"] == "optimal"


def test_fit_bias_and_decision_function_follow_the_course_formulas():
    rng = rng_for("bias")
    n, d = 9, 2
    X, X_new = rng.standard_normal((n, d)), rng.standard_normal((4, d))
    for kp in ({"kernel": "rbf", "gamma": 0.4}, {"kernel": "poly", "degree": 2, "gamma": 0.7, "coef0": 1.5}):
        for y in (np.where(rng.random(n) < 0.5, -1.0, 1.0), rng.standard_normal(n)):
            alpha = rng.uniform(0, 2.0, n)
            alpha[[1, 4]] = [0.0, 5e-5]                 # below the support threshold 1e-4
            alpha[6] = 3.5                              # above any C: used as is
            S = [i for i in range(n) if alpha[i] > 1e-4]
            expected_b = np.mean([y[s] - sum(alpha[m] * y[m] * direct_kernel(X[m], X[s], kp) for m in S)
                                  for s in S])
            b = svm.fit_bias(X, y, alpha, kp)
            assert isinstance(b, float)
            assert b == pytest.approx(expected_b, rel=1e-12, abs=1e-12)
            expected_h = [sum(alpha[m] * y[m] * direct_kernel(X[m], x, kp) for m in S) + b for x in X_new]
            h = svm.decision_function(X_new, X, y, b, alpha, kp)
            assert h.shape == (4,) and h.dtype == np.float64
            np.testing.assert_allclose(h, expected_h, rtol=1e-12, atol=1e-12)


def test_fit_bias_without_support_vectors_raises():
    X, y = np.eye(3), np.array([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="no support vectors"):
        svm.fit_bias(X, y, np.full(3, 1e-5), {"kernel": "linear"})


def test_functional_api_bad_inputs():
    X, y, kp = np.ones((4, 2)), np.array([1.0, -1.0, 1.0, -1.0]), {"kernel": "linear"}
    with pytest.raises(ValueError, match=r"X has 4 rows but y has 3"):
        svm.get_qp_params(X, y[:3], 1.0, kp)
    with pytest.raises(ValueError, match="X must be 2-D"):
        svm.get_qp_params(np.ones(4), y, 1.0, kp)
    with pytest.raises(ValueError, match="y must be 1-D"):
        svm.get_qp_params(X, y[:, None], 1.0, kp)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        svm.get_qp_params(np.where(np.eye(4, 2) > 0, np.nan, 1.0), y, 1.0, kp)
    with pytest.raises(TypeError, match="X must be a numeric array"):
        svm.get_qp_params(np.array([["a", "b"]] * 4), y, 1.0, kp)
    with pytest.raises(ValueError, match="alpha"):
        svm.fit_bias(X, y, np.ones(3), kp)
    with pytest.raises(ValueError, match="X has 3 features but X_train has 2"):
        svm.decision_function(np.ones((2, 3)), X, y, 0.0, np.ones(4), kp)


def test_functional_api_does_not_mutate_inputs():
    rng = rng_for("mutation")
    X, Z = rng.standard_normal((6, 2)), rng.standard_normal((3, 2))
    y, alpha = rng.standard_normal(6), rng.uniform(0, 1, 6)
    for array in (X, Z, y, alpha):
        array.flags.writeable = False           # any in-place write raises
    copies = [a.copy() for a in (X, Z, y, alpha)]
    kp = {"kernel": "rbf", "gamma": 0.5}
    svm.kernel_matrix(X, Z, kp), svm.kernel_dot(X[:3], Z, kp), svm.get_qp_params(X, y, 1.0, kp)
    b = svm.fit_bias(X, y, alpha, kp)
    svm.decision_function(Z, X, y, b, alpha, kp)
    for array, copy in zip((X, Z, y, alpha), copies):
        np.testing.assert_array_equal(array, copy)


# ----------------------------------------------------------------------------------------------
# The dual solution: scikit-learn's SVC, KKT conditions, cvxopt's own solver
# ----------------------------------------------------------------------------------------------
def svc_problem(kernel):
    """(X, y {0,1}, kernel params, C) with a positive definite Gram matrix, so the dual optimum is unique."""
    if kernel == "linear":          # d > n: X X' is nonsingular
        X, y = blobs(30, d=40, shift=1.0, seed=1)
        return X, y, {"kernel": "linear"}, 0.05
    if kernel == "poly":            # 36 monomials of degree <= 2 in 7 variables for 30 points
        X, y = blobs(30, d=7, shift=1.0, seed=2)
        return X, y, {"kernel": "poly", "degree": 2, "gamma": 0.5, "coef0": 1.0}, 0.5
    if kernel == "rbf":
        X, y = blobs(60, d=4, shift=1.2, seed=3)
        return X, y, {"kernel": "rbf", "gamma": 0.7}, 1.0
    # sigmoid: small gamma on many features keeps tanh(gamma x.z + coef0) positive definite
    X, y = blobs(30, d=60, shift=1.0, seed=4)
    return X, y, {"kernel": "sigmoid", "gamma": 0.004, "coef0": 0.05}, 2.0


@pytest.mark.parametrize("kernel", svm.KERNELS)
def test_dual_matches_sklearn_svc(kernel):
    X, y, kp, C = svc_problem(kernel)
    kp = full_params(kp)
    K = sklearn_gram(X, X, kp)
    assert np.linalg.eigvalsh(K).min() > 1e-8 * np.abs(K).max()      # precondition: a unique optimum
    ours = svm.CVXOPTSVC(C=C, **kp).fit(X, y)
    ref = SVC(C=C, tol=1e-10, **kp).fit(X, y)
    alpha_ref = svc_alpha(ref, len(y))
    assert ours.solver_info_["status"] == "optimal"
    np.testing.assert_allclose(ours.alpha, alpha_ref, atol=1e-5 * C)
    # support sets: they may differ only in points whose alpha is tiny for both
    differ = np.setxor1d(ours.support_, ref.support_)
    assert np.all(np.maximum(ours.alpha[differ], alpha_ref[differ]) < 1e-3)
    # predictions: with SVC's intercept the decision functions must agree; with the course bias the labels
    # can only differ between the two boundaries (|h| < |b - intercept|)
    kernel_part = ours.decision_function(X) - ours.b
    np.testing.assert_allclose(kernel_part + ref.intercept_[0], ref.decision_function(X), atol=1e-4)
    h_ref = ref.decision_function(X)
    near = np.abs(h_ref) < abs(ours.b - ref.intercept_[0]) + 1e-3
    np.testing.assert_array_equal(ours.predict(X)[~near], ref.predict(X)[~near])


@pytest.mark.parametrize("kernel", svm.KERNELS)
def test_returned_alpha_satisfies_the_kkt_conditions(kernel):
    X, y, kp, C = svc_problem(kernel)
    model = svm.CVXOPTSVC(C=C, **kp).fit(X, y)
    alpha, y_pm = model.alpha, np.where(y == 1, 1.0, -1.0)
    P = np.outer(y_pm, y_pm) * sklearn_gram(X, X, kp)
    assert alpha.min() >= -1e-12 and alpha.max() <= C * (1 + 1e-12)           # 0 <= alpha <= C
    assert abs(y_pm @ alpha) < 1e-9 * max(1.0, alpha.sum())                  # y'alpha = 0
    # complementary slackness with the equality multiplier nu (the optimal bias): margins y_i f_i
    margins = y_pm * (P @ alpha * y_pm)                  # y_i sum_m alpha_m y_m K_im
    free = (alpha > 1e-5 * C) & (alpha < C * (1 - 1e-5))
    nu = np.median((y_pm - y_pm * margins)[free]) if free.any() else None
    if nu is not None:
        functional = margins + y_pm * nu                 # y_i (f_i + b)
        tol = 1e-5
        assert np.all(functional[alpha <= 1e-7 * C] >= 1 - tol)                 # alpha = 0  ->  >= 1
        assert np.all(functional[alpha >= C * (1 - 1e-7)] <= 1 + tol)           # alpha = C  ->  <= 1
        np.testing.assert_allclose(functional[free], 1.0, atol=tol)            # free       ->  = 1
    assert pair_gap(alpha, P, y_pm, C, bound_tol=1e-5 * C) < 1e-5


@pytest.mark.parametrize("method", ["dense", "lowrank", "cvxopt"])
def test_solver_paths_agree(method):
    X, y = blobs(400, d=2, shift=1.0, seed=5)
    y_pm = np.where(y == 1, 1.0, -1.0)
    K = svm.kernel_matrix(X, X, {"kernel": "rbf", "gamma": 0.1})     # numerical rank ~90 < 0.4 n
    alpha, info = svm.solve_dual(K, y_pm, 1.0, method=method)
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
    alpha_auto, info = svm.solve_dual(K, y_pm, 0.1)
    assert info["solver"] == "box-lowrank" and info["rank"] == 3
    alpha_dense, _ = svm.solve_dual(K, y_pm, 0.1, method="dense")
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
    solver = svm._BoxKKTSolver(P, y, V if lowrank else None)
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
        solve = svm._LowRankSolve(V, D, tau=1e-3)
        H = np.diag(D) + V @ V.T
        rhs = rng.standard_normal(n)
        x = solve(rhs)
        assert np.linalg.norm(H @ x - rhs) <= 1e-15 * np.linalg.norm(H, 2) * np.linalg.norm(x)


def test_pivoted_cholesky_rank_error_and_refusals():
    rng = rng_for("pchol")
    X = rng.standard_normal((200, 2))
    K = svm.kernel_matrix(X, X, {"kernel": "rbf", "gamma": 0.1})
    L = svm._pivoted_cholesky(K, 1e-13, 150)
    assert L is not None and L.shape[1] < 150
    assert np.abs(K - L @ L.T).max() <= 1e-12
    assert svm._pivoted_cholesky(K, 1e-13, 10) is None                        # rank above the limit
    S = svm.kernel_matrix(X, X, {"kernel": "sigmoid", "gamma": 1.0, "coef0": 0.0})
    assert np.linalg.eigvalsh(S).min() < -1e-3
    assert svm._pivoted_cholesky(S, 1e-13, 150) is None                       # indefinite


# ----------------------------------------------------------------------------------------------
# Fallbacks and warnings
# ----------------------------------------------------------------------------------------------
def test_failing_kkt_solver_falls_back_to_regularized_then_ldl(monkeypatch):
    X, y = blobs(40, seed=7)
    expected = svm.CVXOPTSVC(C=1.0, gamma=0.5).fit(X, y).alpha

    def broken(self, weights):
        raise np.linalg.LinAlgError("forced failure")

    monkeypatch.setattr(svm._BoxKKTSolver, "_factor", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the fallback ends 'optimal': no warning
        model = svm.CVXOPTSVC(C=1.0, gamma=0.5).fit(X, y)
    info = model.solver_info_
    assert info["solver"] == "cvxopt-ldl-kktreg" and info["status"] == "optimal"
    assert [name for name, _ in info["attempts"]] == ["box-dense", "box-regularized", "cvxopt-ldl-kktreg"]
    np.testing.assert_allclose(model.alpha, expected, atol=1e-4)       # looser FALLBACK_TOLERANCES


def test_non_optimal_status_is_a_warning(monkeypatch):
    X, y = blobs(40, seed=8)
    monkeypatch.setitem(svm.SOLVER_OPTIONS, "maxiters", 2)
    with pytest.warns(RuntimeWarning, match="status 'unknown'"):
        model = svm.CVXOPTSVC(gamma=0.5).fit(X, y)
    assert model.solver_info_["status"] == "unknown"
    assert model.predict(X).shape == (40,)


def test_no_scipy_no_sklearn_uses_cvxopts_solver():
    """The course grader has only NumPy and cvxopt: svm.py must import and fit without the optional packages."""
    code = (
        "import sys\n"
        "for name in ('scipy', 'sklearn', 'threadpoolctl'):\n"
        "    sys.modules[name] = None\n"
        "import numpy as np, svm\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((30, 2)); y = (X[:, 0] + 0.3 * rng.standard_normal(30) > 0).astype(int)\n"
        "m = svm.CVXOPTSVC(C=1.0, gamma=0.5).fit(X, y)\n"
        "assert m.solver_info_['solver'] == 'cvxopt-default', m.solver_info_\n"
        "assert m.get_params()['gamma'] == 0.5 and m.set_params(C=2.0).C == 2.0\n"
        "assert 0.5 < m.score(X, y) <= 1.0\n"
        "print(repr(m), m.alpha.sum())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "CVXOPTSVC(" in out.stdout


# ----------------------------------------------------------------------------------------------
# CVXOPTSVC: labels, scikit-learn tools, bad input, no mutation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels", [(0, 1), (-1, 1), ("ant", "bee")])
def test_labels_come_back_in_the_form_given(labels):
    X, y01 = blobs(50, seed=9)
    y = np.array(labels)[y01]
    model = svm.CVXOPTSVC(gamma=0.5).fit(X, y)
    pred = model.predict(X)
    assert set(pred) <= set(labels) and pred.dtype == y.dtype
    np.testing.assert_array_equal(model.classes_, np.sort(np.array(labels)))
    np.testing.assert_array_equal(pred == labels[1], model.decision_function(X) > 0)
    assert model.score(X, y) == pytest.approx(np.mean(pred == y))
    assert model.support_.dtype.kind == "i" and model.support_.ndim == 1
    np.testing.assert_array_equal(model.support_, np.flatnonzero(model.alpha > 1e-4))
    np.testing.assert_array_equal(model.y_train, np.where(y01 == 1, 1.0, -1.0))


def test_sklearn_clone_params_cross_val_and_grid_search():
    X, y = blobs(60, seed=10)
    model = svm.CVXOPTSVC(C=2.0, kernel="poly", degree=2, gamma=0.5, coef0=1.0)
    copy = clone(model)
    assert copy.get_params() == {"C": 2.0, "kernel": "poly", "degree": 2, "gamma": 0.5, "coef0": 1.0}
    assert copy.set_params(C=3.0) is copy and copy.C == 3.0 and model.C == 2.0
    scores = cross_val_score(svm.CVXOPTSVC(gamma=0.5), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.6)
    search = GridSearchCV(svm.CVXOPTSVC(), {"C": [0.1, 1.0], "gamma": [0.1, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["C"] in (0.1, 1.0)


def test_decision_boundary_display():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = blobs(40, seed=11)
    model = svm.CVXOPTSVC(gamma=0.5).fit(X, y)
    fig, ax = plt.subplots()
    display = DecisionBoundaryDisplay.from_estimator(model, X, response_method="decision_function", ax=ax,
                                                     grid_resolution=30)
    DecisionBoundaryDisplay.from_estimator(model, X, response_method="predict", ax=ax, grid_resolution=30)
    assert display.response.shape == (30, 30)
    plt.close(fig)


def test_unfitted_model_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        svm.CVXOPTSVC().predict(np.ones((2, 2)))


@pytest.mark.parametrize("bad, error, match", [
    (dict(y=np.arange(30) % 3), ValueError, "exactly two classes"),
    (dict(y=np.zeros(30)), ValueError, "exactly two classes"),
    (dict(X="nan"), ValueError, "X contains NaN or inf"),
    (dict(X="inf"), ValueError, "X contains NaN or inf"),
    (dict(C=0.0), ValueError, "C must be a finite number > 0"),
    (dict(C=-1.0), ValueError, "C must be a finite number > 0"),
    (dict(C=float("nan")), ValueError, "C must be a finite number > 0"),
    (dict(y=np.arange(29) % 2), ValueError, "X has 30 rows but y has 29"),
    (dict(kernel="cubic"), ValueError, "unknown kernel 'cubic'"),
    (dict(y=np.ones((30, 1))), ValueError, "y must be 1-D"),
])
def test_cvxoptsvc_bad_inputs(bad, error, match):
    X, y = blobs(30, seed=12)
    if bad.get("X") == "nan":
        X[3, 1] = np.nan
    elif bad.get("X") == "inf":
        X[0, 0] = np.inf
    model = svm.CVXOPTSVC(C=bad.get("C", 1.0), kernel=bad.get("kernel", "rbf"))
    with pytest.raises(error, match=match):
        model.fit(X, bad.get("y", y))


def test_cvxoptsvc_does_not_mutate_inputs_and_copies_training_data():
    X, y = blobs(30, seed=13)
    X_int = np.round(3 * X).astype(np.int64)     # int features: converted to float64 before cvxopt
    for array in (X, y, X_int):
        array.flags.writeable = False
    copies = X.copy(), y.copy()
    model = svm.CVXOPTSVC(gamma=0.5).fit(X, y)
    model.predict(X), model.decision_function(X), model.score(X, y)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(y, copies[1])
    assert not np.shares_memory(model.X_train, X)
    svm.CVXOPTSVC(kernel="linear").fit(X_int, y)
    svm.CVXOPTSVC(kernel="linear").fit(X.astype(np.float32), y)


def test_tiny_C_without_support_vectors_warns_and_still_predicts():
    X, y = blobs(30, seed=14)
    with pytest.warns(RuntimeWarning, match="KKT midpoint"):
        model = svm.CVXOPTSVC(C=1e-5, gamma=0.5).fit(X, y)
    assert model.support_.size == 0 and np.isfinite(model.b)
    assert model.predict(X).shape == (30,)
