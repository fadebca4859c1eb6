"""Fully connected, ReLU and softmax-loss layers (provided by the course; forward returns (out, cache),
backward takes that cache). Same results as the course's versions on valid input, with clear errors on
bad input."""
import numpy as np


def hello():
    print("Hello from layers.py!")


def _check_real_array(name, value, ndim=None, min_ndim=None):
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {value.shape}")


def fc_forward(x, w, b):
    """Fully connected (affine) layer: out = x w + b.

    Inputs:
    - x: (N, d_1, ..., d_k) input with N >= 1; each example is flattened to d_in = d_1 * ... * d_k values
      (the course's version expects (N, d_in) already).
    - w: (d_in, d_out) weights.
    - b: (d_out,) biases.

    Returns a tuple of:
    - out: (N, d_out).
    - cache: (x, w, b).
    """
    _check_real_array("x", x, min_ndim=2)
    _check_real_array("w", w, ndim=2)
    _check_real_array("b", b, ndim=1)
    if x.shape[0] == 0:
        raise ValueError(f"fc_forward: x must hold at least one example, got shape {x.shape}")
    x_rows = x.reshape(x.shape[0], -1)
    if x_rows.shape[1] != w.shape[0] or b.shape[0] != w.shape[1]:
        raise ValueError(f"fc_forward: x flattens to {x_rows.shape}, w is {w.shape} and b is {b.shape}; "
                         f"expected x (N, d_in), w (d_in, d_out), b (d_out,)")
    out = x_rows @ w + b
    return out, (x, w, b)


def fc_backward(dout, cache):
    """Backward pass of fc_forward.

    Inputs:
    - dout: (N, d_out) upstream gradient.
    - cache: (x, w, b) from fc_forward.

    Returns a tuple of:
    - dx: shaped like x; dw: (d_in, d_out); db: (d_out,).
    """
    x, w, b = cache
    _check_real_array("dout", dout, ndim=2)
    if dout.shape != (x.shape[0], w.shape[1]):
        raise ValueError(f"fc_backward: dout must have shape {(x.shape[0], w.shape[1])}, got {dout.shape}")
    x_rows = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x_rows.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU: out = max(x, 0) elementwise.

    Inputs: x, an array of any shape. Returns (out, cache): out shaped like x; cache x.
    """
    _check_real_array("x", x)
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """Backward pass of relu_forward: the gradient passes where x > 0.

    Inputs: dout, upstream gradient shaped like x; cache x from relu_forward. Returns dx shaped like x.
    """
    x = cache
    _check_real_array("dout", dout)
    if dout.shape != x.shape:
        raise ValueError(f"relu_backward: dout must have the shape of x {x.shape}, got {dout.shape}")
    return np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)


def softmax_loss(x, y):
    """Mean softmax cross-entropy loss and its gradient.

    Inputs:
    - x: (N, C) class scores, finite (each row is shifted by its maximum, so any magnitude is fine).
    - y: (N,) integer labels with 0 <= y[i] < C.

    Returns a tuple of:
    - loss: NumPy scalar of x's floating dtype, -sum_i log softmax(x_i)[y_i] / N.
    - dx: (N, C) gradient of the loss with respect to x.
    """
    _check_real_array("x", x, ndim=2)
    _check_real_array("y", y, ndim=1)
    N, C = x.shape
    if N == 0 or C == 0:
        raise ValueError(f"softmax_loss: x must hold at least one row of at least one score, got shape {x.shape}")
    if y.shape[0] != N:
        raise ValueError(f"softmax_loss: y has shape {y.shape}, expected ({N},) to match x {x.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"softmax_loss: y must hold integer labels, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= C:
        raise ValueError(f"softmax_loss: labels must lie in [0, {C - 1}], got range [{y.min()}, {y.max()}]")
    if not np.all(np.isfinite(x)):
        raise ValueError("softmax_loss: x holds NaN or infinite scores (diverged training? lower the learning rate)")
    shifted = x - x.max(axis=1, keepdims=True)
    exp_shifted = np.exp(shifted)
    normalizers = exp_shifted.sum(axis=1, keepdims=True)
    rows = np.arange(N)
    loss = -np.sum(shifted[rows, y] - np.log(normalizers[:, 0])) / N
    dx = exp_shifted / normalizers          # softmax probabilities
    dx[rows, y] -= 1
    dx /= N
    return loss, dx
