"""rnn_layers.py: numerical gradients, PyTorch oracles, published reference values, NumPy-scalar loss,
bad input, no mutation, no cache aliasing a result.

Tests marked `course` check only the course's contract, so they pass on any implementation the course accepts:
values, shapes and unchanged inputs; caches are opaque (every backward gets the cache its own forward returned)
except temporal_fc's, which is the course's (x, w, b, out); the provided temporal softmax loss at ordinary scales.
Cache aliasing, float32 results, huge scores and error messages are our extras (unmarked)."""
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnn_layers
from gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from rnn_layers import (rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward, temporal_fc_backward,
                        temporal_fc_forward, temporal_softmax_loss, word_embedding_backward,
                        word_embedding_forward)

# (N, T, D, H) shapes for the PyTorch oracles: non-square, N = 1, T = 1, D = 1, H = 1.
SHAPES = [(1, 1, 1, 1), (1, 1, 3, 5), (4, 1, 6, 2), (1, 7, 2, 3), (3, 5, 4, 6), (2, 9, 7, 1), (5, 2, 1, 8),
          (6, 4, 9, 5), (2, 3, 11, 4), (7, 6, 3, 3)]


def rng_for(*key):
    """A generator seeded by ``key`` (stable across runs, unlike hash() of strings)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def copies(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def assert_unchanged(before, after):
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)


def numeric_grads(forward, args, dout):
    """Numerical gradient of sum(forward(*args) * dout) with respect to every float arg."""
    grads = []
    for i in range(len(args)):
        def f(value, i=i):
            probe = list(args)
            probe[i] = value
            return forward(*probe)
        grads.append(eval_numerical_gradient_array(f, np.array(args[i], dtype=np.float64), dout))
    return grads


def test_hello(capsys):
    rnn_layers.hello()
    assert capsys.readouterr().out.strip() == 'Hello from rnn_layers.py!'


# ----------------------------------------------------------------------------------------------
# rnn_step
# ----------------------------------------------------------------------------------------------

def step_inputs(N, D, H, rng):
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((D, H)) * 0.4,
            rng.standard_normal((H, H)) * 0.4, rng.standard_normal(H))


@pytest.mark.course
def test_rnn_step_numerical_gradients():
    rng = np.random.default_rng(0)
    args = step_inputs(3, 4, 5, rng)
    next_h, cache = rnn_step_forward(*args)
    dnext_h = rng.standard_normal(next_h.shape)
    analytic = rnn_step_backward(dnext_h, cache)
    numeric = numeric_grads(lambda *a: rnn_step_forward(*a)[0], args, dnext_h)
    for name, a, n in zip(('dx', 'dprev_h', 'dWx', 'dWh', 'db'), analytic, numeric):
        assert rel_error(a, n) < 1e-7, name


def test_rnn_step_cache_does_not_alias_next_h():
    rng = np.random.default_rng(1)
    x, prev_h, Wx, Wh, b = step_inputs(2, 3, 4, rng)
    next_h, cache = rnn_step_forward(x, prev_h, Wx, Wh, b)
    dnext_h = rng.standard_normal(next_h.shape)
    expected = rnn_step_backward(dnext_h, cache)
    next_h += 5                                  # the caller owns its result
    for got, want in zip(rnn_step_backward(dnext_h, cache), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.course
@pytest.mark.parametrize('N,T,D,H', SHAPES)
def test_rnn_step_matches_torch(N, T, D, H):
    rng = rng_for('step', N, D, H)
    args = step_inputs(N, D, H, rng)
    next_h, cache = rnn_step_forward(*args)
    dnext_h = rng.standard_normal(next_h.shape)
    grads = rnn_step_backward(dnext_h, cache)

    xt, ht, Wxt, Wht, bt = (t64(a, grad=True) for a in args)
    out = torch.tanh(xt @ Wxt + ht @ Wht + bt)
    (out * t64(dnext_h)).sum().backward()
    np.testing.assert_allclose(next_h, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, t in zip(grads, (xt, ht, Wxt, Wht, bt)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------------------------
# rnn_forward / rnn_backward
# ----------------------------------------------------------------------------------------------

def seq_inputs(N, T, D, H, rng):
    return (rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), rng.standard_normal((D, H)) * 0.4,
            rng.standard_normal((H, H)) * 0.4, rng.standard_normal(H) * 0.5)


@pytest.mark.course
def test_rnn_numerical_gradients():
    rng = np.random.default_rng(2)
    args = seq_inputs(2, 4, 3, 5, rng)
    h, cache = rnn_forward(*args)
    dh = rng.standard_normal(h.shape)
    analytic = rnn_backward(dh, cache)
    numeric = numeric_grads(lambda *a: rnn_forward(*a)[0], args, dh)
    for name, a, n in zip(('dx', 'dh0', 'dWx', 'dWh', 'db'), analytic, numeric):
        assert rel_error(a, n) < 1e-7, name


def torch_rnn(x, h0, Wx, Wh, b):
    """Hand-written tanh RNN (time-major) with autograd."""
    h, states = h0, []
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ Wx + h @ Wh + b)
        states.append(h)
    return torch.stack(states)


@pytest.mark.course
@pytest.mark.parametrize('N,T,D,H', SHAPES)
def test_rnn_matches_torch(N, T, D, H):
    rng = rng_for('rnn', N, T, D, H)
    args = seq_inputs(N, T, D, H, rng)
    h, cache = rnn_forward(*args)
    dh = rng.standard_normal(h.shape)
    grads = rnn_backward(dh, cache)

    tensors = [t64(a, grad=True) for a in args]
    out = torch_rnn(*tensors)
    (out * t64(dh)).sum().backward()
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, t in zip(grads, tensors):
        assert g.shape == t.shape
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.course
def test_rnn_matches_torch_nn_rnn():
    """An independent implementation: PyTorch's own RNN kernel (weights transposed, one bias zero)."""
    rng = np.random.default_rng(3)
    N, T, D, H = 4, 6, 5, 7
    x, h0, Wx, Wh, b = seq_inputs(N, T, D, H, rng)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    cell = torch.nn.RNN(D, H, nonlinearity='tanh').double()
    with torch.no_grad():
        cell.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        cell.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        cell.bias_ih_l0.copy_(torch.from_numpy(b))
        cell.bias_hh_l0.zero_()
        out, _ = cell(torch.from_numpy(x), torch.from_numpy(h0)[None])
    np.testing.assert_allclose(h, out.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.course
def test_rnn_forward_is_the_step_applied_in_sequence():
    rng = np.random.default_rng(4)
    x, h0, Wx, Wh, b = seq_inputs(3, 5, 4, 6, rng)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    prev = h0
    for t in range(5):
        prev, _ = rnn_step_forward(x[t], prev, Wx, Wh, b)
        np.testing.assert_allclose(h[t], prev, rtol=1e-12, atol=1e-14)


def test_rnn_cache_does_not_alias_h():
    rng = np.random.default_rng(5)
    h, cache = rnn_forward(*seq_inputs(2, 3, 4, 5, rng))
    dh = rng.standard_normal(h.shape)
    expected = rnn_backward(dh, cache)
    h *= -1
    for got, want in zip(rnn_backward(dh, cache), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.course
def test_rnn_backward_accepts_a_strided_upstream_gradient():
    """dh may be a transposed view (the model passes dh.transpose(1, 0, 2))."""
    rng = np.random.default_rng(6)
    args = seq_inputs(3, 4, 2, 5, rng)
    h, cache = rnn_forward(*args)
    dh = rng.standard_normal(h.shape)
    strided = np.ascontiguousarray(dh.transpose(1, 0, 2)).transpose(1, 0, 2)
    assert not strided.flags.c_contiguous
    for a, b in zip(rnn_backward(dh, cache), rnn_backward(strided, cache)):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_rnn_float32_stays_float32():
    rng = np.random.default_rng(7)
    args = [a.astype(np.float32) for a in seq_inputs(3, 4, 5, 6, rng)]
    h, cache = rnn_forward(*args)
    assert h.dtype == np.float32
    grads = rnn_backward(np.ones_like(h), cache)
    assert all(g.dtype == np.float32 for g in grads)
    h64, _ = rnn_forward(*[a.astype(np.float64) for a in args])
    np.testing.assert_allclose(h, h64, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# word embedding
# ----------------------------------------------------------------------------------------------

@pytest.mark.course
@pytest.mark.parametrize('N,T,V,D', [(1, 1, 1, 1), (2, 3, 5, 4), (4, 1, 9, 2), (1, 6, 3, 7), (5, 8, 20, 3)])
def test_word_embedding_matches_torch(N, T, V, D):
    rng = rng_for('embed', N, T, V, D)
    x = rng.integers(0, V, size=(N, T))
    W = rng.standard_normal((V, D))
    out, cache = word_embedding_forward(x, W)
    dout = rng.standard_normal(out.shape)
    dW = word_embedding_backward(dout, cache)

    Wt = t64(W, grad=True)
    out_t = F.embedding(torch.from_numpy(x), Wt)
    (out_t * t64(dout)).sum().backward()
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.course
def test_word_embedding_repeated_ids_accumulate_and_numerical_gradient():
    rng = np.random.default_rng(8)
    x = np.array([[0, 3, 3], [3, 1, 0]])
    W = rng.standard_normal((5, 4))
    out, cache = word_embedding_forward(x, W)
    dout = rng.standard_normal(out.shape)
    dW = word_embedding_backward(dout, cache)
    np.testing.assert_allclose(dW[3], dout[0, 1] + dout[0, 2] + dout[1, 0])
    np.testing.assert_array_equal(dW[[2, 4]], 0)
    numeric = eval_numerical_gradient_array(lambda w: word_embedding_forward(x, w)[0], W.copy(), dout)
    assert rel_error(dW, numeric) < 1e-9


# ----------------------------------------------------------------------------------------------
# temporal FC
# ----------------------------------------------------------------------------------------------

@pytest.mark.course
@pytest.mark.parametrize('N,T,D,M', [(1, 1, 1, 1), (2, 3, 4, 5), (5, 1, 3, 7), (1, 6, 8, 2), (4, 7, 6, 9)])
def test_temporal_fc_matches_torch_and_numerical_gradients(N, T, D, M):
    rng = rng_for('fc', N, T, D, M)
    x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    out, cache = temporal_fc_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = temporal_fc_backward(dout, cache)

    xt, wt, bt = t64(x, True), t64(w, True), t64(b, True)
    out_t = F.linear(xt, wt.T, bt)
    (out_t * t64(dout)).sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip((dx, dw, db), (xt, wt, bt)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-11, atol=1e-12)
    numeric = numeric_grads(lambda *a: temporal_fc_forward(*a)[0], (x, w, b), dout)
    for a, n in zip((dx, dw, db), numeric):
        assert rel_error(a, n) < 1e-7


def test_word_embedding_takes_one_word_per_sequence_like_the_courses():
    """The course's word_embedding_forward is W[x]: ids of shape (N,) give (N, D) (a sampler's one step)."""
    rng = np.random.default_rng(12)
    W, ids, dout = rng.standard_normal((6, 3)), np.array([4, 0, 4]), rng.standard_normal((3, 3))
    out, cache = word_embedding_forward(ids, W)
    np.testing.assert_array_equal(out, W[ids])
    expected = np.zeros_like(W)
    expected[4], expected[0] = dout[0] + dout[2], dout[1]
    np.testing.assert_allclose(word_embedding_backward(dout, cache), expected, atol=1e-15)


@pytest.mark.course
def test_temporal_fc_cache_is_the_courses_and_backward_takes_the_courses_cache():
    """The course compares the forward's cache item by item with (x, w, b, out) and calls the backward pass
    with its own cache (x (7, 6, 7), w (7, 5), b (5,))."""
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((7, 6, 7)), rng.standard_normal((7, 5)), rng.standard_normal(5)
    out, cache = temporal_fc_forward(x, w, b)
    assert isinstance(cache, tuple) and len(cache) == 4
    for got, expected in zip(cache, (x, w, b, x @ w + b)):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.max(np.abs(got - expected)) < 1e-6
    dout = rng.standard_normal(out.shape)
    dx, dw, db = temporal_fc_backward(dout, (x.copy(), w.copy(), b.copy(), x @ w + b))
    np.testing.assert_allclose(dx, dout @ w.T, atol=1e-12)
    np.testing.assert_allclose(dw, np.einsum('ntd,ntm->dm', x, dout), atol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 1)), atol=1e-12)


@pytest.mark.course
def test_temporal_fc_time_major_views_give_the_same_numbers():
    """A batch-major view of a time-major array (what the model passes) gives the same numbers."""
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
    dout = rng.standard_normal((3, 4, 6))
    x_view = np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)
    dout_view = np.ascontiguousarray(dout.transpose(1, 0, 2)).transpose(1, 0, 2)
    out, cache = temporal_fc_forward(x, w, b)
    out_v, cache_v = temporal_fc_forward(x_view, w, b)
    np.testing.assert_allclose(out, out_v, rtol=1e-13)
    reference = temporal_fc_backward(dout, cache)
    for d in (dout, dout_view):
        for c in (cache, cache_v):
            for a, r in zip(temporal_fc_backward(d, c), reference):
                np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------------------------
# temporal softmax loss
# ----------------------------------------------------------------------------------------------

def torch_masked_loss(x, y, mask):
    xt = t64(x, grad=True)
    N, T, V = x.shape
    losses = F.cross_entropy(xt.reshape(N * T, V), torch.from_numpy(y.reshape(-1)), reduction='none')
    loss = (losses * torch.from_numpy(mask.reshape(-1).astype(np.float64))).sum() / N
    loss.backward()
    return loss.item(), xt.grad.numpy()


@pytest.mark.course
@pytest.mark.parametrize('N,T,V', [(1, 1, 1), (1, 1, 4), (3, 1, 6), (1, 5, 3), (4, 6, 10), (7, 3, 2), (2, 8, 30)])
def test_temporal_softmax_loss_matches_torch(N, T, V):
    rng = rng_for('softmax', N, T, V)
    x = rng.standard_normal((N, T, V)) * 3
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) > 0.3
    loss, dx = temporal_softmax_loss(x, y, mask)
    loss_t, dx_t = torch_masked_loss(x, y, mask)
    assert isinstance(loss, np.floating) and loss.dtype == np.float64   # the course's -np.sum(...) / N
    assert loss == pytest.approx(loss_t, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(dx[~mask], 0)


@pytest.mark.course
def test_temporal_softmax_loss_numerical_gradient():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 5, size=(3, 4))
    mask = rng.random((3, 4)) > 0.4
    loss, dx = temporal_softmax_loss(x, y, mask)
    numeric = eval_numerical_gradient(lambda z: temporal_softmax_loss(z, y, mask)[0], x.copy(), verbose=False)
    assert rel_error(dx, numeric) < 1e-7


@pytest.mark.course
def test_temporal_softmax_loss_known_values():
    """Uniform scores: each counted step costs log V; an all-false mask costs nothing."""
    N, T, V = 5, 4, 10
    x = np.zeros((N, T, V))
    y = np.zeros((N, T), dtype=int)
    assert temporal_softmax_loss(x, y, np.ones((N, T), bool))[0] == pytest.approx(T * np.log(V))
    assert temporal_softmax_loss(x, y, np.arange(T) < 2 * np.ones((N, 1), bool))[0] == pytest.approx(2 * np.log(V))
    loss, dx = temporal_softmax_loss(x, y, np.zeros((N, T), bool))
    assert loss == 0 and not dx.any()


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_temporal_softmax_loss_is_stable_for_huge_scores(dtype):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((3, 4, 6)) * 1e4).astype(dtype)
    y = rng.integers(0, 6, size=(3, 4))
    mask = np.ones((3, 4), bool)
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert np.isfinite(loss) and np.all(np.isfinite(dx)) and dx.dtype == dtype
    loss_t, dx_t = torch_masked_loss(x.astype(np.float64), y, mask)
    assert loss == pytest.approx(loss_t, rel=1e-6)
    np.testing.assert_allclose(dx, dx_t, atol=1e-6)


@pytest.mark.course
def test_temporal_softmax_loss_time_major_view():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 5, 7))
    y = rng.integers(0, 7, size=(3, 5))
    mask = rng.random((3, 5)) > 0.5
    view = np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)
    loss, dx = temporal_softmax_loss(x, y, mask)
    loss_v, dx_v = temporal_softmax_loss(view, y, mask)
    assert loss_v == pytest.approx(loss, rel=1e-13)
    np.testing.assert_allclose(dx_v, dx, rtol=1e-13)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_temporal_softmax_loss_nan_and_inf_scores_raise(bad):
    x = np.zeros((2, 3, 4))
    x[1, 2, 0] = bad
    with pytest.raises(ValueError, match='NaN or infinite scores'):
        temporal_softmax_loss(x, np.zeros((2, 3), int), np.ones((2, 3), bool))


def test_temporal_softmax_loss_refuses_a_mask_that_is_not_boolean():
    mask = np.ones((2, 3))
    mask[0, 1] = np.nan
    with pytest.raises(ValueError, match='mask must hold booleans or 0/1 values'):
        temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), int), mask)
    loss, _ = temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), int), np.ones((2, 3)))   # 0/1 is fine
    assert loss == pytest.approx(3 * np.log(4))


# ----------------------------------------------------------------------------------------------
# Bad input and no mutation
# ----------------------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(14)
    x, prev_h, Wx, Wh, b = step_inputs(2, 3, 4, rng)
    with pytest.raises(ValueError, match='x must be a 2-D'):
        rnn_step_forward(x[None], prev_h, Wx, Wh, b)
    with pytest.raises(ValueError, match=r'expected x \(N, D\), prev_h \(N, H\), Wx \(D, H\), .*got .* Wx \(2, 4\)'):
        rnn_step_forward(x, prev_h, Wx[:2], Wh, b)
    with pytest.raises(ValueError, match=r'got x \(2, 3\), prev_h \(1, 4\)'):
        rnn_step_forward(x, prev_h[:1], Wx, Wh, b)
    with pytest.raises(ValueError, match=r'Wh \(H, H\), .* Wh \(4, 3\)'):
        rnn_step_forward(x, prev_h, Wx, Wh[:, :3], b)
    with pytest.raises(TypeError, match='x must hold real numbers'):
        rnn_step_forward(x.astype(complex), prev_h, Wx, Wh, b)

    xs, h0, Wx, Wh, b = seq_inputs(2, 3, 4, 5, rng)
    with pytest.raises(ValueError, match='x must be a 3-D'):
        rnn_forward(xs[0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r'got x \(3, 2, 4\), h0 \(1, 5\)'):
        rnn_forward(xs, h0[:1], Wx, Wh, b)
    with pytest.raises(ValueError, match=r'b \(H,\), got .* b \(4,\)'):
        rnn_forward(xs, h0, Wx, Wh, b[:4])
    h, cache = rnn_forward(xs, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match='dh must have the shape'):
        rnn_backward(h[:2], cache)

    W = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match=r'outside the vocabulary \[0, 5\)'):
        word_embedding_forward(np.array([[0, 5]]), W)
    with pytest.raises(ValueError, match='outside the vocabulary'):
        word_embedding_forward(np.array([[-1, 2]]), W)
    with pytest.raises(TypeError, match='integer word ids'):
        word_embedding_forward(np.array([[0.0, 1.0]]), W)
    with pytest.raises(ValueError, match='x must be a 2-D'):
        word_embedding_forward(np.zeros((1, 2, 2), dtype=int), W)

    with pytest.raises(ValueError, match=r'w \(D, M\) and b \(M,\), got x \(2, 3, 4\), w \(5, 6\)'):
        temporal_fc_forward(np.zeros((2, 3, 4)), np.zeros((5, 6)), np.zeros(6))
    with pytest.raises(ValueError, match=r'got x \(2, 3, 4\), w \(4, 6\) and b \(5,\)'):
        temporal_fc_forward(np.zeros((2, 3, 4)), np.zeros((4, 6)), np.zeros(5))
    with pytest.raises(ValueError, match='x must be a 3-D'):
        temporal_fc_forward(np.zeros((2, 4)), np.zeros((4, 6)), np.zeros(6))
    for empty in ((0, 3, 4), (2, 0, 4)):
        with pytest.raises(ValueError, match=r'expected x \(N, T, D\) with N, T >= 1'):
            temporal_fc_forward(np.zeros(empty), np.zeros((4, 6)), np.zeros(6))
    with pytest.raises(ValueError, match=r'expected x \(T, N, D\) with T, N >= 1'):
        rnn_forward(np.zeros((0, 2, 3)), np.zeros((2, 4)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(TypeError, match='x must hold real numbers'):
        temporal_fc_forward(np.zeros((2, 3, 4), dtype=complex), np.zeros((4, 6)), np.zeros(6))

    scores = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match='outside the vocabulary'):
        temporal_softmax_loss(scores, np.full((2, 3), 4), np.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r'y \(N, T\) and mask \(N, T\), got x \(2, 3, 4\), y \(3, 2\)'):
        temporal_softmax_loss(scores, np.zeros((3, 2), int), np.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r'and mask \(2,\)'):
        temporal_softmax_loss(scores, np.zeros((2, 3), int), np.ones((2,), bool))
    with pytest.raises(TypeError, match='integer word ids'):
        temporal_softmax_loss(scores, np.zeros((2, 3)), np.ones((2, 3), bool))
    with pytest.raises(ValueError, match='at least one sequence'):
        temporal_softmax_loss(np.zeros((0, 3, 4)), np.zeros((0, 3), int), np.ones((0, 3), bool))


@pytest.mark.course
def test_no_layer_mutates_its_inputs():
    rng = np.random.default_rng(15)
    step = step_inputs(2, 3, 4, rng)
    before = copies(*step)
    next_h, cache = rnn_step_forward(*step)
    dnext = rng.standard_normal(next_h.shape)
    dnext_before = dnext.copy()
    rnn_step_backward(dnext, cache)
    assert_unchanged(before + [dnext_before], list(step) + [dnext])

    seq = seq_inputs(2, 3, 4, 5, rng)
    before = copies(*seq)
    h, cache = rnn_forward(*seq)
    h_before = h.copy()
    dh = rng.standard_normal(h.shape)
    dh_before = dh.copy()
    rnn_backward(dh, cache)
    assert_unchanged(before + [h_before, dh_before], list(seq) + [h, dh])

    ids, W = rng.integers(0, 6, size=(2, 3)), rng.standard_normal((6, 4))
    before = copies(ids, W)
    out, cache = word_embedding_forward(ids, W)
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()
    word_embedding_backward(dout, cache)
    assert_unchanged(before + [dout_before], [ids, W, dout])

    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    before = copies(x, w, b)
    out, cache = temporal_fc_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()
    temporal_fc_backward(dout, cache)
    assert_unchanged(before + [dout_before], [x, w, b, dout])

    scores, y, mask = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, size=(2, 3)), rng.random((2, 3)) > 0.5
    before = copies(scores, y, mask)
    temporal_softmax_loss(scores, y, mask)
    assert_unchanged(before, [scores, y, mask])


@pytest.mark.course
def test_published_cs231n_reference_values():
    """Fixed-input values published with the CS231n RNN captioning assignment (independent oracle)."""
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)
    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    np.testing.assert_allclose(next_h, [[-0.58172089, -0.50182032, -0.41232771, -0.31410098],
                                        [0.66854692, 0.79562378, 0.87755553, 0.92795967],
                                        [0.97934501, 0.99144213, 0.99646691, 0.99854353]], atol=1e-8)

    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)
    h, _ = rnn_forward(x.transpose(1, 0, 2), h0, Wx, Wh, b)      # time-major here
    expected = [[[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
                 [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
                 [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
                [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
                 [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
                 [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]]
    np.testing.assert_allclose(h.transpose(1, 0, 2), expected, atol=1e-8)
