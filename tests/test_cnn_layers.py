"""Convolution and max pooling: numerical gradients, PyTorch on random shapes, hand-built caches,
ties, bad input, and no mutation of inputs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnn_layers
from cnn_layers import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from gradient_check import eval_numerical_gradient_array, rel_error


def _random_conv_case(rng):
    N, C, Fn = rng.integers(1, 5), rng.integers(1, 5), rng.integers(1, 6)
    H, W = rng.integers(1, 13), rng.integers(1, 13)
    HH, WW = rng.integers(1, H + 1), rng.integers(1, W + 1)
    return rng.standard_normal((N, C, H, W)), rng.standard_normal((Fn, C, HH, WW))


def _torch_conv(x, w, dout):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def test_conv_against_torch_on_60_random_shapes():
    rng = np.random.default_rng(0)
    cases = [_random_conv_case(rng) for _ in range(56)]
    # Edge cases: C=1, F=1, kernel equal to the image, 1x1 kernel, non-square everything.
    cases += [(rng.standard_normal((2, 1, 7, 5)), rng.standard_normal((1, 1, 7, 5))),
              (rng.standard_normal((1, 3, 4, 9)), rng.standard_normal((2, 3, 1, 1))),
              (rng.standard_normal((3, 2, 11, 6)), rng.standard_normal((4, 2, 2, 5))),
              (rng.standard_normal((50, 6, 12, 12)), rng.standard_normal((16, 6, 5, 5)))]
    for x, w in cases:
        out, cache = conv_forward(x, w)
        dout = rng.standard_normal(out.shape)
        dx, dw = conv_backward(dout, cache)
        out_t, dx_t, dw_t = _torch_conv(x, w, dout)
        assert out.shape == out_t.shape, (x.shape, w.shape)
        np.testing.assert_allclose(out, out_t, atol=1e-10, err_msg=f"x {x.shape} w {w.shape}")
        np.testing.assert_allclose(dx, dx_t, atol=1e-10, err_msg=f"x {x.shape} w {w.shape}")
        np.testing.assert_allclose(dw, dw_t, atol=1e-10, err_msg=f"x {x.shape} w {w.shape}")


def test_conv_float32_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 10, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    out, cache = conv_forward(x, w)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw = conv_backward(dout, cache)
    out_t, dx_t, dw_t = _torch_conv(x, w, dout)
    assert out.dtype == dx.dtype == dw.dtype == np.float32
    np.testing.assert_allclose(out, out_t, atol=1e-4)
    np.testing.assert_allclose(dx, dx_t, atol=1e-4)
    np.testing.assert_allclose(dw, dw_t, atol=1e-4)


def test_conv_forward_is_the_filtering_formula():
    """Direct loops over the course's *filt definition on a tiny non-square case."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 2, 3))
    out, cache = conv_forward(x, w)
    expected = np.zeros((2, 2, 4, 2))
    for n in range(2):
        for f in range(2):
            for i in range(4):
                for j in range(2):
                    expected[n, f, i, j] = np.sum(x[n, :, i:i + 2, j:j + 3] * w[f])
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert cache[0] is x and cache[1] is w


def test_conv_backward_numerical_gradient_with_hand_built_cache():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    out, _ = conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dx, dw = conv_backward(dout, (x, w))  # exactly the documented cache contents
    dx_num = eval_numerical_gradient_array(lambda v: conv_forward(v, w)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: conv_forward(x, v)[0], w, dout)
    assert rel_error(dx, dx_num) < 1e-8
    assert rel_error(dw, dw_num) < 1e-8


def test_conv_backward_is_the_full_convolution_formula():
    """dx[n, c] = sum_f w[f, c] *full dout[n, f] written out with np.pad and flipped kernels."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    out, cache = conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dx, _ = conv_backward(dout, cache)
    HH, WW = w.shape[2:]
    expected = np.zeros_like(x)
    for n in range(2):
        for c in range(2):
            for f in range(3):
                padded = np.pad(dout[n, f], ((HH - 1, HH - 1), (WW - 1, WW - 1)))
                flipped = w[f, c, ::-1, ::-1]
                for i in range(6):
                    for j in range(5):
                        expected[n, c, i, j] += np.sum(padded[i:i + HH, j:j + WW] * flipped)
    np.testing.assert_allclose(dx, expected, atol=1e-12)


def _distinct(rng, shape):
    """Tie-free input: a random permutation of evenly spaced values."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) / 7.0


def test_max_pool_against_torch_on_60_random_shapes():
    rng = np.random.default_rng(5)
    for trial in range(60):
        ph, pw = rng.integers(1, 4), rng.integers(1, 4)
        stride = int(rng.integers(1, 4))
        H, W = rng.integers(ph, ph + 9), rng.integers(pw, pw + 9)
        x = _distinct(rng, (int(rng.integers(1, 4)), int(rng.integers(1, 4)), H, W))
        param = {"pool_height": int(ph), "pool_width": int(pw), "stride": stride}
        out, cache = max_pool_forward(x, param)
        dout = rng.standard_normal(out.shape)
        dx = max_pool_backward(dout, cache[:2])  # hand-built (x, pool_param) cache
        xt = torch.tensor(x, requires_grad=True)
        out_t = F.max_pool2d(xt, (ph, pw), stride=stride)
        out_t.backward(torch.tensor(dout))
        np.testing.assert_array_equal(out, out_t.detach().numpy(), err_msg=str(param))
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12, err_msg=str(param))
        np.testing.assert_allclose(max_pool_backward(dout, cache), dx, atol=1e-12)


def test_max_pool_numerical_gradient_and_defaults():
    rng = np.random.default_rng(6)
    x = _distinct(rng, (2, 3, 7, 8))
    out, cache = max_pool_forward(x, {})  # defaults: 3x3 windows, stride 1
    assert out.shape == (2, 3, 5, 6)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: max_pool_forward(v, {})[0], x, dout)
    assert rel_error(dx, dx_num) < 1e-8


def test_max_pool_ties_share_the_gradient():
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]]]])
    out, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward(np.array([[[[3.0]]]]), cache)
    np.testing.assert_allclose(dx, [[[[1.0, 1.0], [0.0, 1.0]]]])


def test_max_pool_overlapping_windows_accumulate():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the max of all four 2x2 windows
    _, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = max_pool_backward(np.ones((1, 1, 2, 2)), cache)
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


def test_max_pool_crops_rows_that_fit_no_window():
    rng = np.random.default_rng(7)
    x = _distinct(rng, (1, 2, 5, 7))
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward(x, param)
    assert out.shape == (1, 2, 2, 3)
    dx = max_pool_backward(np.ones(out.shape), cache)
    assert np.all(dx[:, :, 4, :] == 0) and np.all(dx[:, :, :, 6] == 0) and dx.sum() == out.size


@pytest.mark.parametrize("x, w, error, pattern", [
    (np.zeros((2, 3, 5)), np.zeros((1, 3, 2, 2)), ValueError, "x must have 4 dimensions"),
    (np.zeros((2, 3, 5, 5)), np.zeros((1, 2, 2, 2)), ValueError, "channel mismatch"),
    (np.zeros((2, 1, 4, 4)), np.zeros((1, 1, 5, 2)), ValueError, "no larger than the image"),
    (np.zeros((0, 1, 4, 4)), np.zeros((1, 1, 2, 2)), ValueError, "empty batch"),
    (np.zeros((1, 1, 4, 4), dtype=int), np.zeros((1, 1, 2, 2)), TypeError, "floating-point"),
    ([[[[1.0]]]], np.zeros((1, 1, 1, 1)), TypeError, "numpy array"),
])
def test_conv_forward_rejects_bad_input(x, w, error, pattern):
    with pytest.raises(error, match=pattern):
        conv_forward(x, w)


def test_pool_and_backward_reject_bad_input():
    with pytest.raises(ValueError, match="larger than the input"):
        max_pool_forward(np.zeros((1, 1, 2, 2)), {"pool_height": 3, "pool_width": 1, "stride": 1})
    with pytest.raises(ValueError, match="stride"):
        max_pool_forward(np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 0})
    with pytest.raises(ValueError, match="empty batch"):
        max_pool_forward(np.zeros((0, 1, 4, 4)), {})
    _, cache = conv_forward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="dout must have shape"):
        conv_backward(np.zeros((1, 1, 2, 2)), cache)


def test_conv_and_pool_do_not_mutate_inputs():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    x0, w0 = x.copy(), w.copy()
    out, cache = conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dout0 = dout.copy()
    conv_backward(dout, cache)
    pooled, pcache = max_pool_forward(out, {"pool_height": 2, "pool_width": 2, "stride": 2})
    out0, dpool = out.copy(), rng.standard_normal(pooled.shape)
    dpool0 = dpool.copy()
    max_pool_backward(dpool, pcache)
    for a, b in ((x, x0), (w, w0), (dout, dout0), (out, out0), (dpool, dpool0)):
        np.testing.assert_array_equal(a, b)


def test_hello(capsys):
    cnn_layers.hello()
    assert capsys.readouterr().out.strip() == "Hello from cnn_layers.py!"


@pytest.mark.parametrize("x_shape, w_shape", [((1, 1, 5, 5), (1, 1, 5, 5)), ((2, 3, 6, 4), (2, 3, 1, 4)),
                                              ((3, 2, 7, 7), (4, 2, 3, 3))])
def test_results_survive_later_calls(x_shape, w_shape):
    """Temporaries live in reused scratch memory; returned arrays must never alias it."""
    rng = np.random.default_rng(9)
    x1, x2 = rng.standard_normal(x_shape), rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    out1, cache1 = conv_forward(x1, w)
    dout = rng.standard_normal(out1.shape)
    dx1, dw1 = conv_backward(dout, cache1)
    saved = [a.copy() for a in (out1, dx1, dw1)]
    out2, cache2 = conv_forward(x2, w)
    dx2, dw2 = conv_backward(rng.standard_normal(out2.shape), cache2)
    for before, after in zip(saved, (out1, dx1, dw1)):
        np.testing.assert_array_equal(before, after)
    assert not any(np.shares_memory(a, b) for a in (out1, dx1, dw1) for b in (out2, dx2, dw2))
