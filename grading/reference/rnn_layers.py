"""The kit's reference rnn_layers.py: the course's API and cache layouts (time-major RNN: x (T, N, D),
h (T, N, H)). word_embedding_forward is W[x], so it takes ids of any shape (N, T) or (N,), as the course's."""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """next_h = tanh(x Wx + prev_h Wh + b); x (N, D), prev_h (N, H); cache (x, prev_h, Wx, Wh, next_h)."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """(dx, dprev_h, dWx, dWh, db) of one step."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """Hidden states h (T, N, H) of the sequence x (T, N, D) from h0 (N, H); cache: the step caches."""
    states, caches, prev = [], [], h0
    for x_t in x:
        prev, step_cache = rnn_step_forward(x_t, prev, Wx, Wh, b)
        states.append(prev)
        caches.append(step_cache)
    return np.stack(states), caches


def rnn_backward(dh, cache):
    """(dx, dh0, dWx, dWh, db) of rnn_forward for upstream dh (T, N, H): backpropagation through time."""
    dx, dprev = [], 0
    dWx = dWh = db = 0
    for t in reversed(range(len(cache))):
        dx_t, dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[t] + dprev, cache[t])
        dx.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx[::-1]), dprev, dWx, dWh, db


def word_embedding_forward(x, W):
    """out = W[x]: the word vectors of integer ids x (any shape); cache (x, W)."""
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    """dW (V, D): dout summed over every position holding each word."""
    x, W = cache
    dW = np.zeros(W.shape, dtype=np.result_type(W, dout))
    np.add.at(dW, x, dout)
    return dW


def temporal_fc_forward(x, w, b):
    """out[n, t] = x[n, t] w + b for x (N, T, D); cache (x, w, b, out)."""
    out = x @ w + b
    return out, (x, w, b, out)


def temporal_fc_backward(dout, cache):
    """(dx, dw, db) of temporal_fc_forward for dout (N, T, M)."""
    x, w, _, _ = cache
    return dout @ w.T, np.einsum("ntd,ntm->dm", x, dout), dout.sum(axis=(0, 1))


def temporal_softmax_loss(x, y, mask):
    """Masked cross-entropy of scores x (N, T, V) for targets y (N, T), summed over steps, divided by N."""
    N = x.shape[0]
    shifted = x - x.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None], axis=2)[..., 0]
    loss = -np.sum(picked * mask) / N
    dx = np.exp(log_probs)
    np.put_along_axis(dx, y[..., None], np.take_along_axis(dx, y[..., None], axis=2) - 1, axis=2)
    return loss, dx * mask[..., None] / N
