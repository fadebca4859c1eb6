"""Soft-margin kernel SVM trained by solving its dual QP with cvxopt (EECS 545 HW4, Q4).

The dual (homework Eq. 1) in cvxopt's form  min 1/2 v'Pv + q'v  s.t.  Gv <= h, Av = b:
    P = (y y') * K  (n, n) with K[i, j] = k(x_i, x_j);   q = -1  (n,)
    G = [-I; I]     (2n, n): -alpha <= 0 and alpha <= C;  h = [0; C]  (2n,)
    A = y'          (1, n);                               b = 0  (1,)

Course API, in the assignment's order: kernel_dot, kernel_matrix, get_qp_params, fit_bias, decision_function
and the provided classifier CVXOPTSVC. Its fit solves the QP as the course's code does (alpha, b and the
predictions are the course's) up to TEXTBOOK_MAX_N points, and above that with the structured KKT solver of
hw4/svm_qp.py when the hw4 package is importable. Only NumPy and cvxopt are required (scikit-learn's base
classes are used when installed).
"""
import numbers
import time
import warnings

import numpy as np
from cvxopt import matrix as cvxopt_matrix
from cvxopt import solvers as cvxopt_solvers

try:  # the structured solver for large problems; the course's setting has only this file
    from hw4 import svm_qp as _svm_qp
except ImportError:  # pragma: no cover - exercised in a subprocess test
    _svm_qp = None

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import NotFittedError
except ImportError:  # pragma: no cover - exercised in a subprocess test
    class NotFittedError(ValueError, AttributeError):
        """Raised when a model is used before fit (scikit-learn's exception when it is installed)."""

    class ClassifierMixin:
        """Stand-in for sklearn.base.ClassifierMixin."""

    class BaseEstimator:
        """Stand-in for sklearn.base.BaseEstimator: get_params, set_params and repr."""

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in ("C", "kernel", "degree", "gamma", "coef0", "solver")}

        def set_params(self, **params):
            invalid = set(params) - set(self.get_params())
            if invalid:
                raise ValueError(f"invalid parameters {sorted(invalid)}; valid: {list(self.get_params())}")
            self.__dict__.update(params)
            return self

        def __repr__(self):
            return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"


KERNELS = ("linear", "poly", "rbf", "sigmoid")
KERNEL_DEFAULTS = {"kernel": "rbf", "degree": 3, "gamma": 1.0, "coef0": 0.0}
SUPPORT_THRESHOLD = 1e-4        # the course's support set: alpha > 1e-4
SOLVERS = ("auto", "textbook", "structured")
TEXTBOOK_MAX_N = 500            # 'auto' runs the course's textbook solve up to this many training points
CVXOPT_KKTREG = 1e-9            # the course's retry: kktsolver='ldl', options={'kktreg': 1e-9}
GRAM_SCALE_RANGE = (1e-8, 1e8)  # max |K| outside this range: the absolute tolerances above lose their meaning


# ---------------------------------------- Kernels
def kernel_dot(X1, X2, kernel_params):
    """Row-wise kernel values k(X1[i], X2[i]) for X1, X2 of shape (n, d); returns float64 (n,).

    kernel_params: dict with 'kernel' in {'linear', 'poly', 'rbf', 'sigmoid'} and optional 'degree' (3),
    'gamma' (1.0), 'coef0' (0.0): linear x.z; poly (gamma x.z + coef0)^degree; rbf exp(-gamma |x-z|^2);
    sigmoid tanh(gamma x.z + coef0). Any other key is a ValueError.
    """
    kp = _check_kernel_params(kernel_params)
    X1, X2 = _as_float_array(X1, "X1", 2), _as_float_array(X2, "X2", 2)
    if X1.shape != X2.shape:
        raise ValueError(f"X1 and X2 must have the same shape (n, d), got {X1.shape} and {X2.shape}")
    if kp["kernel"] == "rbf":
        return np.exp(-kp["gamma"] * np.sum((X1 - X2) ** 2, axis=1))
    return _kernel_from_dots(np.einsum("ij,ij->i", X1, X2), kp)


def kernel_matrix(X1, X2, kernel_params):
    """Gram matrix K[i, j] = k(X1[i], X2[j]) for X1 (n, d), X2 (m, d); kernel_params as in kernel_dot.

    Returns: float64 array of shape (n, m), exactly symmetric when X1 is X2.
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


def _check_kernel_params(kernel_params):
    """Validate a kernel_params dict; returns a new dict with all four keys (defaults filled in)."""
    if not hasattr(kernel_params, "items"):
        raise TypeError(f"kernel_params must be a dict, got {type(kernel_params).__name__}")
    unknown = sorted(str(key) for key in kernel_params if key not in KERNEL_DEFAULTS)
    if unknown:   # a misspelled key would silently keep its default
        raise ValueError(f"unknown kernel_params key(s) {unknown}: valid keys are {list(KERNEL_DEFAULTS)}")
    kp = {**KERNEL_DEFAULTS, **kernel_params}
    if kp["kernel"] not in KERNELS:
        raise ValueError(f"unknown kernel {kp['kernel']!r}: expected one of {KERNELS}")
    for name in ("degree", "gamma", "coef0"):
        if isinstance(kp[name], bool) or not isinstance(kp[name], numbers.Real) or not np.isfinite(kp[name]):
            raise ValueError(f"{name} must be a finite real number, got {kp[name]!r}")
    if kp["degree"] < 0 or kp["degree"] != int(kp["degree"]) or kp["gamma"] < 0:
        raise ValueError(f"degree must be a non-negative integer and gamma non-negative, got degree "
                         f"{kp['degree']!r} and gamma {kp['gamma']!r}")
    return dict(kp, degree=int(kp["degree"]), gamma=float(kp["gamma"]), coef0=float(kp["coef0"]))


def _kernel_from_dots(dots, kp):
    """Apply a dot-product kernel (linear, poly, sigmoid) to an array of inner products (any shape)."""
    if kp["kernel"] == "linear":
        return dots
    if kp["kernel"] == "poly":
        return (kp["gamma"] * dots + kp["coef0"]) ** kp["degree"]
    return np.tanh(kp["gamma"] * dots + kp["coef0"])


def _squared_distances(X1, X2, same):
    """|X1[i] - X2[j]|^2 (n, m) via |a|^2 + |b|^2 - 2 a.b on centered data (centering keeps the cancellation
    error small for data far from the origin; the clamp removes negative rounding residue)."""
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


# ---------------------------------------- QP parameters, bias, decision function
def get_qp_params(X, y, C, kernel_params):
    """Dense cvxopt.solvers.qp parameters of the dual: min 1/2 v'Pv + q'v s.t. Gv <= h, Av = b gives alpha.

    Inputs: X (n, d); y (n,) labels -1/+1 (any real values work: only P and A use them); C, the upper bound
    of alpha (not validated here); kernel_params as in kernel_dot.

    Returns float64 arrays (P, q, G, h, A, b): P (n, n) = (y y') * K; q (n,) = -1; G (2n, n) = [-I; I];
    h (2n,) = [0; C]; A (1, n) = y'; b (1,) = 0.
    """
    X = _as_float_array(X, "X", 2)
    y = _as_float_array(y, "y", 1, rows_of=("X", X))
    n = X.shape[0]
    P = np.outer(y, y) * kernel_matrix(X, X, kernel_params)
    q = -np.ones(n)
    G = np.vstack([-np.eye(n), np.eye(n)])
    h = np.concatenate([np.zeros(n), np.full(n, float(C))])
    A = y.reshape(1, n).copy()
    b = np.zeros(1)
    return P, q, G, h, A, b


def fit_bias(X, y, alpha, kernel_params):
    """The course's bias b = mean over s in S of (y_s - sum_{m in S} alpha_m y_m K(x_m, x_s)).

    Inputs: X (n, d) training inputs; y (n,) labels -1/+1 (real values accepted); alpha (n,) dual solution,
    S = {i : alpha_i > 1e-4} (values above C are used as is); kernel_params as in kernel_dot.

    Returns: NumPy float64 scalar. Raises ValueError if S is empty (the mean would be NaN).
    """
    X = _as_float_array(X, "X", 2)
    y = _as_float_array(y, "y", 1, rows_of=("X", X))
    alpha = _as_float_array(alpha, "alpha", 1, rows_of=("X", X))
    support = np.flatnonzero(alpha > SUPPORT_THRESHOLD)
    if support.size == 0:
        raise ValueError(f"fit_bias: no support vectors (every alpha <= {SUPPORT_THRESHOLD}); "
                         "the course formula averages over them")
    K_ss = kernel_matrix(X[support], X[support], kernel_params)      # (|S|, |S|)
    return np.mean(y[support] - K_ss @ (alpha[support] * y[support]))


def decision_function(X, X_train, y_train, b, alpha, kernel_params):
    """h(x) = sum_{m in S} alpha_m y_m K(x_m, x) + b, with S = {m : alpha_m > 1e-4}.

    Inputs: X (n, d) points to score; X_train (n_train, d); y_train, alpha (n_train,); b, the bias (scalar);
    kernel_params as in kernel_dot. Returns: float64 array of shape (n,).
    """
    X, X_train = _as_float_array(X, "X", 2), _as_float_array(X_train, "X_train", 2)
    y_train = _as_float_array(y_train, "y_train", 1, rows_of=("X_train", X_train))
    alpha = _as_float_array(alpha, "alpha", 1, rows_of=("X_train", X_train))
    if X.shape[1] != X_train.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but X_train has {X_train.shape[1]} "
                         f"(shapes {X.shape} and {X_train.shape})")
    b = _as_float_array(np.reshape(b, -1), "b", 1)
    if b.size != 1:
        raise ValueError(f"b must be a scalar, got {b.size} values")
    support = np.flatnonzero(alpha > SUPPORT_THRESHOLD)
    K = kernel_matrix(X, X_train[support], kernel_params)          # (n, |S|)
    return K @ (alpha[support] * y_train[support]) + float(b[0])


# ---------------------------------------- The course's classifier
class CVXOPTSVC(ClassifierMixin, BaseEstimator):
    """C-Support Vector Classification by solving the dual QP with cvxopt (scikit-learn compatible).

    Parameters (as in sklearn.svm.SVC):
    - C: float > 0, upper bound of alpha (default 1.0).
    - kernel: 'linear', 'poly', 'rbf' (default) or 'sigmoid'.
    - degree: int >= 0, degree of 'poly' (default 3).
    - gamma: float >= 0, kernel coefficient of 'rbf', 'poly', 'sigmoid' (default 1.0).
    - coef0: float, independent term of 'poly' and 'sigmoid' (default 0.0).
    - solver: 'auto' (default: the course's textbook solve up to TEXTBOOK_MAX_N training points, above that
      the structured solver of hw4/svm_qp.py when importable), 'textbook' or 'structured'.

    Attributes after fit: alpha (n,) dual solution; b, the course's bias; support_ (n_SV,) int indices with
    alpha > 1e-4; support_vectors_ (n_SV, d); classes_ (2,) labels seen in fit (classes_[0] -> -1,
    classes_[1] -> +1); X_train (n, d) float64 copy; y_train (n,) labels mapped to -1/+1; n_features_in_;
    solver_info_: dict with 'path' ('textbook' or 'structured'), 'solver', cvxopt's 'status' and 'iterations',
    'attempts' (list of (solver, status or error)), 'seconds' (and the svm_qp details).
    """

    _estimator_type = "classifier"

    def __init__(self, *, C=1.0, kernel="rbf", degree=3, gamma=1.0, coef0=0.0, solver="auto"):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.solver = solver

    @property
    def kernel_params(self):
        """The kernel_params dict of the functional API, built from the estimator's parameters."""
        return {"kernel": self.kernel, "degree": self.degree, "gamma": self.gamma, "coef0": self.coef0}

    def fit(self, X, y):
        """Fit on X (n, d) and two-class labels y (n,) ({0, 1}, {-1, +1} or any two values). Returns self.

        The textbook path (see _solve_textbook) costs ~0.1 s at n = 500 and ~1 s at n = 1000, hence the structured
        path above TEXTBOOK_MAX_N. A cvxopt status other than 'optimal' is a UserWarning. A kernel that overflows
        is a ValueError, a Gram matrix outside GRAM_SCALE_RANGE (or an RBF one equal to the identity) a
        UserWarning: cvxopt's tolerances and the support threshold are absolute; both say to standardize X.
        """
        kp = _check_kernel_params(self.kernel_params)
        C = self.C
        if isinstance(C, bool) or not isinstance(C, numbers.Real) or not np.isfinite(C) or C <= 0:
            raise ValueError(f"C must be a finite number > 0, got {C!r}")
        X = _as_float_array(X, "X", 2)
        classes, y_pm = _encode_labels(y, X)
        if self.solver not in SOLVERS or (self.solver == "structured" and _svm_qp is None):
            raise ValueError(f"solver must be one of {SOLVERS} ('structured' needs the hw4 package's svm_qp), "
                             f"got {self.solver!r}")
        path = self.solver
        if path == "auto":
            path = "structured" if X.shape[0] > TEXTBOOK_MAX_N and _svm_qp is not None else "textbook"
        if path == "textbook":
            qp_params = get_qp_params(X, y_pm, float(C), kp)
            _check_gram_scale(qp_params[0], kp["kernel"])        # |P| = |K|: y is -1/+1
            alpha, info = _solve_textbook(qp_params)
        else:
            K = kernel_matrix(X, X, kp)
            _check_gram_scale(K, kp["kernel"])
            alpha, info = _svm_qp.solve_dual(K, y_pm, float(C))
        info["path"] = path
        if info["status"] != "optimal":
            warnings.warn(f"cvxopt.solvers.qp stopped with status {info['status']!r} after {info['iterations']} "
                          f"iterations ({path} path, solver {info['solver']}); alpha is its last iterate",
                          UserWarning, stacklevel=2)
        support = np.flatnonzero(alpha > SUPPORT_THRESHOLD)
        if support.size or _svm_qp is None:
            b = fit_bias(X, y_pm, alpha, kp)
        else:   # e.g. C < 1e-4: the course formula is undefined; svm_qp warns and uses the KKT midpoint
            b = _svm_qp.kkt_midpoint_bias(kernel_matrix(X, X, kp), y_pm, alpha, float(C))

        self.classes_, self.X_train, self.y_train, self.n_features_in_ = classes, X.copy(), y_pm, X.shape[1]
        self.alpha, self.b, self.solver_info_ = alpha, b, info
        self.support_, self.support_vectors_ = support, self.X_train[support]
        return self

    def decision_function(self, X):
        """h(x) = sum_{m in S} alpha_m y_m K(x_m, x) + b for X (n, d); returns (n,)."""
        if not hasattr(self, "alpha"):
            raise NotFittedError("This CVXOPTSVC instance is not fitted yet; call fit(X, y) first.")
        return decision_function(X, self.X_train, self.y_train, self.b, self.alpha, self.kernel_params)

    def predict(self, X):
        """Labels (n,) in the form given to fit: classes_[1] where decision_function >= 0 (as the course)."""
        scores = self.decision_function(X)
        return self.classes_[(scores >= 0).astype(np.intp)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of predict(X) against y."""
        return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))


def _solve_textbook(qp_params):
    """The course's provided solve: the dense get_qp_params matrices straight into cvxopt.solvers.qp (default
    options, show_progress=False); on a ValueError, cvxopt's LDL solver with kktreg=1e-9. Returns (alpha, info)."""
    start = time.perf_counter()
    P, q, G, h, A, b = (cvxopt_matrix(M.reshape(len(M), -1)) for M in qp_params)
    attempts = []
    try:
        name, sol = "textbook", cvxopt_solvers.qp(P, q, G, h, A, b, options={"show_progress": False})
    except ValueError as error:   # cvxopt's default KKT solver found the system singular at the start
        attempts.append(("textbook", f"ValueError: {error}"))
        name, sol = "textbook-ldl-kktreg", cvxopt_solvers.qp(
            P, q, G, h, A, b, kktsolver="ldl", options={"show_progress": False, "kktreg": CVXOPT_KKTREG})
    attempts.append((name, sol["status"]))
    info = {"solver": name, "status": sol["status"], "iterations": sol["iterations"], "attempts": attempts,
            "seconds": time.perf_counter() - start}
    return np.array(sol["x"]).squeeze(1), info


# ---------------------------------------- Input checks
def _as_float_array(value, name, ndim, rows_of=None):
    """``value`` as a finite float64 array with ``ndim`` dimensions (a new array if converted); with
    rows_of=(other_name, other), also as many rows as ``other`` (TypeError/ValueError naming both)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":   # complex would lose its imaginary part in the cast below
        raise TypeError(f"{name} must be real and numeric, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if array.ndim != ndim:
        expected = "(n_samples, n_features)" if ndim == 2 else "(n_samples,)"
        raise ValueError(f"{name} must be {ndim}-D with shape {expected}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf ({np.size(array) - np.isfinite(array).sum()} entries)")
    if rows_of is not None and len(array) != len(rows_of[1]):
        raise ValueError(f"{rows_of[0]} has {len(rows_of[1])} rows but {name} has {len(array)} entries "
                         f"(shapes {rows_of[1].shape} and {array.shape})")
    return array


def _encode_labels(y, X):
    """(classes (2,), y_pm (n,) in {-1.0, +1.0}) for two-class labels y (n,) of any dtype but complex; X (n, d)."""
    y = np.asarray(y)
    if y.dtype.kind == "c":
        raise TypeError(f"y must hold real or string class labels, got complex dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D with shape (n_samples,), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or inf")
    classes, y_index = np.unique(y, return_inverse=True)
    if classes.size != 2:
        raise ValueError(f"CVXOPTSVC needs exactly two classes in y, got {classes.size}: {classes[:10]}")
    return classes, _as_float_array(np.where(y_index == 1, 1.0, -1.0), "y", 1, rows_of=("X", X))


def _check_gram_scale(K, kernel):
    """ValueError if the kernel overflowed; UserWarning if K's scale makes the absolute tolerances meaningless."""
    fix = "standardize X (e.g. sklearn.preprocessing.StandardScaler) or change gamma"
    if not np.all(np.isfinite(K)):
        raise ValueError(f"the problem is badly scaled: the {kernel} Gram matrix of X has inf or NaN entries "
                         f"(the kernel overflows); {fix}")
    scale, (lo, hi) = float(np.abs(K).max(initial=0.0)), GRAM_SCALE_RANGE
    if scale > hi or 0.0 < scale < lo:
        warnings.warn(f"the problem is badly scaled: max |K| = {scale:.1e} ({kernel} kernel) is outside [{lo:g}, "
                      f"{hi:g}], where cvxopt's tolerances and alpha > {SUPPORT_THRESHOLD} lose their meaning; {fix}",
                      UserWarning, stacklevel=3)
    elif kernel == "rbf" and len(K) > 1 and np.abs(K - np.diag(np.diag(K))).max() <= 1e-12 * scale:
        warnings.warn("the problem is badly scaled: the RBF Gram matrix is the identity to working precision, so "
                      f"predictions away from the training points are constant; {fix}", UserWarning, stacklevel=3)
