"""The course's provided layers (fc, ReLU, softmax loss) as the kit's reference: what the course's layers.py
computes, on the inputs the course's layers.py accepts. fc_forward does not flatten: x is (N, d_in)."""
import numpy as np


def fc_forward(x, w, b):
    """out = x w + b for x (N, d_in), w (d_in, d_out), b (d_out,); cache (x, w, b)."""
    return x @ w + b, (x, w, b)


def fc_backward(dout, cache):
    """(dx, dw, db) of fc_forward for dout (N, d_out)."""
    x, w, _ = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    """out = max(x, 0); cache x."""
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """dx = dout where the input was positive, else 0."""
    return dout * (cache > 0)


def softmax_loss(x, y):
    """Mean cross-entropy of scores x (N, C) for labels y (N,): (loss as a NumPy scalar, dx (N, C))."""
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N
