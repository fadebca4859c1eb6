"""Course-style layers.py (the helper file the course provides, written plainly): fully connected, ReLU and
softmax loss. Like the course's, fc_forward does not flatten its input: x must already be (N, D).

Part of tests/naive/: deliberately naive implementations of the course API, used as the autograder's
reference layers and as the base copy of the bug catalogue (tests/grading_cases/).
"""
import numpy as np


def fc_forward(x, w, b):
    """Fully connected layer: out = x w + b.

    Inputs: x (N, D), w (D, M), b (M,).
    Returns (out, cache): out (N, M); cache (x, w, b).
    """
    out = x.dot(w) + b
    cache = (x, w, b)
    return out, cache


def fc_backward(dout, cache):
    """Backward pass of fc_forward.

    Inputs: dout (N, M); cache (x, w, b).
    Returns (dx, dw, db): dx (N, D), dw (D, M), db (M,).
    """
    x, w, b = cache
    dx = dout.dot(w.T)
    dw = x.T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU: out = max(0, x). Returns (out, cache) with cache x."""
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of relu_forward: dx = dout where x > 0, else 0."""
    x = cache
    dx = dout * (x > 0)
    return dx


def softmax_loss(x, y):
    """Mean softmax cross-entropy.

    Inputs: x (N, C) scores; y (N,) labels in [0, C).
    Returns (loss, dx): loss a NumPy scalar, dx (N, C).
    """
    shifted = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
