"""Fully connected, ReLU and softmax-loss layers (forward returns (out, cache); backward takes the cache)."""
import numpy as np


def hello():
    print("Hello from layers.py!")


def _require_array(name, value, ndim=None, min_ndim=None):
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {value.shape}")


def fc_forward(x, w, b):
    """Fully connected (affine) layer: out = x w + b.

    Inputs:
    - x: (N, d_1, ..., d_k) input; each example is flattened to d_in = d_1 * ... * d_k values.
    - w: (d_in, d_out) weights.
    - b: (d_out,) biases.

    Returns (out, cache): out (N, d_out); cache (x, w, b).
    """
    _require_array("x", x, min_ndim=2)
    _require_array("w", w, ndim=2)
    _require_array("b", b, ndim=1)
    x_rows = x.reshape(x.shape[0], -1)
    if x_rows.shape[1] != w.shape[0] or b.shape[0] != w.shape[1]:
        raise ValueError(f"fc_forward: x flattens to {x_rows.shape}, w is {w.shape} and b is {b.shape}; "
                         f"expected x (N, d_in), w (d_in, d_out), b (d_out,)")
    out = x_rows @ w + b
    return out, (x, w, b)


def fc_backward(dout, cache):
    """Backward pass of fc_forward.

    Inputs: dout (N, d_out) upstream gradient; cache (x, w, b) from fc_forward.
    Returns (dx, dw, db): dx shaped like x, dw (d_in, d_out), db (d_out,).
    """
    x, w, b = cache
    x_rows = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x_rows.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU: out = max(x, 0) elementwise. Returns (out, cache) with cache x."""
    _require_array("x", x)
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """Backward pass of relu_forward: the gradient passes where x > 0. Returns dx shaped like x."""
    x = cache
    return np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)


def softmax_loss(x, y):
    """Mean softmax cross-entropy loss and its gradient.

    Inputs:
    - x: (N, C) class scores (any finite magnitude: scores are shifted by their row maximum).
    - y: (N,) integer labels with 0 <= y[i] < C.

    Returns (loss, dx): loss a float, dx (N, C) the gradient of the loss with respect to x.
    """
    _require_array("x", x, ndim=2)
    _require_array("y", y, ndim=1)
    N, C = x.shape
    if N == 0:
        raise ValueError("softmax_loss: x is an empty batch (N = 0)")
    if y.shape[0] != N:
        raise ValueError(f"softmax_loss: y has shape {y.shape}, expected ({N},) to match x {x.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"softmax_loss: y must hold integer labels, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= C:
        raise ValueError(f"softmax_loss: labels must lie in [0, {C - 1}], got range [{y.min()}, {y.max()}]")
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, y].mean()
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    return float(loss), dx
