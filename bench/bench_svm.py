"""Benchmark: CVXOPTSVC(kernel='rbf').fit on its two paths vs scikit-learn's SVC.

    .venv/bin/python bench/bench_svm.py [--repeats 5] [--sizes 60 500 1000 2000] [--textbook-max-n 2000]

'structured' is CVXOPTSVC(solver='structured') (svm_qp.py: sparse G, box-structured KKT solver, low-rank factor
when K allows it); 'textbook' is CVXOPTSVC(solver='textbook'), the course's provided fit (dense get_qp_params
matrices straight into cvxopt.solvers.qp, default options), which the default solver='auto' runs up to
svm.TEXTBOOK_MAX_N = 500 points (n = 60 is the notebook's course size).

Problem: two overlapping Gaussian blobs in 2-D (centers (-1.5, 0) and (1.5, 0), unit variance, n/2 points
each, seed 0), RBF kernel gamma=0.5, C=1. Both sides run with 1 BLAS thread; ours and SVC take turns in
every repeat (a busy machine slows both alike); times are medians over the repeats after one warm-up, as
wall time and as CPU time of this process (less sensitive to other jobs on the machine).

Accuracy columns: max |alpha - alpha_SVC| against SVC(tol=1e-6) (the issue's reference) and against
SVC(tol=1e-12) (a tighter libsvm solution); 'ref err' is max |alpha_SVC(1e-6) - alpha_SVC(1e-12)|, the
reference's own error. 'KKT gap' is libsvm's optimality measure max_up(-y grad) - min_low(-y grad) (bounds
detected at 1e-6 C; <= 0 at the exact optimum) for the structured alpha and for SVC(tol=1e-12)'s: libsvm caches
kernel values in single precision, which limits its own accuracy on these ill-conditioned duals.
'grid' counts prediction differences with SVC on a 10 x 10 grid over the data.
The textbook path is timed with the same repeats up to n = 500 and once above (it takes seconds there), only
up to --textbook-max-n; its accuracy is its max |alpha - SVC(1e-12)| (cvxopt's default tolerances).
A second table repeats the accuracy comparison at n=2000 over seeds and two blob separations (structured path).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import svm  # noqa: E402
from hw4 import svm_qp  # noqa: E402

GAMMA, C = 0.5, 1.0


def blobs(n, seed=0, shift=1.5):
    """Two overlapping Gaussian blobs: labels {0, 1}, centers (-shift, 0) and (shift, 0), unit variance."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], [n // 2, n - n // 2])
    X = rng.standard_normal((n, 2))
    X[:, 0] += np.where(y == 1, shift, -shift)
    return X, y


def svc_alpha(model, n):
    alpha = np.zeros(n)
    alpha[model.support_] = np.abs(model.dual_coef_.ravel())
    return alpha


def kkt_gap(alpha, P, y_pm):
    """libsvm's maximal violating pair gap of a dual point, in float64 (0 at an exact optimum): the measure
    svm_qp uses to rank its attempts (alpha clipped to [0, C], bounds detected at 1e-6 C)."""
    return svm_qp._kkt_violation(alpha, P, y_pm, C)[0]


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def grid_points(X, side=10):
    lo, hi = X.min(axis=0), X.max(axis=0)
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], side), np.linspace(lo[1], hi[1], side))
    return np.c_[g0.ravel(), g1.ravel()]


def textbook_fit(X, y, repeats):
    """The course's fit, CVXOPTSVC(solver='textbook'): (median wall seconds over repeats, fitted model)."""
    model = svm.CVXOPTSVC(kernel="rbf", gamma=GAMMA, C=C, solver="textbook")
    times = [timed(lambda: model.fit(X, y))[1] for _ in range(repeats)]
    return statistics.median(times), model


def bench_size(n, repeats, textbook_max_n):
    X, y = blobs(n)
    ours_model = svm.CVXOPTSVC(kernel="rbf", gamma=GAMMA, C=C, solver="structured")
    ref_model = SVC(kernel="rbf", gamma=GAMMA, C=C, tol=1e-6)
    ours_model.fit(X, y), ref_model.fit(X, y)                         # warm-up
    ours_wall, ours_cpu, ref_wall, ref_cpu = [], [], [], []
    for _ in range(repeats):
        _, wall, cpu = timed(lambda: ours_model.fit(X, y))
        ours_wall.append(wall), ours_cpu.append(cpu)
        _, wall, cpu = timed(lambda: ref_model.fit(X, y))
        ref_wall.append(wall), ref_cpu.append(cpu)
    tight = SVC(kernel="rbf", gamma=GAMMA, C=C, tol=1e-12).fit(X, y)
    alpha, alpha_ref, alpha_tight = ours_model.alpha, svc_alpha(ref_model, n), svc_alpha(tight, n)
    grid = grid_points(X)
    y_pm = np.where(y == 1, 1.0, -1.0)
    P = np.outer(y_pm, y_pm) * svm.kernel_matrix(X, X, {"kernel": "rbf", "gamma": GAMMA})
    info = ours_model.solver_info_
    row = {
        "n": n, "ours": statistics.median(ours_wall), "ours_cpu": statistics.median(ours_cpu),
        "svc": statistics.median(ref_wall), "svc_cpu": statistics.median(ref_cpu),
        "d6": np.abs(alpha - alpha_ref).max(), "d12": np.abs(alpha - alpha_tight).max(),
        "ref_err": np.abs(alpha_ref - alpha_tight).max(),
        "grid": int(np.sum(ours_model.predict(grid) != ref_model.predict(grid))),
        "gap": kkt_gap(alpha, P, y_pm), "gap_ref": kkt_gap(alpha_tight, P, y_pm),
        "path": f"{info['solver']} r={info['rank']} it={info['iterations']} {info['status']}",
        "textbook": None,
    }
    if n <= textbook_max_n:
        seconds, textbook = textbook_fit(X, y, repeats if n <= svm.TEXTBOOK_MAX_N else 1)
        row["textbook"] = seconds
        row["textbook_d"] = np.abs(textbook.alpha - alpha_tight).max()
        row["textbook_status"] = textbook.solver_info_["status"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 500, 1000, 2000])
    parser.add_argument("--textbook-max-n", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=5, help="seeds in the accuracy table at n=2000 (0 skips it)")
    args = parser.parse_args()

    with threadpool_limits(1):
        print(f"RBF gamma={GAMMA}, C={C}, two blobs at (+-1.5, 0); 1 BLAS thread; median of {args.repeats} "
              "(wall / CPU seconds)")
        print("structured = CVXOPTSVC(solver='structured'); textbook = CVXOPTSVC(solver='textbook'), the course's "
              f"fit; solver='auto' picks textbook up to n = {svm.TEXTBOOK_MAX_N}")
        header = (f"{'n':>5} {'struct wall':>11} {'cpu':>7} {'SVC wall':>8} {'SVC cpu':>7} {'ratio':>6} "
                  f"{'|da| 1e-6':>9} {'|da| 1e-12':>10} {'ref err':>8} {'KKT gap ours/SVC':>17} {'grid':>4} "
                  f"{'textbook':>9}  path")
        print(header)
        for n in args.sizes:
            r = bench_size(n, args.repeats, args.textbook_max_n)
            textbook = f"{r['textbook']:8.4f}s" if r["textbook"] is not None else f"{'-':>9}"
            print(f"{r['n']:5d} {r['ours']:10.4f}s {r['ours_cpu']:6.3f}s {r['svc']:7.4f}s {r['svc_cpu']:6.3f}s "
                  f"{r['ours'] / r['svc']:5.1f}x {r['d6']:9.1e} {r['d12']:10.1e} {r['ref_err']:8.1e} "
                  f"{r['gap']:8.1e}/{r['gap_ref']:8.1e} {r['grid']:4d} {textbook}  {r['path']}")
            if r["textbook"] is not None:
                print(f"{'':5} textbook (course) fit: {r['textbook']:.4f}s = {r['textbook'] / r['ours']:.1f}x the "
                      f"structured path, {r['textbook'] / r['svc']:.1f}x SVC; status {r['textbook_status']}, "
                      f"max |alpha - SVC(1e-12)| = {r['textbook_d']:.1e}")

        if args.seeds:
            print("\nAccuracy at n=2000 over seeds: max |alpha - SVC(tol)| for tol 1e-6 / 1e-12, and the "
                  "reference's own error |SVC(1e-6) - SVC(1e-12)|")
            for shift in (1.5, 1.0):
                cells = []
                for seed in range(args.seeds):
                    X, y = blobs(2000, seed=seed, shift=shift)
                    alpha = svm.CVXOPTSVC(kernel="rbf", gamma=GAMMA, C=C, solver="structured").fit(X, y).alpha
                    a6 = svc_alpha(SVC(kernel="rbf", gamma=GAMMA, C=C, tol=1e-6).fit(X, y), 2000)
                    a12 = svc_alpha(SVC(kernel="rbf", gamma=GAMMA, C=C, tol=1e-12).fit(X, y), 2000)
                    cells.append(f"{np.abs(alpha - a6).max():.1e}/{np.abs(alpha - a12).max():.1e}"
                                 f"/{np.abs(a6 - a12).max():.1e}")
                print(f"  centers (+-{shift}, 0): " + "  ".join(cells))


if __name__ == "__main__":
    main()
