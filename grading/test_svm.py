"""Q4, as the course grades it: svm.py (the kernels, the dual QP for cvxopt, the bias, the decision function and
the provided CVXOPTSVC).

The course's contract (what decides the exit status): each function against the reference (dtype, shape, then
max |got - expected| < 1e-6), with the functions it calls replaced by the reference so that a bug is blamed on
the function that has it; CVXOPTSVC as the course provides it: y in {0, 1} -> {-1, +1}, get_qp_params into
cvxopt.solvers.qp with show_progress=False, support vectors alpha > 1e-4, b from fit_bias, predictions
(decision_function >= 0) as {0, 1}. The course ran NumPy 1.x: names NumPy 2.0 removed (np.float_ in the
provided code) are restored while grading and reported as advice. The scikit-learn oracle is advice too.

    python -m grading.test_svm [--dir DIR]      # this question only (same as python autograder.py svm)
"""
import contextlib
import sys
from unittest import mock

import numpy as np

from grading.case import GradingCase, advice, check, rng_for
from grading.sandbox import reference
from grading.verdicts import CheckFailure, ContractError

REF = reference("svm")
KERNELS = [{"kernel": "linear", "degree": 3, "gamma": 1.0, "coef0": 0.0},
           {"kernel": "poly", "degree": 2, "gamma": 0.7, "coef0": 1.5},
           {"kernel": "rbf", "degree": 3, "gamma": 0.4, "coef0": 0.0},
           {"kernel": "sigmoid", "degree": 3, "gamma": 0.3, "coef0": -0.2}]
KERNEL_FORMULAS = "linear x.z; poly (gamma x.z + coef0)^degree; rbf exp(-gamma |x - z|^2); sigmoid tanh(gamma x.z + coef0)"
PROBE_ALPHAS = (3e-5, 7e-5, 2e-4, 6e-4)      # small alphas on both sides of the course's support threshold 1e-4
REFERENCE_HELPERS = dict(kernel_matrix=REF.kernel_matrix, kernel_dot=REF.kernel_dot,
                         get_qp_params=REF.get_qp_params, fit_bias=REF.fit_bias,
                         decision_function=REF.decision_function)


# ---------------------------------------------------------------------------------------------------------
# Reference functions
# ---------------------------------------------------------------------------------------------------------
def blobs(rng, n, d=2, shift=1.2):
    """Two overlapping Gaussian classes, labels {0, 1} alternating."""
    y = (np.arange(n) % 2 == 0).astype(int)
    return rng.standard_normal((n, d)) + np.where(y[:, None] == 1, shift, -shift) / np.sqrt(d), y


def probe(alpha):
    """The dual solution with its smallest entries moved to PROBE_ALPHAS: exposes the support threshold."""
    alpha = np.array(alpha, dtype=np.float64).reshape(-1)
    alpha[np.argsort(alpha, kind="stable")[:len(PROBE_ALPHAS)]] = PROBE_ALPHAS
    return alpha


# ---------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------
class TestSvm(GradingCase):
    """Q4: svm.py."""

    QUESTION = "svm"

    def replaced(self, svm, names):
        """A context in which svm.NAME calls the reference for each of ``names`` that svm.py defines."""
        stack = contextlib.ExitStack()
        for name in names:
            if callable(getattr(svm, name, None)):
                stack.enter_context(mock.patch.object(svm, name, side_effect=REFERENCE_HELPERS[name], autospec=True))
        return stack

    # -- graded ----------------------------------------------------------------------------------------
    @check("kernel_matrix / kernel_dot", "Gram matrices and row-wise kernel values", KERNEL_FORMULAS)
    def test_kernels(self):
        svm, rng = self.module("svm"), rng_for("kernels")
        X1, X2, Z = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
        for kp in KERNELS:
            self.now = f"{kp}, X1 (5, 3), X2 (4, 3)"
            K = self.call("kernel_matrix", svm.kernel_matrix, X1, X2, dict(kp))
            self.assert_close(f"kernel_matrix ({kp['kernel']})", K, REF.kernel_matrix(X1, X2, kp))
            if hasattr(svm, "kernel_dot"):
                k = self.call("kernel_dot", svm.kernel_dot, X1, Z, dict(kp))
                self.assert_close(f"kernel_dot ({kp['kernel']})", k, REF.kernel_dot(X1, Z, kp))

    @check("get_qp_params", "P, q, G, h, A, b of the dual (dense, float64)",
           "min 1/2 v'Pv + q'v s.t. Gv <= h, Av = b with P = (y y') * K (n, n), q = -1 (n,), G = [-I; I] (2n, n), "
           "h = [0; C] (2n,) (first -alpha <= 0, then alpha <= C), A = y' (1, n), b = [0] (1,), all float64")
    def test_get_qp_params(self):
        svm, rng, n, C = self.module("svm"), rng_for("get_qp_params"), 6, 0.7
        X = rng.standard_normal((n, 3))
        for kp in KERNELS:
            y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
            self.now = f"X (6, 3), y in {{-1, +1}}, C={C}, {kp}"
            with self.replaced(svm, ("kernel_matrix", "kernel_dot")):
                out = self.returns(svm, "get_qp_params", 6, "(P, q, G, h, A, b)", X, y, C, dict(kp))
            expected = REF.get_qp_params(X, y, C, kp)
            diagnoses = {"q": [("q = +1 (the objective's sign flipped)", -expected[1],
                                "cvxopt minimizes: maximizing sum(alpha) - ... means q = -1")],
                         "P": [("the kernel matrix without y y'", REF.kernel_matrix(X, X, kp),
                                "P[i, j] = y_i y_j K(x_i, x_j)")]}
            for name, got, value in zip("PqGhAb", out, expected):
                self.assert_close(f"get_qp_params {name}", got, value, diagnose=diagnoses.get(name, ()))

    @check("fit_bias", "b = mean over the support vectors S = {alpha > 1e-4}",
           "S = {i : alpha_i > 1e-4}; b = mean over s in S of (y_s - sum over m in S of alpha_m y_m K(x_m, x_s))")
    def test_fit_bias(self):
        svm, rng, n = self.module("svm"), rng_for("fit_bias"), 8
        X = rng.standard_normal((n, 2))
        for kp in KERNELS:
            y = np.where(np.arange(n) % 3 == 0, -1.0, 1.0)
            alpha = rng.uniform(0.2, 2.0, n)
            alpha[[1, 4, 6]] = [0.0, 9e-5, 1.5e-4]      # two below the threshold, one just above it
            self.now = f"X (8, 2), alpha with entries 0, 9e-5 and 1.5e-4, {kp}"
            with self.replaced(svm, ("kernel_matrix", "kernel_dot")):
                b = self.call("fit_bias", svm.fit_bias, X, y, alpha, dict(kp))
            if np.ndim(b) != 0 or not np.isrealobj(b) or isinstance(b, (str, bytes)):
                raise ContractError(f"fit_bias returned {type(b).__name__} of shape {np.shape(b)}, expected a real "
                                    f"number (input: {self.now})", None, "fit_bias")
            self.assert_close("fit_bias b", np.asarray(b, dtype=np.float64), REF.fit_bias(X, y, alpha, kp), diagnose=[
                ("the mean over every point (no support set)", REF.fit_bias(X, y, alpha, kp, -1.0), None),
                ("the support set alpha > 0", REF.fit_bias(X, y, alpha, kp, 0.0), None)])

    @check("decision_function", "h(x) = sum over alpha_m > 1e-4 of alpha_m y_m K(x_m, x) + b",
           "sum over the support vectors only (alpha_m > 1e-4) of alpha_m y_m K(x_m, x), plus b; returns (n,)")
    def test_decision_function(self):
        svm, rng = self.module("svm"), rng_for("decision_function")
        X_train, X = rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
        for kp in KERNELS:
            y = np.where(np.arange(7) % 2 == 0, -1.0, 1.0)
            alpha = rng.uniform(0.2, 1.5, 7)
            alpha[[2, 5]] = [0.0, 9e-5]
            b = float(rng.standard_normal())
            self.now = f"X_train (7, 3), X (5, 3), alpha with entries 0 and 9e-5, b={b:.3f}, {kp}"
            with self.replaced(svm, ("kernel_matrix", "kernel_dot")):
                out = self.call("decision_function", svm.decision_function, X, X_train, y, b, alpha, dict(kp))
            self.assert_close("decision_function", out, REF.decision_function(X, X_train, y, b, alpha, kp), diagnose=[
                ("the sum over every training point (no support set)",
                 REF.decision_function(X, X_train, y, b, alpha, kp, -1.0),
                 "sum only over the support vectors, alpha_m > 1e-4")])

    @check("CVXOPTSVC", "fit/predict against the course's provided fit (dense QP, default cvxopt options)",
           "the course's fit: y in {0, 1} -> {-1, +1}; get_qp_params -> cvxopt.solvers.qp(P, q, G, h, A, b) with "
           "show_progress=False; alpha = np.array(sol['x']).squeeze(1); support_ = alpha > 1e-4; b = fit_bias(...); "
           "predict = (decision_function >= 0) as {0, 1}")
    def test_cvxoptsvc(self):
        import cvxopt.solvers           # svm.py imports it too: were it missing, the import check says so
        svm, rng = self.module("svm"), rng_for("cvxoptsvc")
        X, y = blobs(rng, 40)
        X_test, y_test = blobs(rng, 30)
        y_pm = np.where(y == 1, 1.0, -1.0)
        real_qp, calls = cvxopt.solvers.qp, []

        def probing_qp(*args, **kwargs):
            sol = real_qp(*args, **kwargs)
            calls.append(1)
            sol["x"] = cvxopt.matrix(probe(np.array(sol["x"])).reshape(-1, 1))
            return sol

        for kernel, gamma, coef0, degree, C in (("rbf", 0.5, 0.0, 3, 1.0), ("poly", 0.3, 1.0, 3, 2.0),
                                                ("linear", 1.0, 0.0, 3, 0.5)):
            kp = {"kernel": kernel, "degree": degree, "gamma": gamma, "coef0": coef0}
            self.now = f"CVXOPTSVC(C={C}, kernel={kernel!r}, gamma={gamma}, coef0={coef0}) on 40 points, labels {{0, 1}}"
            model = self.call("CVXOPTSVC", svm.CVXOPTSVC, C=C, kernel=kernel, degree=degree, gamma=gamma, coef0=coef0)
            del calls[:]
            with self.replaced(svm, REFERENCE_HELPERS), mock.patch.object(cvxopt.solvers, "qp", probing_qp):
                self.call("CVXOPTSVC.fit", model.fit, X, y)
                scores = self.call("CVXOPTSVC.decision_function", model.decision_function, X_test)
                pred = self.call("CVXOPTSVC.predict", model.predict, X_test)
                accuracy = self.call("CVXOPTSVC.score", model.score, X_test, y_test)
            alpha_ref = REF.course_dual(X, y_pm, C, kp)
            if calls:
                alpha_ref = probe(alpha_ref)
                self.now += " (the solver's smallest alphas moved to 3e-5, 7e-5, 2e-4, 6e-4 to expose the threshold)"
            self._check_fit(model, alpha_ref, X, y_pm, kp, C)
            b = REF.fit_bias(X, y_pm, alpha_ref, kp)
            expected = REF.decision_function(X_test, X, y_pm, b, alpha_ref, kp)
            self.assert_close("CVXOPTSVC.decision_function", np.asarray(scores, dtype=np.float64), expected)
            pred = self.expect_array("CVXOPTSVC.predict", np.asarray(pred), (len(X_test),))
            wrong = np.flatnonzero((np.abs(expected) > 1e-6) & (pred != (expected >= 0).astype(int)))
            if wrong.size:
                raise CheckFailure(f"CVXOPTSVC.predict is wrong for {self.now}: {wrong.size} labels differ from "
                                   f"(decision_function >= 0) as {{0, 1}}", self.hint, "CVXOPTSVC")
            self.assert_close("CVXOPTSVC.score", np.asarray(accuracy, dtype=np.float64),
                              np.mean((expected >= 0).astype(int) == y_test))

    def _check_fit(self, model, alpha_ref, X, y_pm, kp, C):
        try:
            alpha = np.asarray(model.alpha, dtype=np.float64).reshape(-1)
        except (AttributeError, TypeError, ValueError):
            raise ContractError(f"CVXOPTSVC.alpha is missing or not a numeric array (input: {self.now})", None,
                                "CVXOPTSVC") from None
        self.assert_close("CVXOPTSVC.alpha", alpha, alpha_ref, tol=1e-6 * max(1.0, C))
        support = np.flatnonzero(alpha_ref > 1e-4)
        if hasattr(model, "support_"):
            got = np.sort(np.asarray(model.support_).reshape(-1))
            if got.shape != support.shape or np.any(got != support):
                extra, lost = sorted(set(got.tolist()) - set(support.tolist())), sorted(set(support.tolist()) - set(got.tolist()))
                raise CheckFailure(f"CVXOPTSVC.support_ is wrong for {self.now}: {len(got)} support vectors, "
                                   f"expected the {len(support)} with alpha > 1e-4 (extra {extra[:5]} with alpha "
                                   f"[{', '.join(f'{alpha_ref[i]:.3g}' for i in extra[:5])}], missing {lost[:5]})",
                                   "support_ = np.flatnonzero(alpha > 1e-4): the course's threshold", "CVXOPTSVC")
        self.assert_close("CVXOPTSVC.b", np.asarray(getattr(model, "b", None), dtype=np.float64),
                          REF.fit_bias(X, y_pm, alpha_ref, kp), diagnose=[(
                              "the bias over alpha > 1e-5", REF.fit_bias(X, y_pm, alpha_ref, kp, 1e-5),
                              "the support set is alpha > 1e-4")])

    # -- advice ----------------------------------------------------------------------------------------
    @check("CVXOPTSVC", "against scikit-learn's SVC (optional oracle)",
           "alpha should match SVC's |dual_coef_| on its support vectors (same QP, another solver)")
    @advice("scikit-learn's SVC solves the same dual with another solver: a different alpha means a different QP")
    def test_cvxoptsvc_sklearn(self):
        sklearn_svm, svm, rng = self.optional("sklearn.svm", "the scikit-learn SVC oracle"), self.module("svm"), \
            rng_for("cvxoptsvc sklearn")
        X, y = blobs(rng, 60, shift=1.0)
        self.now = "CVXOPTSVC(C=1.0, kernel='rbf', gamma=0.5) on 60 points vs sklearn.svm.SVC"
        model = self.call("CVXOPTSVC", svm.CVXOPTSVC, C=1.0, kernel="rbf", gamma=0.5)
        self.call("CVXOPTSVC.fit", model.fit, X, y)
        svc = sklearn_svm.SVC(C=1.0, kernel="rbf", gamma=0.5, tol=1e-8).fit(X, y)
        alpha_svc = np.zeros(len(y))
        alpha_svc[svc.support_] = np.abs(svc.dual_coef_[0])
        # cvxopt's default tolerances (the course's) leave alpha ~1e-3 from libsvm's; a wrong QP is off by O(C).
        self.assert_close("CVXOPTSVC.alpha", np.asarray(model.alpha, dtype=np.float64).reshape(-1), alpha_svc, tol=1e-2)


if __name__ == "__main__":
    from grading.runner import main
    sys.exit(main(["svm", *sys.argv[1:]]))
