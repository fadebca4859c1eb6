"""Layers for recurrent captioning networks: a vanilla tanh RNN, word embeddings, a temporal
fully-connected layer and a masked temporal softmax loss.

Conventions (CS231n lineage):
- ``rnn_forward`` / ``rnn_backward`` are **time-major**: sequences are (T, N, ...).
- The embedding, temporal FC and softmax loss are **batch-major**: (N, T, ...).
- Every ``*_forward`` returns ``(out, cache)``; the cache holds exactly the contents documented in its
  docstring, in that order, so the matching ``*_backward`` also works on a cache built by hand.
- Nothing here modifies its input arrays. Bad shapes or dtypes raise ValueError/TypeError naming the
  argument, what it got and what was expected.

Speed notes: the input projection x Wx of ``rnn_forward`` is one matrix product over all time steps,
and ``rnn_backward`` accumulates dWx, dWh and db with one matrix product each after the time loop, so
only the unavoidable (N, H) x (H, H) recurrence runs per step. The temporal FC layer and the softmax
loss work in whatever memory order their input already has (batch-major, or a batch-major view of a
time-major array), so the transposes between the RNN and the vocabulary projection cost no copies.
"""
import numpy as np


def hello():
    """Confirm that the module imports."""
    print('Hello from rnn_layers.py!')


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------

def _real_array(func, name, value, ndim):
    """``value`` as an ndarray of real numbers with ``ndim`` dimensions, else TypeError/ValueError."""
    array = np.asarray(value)
    if array.dtype.kind not in 'fiu':
        raise TypeError(f'{func}: {name} must hold real numbers, got dtype {array.dtype}')
    if array.ndim != ndim:
        raise ValueError(f'{func}: {name} must be a {ndim}-D array, got shape {array.shape}')
    return array


def _index_array(func, name, value, ndim, vocab_size):
    """``value`` as an integer ndarray with ``ndim`` dims and entries in [0, vocab_size)."""
    array = np.asarray(value)
    if array.dtype.kind not in 'iu':
        raise TypeError(f'{func}: {name} must hold integer word ids, got dtype {array.dtype}')
    if array.ndim != ndim:
        raise ValueError(f'{func}: {name} must be a {ndim}-D array, got shape {array.shape}')
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        raise ValueError(f'{func}: {name} holds ids in [{array.min()}, {array.max()}], outside the '
                         f'vocabulary [0, {vocab_size})')
    return array


def _expect(func, condition, message):
    if not condition:
        raise ValueError(f'{func}: {message}')


def _check_rnn_weights(func, D, H, Wx, Wh, b):
    """Check Wx (D, H), Wh (H, H), b (H,) against the input size D and hidden size H."""
    Wx = _real_array(func, 'Wx', Wx, 2)
    Wh = _real_array(func, 'Wh', Wh, 2)
    b = _real_array(func, 'b', b, 1)
    _expect(func, Wx.shape == (D, H), f'Wx must have shape (D, H) = ({D}, {H}), got {Wx.shape}')
    _expect(func, Wh.shape == (H, H), f'Wh must have shape (H, H) = ({H}, {H}), got {Wh.shape}')
    _expect(func, b.shape == (H,), f'b must have shape (H,) = ({H},), got {b.shape}')
    return Wx, Wh, b


# ----------------------------------------------------------------------------------------------
# Memory-order helpers for (N, T, K) arrays
# ----------------------------------------------------------------------------------------------

def _is_time_major(a):
    """True when the (N, T, K) array ``a`` is a transposed view of a C-contiguous (T, N, K) array."""
    return not a.flags.c_contiguous and a.transpose(1, 0, 2).flags.c_contiguous


def _rows(a, time_major):
    """2-D (N*T, K) matrix of the (N, T, K) array ``a``, one row per (n, t) pair.

    Rows are ordered t-major when ``time_major`` (no copy for a time-major view), else n-major (no copy
    for a C-contiguous array). Two arrays flattened with the same flag have matching rows.
    """
    if time_major:
        a = a.transpose(1, 0, 2)
    return a.reshape(-1, a.shape[2])


def _unrows(rows, N, T, time_major):
    """Inverse of ``_rows``: the (N*T, K) matrix ``rows`` back as an (N, T, K) array (a view)."""
    if time_major:
        return rows.reshape(T, N, -1).transpose(1, 0, 2)
    return rows.reshape(N, T, -1)


# ----------------------------------------------------------------------------------------------
# Vanilla RNN
# ----------------------------------------------------------------------------------------------

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla tanh RNN: next_h = tanh(x Wx + prev_h Wh + b).

    Inputs:
    - x: input at this step, shape (N, D).
    - prev_h: hidden state of the previous step, shape (N, H).
    - Wx: input-to-hidden weights, shape (D, H).
    - Wh: hidden-to-hidden weights, shape (H, H).
    - b: biases, shape (H,).

    Returns a tuple of:
    - next_h: next hidden state, shape (N, H).
    - cache: (Wx, Wh, x, prev_h, a), where a (N, H) is the pre-activation x Wx + prev_h Wh + b.
    """
    func = 'rnn_step_forward'
    x = _real_array(func, 'x', x, 2)
    prev_h = _real_array(func, 'prev_h', prev_h, 2)
    N, D = x.shape
    _expect(func, prev_h.shape[0] == N,
            f'x has N={N} rows but prev_h has shape {prev_h.shape}; expected ({N}, H)')
    Wx, Wh, b = _check_rnn_weights(func, D, prev_h.shape[1], Wx, Wh, b)

    a = x @ Wx + prev_h @ Wh + b
    next_h = np.tanh(a)
    return next_h, (Wx, Wh, x, prev_h, a)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of ``rnn_step_forward``.

    Inputs:
    - dnext_h: upstream gradient of next_h, shape (N, H).
    - cache: (Wx, Wh, x, prev_h, a) from rnn_step_forward.

    Returns a tuple of:
    - dx: shape (N, D); dprev_h: shape (N, H); dWx: shape (D, H); dWh: shape (H, H); db: shape (H,).
    """
    Wx, Wh, x, prev_h, a = cache
    dnext_h = _real_array('rnn_step_backward', 'dnext_h', dnext_h, 2)
    _expect('rnn_step_backward', dnext_h.shape == np.shape(a),
            f'dnext_h must have the shape of next_h {np.shape(a)}, got {dnext_h.shape}')

    # tanh'(a) = 1 - tanh(a)^2.
    da = dnext_h * (1 - np.tanh(a) ** 2)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a vanilla tanh RNN over whole sequences (time-major).

    Inputs:
    - x: inputs of every step, shape (T, N, D).
    - h0: initial hidden state, shape (N, H).
    - Wx: input-to-hidden weights, shape (D, H).
    - Wh: hidden-to-hidden weights, shape (H, H).
    - b: biases, shape (H,).

    Returns a tuple of:
    - h: hidden states of every step, shape (T, N, H), h[t] = tanh(x[t] Wx + h[t-1] Wh + b) with
      h[-1] = h0. Its dtype is the NumPy result type of the inputs.
    - cache: (x, h0, Wx, Wh, b, h).
    """
    func = 'rnn_forward'
    x = _real_array(func, 'x', x, 3)
    h0 = _real_array(func, 'h0', h0, 2)
    T, N, D = x.shape
    _expect(func, h0.shape[0] == N,
            f'x has shape (T, N, D) = {x.shape} but h0 has shape {h0.shape}; expected ({N}, H)')
    H = h0.shape[1]
    Wx, Wh, b = _check_rnn_weights(func, D, H, Wx, Wh, b)

    dtype = np.result_type(x, h0, Wx, Wh, b, np.float16)
    Wh_c = Wh.astype(dtype, copy=False)
    h = np.empty((T, N, H), dtype=dtype)
    # The input projection of all T steps at once: one (T*N, D) x (D, H) product.
    x_proj = (x.reshape(T * N, D) @ Wx).astype(dtype, copy=False).reshape(T, N, H)
    x_proj += b
    prev_h = h0.astype(dtype, copy=False)
    for t in range(T):
        np.matmul(prev_h, Wh_c, out=h[t])
        h[t] += x_proj[t]
        np.tanh(h[t], out=h[t])
        prev_h = h[t]
    return h, (x, h0, Wx, Wh, b, h)


def rnn_backward(dh, cache):
    """Backward pass of ``rnn_forward`` over whole sequences (time-major).

    Inputs:
    - dh: upstream gradient of every hidden state h[t], shape (T, N, H) (the gradient that reaches
      h[t] through h[t+1] is added here, not expected in dh).
    - cache: (x, h0, Wx, Wh, b, h) from rnn_forward.

    Returns a tuple of:
    - dx: shape (T, N, D); dh0: shape (N, H); dWx: shape (D, H); dWh: shape (H, H); db: shape (H,).
    """
    x, h0, Wx, Wh, b, h = cache
    func = 'rnn_backward'
    dh = _real_array(func, 'dh', dh, 3)
    _expect(func, dh.shape == h.shape, f'dh must have the shape of h {h.shape}, got {dh.shape}')
    T, N, H = h.shape
    D = x.shape[2]

    dtype = np.result_type(dh, h)
    Wh_t = Wh.astype(dtype, copy=False).T
    # da[t] = gradient of the pre-activation of step t; tanh'(a) = 1 - h^2.
    da = np.multiply(h, h, dtype=dtype)
    np.subtract(1, da, out=da)
    dnext_h = np.zeros((N, H), dtype=dtype)
    dh_total = np.empty((N, H), dtype=dtype)
    for t in range(T - 1, -1, -1):
        np.add(dh[t], dnext_h, out=dh_total)
        da[t] *= dh_total
        np.matmul(da[t], Wh_t, out=dnext_h)
    dh0 = dnext_h

    # The weight gradients sum over all steps: one matrix product each.
    da_rows = da.reshape(T * N, H)
    dx = (da_rows @ Wx.T).reshape(T, N, D)
    dWx = x.reshape(T * N, D).T @ da_rows
    dWh = h0.T @ da[0] if T else np.zeros((H, H), dtype=dtype)
    if T > 1:
        dWh = dWh + h[:-1].reshape((T - 1) * N, H).T @ da[1:].reshape((T - 1) * N, H)
    db = da_rows.sum(axis=0)
    return dx, dh0, dWx, dWh, db


# ----------------------------------------------------------------------------------------------
# Word embedding
# ----------------------------------------------------------------------------------------------

def word_embedding_forward(x, W):
    """Look up the vector of every word id.

    Inputs:
    - x: integer word ids, shape (N, T), each in [0, V).
    - W: word vectors, shape (V, D).

    Returns a tuple of:
    - out: shape (N, T, D), out[n, t] = W[x[n, t]].
    - cache: (x, W).
    """
    func = 'word_embedding_forward'
    W = _real_array(func, 'W', W, 2)
    x = _index_array(func, 'x', x, 2, W.shape[0])
    return np.take(W, x, axis=0), (x, W)


def word_embedding_backward(dout, cache):
    """Backward pass of ``word_embedding_forward``: gradient of the word vectors only (ids are integers).

    Inputs:
    - dout: upstream gradient, shape (N, T, D).
    - cache: (x, W) from word_embedding_forward.

    Returns:
    - dW: shape (V, D); a word used several times accumulates all its gradients.
    """
    x, W = cache
    dout = _real_array('word_embedding_backward', 'dout', dout, 3)
    _expect('word_embedding_backward', dout.shape == np.shape(x) + (np.shape(W)[1],),
            f'dout must have shape (N, T, D) = {np.shape(x) + (np.shape(W)[1],)}, got {dout.shape}')
    D = dout.shape[2]
    ids = np.asarray(x).reshape(-1)
    dW = np.zeros(np.shape(W), dtype=np.result_type(W, dout))
    if ids.size == 0:
        return dW
    # Sum the rows of each id with one sort + reduceat (faster than np.add.at for this layout).
    order = np.argsort(ids, kind='stable')
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    dW[sorted_ids[starts]] = np.add.reduceat(dout.reshape(-1, D)[order], starts, axis=0)
    return dW


# ----------------------------------------------------------------------------------------------
# Temporal fully-connected layer
# ----------------------------------------------------------------------------------------------

def temporal_fc_forward(x, w, b):
    """Apply one fully-connected layer to every time step: out[n, t] = x[n, t] w + b.

    Inputs:
    - x: shape (N, T, D).
    - w: weights, shape (D, M).
    - b: biases, shape (M,).

    Returns a tuple of:
    - out: shape (N, T, M). When x is a batch-major view of a time-major array (e.g. h.transpose(1,
      0, 2) of rnn_forward's h), out is such a view too; no input is copied.
    - cache: (x, w, b, out).
    """
    func = 'temporal_fc_forward'
    x = _real_array(func, 'x', x, 3)
    w = _real_array(func, 'w', w, 2)
    b = _real_array(func, 'b', b, 1)
    N, T, D = x.shape
    _expect(func, w.shape[0] == D, f'x has D={D} features but w has shape {w.shape}; expected ({D}, M)')
    _expect(func, b.shape == (w.shape[1],), f'b must have shape (M,) = ({w.shape[1]},), got {b.shape}')

    time_major = _is_time_major(x)
    out = _unrows(_add_bias(_rows(x, time_major) @ w, b), N, T, time_major)
    return out, (x, w, b, out)


def _add_bias(rows, b):
    """rows + b, in place when the dtype allows (rows is a fresh product nobody else holds)."""
    if np.result_type(rows, b) == rows.dtype:
        rows += b
        return rows
    return rows + b


def temporal_fc_backward(dout, cache):
    """Backward pass of ``temporal_fc_forward``.

    Inputs:
    - dout: upstream gradient, shape (N, T, M).
    - cache: (x, w, b, out) from temporal_fc_forward (only x and w are needed).

    Returns a tuple of:
    - dx: shape (N, T, D); dw: shape (D, M); db: shape (M,).
    """
    x, w = cache[0], cache[1]
    func = 'temporal_fc_backward'
    dout = _real_array(func, 'dout', dout, 3)
    N, T, D = np.shape(x)
    M = np.shape(w)[1]
    _expect(func, dout.shape == (N, T, M), f'dout must have shape (N, T, M) = {(N, T, M)}, got {dout.shape}')

    # Flatten x and dout in the same (n, t) order, chosen to avoid copying the larger dout.
    time_major = _is_time_major(dout)
    dout_rows = _rows(dout, time_major)
    dx = _unrows(dout_rows @ np.asarray(w).T, N, T, time_major)
    dw = _rows(np.asarray(x), time_major).T @ dout_rows
    db = dout_rows.sum(axis=0)
    return dx, dw, db


# ----------------------------------------------------------------------------------------------
# Temporal softmax loss
# ----------------------------------------------------------------------------------------------

def temporal_softmax_loss(x, y, mask):
    """Masked softmax cross-entropy summed over time steps and averaged over the minibatch.

    Inputs:
    - x: scores, shape (N, T, V).
    - y: target word ids, shape (N, T), each in [0, V).
    - mask: bool (or 0/1) array, shape (N, T); only steps where mask is true count.

    Returns a tuple of:
    - loss: float, sum over n, t with mask[n, t] of -log softmax(x[n, t])[y[n, t]], divided by N.
    - dx: gradient of loss with respect to x, shape (N, T, V), zero where mask is false.

    Stable for huge scores: each row is shifted by its maximum and the log of the normalizer is
    taken directly (never log of a probability that underflowed to 0). Raises FloatingPointError if
    the loss is not finite (NaN or inf in the scores).
    """
    func = 'temporal_softmax_loss'
    x = _real_array(func, 'x', x, 3)
    N, T, V = x.shape
    _expect(func, N > 0, f'x must hold at least one sequence, got shape {x.shape}')
    _expect(func, V > 0, f'x must hold scores for at least one word, got shape {x.shape}')
    y = _index_array(func, 'y', y, 2, V)
    mask = np.asarray(mask)
    _expect(func, y.shape == (N, T), f'y must have shape (N, T) = {(N, T)}, got {y.shape}')
    _expect(func, mask.shape == (N, T), f'mask must have shape (N, T) = {(N, T)}, got {mask.shape}')

    # Work in x's memory order: rows are (n, t) pairs, t-major for a time-major view.
    time_major = _is_time_major(x)
    scores = _rows(x, time_major)
    targets = (y.T if time_major else y).reshape(-1)
    dtype = np.result_type(scores, np.float16)
    weights = (mask.T if time_major else mask).reshape(-1).astype(bool).astype(dtype)
    row_ids = np.arange(scores.shape[0])

    # A fresh array that ends up holding dx; integer scores are promoted to float64.
    probs = np.subtract(scores, scores.max(axis=1, keepdims=True), dtype=dtype)
    target_scores = probs[row_ids, targets]
    np.exp(probs, out=probs)
    normalizers = probs.sum(axis=1)
    loss = np.dot(weights, np.log(normalizers) - target_scores) / N
    if not np.isfinite(loss):
        raise FloatingPointError(f'{func}: the loss is {loss}; the scores x contain NaN or inf')

    weights /= N
    probs *= (weights / normalizers)[:, None]
    probs[row_ids, targets] -= weights
    return float(loss), _unrows(probs, N, T, time_major)
