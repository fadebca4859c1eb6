"""Fully connected, ReLU and softmax-loss layers (provided by the course; forward returns (out, cache),
backward takes that cache). Same results as the course's versions on valid input, with clear errors on
bad input. As in the course's file, fc_forward takes x of shape (N, d_in): callers flatten images first."""
import numpy as np


def hello():
    print("Hello from layers.py!")


def _check_array(name, value, dims=None):
    """TypeError unless value is an ndarray of real numbers; ValueError unless it has one axis per name in dims."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numpy array of real numbers, got "
                        f"{getattr(value, 'dtype', type(value).__name__)}")
    if dims is not None and value.ndim != len(dims):
        raise ValueError(f"{name} must have shape ({', '.join(dims)}), got shape {value.shape}")


def fc_forward(x, w, b):
    """Fully connected (affine) layer: out = x w + b.

    Inputs:
    - x: (N, d_in) input with N >= 1 (not flattened here, as in the course's code).
    - w: (d_in, d_out) weights.
    - b: (d_out,) biases.

    Returns a tuple of:
    - out: (N, d_out).
    - cache: (x, w, b).
    """
    _check_array("x", x, ("N", "d_in"))
    _check_array("w", w, ("d_in", "d_out"))
    _check_array("b", b, ("d_out",))
    if x.shape[0] == 0 or x.shape[1] != w.shape[0] or b.shape != (w.shape[1],):  # b (1,) would broadcast
        raise ValueError(f"fc_forward: expected x (N, d_in) with N >= 1, w (d_in, d_out) and b (d_out,), got "
                         f"x {x.shape}, w {w.shape} and b {b.shape}")
    return x @ w + b, (x, w, b)


def fc_backward(dout, cache):
    """Backward pass of fc_forward.

    Inputs:
    - dout: (N, d_out) upstream gradient.
    - cache: (x, w, b) from fc_forward.

    Returns a tuple of:
    - dx: (N, d_in); dw: (d_in, d_out); db: (d_out,).
    """
    x, w, b = cache
    _check_array("dout", dout, ("N", "d_out"))
    if dout.shape != (x.shape[0], w.shape[1]):
        raise ValueError(f"fc_backward: dout must have shape {(x.shape[0], w.shape[1])}, got {dout.shape}")
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    """ReLU: out = max(x, 0) elementwise.

    Inputs: x, an array of any shape. Returns (out, cache): out shaped like x; cache x.
    """
    _check_array("x", x)
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """Backward pass of relu_forward: the gradient passes where x > 0.

    Inputs: dout, upstream gradient shaped like x; cache x from relu_forward. Returns dx shaped like x.
    """
    x = cache
    _check_array("dout", dout)
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
    _check_array("x", x, ("N", "C"))
    _check_array("y", y, ("N",))
    N, C = x.shape
    if N == 0 or C == 0 or y.shape[0] != N:
        raise ValueError(f"softmax_loss: x (N, C) must hold at least one row of at least one score and y (N,) "
                         f"one label per row, got x {x.shape} and y {y.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"softmax_loss: y must hold integer labels, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= C:   # a negative label would silently pick a score from the end of the row
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
