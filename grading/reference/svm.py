"""The kit's reference svm.py: the kernels, the dual QP in cvxopt's form, the bias and the decision function
over the course's support set (alpha > 1e-4), and the course's provided fit (dense QP, cvxopt's default
options, the 'ldl' retry)."""
import numpy as np

SUPPORT_THRESHOLD = 1e-4


def kernel_matrix(X1, X2, kernel_params):
    """K[i, j] = k(X1[i], X2[j]) for X1 (n, d), X2 (m, d): linear x.z, poly (gamma x.z + coef0)^degree,
    rbf exp(-gamma |x - z|^2), sigmoid tanh(gamma x.z + coef0)."""
    kp = {"degree": 3, "gamma": 1.0, "coef0": 0.0, **kernel_params}
    X1, X2 = np.asarray(X1, dtype=np.float64), np.asarray(X2, dtype=np.float64)
    if kp["kernel"] == "rbf":
        return np.exp(-kp["gamma"] * ((X1[:, None, :] - X2[None, :, :]) ** 2).sum(axis=2))
    dots = X1 @ X2.T
    if kp["kernel"] == "linear":
        return dots
    if kp["kernel"] == "poly":
        return (kp["gamma"] * dots + kp["coef0"]) ** kp["degree"]
    if kp["kernel"] == "sigmoid":
        return np.tanh(kp["gamma"] * dots + kp["coef0"])
    raise ValueError(f"unknown kernel {kp['kernel']!r}")


def kernel_dot(X1, X2, kernel_params):
    """out[i] = k(X1[i], X2[i]) for X1, X2 (n, d)."""
    return np.array([kernel_matrix(a[None], c[None], kernel_params)[0, 0] for a, c in zip(X1, X2)])


def get_qp_params(X, y, C, kernel_params):
    """P = (y y') * K (n, n), q = -1 (n,), G = [-I; I] (2n, n), h = [0; C] (2n,), A = y' (1, n), b = [0] (1,)."""
    n = len(y)
    y = np.asarray(y, dtype=np.float64)
    P = np.outer(y, y) * kernel_matrix(X, X, kernel_params)
    G = np.vstack([-np.eye(n), np.eye(n)])
    h = np.concatenate([np.zeros(n), np.full(n, float(C))])
    return P, -np.ones(n), G, h, y.reshape(1, n), np.zeros(1)


def fit_bias(X, y, alpha, kernel_params, threshold=SUPPORT_THRESHOLD):
    """b = mean over s in S of (y_s - sum_{m in S} alpha_m y_m k(x_m, x_s)), S = {alpha > threshold}."""
    S = np.asarray(alpha) > threshold
    K = kernel_matrix(X[S], X[S], kernel_params)
    return float(np.mean(y[S] - (alpha[S] * y[S]) @ K))


def decision_function(X, X_train, y_train, b, alpha, kernel_params, threshold=SUPPORT_THRESHOLD):
    """h(x) = sum_{m in S} alpha_m y_m k(x_m, x) + b for each row of X (n, d)."""
    S = np.asarray(alpha) > threshold
    return kernel_matrix(X, X_train[S], kernel_params) @ (alpha[S] * y_train[S]) + b


def course_dual(X, y_pm, C, kernel_params):
    """alpha from the course's provided fit: the dense QP into cvxopt.solvers.qp with show_progress=False,
    retried with kktsolver='ldl' and kktreg 1e-9 on ValueError."""
    from cvxopt import matrix, solvers

    P, q, G, h, A, b = get_qp_params(X, y_pm, C, kernel_params)
    args = [matrix(P), matrix(q.reshape(-1, 1)), matrix(G), matrix(h), matrix(A), matrix(b)]
    try:
        sol = solvers.qp(*args, options={"show_progress": False})
    except ValueError:
        sol = solvers.qp(*args, kktsolver="ldl", options={"show_progress": False, "kktreg": 1e-9})
    return np.array(sol["x"]).reshape(-1)
