"""A deliberately naive svm.py (Q4), written the way a careful student would: plain loops over pairs of points,
the course formulas spelled out, and CVXOPTSVC exactly as the course provides it.

Used by `HW4_IMPL_DIR=tests/naive pytest -m course tests/test_svm*.py` (every course test must pass on it) and
as the base copy that the autograder tests mutate into realistic student bugs. Needs only NumPy and cvxopt.
"""
import numpy as np
from cvxopt import matrix as cvxopt_matrix
from cvxopt import solvers as cvxopt_solvers


def kernel_value(x, z, kernel_params):
    """k(x, z) for two points x, z of shape (d,)."""
    kp = kernel_params
    if kp['kernel'] == 'linear':
        return np.dot(x, z)
    if kp['kernel'] == 'poly':
        return (kp['gamma'] * np.dot(x, z) + kp['coef0']) ** kp['degree']
    if kp['kernel'] == 'rbf':
        return np.exp(-kp['gamma'] * np.sum((x - z) ** 2))
    if kp['kernel'] == 'sigmoid':
        return np.tanh(kp['gamma'] * np.dot(x, z) + kp['coef0'])
    raise ValueError(f"Unknown kernel: {kp['kernel']}")


def kernel_dot(X1, X2, kernel_params):
    """out[i] = k(X1[i], X2[i]); X1, X2 of shape (n, d); returns (n,) float64."""
    out = np.zeros(X1.shape[0])
    for i in range(X1.shape[0]):
        out[i] = kernel_value(X1[i], X2[i], kernel_params)
    return out


def kernel_matrix(X1, X2, kernel_params):
    """K[i, j] = k(X1[i], X2[j]); X1 (n, d), X2 (m, d); returns (n, m) float64."""
    K = np.zeros((X1.shape[0], X2.shape[0]))
    for i in range(X1.shape[0]):
        for j in range(X2.shape[0]):
            K[i, j] = kernel_value(X1[i], X2[j], kernel_params)
    return K


def get_qp_params(X, y, C, kernel_params):
    """P (n, n), q (n,), G (2n, n), h (2n,), A (1, n), b (1,) of the SVM dual for cvxopt.solvers.qp."""
    n = X.shape[0]
    K = kernel_matrix(X, X, kernel_params)
    P = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            P[i, j] = y[i] * y[j] * K[i, j]
    q = -np.ones(n)
    G = np.zeros((2 * n, n))
    h = np.zeros(2 * n)
    for i in range(n):
        G[i, i] = -1.0          # -alpha_i <= 0
        G[n + i, i] = 1.0       # alpha_i <= C
        h[n + i] = C
    A = np.zeros((1, n))
    for i in range(n):
        A[0, i] = y[i]
    b = np.zeros(1)
    return P, q, G, h, A, b


def fit_bias(X, y, alpha, kernel_params):
    """b = mean over s in S of (y_s - sum_{m in S} alpha_m y_m k(x_m, x_s)), S = {i : alpha_i > 1e-4}."""
    is_support = alpha > 1e-4
    support = [i for i in range(X.shape[0]) if is_support[i]]
    total = 0.0
    for s in support:
        f_s = 0.0
        for m in support:
            f_s += alpha[m] * y[m] * kernel_value(X[m], X[s], kernel_params)
        total += y[s] - f_s
    return total / len(support)


def decision_function(X, X_train, y_train, b, alpha, kernel_params):
    """h(x) = sum_{m in S} alpha_m y_m k(x_m, x) + b for each row of X (n, d); returns (n,) float64."""
    is_support = alpha > 1e-4
    h = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        total = 0.0
        for m in range(X_train.shape[0]):
            if is_support[m]:
                total += alpha[m] * y_train[m] * kernel_value(X_train[m], X[i], kernel_params)
        h[i] = total + b
    return h


class CVXOPTSVC:
    """The course's provided classifier (labels {0, 1})."""

    _estimator_type = "classifier"

    def __init__(self, *, C=1.0, kernel="rbf", degree=3, gamma=1.0, coef0=0.0):
        self.C = C
        self.kernel_params = {'kernel': kernel, 'degree': degree, 'gamma': gamma, 'coef0': coef0}

    def fit(self, X, y):
        y = y * 2 - 1  # {0, 1} -> {-1, 1}
        self.X_train = X.copy()
        self.y_train = y.copy()
        _P, _q, _G, _h, _A, _b = get_qp_params(X, y, self.C, self.kernel_params)
        P = cvxopt_matrix(_P)
        q = cvxopt_matrix(np.expand_dims(_q, 1))
        G = cvxopt_matrix(_G)
        h = cvxopt_matrix(_h)
        A = cvxopt_matrix(_A)
        b = cvxopt_matrix(_b)
        try:
            sol = cvxopt_solvers.qp(P, q, G, h, A, b, options={'show_progress': False})
        except ValueError:
            sol = cvxopt_solvers.qp(P, q, G, h, A, b, kktsolver='ldl',
                                    options={'show_progress': False, 'kktreg': 1e-9})
        self.alpha = np.array(sol['x']).squeeze(1)
        self.support_ = np.flatnonzero(self.alpha > 1e-4)
        self.b = fit_bias(X, y, self.alpha, self.kernel_params)
        return self

    def decision_function(self, X):
        return decision_function(X, self.X_train, self.y_train, self.b, self.alpha, self.kernel_params)

    def predict(self, X):
        return (self.decision_function(X) >= 0).astype(int)

    def score(self, X, y):
        return np.mean(self.predict(X) == y)
