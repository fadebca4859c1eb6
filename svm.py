"""Soft-margin kernel SVM trained by solving its dual QP with cvxopt (EECS 545 HW4, Q4).

The dual problem (homework Eq. 1) in cvxopt's form ``min 1/2 v'Pv + q'v  s.t.  Gv <= h, Av = b``:

    P = (y y') * K      (n, n)    K[i, j] = k(x_i, x_j)
    q = -1              (n,)
    G = [-I; I]         (2n, n)   -alpha <= 0 and alpha <= C
    h = [0; C]          (2n,)
    A = y'              (1, n)
    b = 0               (1,)

Course API (the autograder imports these names): ``kernel_dot``, ``kernel_matrix``, ``get_qp_params``,
``fit_bias``, ``decision_function`` and the scikit-learn style ``CVXOPTSVC``.

``get_qp_params`` returns the dense matrices above, exactly as the course specifies. ``CVXOPTSVC.fit`` solves
the same QP with ``cvxopt.solvers.qp`` on a faster path: G is a sparse ``spmatrix`` and cvxopt is handed a
custom KKT solver (``_BoxKKTSolver``) that uses the structure G = [-I; I]. Each interior-point iteration
then needs only the factorization of P + D (D diagonal, from cvxopt's scaling W) bordered by the single
equality row, done with NumPy/SciPy instead of cvxopt's bundled BLAS; when the Gram matrix has low numerical
rank (RBF on low-dimensional data, linear, polynomial) P is replaced by its pivoted-Cholesky factor V V'
(max entry error <= 1e-13 * max K_ii) and each factorization costs O(n r^2) instead of O(n^3).
If that solver fails, fit retries with a regularized one and then with cvxopt's own LDL solver.

Only NumPy and cvxopt are required. SciPy (fast path), scikit-learn (``BaseEstimator`` and friends) and
threadpoolctl (one BLAS thread during the solve) are used when installed.
"""
import contextlib
import numbers
import time
import warnings

import numpy as np
from cvxopt import matrix as cvxopt_matrix
from cvxopt import solvers as cvxopt_solvers
from cvxopt import spmatrix as cvxopt_spmatrix

try:  # the fast KKT solver needs triangular solves; without SciPy fit uses cvxopt's own solvers
    from scipy.linalg import LinAlgError as _ScipyLinAlgError
    from scipy.linalg import cho_factor as _cho_factor
    from scipy.linalg import cho_solve as _cho_solve
    from scipy.linalg import solve_triangular as _solve_triangular
    _HAVE_SCIPY = True
except ImportError:  # pragma: no cover - exercised in a subprocess test
    _ScipyLinAlgError = np.linalg.LinAlgError
    _HAVE_SCIPY = False

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import NotFittedError
except ImportError:  # pragma: no cover - exercised in a subprocess test
    import inspect

    class NotFittedError(ValueError, AttributeError):
        """Raised when a model is used before fit (scikit-learn's exception when it is installed)."""

    class BaseEstimator:
        """Minimal stand-in for sklearn.base.BaseEstimator: get_params / set_params from __init__."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {valid}")
                setattr(self, name, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class ClassifierMixin:
        """Minimal stand-in for sklearn.base.ClassifierMixin: mean accuracy as score."""

        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            correct = np.asarray(self.predict(X)) == np.asarray(y)
            return float(np.average(correct, weights=sample_weight))

try:
    from threadpoolctl import threadpool_limits as _threadpool_limits
except ImportError:  # pragma: no cover
    _threadpool_limits = None


KERNELS = ("linear", "poly", "rbf", "sigmoid")
KERNEL_DEFAULTS = {"kernel": "rbf", "degree": 3, "gamma": 1.0, "coef0": 0.0}
SUPPORT_THRESHOLD = 1e-4   # the course's support set: alpha > 1e-4

# Tolerances of the exact solvers: cvxopt's defaults are abstol 1e-7, reltol 1e-6, feastol 1e-7; these cost
# 2-4 more iterations and bring libsvm's KKT pair gap (see _kkt_violation) to ~1e-10 on the benchmark problem.
SOLVER_OPTIONS = {"show_progress": False, "abstol": 1e-12, "reltol": 1e-11, "feastol": 1e-10, "maxiters": 100}
# The regularized fallbacks solve a perturbed system and cannot always reach those: looser tolerances.
FALLBACK_TOLERANCES = {"abstol": 1e-9, "reltol": 1e-8, "feastol": 1e-8}
# BLAS threads during the solve: the factorizations are small and 2-thread BLAS stalls on busy machines.
SOLVE_BLAS_THREADS = 1
# Low-rank path: use it when the numerical rank of K is at most this fraction of n (and n is at least
# LOWRANK_MIN_N); its factorizations then cost at most ~3 * 0.4^2 = 48% of a dense one (usually far less).
LOWRANK_MIN_N = 300
LOWRANK_MAX_FRACTION = 0.4
LOWRANK_REL_TOL = 1e-13
# Regularization of the fallback solvers (relative to max |P_ii|) and of cvxopt's LDL solver.
REGULARIZED_SHIFT = 1e-8
CVXOPT_KKTREG = 1e-9


# ==============================================================================================
# Input checks
# ==============================================================================================
def _as_float_array(value, name, ndim):
    """Return ``value`` as a finite float64 array with ``ndim`` dimensions (a new array if converted)."""
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real, got complex dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if array.ndim != ndim:
        expected = "(n_samples, n_features)" if ndim == 2 else "(n_samples,)"
        raise ValueError(f"{name} must be {ndim}-D with shape {expected}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf ({np.size(array) - np.isfinite(array).sum()} entries)")
    return array


def _check_same_length(X, v, x_name, v_name):
    if X.shape[0] != v.shape[0]:
        raise ValueError(f"{x_name} has {X.shape[0]} rows but {v_name} has {v.shape[0]} entries "
                         f"(shapes {X.shape} and {v.shape})")


def _check_kernel_params(kernel_params):
    """Validate a kernel_params dict and fill in the defaults (degree 3, gamma 1.0, coef0 0.0).

    Returns a new dict with keys 'kernel', 'degree', 'gamma', 'coef0'.
    """
    if not hasattr(kernel_params, "get"):
        raise TypeError(f"kernel_params must be a dict, got {type(kernel_params).__name__}")
    params = dict(KERNEL_DEFAULTS)
    params.update({k: v for k, v in kernel_params.items() if k in KERNEL_DEFAULTS})
    if params["kernel"] not in KERNELS:
        raise ValueError(f"unknown kernel {params['kernel']!r}: expected one of {KERNELS}")
    degree = params["degree"]
    if isinstance(degree, bool) or not isinstance(degree, numbers.Real) or degree < 0 or degree != int(degree):
        raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
    for name in ("gamma", "coef0"):
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if params["gamma"] < 0:
        raise ValueError(f"gamma must be non-negative, got {params['gamma']!r}")
    params["degree"] = int(degree)
    params["gamma"] = float(params["gamma"])
    params["coef0"] = float(params["coef0"])
    return params


# ==============================================================================================
# Kernels
# ==============================================================================================
def kernel_dot(X1, X2, kernel_params):
    """Row-wise kernel values k(X1[i], X2[i]).

    Inputs:
    - X1, X2: arrays of shape (n, d).
    - kernel_params: dict with 'kernel' in {'linear', 'poly', 'rbf', 'sigmoid'} and optional 'degree' (3),
      'gamma' (1.0), 'coef0' (0.0): linear x.z; poly (gamma x.z + coef0)^degree; rbf exp(-gamma |x-z|^2);
      sigmoid tanh(gamma x.z + coef0).

    Returns: float64 array of shape (n,).
    """
    kp = _check_kernel_params(kernel_params)
    X1 = _as_float_array(X1, "X1", 2)
    X2 = _as_float_array(X2, "X2", 2)
    if X1.shape != X2.shape:
        raise ValueError(f"X1 and X2 must have the same shape (n, d), got {X1.shape} and {X2.shape}")
    if kp["kernel"] == "rbf":
        return np.exp(-kp["gamma"] * np.sum((X1 - X2) ** 2, axis=1))
    dots = np.einsum("ij,ij->i", X1, X2)
    return _kernel_from_dots(dots, kp)


def kernel_matrix(X1, X2, kernel_params):
    """Gram matrix K[i, j] = k(X1[i], X2[j]), vectorized.

    Inputs:
    - X1: array of shape (n, d); X2: array of shape (m, d).
    - kernel_params: dict as in kernel_dot.

    Returns: float64 array of shape (n, m). When X1 is X2 the result is exactly symmetric.
    """
    kp = _check_kernel_params(kernel_params)
    same = X1 is X2
    X1 = _as_float_array(X1, "X1", 2)
    X2 = X1 if same else _as_float_array(X2, "X2", 2)
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(f"X1 and X2 must have the same number of features, got shapes {X1.shape} and {X2.shape}")
    if kp["kernel"] == "rbf":
        K = np.exp(-kp["gamma"] * _squared_distances(X1, X2, same))
    else:
        K = _kernel_from_dots(X1 @ X2.T, kp)
    if same:  # BLAS need not return a bit-symmetric X X'; cvxopt and Cholesky read one triangle
        K = 0.5 * (K + K.T)
    return K


def _kernel_from_dots(dots, kp):
    """Apply a dot-product kernel (linear, poly, sigmoid) to an array of inner products (any shape)."""
    if kp["kernel"] == "linear":
        return dots
    if kp["kernel"] == "poly":
        return (kp["gamma"] * dots + kp["coef0"]) ** kp["degree"]
    return np.tanh(kp["gamma"] * dots + kp["coef0"])


def _squared_distances(X1, X2, same):
    """|X1[i] - X2[j]|^2 as an (n, m) array via |a|^2 + |b|^2 - 2 a.b, on centered data.

    Centering (distances do not change) keeps the cancellation error of the expansion small when the data
    sit far from the origin; the clamp removes the tiny negative values rounding can leave.
    """
    center = X2.mean(axis=0) if X2.shape[0] else np.zeros(X2.shape[1])
    A = X1 - center
    B = A if same else X2 - center
    sq_a = np.einsum("ij,ij->i", A, A)
    sq_b = sq_a if same else np.einsum("ij,ij->i", B, B)
    d2 = sq_a[:, None] + sq_b[None, :] - 2.0 * (A @ B.T)
    np.maximum(d2, 0.0, out=d2)
    if same:
        np.fill_diagonal(d2, 0.0)
    return d2


# ==============================================================================================
# Course API: QP parameters, bias, decision function
# ==============================================================================================
def get_qp_params(X, y, C, kernel_params):
    """Dense cvxopt.solvers.qp parameters of the soft-margin SVM dual.

    min_v 1/2 v'Pv + q'v  s.t.  Gv <= h, Av = b  has the solution alpha of the dual (homework Eq. 1).

    Inputs:
    - X: array of shape (n, d).
    - y: array of shape (n,); labels -1/+1 (any real values are accepted: only P and A use them).
    - C: regularization constant (upper bound of alpha); not validated here.
    - kernel_params: dict as in kernel_dot.

    Returns a tuple of float64 arrays (P, q, G, h, A, b):
    - P: (n, n) = (y y') * K      - q: (n,) = -1
    - G: (2n, n) = [-I; I]         - h: (2n,) = [0; C]
    - A: (1, n) = y'               - b: (1,) = 0
    """
    X = _as_float_array(X, "X", 2)
    y = _as_float_array(y, "y", 1)
    _check_same_length(X, y, "X", "y")
    if isinstance(C, bool) or not isinstance(C, numbers.Real):
        raise TypeError(f"C must be a real number, got {type(C).__name__}")
    n = X.shape[0]
    K = kernel_matrix(X, X, kernel_params)
    P = np.outer(y, y) * K
    q = -np.ones(n)
    eye = np.eye(n)
    G = np.vstack([-eye, eye])
    h = np.concatenate([np.zeros(n), np.full(n, float(C))])
    A = y.reshape(1, n).copy()
    b = np.zeros(1)
    return P, q, G, h, A, b


def fit_bias(X, y, alpha, kernel_params):
    """Bias of the course: b = mean over s in S of ( y_s - sum_{m in S} alpha_m y_m K(x_m, x_s) ).

    Inputs:
    - X: array of shape (n, d), the training inputs.
    - y: array of shape (n,), the training labels (-1/+1; real values accepted).
    - alpha: array of shape (n,), the dual solution; S = {i : alpha_i > 1e-4} (values above C are used as is).
    - kernel_params: dict as in kernel_dot.

    Returns: float. Raises ValueError if S is empty (the mean would be NaN).
    """
    X, y, alpha = _check_training_arrays(X, y, alpha)
    support = np.flatnonzero(alpha > SUPPORT_THRESHOLD)
    if support.size == 0:
        raise ValueError(f"fit_bias: no support vectors (every alpha <= {SUPPORT_THRESHOLD}); "
                         "the course formula averages over them")
    K_ss = kernel_matrix(X[support], X[support], kernel_params)
    return _bias_from_support_gram(K_ss, y[support], alpha[support])


def decision_function(X, X_train, y_train, b, alpha, kernel_params):
    """h(x) = sum_{m in S} alpha_m y_m K(x_m, x) + b, with S = {m : alpha_m > 1e-4}.

    Inputs:
    - X: array of shape (n, d), the points to score.
    - X_train: array of shape (n_train, d); y_train, alpha: arrays of shape (n_train,).
    - b: float, the bias.
    - kernel_params: dict as in kernel_dot.

    Returns: float64 array of shape (n,).
    """
    X_train, y_train, alpha = _check_training_arrays(X_train, y_train, alpha, "X_train", "y_train")
    X = _as_float_array(X, "X", 2)
    if X.shape[1] != X_train.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but X_train has {X_train.shape[1]} "
                         f"(shapes {X.shape} and {X_train.shape})")
    b = _as_float_array(np.reshape(b, -1), "b", 1)
    if b.size != 1:
        raise ValueError(f"b must be a scalar, got {b.size} values")
    support = np.flatnonzero(alpha > SUPPORT_THRESHOLD)
    K = kernel_matrix(X, X_train[support], kernel_params)          # (n, |S|)
    return K @ (alpha[support] * y_train[support]) + float(b[0])


def _check_training_arrays(X, y, alpha, x_name="X", y_name="y"):
    X = _as_float_array(X, x_name, 2)
    y = _as_float_array(y, y_name, 1)
    alpha = _as_float_array(alpha, "alpha", 1)
    _check_same_length(X, y, x_name, y_name)
    _check_same_length(X, alpha, x_name, "alpha")
    return X, y, alpha


def _bias_from_support_gram(K_ss, y_s, alpha_s):
    """The course's bias from the Gram matrix of the support vectors K_ss (|S|, |S|)."""
    margins = y_s - K_ss @ (alpha_s * y_s)
    return float(np.mean(margins))


# ==============================================================================================
# Fast solve: custom KKT solver for the box-constrained dual
# ==============================================================================================
def _box_constraints(n, C):
    """Sparse G = [-I; I] (2n, n) and h = [0; C] (2n, 1) as cvxopt matrices."""
    rows = np.arange(2 * n)
    cols = np.concatenate([np.arange(n), np.arange(n)])
    values = np.concatenate([-np.ones(n), np.ones(n)])
    G = cvxopt_spmatrix(values.tolist(), rows.tolist(), cols.tolist(), (2 * n, n))
    h = cvxopt_matrix(np.concatenate([np.zeros(n), np.full(n, float(C))]))
    return G, h


def _pivoted_cholesky(K, rel_tol, max_rank):
    """Greedy pivoted Cholesky K ~= L L' of a PSD matrix; None when the rank exceeds max_rank.

    Inputs:
    - K: (n, n) symmetric matrix. rel_tol: stop when every residual diagonal entry is <= rel_tol * max K_ii
      (for a PSD residual E, |E_ij| <= sqrt(E_ii E_jj), so this bounds every entry of K - L L').
    - max_rank: give up (return None) after this many columns.

    Returns: L of shape (n, r), or None (rank too high, or K not PSD to working precision).
    The Python loop runs once per column of L, i.e. r <= max_rank times, each step O(n r) vectorized.
    """
    n = K.shape[0]
    residual = K.diagonal().copy()
    scale = max(float(residual.max(initial=0.0)), np.finfo(float).tiny)
    tol = rel_tol * scale
    rows = np.zeros((max_rank, n))      # L' stored row by row: contiguous updates
    rank = None
    for k in range(max_rank + 1):
        pivot = int(np.argmax(residual))
        if residual[pivot] <= tol:
            rank = k
            break
        if k == max_rank:
            return None
        column = K[pivot] - rows[:k, pivot] @ rows[:k]
        column /= np.sqrt(residual[pivot])
        rows[k] = column
        residual -= column * column
        residual[pivot] = 0.0
    if rank == 0 or residual.min() < -tol:   # K = 0 needs no factor; an indefinite K shows negative residuals
        return None
    L = rows[:rank].T
    # An indefinite residual could hide behind a small diagonal: probe it with random vectors.
    probes = np.random.default_rng(0).standard_normal((n, 3))
    error = K @ probes - L @ (L.T @ probes)
    if np.linalg.norm(error, axis=0).max() > max(n * tol, 1e-12 * scale) * np.linalg.norm(probes, axis=0).max():
        return None
    return L


class _BoxKKTSolver:
    """cvxopt ``kktsolver`` for  min 1/2 a'Pa + q'a  s.t.  [-I; I] a <= [0; C],  y'a = 0.

    cvxopt calls ``self(W)`` once per iteration and then the returned ``solve(x, y, z)`` a few times. With
    W = diag(d) (only linear inequalities), solve overwrites (x, y, z) with the solution of

        [ P   A'  G'W^{-1} ] [ ux ]   [ bx ]
        [ A   0   0        ] [ uy ] = [ by ]        (z returns W uz)
        [ G   0  -W'       ] [ uz ]   [ bz ]

    Eliminating uz leaves the bordered system  [H a; a' 0] [ux; uy] = [r; by]  with
    H = P + diag(d_lo^-2 + d_up^-2) and r = bx - d_lo^-2 bz_lo + d_up^-2 bz_up, solved with one factorization
    of H and a Schur complement for the scalar uy. H is factored either densely (Cholesky of H) or, when a
    low-rank factor P ~= V V' is given, by ``_LowRankSolve``.

    Inputs (constructor):
    - P: (n, n) float64 array. a: (n,) the equality row (the labels y).
    - V: optional (n, r) factor with P ~= V V', or None.
    - shift: added to the diagonal of H (0 for the exact solver; > 0 for the regularized fallback).
    """

    def __init__(self, P, a, V=None, shift=0.0):
        self.P, self.a, self.V, self.shift = P, a, V, float(shift)
        self.n = P.shape[0]
        self.factorizations = {"dense": 0, "lowrank": 0}
        # Variables whose barrier weight D_i is below this stay out of the Woodbury elimination.
        self.small_weight = 1e-3 * max(float(np.abs(P.diagonal()).max(initial=0.0)), 1e-300)

    def __call__(self, W):
        n = self.n
        d_inv = np.asarray(W["di"]).reshape(-1)
        weights = d_inv[:n] ** 2 + d_inv[n:] ** 2 + self.shift        # diag of G'W^{-2}G (+ shift)
        try:
            solve_H = self._factor(weights)
            Ha = solve_H(self.a)
        except (np.linalg.LinAlgError, _ScipyLinAlgError, ValueError) as error:
            # cvxopt treats ArithmeticError as a singular KKT system and stops with status 'unknown'
            raise ArithmeticError(f"KKT factorization failed: {error}") from error
        aHa = float(self.a @ Ha)
        if not (np.isfinite(aHa) and aHa > 0):
            raise ArithmeticError(f"KKT Schur complement a'H^-1 a = {aHa} is not positive")
        return self._make_solve(solve_H, Ha, aHa, d_inv)

    def _factor(self, weights):
        """Return a function rhs (n,) -> H^{-1} rhs for H = P + diag(weights)."""
        if self.V is not None:
            n, r = self.V.shape
            n_small = int(np.count_nonzero(weights < self.small_weight))
            lowrank_cost = n * r * r + n_small * n_small * r + n_small ** 3 / 3.0
            if lowrank_cost < n ** 3 / 3.0:
                self.factorizations["lowrank"] += 1
                return _LowRankSolve(self.V, weights, self.small_weight)
        self.factorizations["dense"] += 1
        H = self.P.copy()
        H.flat[:: self.n + 1] += weights
        factor = _cho_factor(H, lower=True, overwrite_a=True, check_finite=True)
        return lambda rhs: _cho_solve(factor, rhs, check_finite=False)

    def _make_solve(self, solve_H, Ha, aHa, d_inv):
        n, a = self.n, self.a
        d_inv_sq = d_inv ** 2

        def solve(x, y, z):
            bx = np.asarray(x).reshape(-1)          # views into cvxopt's buffers: written in place below
            bz = np.asarray(z).reshape(-1)
            rhs = bx - d_inv_sq[:n] * bz[:n] + d_inv_sq[n:] * bz[n:]
            H_rhs = solve_H(rhs)
            by = y[0] if len(y) else 0.0
            uy = (a @ H_rhs - by) / aHa
            ux = H_rhs - uy * Ha
            bz[:n] = (-ux - bz[:n]) * d_inv[:n]     # W uz = W^{-1} (G ux - bz)
            bz[n:] = (ux - bz[n:]) * d_inv[n:]
            bx[:] = ux
            y[0] = uy
        return solve


class _LowRankSolve:
    """Solve (diag(D) + V V') x = rhs for D > 0, V (n, r), stably for D spanning many decades.

    Rows with D_i >= tau (set L) are eliminated through D_L^{-1} (Woodbury, capacitance
    M = I + V_L' D_L^{-1} V_L, r x r); rows with tiny D_i (set S: free support vectors near the optimum,
    where D_i -> 0 and Woodbury alone loses all digits) keep an explicit |S| x |S| Cholesky of
    T = D_S + V_S M^{-1} V_S'. With w = V'x:
        M w = V_S' x_S + V_L' D_L^{-1} r_L,   T x_S = r_S - V_S M^{-1} V_L' D_L^{-1} r_L,
        x_L = D_L^{-1} (r_L - V_L w).
    Cost per factorization O(n r^2 + |S|^2 r + |S|^3); per solve O(n r + |S|^2).
    """

    def __init__(self, V, D, tau):
        small = D < tau
        self.small, self.large = np.flatnonzero(small), np.flatnonzero(~small)
        self.V_small = V[self.small]
        self.V_large = V[self.large] if self.small.size else V      # no copy in the early iterations
        self.D_large_inv = 1.0 / D[self.large]
        r = V.shape[1]
        scaled = self.V_large * np.sqrt(self.D_large_inv)[:, None]
        M = scaled.T @ scaled                                       # NumPy uses SYRK for A'A: half the flops
        M.flat[:: r + 1] += 1.0
        self.M_factor = _cho_factor(M, lower=True, overwrite_a=True, check_finite=True)
        self.T_factor = None
        if self.small.size:
            Z = _solve_triangular(self.M_factor[0], self.V_small.T, lower=True, check_finite=False)  # (r, |S|)
            T = Z.T @ Z
            T.flat[:: self.small.size + 1] += D[self.small]
            self.T_factor = _cho_factor(T, lower=True, overwrite_a=True, check_finite=True)

    def __call__(self, rhs):
        x = np.empty_like(rhs)
        rhs_large = rhs[self.large]
        c = self.V_large.T @ (self.D_large_inv * rhs_large)
        w = _cho_solve(self.M_factor, c, check_finite=False)
        if self.T_factor is not None:
            x_small = _cho_solve(self.T_factor, rhs[self.small] - self.V_small @ w, check_finite=False)
            w = w + _cho_solve(self.M_factor, self.V_small.T @ x_small, check_finite=False)
            x[self.small] = x_small
        x[self.large] = self.D_large_inv * (rhs_large - self.V_large @ w)
        return x


def _blas_threads(n_threads):
    if _threadpool_limits is None or n_threads is None:
        return contextlib.nullcontext()
    return _threadpool_limits(limits=n_threads)


def _kkt_violation(alpha, P, y, C):
    """Scale-free optimality measure of a dual point: (max violating pair gap, |y'alpha|, box violation).

    The pair gap is libsvm's m(alpha) - M(alpha) computed on the box-clipped alpha with bounds detected at
    1e-6 * C; it is <= 0 (up to rounding) at an exact optimum.
    """
    a = np.clip(alpha, 0.0, C)
    grad = P @ a - 1.0
    score = -y * grad
    eps = 1e-6 * C
    up = ((y > 0) & (a < C - eps)) | ((y < 0) & (a > eps))
    low = ((y > 0) & (a > eps)) | ((y < 0) & (a < C - eps))
    gap = (score[up].max(initial=-np.inf) - score[low].min(initial=np.inf)) if up.any() and low.any() else 0.0
    box = max(0.0, float(-alpha.min()), float(alpha.max() - C))
    return float(max(gap, 0.0)), float(abs(y @ alpha)), box


def solve_dual(K, y, C, *, method="auto", options=None):
    """Solve the SVM dual with cvxopt.solvers.qp on the fast path, with fallbacks.

    Inputs:
    - K: (n, n) Gram matrix; y: (n,) labels in {-1, +1}; C > 0.
    - method: 'auto' (low-rank factor when K allows it, else dense), 'dense', 'lowrank' (as auto, but the
      low-rank factor is required), 'cvxopt' (cvxopt's default KKT solver, no custom solver).
    - options: cvxopt options overriding SOLVER_OPTIONS (and FALLBACK_TOLERANCES) in every attempt.

    Attempts, in order, until one reports 'optimal': the box KKT solver; the box solver on P + eps I
    (regularized); cvxopt's LDL solver with kktreg (the last two with FALLBACK_TOLERANCES). Without SciPy (or with method='cvxopt') the first two are
    replaced by cvxopt's default solver. A failing attempt (exception) moves on to the next one.

    Returns (alpha, info): alpha (n,) float64; info dict with 'status', 'iterations', 'solver' (the attempt
    that produced alpha), 'attempts' (list of (solver, status or error)), 'rank' (of the low-rank factor or
    None), 'factorizations', 'kkt' (pair gap, |y'alpha|, box violation), 'seconds'.
    A final status other than 'optimal' is reported with a RuntimeWarning.
    """
    if method not in ("auto", "dense", "lowrank", "cvxopt"):
        raise ValueError(f"method must be 'auto', 'dense', 'lowrank' or 'cvxopt', got {method!r}")
    start = time.perf_counter()
    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with _blas_threads(SOLVE_BLAS_THREADS):
        P = np.outer(y, y) * K
        V = _lowrank_factor(K, y, method)
        alpha, info = _run_attempts(P, y, float(C), _attempt_list(P, y, V, method), dict(options or {}))
    info["rank"] = None if V is None else V.shape[1]
    info["seconds"] = time.perf_counter() - start
    return alpha, info


def _lowrank_factor(K, y, method):
    """V (n, r) with P = (y y') * K ~= V V', or None when the dense path is the right one."""
    n = K.shape[0]
    if method not in ("auto", "lowrank") or not _HAVE_SCIPY or (n < LOWRANK_MIN_N and method == "auto"):
        return None
    L = _pivoted_cholesky(K, LOWRANK_REL_TOL, max(1, int(LOWRANK_MAX_FRACTION * n)))
    if L is None:
        if method == "lowrank":
            raise ValueError("method='lowrank': K has no PSD factor of rank <= "
                             f"{LOWRANK_MAX_FRACTION} * n = {int(LOWRANK_MAX_FRACTION * n)}")
        return None
    return y[:, None] * L


def _attempt_list(P, y, V, method):
    """[(name, kktsolver, extra cvxopt options)] in the order solve_dual tries them."""
    attempts = []
    if method != "cvxopt" and _HAVE_SCIPY:
        attempts.append(("box-lowrank" if V is not None else "box-dense", _BoxKKTSolver(P, y, V), {}))
        shift = REGULARIZED_SHIFT * max(float(np.abs(P.diagonal()).max(initial=0.0)), 1.0)
        attempts.append(("box-regularized", _BoxKKTSolver(P, y, None, shift=shift), dict(FALLBACK_TOLERANCES)))
    else:
        attempts.append(("cvxopt-default", None, {}))
    attempts.append(("cvxopt-ldl-kktreg", "ldl", dict(FALLBACK_TOLERANCES, kktreg=CVXOPT_KKTREG)))
    return attempts


def _numpy_P_operator(P):
    """cvxopt's function form of P: v := alpha * P u + beta * v, with NumPy's BLAS on views of u and v."""
    def apply(u, v, alpha=1.0, beta=0.0):
        u_view, v_view = np.asarray(u).reshape(-1), np.asarray(v).reshape(-1)
        v_view[:] = alpha * (P @ u_view) + beta * v_view
    return apply


def _run_attempts(P, y, C, attempts, user_options):
    """Run cvxopt.solvers.qp with each KKT solver in turn; return (alpha, info) of the best result."""
    n = y.shape[0]
    q, A, b = cvxopt_matrix(-np.ones(n)), cvxopt_matrix(y.reshape(1, n)), cvxopt_matrix(np.zeros(1))
    G, h = _box_constraints(n, C)
    P_cvxopt = None
    log, best = [], None
    for name, kktsolver, extra in attempts:
        if callable(kktsolver):
            P_arg = _numpy_P_operator(P)          # custom solvers accept P as a function: no n x n copy
        else:
            P_cvxopt = cvxopt_matrix(P) if P_cvxopt is None else P_cvxopt
            P_arg = P_cvxopt
        try:
            sol = cvxopt_solvers.qp(P_arg, q, G, h, A, b, kktsolver=kktsolver,
                                    options=dict(SOLVER_OPTIONS, **extra, **user_options))
        except (ValueError, ArithmeticError) as error:
            log.append((name, f"{type(error).__name__}: {error}"))
            continue
        log.append((name, sol["status"]))
        alpha = np.array(sol["x"]).reshape(-1)
        if not np.all(np.isfinite(alpha)):
            continue
        kkt = _kkt_violation(alpha, P, y, C)
        candidate = (sol["status"] == "optimal", -max(kkt), name, sol, alpha, kkt, kktsolver)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
        if sol["status"] == "optimal":
            break
    if best is None:
        raise RuntimeError(f"cvxopt could not solve the SVM dual (n={n}, C={C}); attempts: {log}")
    _, _, name, sol, alpha, kkt, kktsolver = best
    if sol["status"] != "optimal":
        warnings.warn(f"cvxopt.solvers.qp finished with status {sol['status']!r} (solver {name}, "
                      f"{sol['iterations']} iterations; attempts {log}); KKT residuals "
                      f"(pair gap, |y'alpha|, box) = {kkt}", RuntimeWarning, stacklevel=4)
    info = {"status": sol["status"], "iterations": sol["iterations"], "solver": name, "attempts": log,
            "factorizations": getattr(kktsolver, "factorizations", None), "kkt": kkt}
    return alpha, info


# ==============================================================================================
# scikit-learn style classifier
# ==============================================================================================
class CVXOPTSVC(ClassifierMixin, BaseEstimator):
    """C-Support Vector Classification by solving the dual QP with cvxopt (scikit-learn compatible).

    Parameters (as in sklearn.svm.SVC):
    - C: float > 0, upper bound of alpha (default 1.0).
    - kernel: 'linear', 'poly', 'rbf' (default) or 'sigmoid'.
    - degree: int >= 0, degree of 'poly' (default 3).
    - gamma: float >= 0, kernel coefficient of 'rbf', 'poly', 'sigmoid' (default 1.0).
    - coef0: float, independent term of 'poly' and 'sigmoid' (default 0.0).

    Attributes after fit:
    - alpha: (n,) dual solution; b: float, the course's bias; support_: (n_SV,) int indices with alpha > 1e-4.
    - classes_: (2,) the labels seen in fit (classes_[0] -> -1, classes_[1] -> +1).
    - X_train: (n, d) float64 copy; y_train: (n,) labels mapped to -1/+1.
    - support_vectors_: (n_SV, d); n_features_in_; solver_info_: dict from solve_dual.
    """

    _estimator_type = "classifier"

    def __init__(self, *, C=1.0, kernel="rbf", degree=3, gamma=1.0, coef0=0.0):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0

    @property
    def kernel_params(self):
        """The kernel_params dict of the functional API, built from the estimator's parameters."""
        return {"kernel": self.kernel, "degree": self.degree, "gamma": self.gamma, "coef0": self.coef0}

    def fit(self, X, y):
        """Fit on X (n, d) and two-class labels y (n,) ({0, 1}, {-1, +1} or any two values). Returns self."""
        kp = _check_kernel_params(self.kernel_params)
        C = self.C
        if isinstance(C, bool) or not isinstance(C, numbers.Real) or not np.isfinite(C) or C <= 0:
            raise ValueError(f"C must be a finite number > 0, got {C!r}")
        X = _as_float_array(X, "X", 2)
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D with shape (n_samples,), got shape {y.shape}")
        _check_same_length(X, y, "X", "y")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or inf")
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.size != 2:
            raise ValueError(f"CVXOPTSVC needs exactly two classes in y, got {classes.size}: {classes[:10]}")
        y_pm = np.where(y_index.reshape(-1) == 1, 1.0, -1.0)

        K = kernel_matrix(X, X, kp)
        alpha, info = solve_dual(K, y_pm, float(C))
        support = np.flatnonzero(alpha > SUPPORT_THRESHOLD)
        if support.size:
            b = _bias_from_support_gram(K[np.ix_(support, support)], y_pm[support], alpha[support])
        else:
            b = _bias_without_support(K, y_pm, alpha, float(C))

        self.classes_ = classes
        self.X_train = X.copy()
        self.y_train = y_pm
        self.alpha = alpha
        self.b = b
        self.support_ = support
        self.support_vectors_ = self.X_train[support]
        self.n_features_in_ = X.shape[1]
        self.solver_info_ = info
        return self

    def decision_function(self, X):
        """h(x) = sum_{m in S} alpha_m y_m K(x_m, x) + b for X (n, d); returns (n,)."""
        self._check_fitted()
        X = _as_float_array(X, "X", 2)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but CVXOPTSVC was fitted with {self.n_features_in_}")
        return decision_function(X, self.X_train, self.y_train, self.b, self.alpha, self.kernel_params)

    def predict(self, X):
        """Labels (n,) in the form given to fit: classes_[1] where decision_function > 0, else classes_[0]."""
        scores = self.decision_function(X)
        return self.classes_[(scores > 0).astype(np.intp)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of predict(X) against y."""
        return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))

    def _check_fitted(self):
        if not hasattr(self, "alpha"):
            raise NotFittedError("This CVXOPTSVC instance is not fitted yet; call fit(X, y) first.")


def _bias_without_support(K, y, alpha, C):
    """Bias when no alpha exceeds 1e-4 (e.g. C < 1e-4): the midpoint of the b interval the KKT conditions allow.

    With f_i = sum_m alpha_m y_m K_mi, points at alpha_i ~ 0 need y_i (f_i + b) >= 1 and points at the upper
    bound need y_i (f_i + b) <= 1; the course formula is undefined here, so warn and use the midpoint.
    """
    warnings.warn(f"no alpha exceeds {SUPPORT_THRESHOLD}: the course bias is undefined; using the KKT midpoint",
                  RuntimeWarning, stacklevel=3)
    f = K @ (alpha * y)
    at_upper = alpha > 0.5 * C
    target = y - f                       # b such that y_i (f_i + b) = 1
    lower = np.concatenate([target[(y > 0) & ~at_upper], target[(y < 0) & at_upper]])
    upper = np.concatenate([target[(y < 0) & ~at_upper], target[(y > 0) & at_upper]])
    lo = lower.max() if lower.size else (upper.min() if upper.size else 0.0)
    hi = upper.min() if upper.size else lo
    return float(0.5 * (lo + hi))
