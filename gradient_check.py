"""Numerical gradients by centered differences (CS231n lineage), for checking analytic backward passes."""
import numpy as np


def rel_error(x, y):
    """Maximum relative error between two arrays: max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _check_probe_array(x):
    # Probing writes x[ix] + h into x itself: an integer array would round it away and return garbage.
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"x must be a floating-point numpy array (it is perturbed in place by h), got "
                        f"{getattr(x, 'dtype', type(x).__name__)}; convert it with x.astype(np.float64)")


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function ``f`` at ``x``.

    Inputs:
    - f: callable taking the array x (modified in place while probing) and returning a float.
    - x: float array of any shape, restored to its original values on return.
    - verbose: print each coordinate's gradient.
    - h: step of the centered difference.

    Returns grad, an array shaped like x.
    """
    _check_probe_array(x)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient of ``sum(f(x) * df)`` for an array-valued ``f``.

    Inputs:
    - f: callable taking x and returning an array shaped like df.
    - x: float array, restored on return.
    - df: upstream gradient, shaped like f(x).

    Returns grad, an array shaped like x.
    """
    _check_probe_array(x)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        # Differences before the sum: sum(pos * df) - sum(neg * df) would cancel catastrophically.
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad
