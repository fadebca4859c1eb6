"""A deliberately naive rnn_layers.py (Q2), written the way a careful student would: one step at a time, plain
loops, and rnn_forward's cache shaped like the course's reference (h0, {t: step cache}, N, T, D, H).

Used as the autograder's reference layers, by `HW4_IMPL_DIR=tests/naive pytest -m course`, and as the base copy
that the bug catalogue (tests/grading_cases/) mutates. Needs only NumPy.
"""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a vanilla tanh RNN: next_h = tanh(x Wx + prev_h Wh + b).

    Inputs: x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,).
    Returns (next_h, cache): next_h (N, H); cache (x, prev_h, Wx, Wh, next_h).
    """
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass of rnn_step_forward.

    Inputs: dnext_h (N, H); cache from rnn_step_forward.
    Returns (dx, dprev_h, dWx, dWh, db): (N, D), (N, H), (D, H), (H, H), (H,).
    """
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)          # tanh'(a) = 1 - tanh(a)^2
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = np.sum(da, axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over whole sequences (time-major).

    Inputs: x (T, N, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,).
    Returns (h, cache): h (T, N, H); cache (h0, {t: step cache}, N, T, D, H).
    """
    T, N, D = x.shape
    H = h0.shape[1]
    h = np.zeros((T, N, H), dtype=np.result_type(x, h0, Wx, Wh, b))
    step_caches = {}
    prev_h = h0
    for t in range(T):
        prev_h, step_caches[t] = rnn_step_forward(x[t], prev_h, Wx, Wh, b)
        h[t] = prev_h
    cache = (h0, step_caches, N, T, D, H)
    return h, cache


def rnn_backward(dh, cache):
    """Backward pass of rnn_forward.

    Inputs: dh (T, N, H), the upstream gradient of every hidden state (not including the gradient that
    reaches h[t] through h[t + 1]); cache from rnn_forward.
    Returns (dx, dh0, dWx, dWh, db): (T, N, D), (N, H), (D, H), (H, H), (H,).
    """
    h0, step_caches, N, T, D, H = cache
    dtype = np.result_type(dh, h0)
    dx = np.zeros((T, N, D), dtype=dtype)
    dWx = np.zeros((D, H), dtype=dtype)
    dWh = np.zeros((H, H), dtype=dtype)
    db = np.zeros(H, dtype=dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[t] + dprev_h, step_caches[t])
        dx[t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db


def word_embedding_forward(x, W):
    """Word vectors of integer ids.

    Inputs: x (N, T) integer ids in [0, V); W (V, D).
    Returns (out, cache): out (N, T, D) with out[n, t] = W[x[n, t]]; cache (x, W).
    """
    N, T = x.shape
    V, D = W.shape
    out = np.zeros((N, T, D), dtype=W.dtype)
    for n in range(N):
        for t in range(T):
            out[n, t] = W[x[n, t]]
    cache = (x, W)
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass of word_embedding_forward: dW (V, D); a word used several times adds up its gradients."""
    x, W = cache
    N, T = x.shape
    dW = np.zeros(W.shape, dtype=np.result_type(W, dout))
    for n in range(N):
        for t in range(T):
            dW[x[n, t]] += dout[n, t]
    return dW


def temporal_fc_forward(x, w, b):
    """A fully connected layer applied at every time step: out[n, t] = x[n, t] w + b.

    Inputs: x (N, T, D), w (D, M), b (M,).
    Returns (out, cache): out (N, T, M); cache (x, w, b, out).
    """
    N, T, D = x.shape
    M = b.shape[0]
    out = np.zeros((N, T, M), dtype=np.result_type(x, w, b))
    for t in range(T):
        out[:, t, :] = x[:, t, :].dot(w) + b
    cache = (x, w, b, out)
    return out, cache


def temporal_fc_backward(dout, cache):
    """Backward pass of temporal_fc_forward.

    Inputs: dout (N, T, M); cache (x, w, b, out).
    Returns (dx, dw, db): (N, T, D), (D, M), (M,).
    """
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dtype = np.result_type(x, w, dout)
    dx = np.zeros((N, T, D), dtype=dtype)
    dw = np.zeros((D, M), dtype=dtype)
    db = np.zeros(M, dtype=dtype)
    for t in range(T):
        dx[:, t, :] = dout[:, t, :].dot(w.T)
        dw += x[:, t, :].T.dot(dout[:, t, :])
        db += np.sum(dout[:, t, :], axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    """The course's temporal softmax loss (provided code): masked cross-entropy summed over time, averaged
    over N.

    Inputs: x (N, T, V) scores; y (N, T) target ids; mask (N, T) booleans.
    Returns (loss, dx): loss a NumPy scalar; dx (N, T, V).
    """
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)

    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    dx = dx_flat.reshape(N, T, V)
    return loss, dx
