"""Layers for a recurrent captioning network: a vanilla tanh RNN, word embeddings, a temporal
fully-connected layer and a masked temporal softmax loss.

Conventions (as in the course's code):
- rnn_forward / rnn_backward are time-major: sequences are (T, N, ...).
- The word embedding, temporal FC layer and softmax loss are batch-major: (N, T, ...).
- Every *_forward returns (out, cache) and the matching *_backward takes that cache (its contents are
  private to this module, except temporal_fc_forward's, which is the course's (x, w, b, out)).
- Nothing modifies its inputs; a shape that NumPy would broadcast into a wrong answer raises ValueError.

Speed: the input projection of rnn_forward is one matrix product over all time steps, and rnn_backward
forms dWx, dWh and db with one matrix product each after the time loop, so only the unavoidable
(N, H) x (H, H) recurrence runs once per step.
"""
import numpy as np


def hello():
    print('Hello from rnn_layers.py!')


def _array(func, name, value, dims, ids=False):
    """``value`` as an ndarray with one axis per name in ``dims`` holding real numbers (integer word ids if
    ``ids``), else TypeError/ValueError naming ``func`` and ``name``."""
    array = np.asarray(value)
    if array.dtype.kind not in ('iu' if ids else 'fiu'):
        raise TypeError(f"{func}: {name} must hold {'integer word ids' if ids else 'real numbers'}, "
                        f"got dtype {array.dtype}")
    if array.ndim != len(dims):
        raise ValueError(f"{func}: {name} must be a {len(dims)}-D array ({', '.join(dims)}), got shape {array.shape}")
    return array


# ---------------------------------------- Vanilla RNN
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
    - cache: values needed by rnn_step_backward.
    """
    func = 'rnn_step_forward'
    x, prev_h = _array(func, 'x', x, 'ND'), _array(func, 'prev_h', prev_h, 'NH')
    Wx, Wh, b = _array(func, 'Wx', Wx, 'DH'), _array(func, 'Wh', Wh, 'HH'), _array(func, 'b', b, 'H')
    (N, D), H = x.shape, prev_h.shape[1]
    if prev_h.shape[0] != N or Wx.shape != (D, H) or Wh.shape != (H, H) or b.shape != (H,):
        raise ValueError(f'{func}: expected x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,), got x {x.shape}, '
                         f'prev_h {prev_h.shape}, Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}')

    a = x @ Wx + prev_h @ Wh + b          # pre-activation; kept instead of next_h, which the caller owns
    return np.tanh(a), (x, prev_h, Wx, Wh, a)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of rnn_step_forward.

    Inputs:
    - dnext_h: upstream gradient of next_h, shape (N, H).
    - cache: from rnn_step_forward.

    Returns a tuple of:
    - dx: (N, D); dprev_h: (N, H); dWx: (D, H); dWh: (H, H); db: (H,).
    """
    x, prev_h, Wx, Wh, a = cache
    if np.shape(dnext_h) != a.shape:
        raise ValueError(f'rnn_step_backward: dnext_h must have the shape of next_h {a.shape}, got {np.shape(dnext_h)}')

    da = dnext_h * (1 - np.tanh(a) ** 2)   # tanh'(a) = 1 - tanh(a)^2
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a vanilla tanh RNN over whole sequences (time-major).

    Inputs:
    - x: inputs of every step, shape (T, N, D) with T, N >= 1.
    - h0: initial hidden state, shape (N, H).
    - Wx: input-to-hidden weights, shape (D, H).
    - Wh: hidden-to-hidden weights, shape (H, H).
    - b: biases, shape (H,).

    Returns a tuple of:
    - h: hidden states of every step, shape (T, N, H): h[t] = tanh(x[t] Wx + h[t-1] Wh + b) with
      h[-1] = h0; its dtype is NumPy's result type of the inputs.
    - cache: values needed by rnn_backward.
    """
    func = 'rnn_forward'
    x, h0 = _array(func, 'x', x, 'TND'), _array(func, 'h0', h0, 'NH')
    Wx, Wh, b = _array(func, 'Wx', Wx, 'DH'), _array(func, 'Wh', Wh, 'HH'), _array(func, 'b', b, 'H')
    (T, N, D), H = x.shape, h0.shape[1]
    if 0 in (T, N) or h0.shape[0] != N or Wx.shape != (D, H) or Wh.shape != (H, H) or b.shape != (H,):
        raise ValueError(f'{func}: expected x (T, N, D) with T, N >= 1, h0 (N, H), Wx (D, H), Wh (H, H), b (H,), '
                         f'got x {x.shape}, h0 {h0.shape}, Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}')

    dtype = np.result_type(x, h0, Wx, Wh, b, np.float16)
    Wh = Wh.astype(dtype, copy=False)
    # The input projection of all T steps at once: one (T*N, D) x (D, H) product.
    h = (x.reshape(T * N, D) @ Wx + b).astype(dtype, copy=False).reshape(T, N, H)
    prev_h = h0.astype(dtype, copy=False)
    for t in range(T):   # h[t] holds x[t] Wx + b and becomes the hidden state in place
        h[t] += prev_h @ Wh
        np.tanh(h[t], out=h[t])
        prev_h = h[t]
    return h, (x, h0, Wx, Wh, h.copy())    # a copy: the caller owns h and may change it


def rnn_backward(dh, cache):
    """Backward pass of rnn_forward over whole sequences (time-major).

    Inputs:
    - dh: upstream gradient of every hidden state h[t], shape (T, N, H) (only the loss's gradient at
      each step; the gradient reaching h[t] through h[t+1] is added here).
    - cache: from rnn_forward.

    Returns a tuple of:
    - dx: (T, N, D); dh0: (N, H); dWx: (D, H); dWh: (H, H); db: (H,).
    """
    x, h0, Wx, Wh, h = cache
    dh = np.asarray(dh)
    if dh.shape != h.shape:
        raise ValueError(f'rnn_backward: dh must have the shape of h {h.shape}, got {dh.shape}')
    T, N, H = h.shape
    D = x.shape[2]

    dtype = np.result_type(dh, h)
    Wh_T = Wh.T.astype(dtype, copy=False)
    da = 1 - h.astype(dtype) ** 2          # da[t]: gradient of step t's pre-activation; tanh' = 1 - h^2
    dnext_h = np.zeros((N, H), dtype=dtype)
    for t in range(T - 1, -1, -1):
        da[t] *= dh[t] + dnext_h
        dnext_h = da[t] @ Wh_T

    # The weight gradients sum over all steps: one matrix product each.
    da_rows = da.reshape(T * N, H)
    prev_h = np.concatenate([h0[None].astype(dtype, copy=False), h[:-1]])      # h[t-1] for every t
    dx = (da_rows @ Wx.T).reshape(T, N, D)
    dWx = x.reshape(T * N, D).T @ da_rows
    dWh = prev_h.reshape(T * N, H).T @ da_rows
    return dx, dnext_h, dWx, dWh, da_rows.sum(axis=0)


# ---------------------------------------- Word embedding
def word_embedding_forward(x, W):
    """Look up the vector of every word id.

    Inputs:
    - x: integer word ids, shape (N, T), each in [0, V); or (N,), one word per sequence (the course's W[x]
      takes both, and a sampler may feed one step's words).
    - W: word vectors, shape (V, D).

    Returns a tuple of:
    - out: shape x.shape + (D,), out[n, t] = W[x[n, t]].
    - cache: values needed by word_embedding_backward.
    """
    func = 'word_embedding_forward'
    W, x = _array(func, 'W', W, 'VD'), _array(func, 'x', x, 'N' if np.ndim(x) == 1 else 'NT', ids=True)
    if x.size and (x.min() < 0 or x.max() >= len(W)):   # a negative id would silently index from the end
        raise ValueError(f'{func}: x holds ids in [{x.min()}, {x.max()}], outside the vocabulary [0, {len(W)})')
    return W[x], (x, W.shape, W.dtype)


def word_embedding_backward(dout, cache):
    """Backward pass of word_embedding_forward: the gradient of the word vectors (ids are not differentiable).

    Inputs:
    - dout: upstream gradient, shape x.shape + (D,): (N, T, D), or (N, D) for ids of shape (N,).
    - cache: from word_embedding_forward.

    Returns:
    - dW: shape (V, D); a word used several times accumulates all its gradients.
    """
    x, W_shape, W_dtype = cache
    dout = np.asarray(dout)
    if dout.shape != x.shape + (W_shape[1],):
        raise ValueError(f'word_embedding_backward: dout must have shape (N, T, D) = {x.shape + (W_shape[1],)}, '
                         f'got {dout.shape}')
    dW = np.zeros(W_shape, dtype=np.result_type(W_dtype, dout))
    np.add.at(dW, x.reshape(-1), dout.reshape(-1, W_shape[1]))
    return dW


# ---------------------------------------- Temporal fully-connected layer
def temporal_fc_forward(x, w, b):
    """Apply one fully-connected layer at every time step: out[n, t] = x[n, t] w + b.

    Inputs:
    - x: shape (N, T, D) with N, T >= 1.
    - w: weights, shape (D, M).
    - b: biases, shape (M,).

    Returns a tuple of:
    - out: shape (N, T, M).
    - cache: (x, w, b, out), the course's layout (its grader compares it item by item); out is a copy, so
      that changing the returned array never changes the cache.
    """
    func = 'temporal_fc_forward'
    x, w, b = _array(func, 'x', x, 'NTD'), _array(func, 'w', w, 'DM'), _array(func, 'b', b, 'M')
    N, T, D = x.shape
    if 0 in (N, T) or w.shape[0] != D or b.shape != (w.shape[1],):
        raise ValueError(f'{func}: expected x (N, T, D) with N, T >= 1, w (D, M) and b (M,), got x {x.shape}, '
                         f'w {w.shape} and b {b.shape}')

    out = (x.reshape(N * T, D) @ w + b).reshape(N, T, -1)
    return out, (x, w, b, out.copy())


def temporal_fc_backward(dout, cache):
    """Backward pass of temporal_fc_forward.

    Inputs:
    - dout: upstream gradient, shape (N, T, M).
    - cache: (x, w, b, out) from temporal_fc_forward.

    Returns a tuple of:
    - dx: (N, T, D); dw: (D, M); db: (M,).
    """
    x, w, _, _ = cache
    N, T, D = x.shape
    M = w.shape[1]
    if np.shape(dout) != (N, T, M):
        raise ValueError(f'temporal_fc_backward: dout must have shape (N, T, M) = {(N, T, M)}, got {np.shape(dout)}')

    dout_rows = np.reshape(dout, (N * T, M))
    dx = (dout_rows @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout_rows
    return dx, dw, dout_rows.sum(axis=0)


# ---------------------------------------- Temporal softmax loss
def temporal_softmax_loss(x, y, mask):
    """Masked softmax cross-entropy summed over time steps and averaged over the minibatch.

    Inputs:
    - x: scores, shape (N, T, V), finite.
    - y: target word ids, shape (N, T), each in [0, V).
    - mask: booleans (or 0/1 values), shape (N, T); only steps where mask is true count.

    Returns a tuple of:
    - loss: NumPy scalar, sum over (n, t) with mask[n, t] of -log softmax(x[n, t])[y[n, t]], divided by N.
    - dx: gradient of loss with respect to x, shape (N, T, V), zero where mask is false.

    Each row is shifted by its maximum and the log of the normalizer is taken directly, so huge scores
    are fine (the log of a probability that underflowed to 0 never appears).
    """
    func = 'temporal_softmax_loss'
    x, y, mask = _array(func, 'x', x, 'NTV'), _array(func, 'y', y, 'NT', ids=True), np.asarray(mask)
    N, T, V = x.shape
    if 0 in (N, V) or y.shape != (N, T) or mask.shape != (N, T):
        raise ValueError(f'{func}: expected x (N, T, V) with at least one sequence and one word, y (N, T) and '
                         f'mask (N, T), got x {x.shape}, y {y.shape} and mask {mask.shape}')
    if not np.all(np.isfinite(x)):
        raise ValueError(f'{func}: x holds NaN or infinite scores (diverged training? lower the learning rate)')
    if y.min(initial=0) < 0 or y.max(initial=0) >= V:   # a negative id would silently pick a score from the end
        raise ValueError(f'{func}: y holds ids in [{y.min()}, {y.max()}], outside the vocabulary [0, {V})')
    if mask.dtype != bool and not np.all((mask == 0) | (mask == 1)):
        raise ValueError(f'{func}: mask must hold booleans or 0/1 values, got dtype {mask.dtype} with other values')

    scores = x.reshape(N * T, V)
    targets = y.reshape(-1)
    rows = np.arange(N * T)
    weights = mask.reshape(-1).astype(bool)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp_shifted = np.exp(shifted)
    normalizers = exp_shifted.sum(axis=1)
    log_probs_target = shifted[rows, targets] - np.log(normalizers)
    loss = -np.sum(log_probs_target[weights]) / N
    dx = exp_shifted / normalizers[:, None]      # softmax probabilities
    dx[rows, targets] -= 1
    dx *= weights[:, None] / N
    return loss, dx.reshape(N, T, V)
