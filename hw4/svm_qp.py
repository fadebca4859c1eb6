"""Structured KKT solver for the soft-margin SVM dual: what `svm.CVXOPTSVC(solver='structured')` runs, and
what its default picks above `svm.TEXTBOOK_MAX_N` training points.

The dual (homework Eq. 1) as a cvxopt QP is  min 1/2 a'Pa - 1'a  s.t.  [-I; I] a <= [0; C],  y'a = 0,  with
P = (y y') * K. The course's textbook solve (svm.py) hands cvxopt the dense (2n, n) G and lets cvxopt's default
KKT solver factor an n x n system per iteration on cvxopt's bundled BLAS, which is slow on large n. Here:

- G is a sparse ``spmatrix`` and cvxopt gets a custom ``kktsolver`` (``_BoxKKTSolver``) that uses G = [-I; I]:
  each interior-point iteration needs only the factorization of H = P + D (D diagonal, from cvxopt's scaling W)
  bordered by the single equality row y', done with NumPy/SciPy.
- When K has low numerical rank (RBF on low-dimensional data, linear, polynomial) P is replaced by its
  pivoted-Cholesky factor V V' (max entry error <= 1e-13 * max K_ii) and each factorization costs O(n r^2)
  instead of O(n^3) (``_LowRankSolve``).
- If that solver fails (e.g. an indefinite sigmoid Gram matrix), the solve retries with a regularized one and
  then with cvxopt's own LDL solver.

Needs NumPy and cvxopt; SciPy (the custom KKT solver; without it cvxopt's default solver runs) and threadpoolctl
(one BLAS thread during the solve) when installed. svm.py uses this module only when it is importable.
"""
import contextlib
import time
import warnings

import numpy as np
from cvxopt import matrix as cvxopt_matrix
from cvxopt import solvers as cvxopt_solvers
from cvxopt import spmatrix as cvxopt_spmatrix

try:  # the fast KKT solver needs triangular solves; without SciPy the solve uses cvxopt's own solvers
    from scipy.linalg import LinAlgError as _ScipyLinAlgError
    from scipy.linalg import cho_factor as _cho_factor
    from scipy.linalg import cho_solve as _cho_solve
    from scipy.linalg import solve_triangular as _solve_triangular
    _HAVE_SCIPY = True
except ImportError:  # pragma: no cover - exercised in a subprocess test
    _ScipyLinAlgError = np.linalg.LinAlgError
    _HAVE_SCIPY = False

try:
    from threadpoolctl import threadpool_limits as _threadpool_limits
except ImportError:  # pragma: no cover
    _threadpool_limits = None

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


def solve_dual(K, y, C, *, method="auto"):
    """Solve the SVM dual with cvxopt.solvers.qp on the fast path, with fallbacks.

    Inputs:
    - K: (n, n) Gram matrix; y: (n,) labels in {-1, +1}; C > 0.
    - method: 'auto' (low-rank factor when K allows it, else dense), 'dense', 'lowrank' (as auto, but the
      low-rank factor is required), 'cvxopt' (cvxopt's default KKT solver, no custom solver).

    Attempts, in order, until one reports 'optimal': the box KKT solver; the box solver on P + eps I
    (regularized); cvxopt's LDL solver with kktreg (the last two with FALLBACK_TOLERANCES). Without SciPy (or
    with method='cvxopt') the first two are replaced by cvxopt's default solver. A failing attempt (exception)
    moves on to the next one.

    Returns (alpha, info): alpha (n,) float64; info dict with 'status', 'iterations', 'solver' (the attempt
    that produced alpha), 'attempts' (list of (solver, status or error)), 'rank' (of the low-rank factor or
    None), 'factorizations', 'kkt' (pair gap, |y'alpha|, box violation), 'seconds'.
    A final status other than 'optimal' is only reported in info (CVXOPTSVC.fit turns it into a UserWarning).
    """
    if method not in ("auto", "dense", "lowrank", "cvxopt"):
        raise ValueError(f"method must be 'auto', 'dense', 'lowrank' or 'cvxopt', got {method!r}")
    start = time.perf_counter()
    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with _blas_threads(SOLVE_BLAS_THREADS):
        P = np.outer(y, y) * K
        V = _lowrank_factor(K, y, method)
        alpha, info = _run_attempts(P, y, float(C), _attempt_list(P, y, V, method))
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


def _run_attempts(P, y, C, attempts):
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
                                    options=dict(SOLVER_OPTIONS, **extra))
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
    info = {"status": sol["status"], "iterations": sol["iterations"], "solver": name, "attempts": log,
            "factorizations": getattr(kktsolver, "factorizations", None), "kkt": kkt}
    return alpha, info


def kkt_midpoint_bias(K, y, alpha, C):
    """Bias when no alpha exceeds 1e-4 (e.g. C < 1e-4): the midpoint of the b interval the KKT conditions allow.

    Inputs: K (n, n) Gram matrix; y (n,) labels -1/+1; alpha (n,) dual solution; C > 0. Returns float.
    With f_i = sum_m alpha_m y_m K_mi, points at alpha_i ~ 0 need y_i (f_i + b) >= 1 and points at the upper
    bound need y_i (f_i + b) <= 1; the course's formula (a mean over alpha > 1e-4) is undefined here, so this
    warns (RuntimeWarning) and uses the midpoint.
    """
    warnings.warn(f"no alpha exceeds 1e-4: the course bias is undefined; using the KKT midpoint (C = {C:g}, "
                  f"max |K| = {np.abs(K).max(initial=0.0):.1e}; if the data are badly scaled, standardize X)",
                  RuntimeWarning, stacklevel=3)
    f = K @ (alpha * y)
    at_upper = alpha > 0.5 * C
    target = y - f                       # b such that y_i (f_i + b) = 1
    lower = np.concatenate([target[(y > 0) & ~at_upper], target[(y < 0) & at_upper]])
    upper = np.concatenate([target[(y < 0) & ~at_upper], target[(y > 0) & at_upper]])
    lo = lower.max() if lower.size else (upper.min() if upper.size else 0.0)
    hi = upper.min() if upper.size else lo
    return float(0.5 * (lo + hi))
