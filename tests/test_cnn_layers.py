"""Convolution and max pooling: numerical gradients, PyTorch on random shapes, the homework's formulas,
the course's tie rule, bad input, no mutation of inputs, no aliasing between results and caches.

Tests marked `course` check only the course's contract, so they pass on any implementation the course accepts
(`HW4_IMPL_DIR=tests/naive pytest -m course` runs them on deliberately naive loops): the course tests square
convolutions only (its starter's conv_backward padding holds for square inputs), and max pooling is provided
code that the graded ConvNet uses with 2x2 windows, stride 2, on tie-free input. Non-square convolutions,
overlapping windows, ties and results that survive later calls are our extras (unmarked)."""
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


course = pytest.mark.course


def _torch_conv(x, w, dout):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def _check_against_torch(cases, rng, atol):
    for x, w in cases:
        out, cache = conv_forward(x, w)
        dout = rng.standard_normal(out.shape)
        dx, dw = conv_backward(dout, cache)
        out_t, dx_t, dw_t = _torch_conv(x, w, dout)
        assert out.shape == out_t.shape, (x.shape, w.shape)
        assert out.dtype == dx.dtype == dw.dtype == np.float64
        np.testing.assert_allclose(out, out_t, atol=atol, err_msg=f"x {x.shape} w {w.shape}")
        np.testing.assert_allclose(dx, dx_t, atol=atol, err_msg=f"x {x.shape} w {w.shape}")
        np.testing.assert_allclose(dw, dw_t, atol=atol, err_msg=f"x {x.shape} w {w.shape}")


def test_conv_against_torch_on_60_random_shapes():
    rng = np.random.default_rng(0)
    cases = [_random_conv_case(rng) for _ in range(56)]
    # Edge cases: C=1, F=1, kernel equal to the image, 1x1 kernel, non-square everything.
    cases += [(rng.standard_normal((2, 1, 7, 5)), rng.standard_normal((1, 1, 7, 5))),
              (rng.standard_normal((1, 3, 4, 9)), rng.standard_normal((2, 3, 1, 1))),
              (rng.standard_normal((3, 2, 11, 6)), rng.standard_normal((4, 2, 2, 5))),
              (rng.standard_normal((50, 6, 12, 12)), rng.standard_normal((16, 6, 5, 5)))]
    _check_against_torch(cases, rng, atol=1e-9)


@course
def test_conv_against_torch_on_square_shapes():
    """The course's shapes (x (7, 3, 19, 19), w (5, 3, 4, 4)) and 20 random square ones, at its tolerance."""
    rng = np.random.default_rng(20)
    cases = [(rng.standard_normal((7, 3, 19, 19)), rng.standard_normal((5, 3, 4, 4)))]
    for _ in range(20):
        N, C, Fn, H = (int(v) for v in rng.integers(1, [5, 5, 6, 13]))
        HH = int(rng.integers(1, H + 1))
        cases.append((rng.standard_normal((N, C, H, H)), rng.standard_normal((Fn, C, HH, HH))))
    _check_against_torch(cases, rng, atol=1e-6)


@course
def test_conv_cache_is_the_courses_and_backward_takes_the_courses_cache():
    """The course compares the forward's cache item by item with (x, w) and calls the backward pass with its own
    cache (x (7, 3, 19, 19), w (5, 3, 4, 4), standard normal)."""
    rng = np.random.default_rng(21)
    x, w = rng.standard_normal((7, 3, 19, 19)), rng.standard_normal((5, 3, 4, 4))
    out, cache = conv_forward(x, w)
    assert isinstance(cache, tuple) and len(cache) == 2
    for got, expected in zip(cache, (x, w)):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.max(np.abs(got - expected)) < 1e-6
    dout = rng.standard_normal(out.shape)
    dx, dw = conv_backward(dout, (x.copy(), w.copy()))
    _, dx_t, dw_t = _torch_conv(x, w, dout)
    assert dx.dtype == dw.dtype == np.float64 and dx.shape == x.shape and dw.shape == w.shape
    assert np.max(np.abs(dx - dx_t)) < 1e-6 and np.max(np.abs(dw - dw_t)) < 1e-6


def test_conv_float32_stays_float32_and_matches_torch():
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


@pytest.mark.parametrize("x_shape, w_shape", [pytest.param((2, 3, 5, 5), (2, 3, 2, 2), marks=course, id="square"),
                                              pytest.param((2, 3, 5, 4), (2, 3, 2, 3), id="non-square")])
def test_conv_forward_is_the_filtering_formula(x_shape, w_shape):
    """Direct loops over the course's *filt definition on a tiny case."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out, cache = conv_forward(x, w)
    (N, C, H, W), (Fn, _, HH, WW) = x.shape, w.shape
    expected = np.zeros((N, Fn, H - HH + 1, W - WW + 1))
    for n in range(N):
        for f in range(Fn):
            for i in range(H - HH + 1):
                for j in range(W - WW + 1):
                    expected[n, f, i, j] = np.sum(x[n, :, i:i + HH, j:j + WW] * w[f])
    np.testing.assert_allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape", [pytest.param((2, 3, 7, 7), (4, 3, 3, 3), marks=course, id="square"),
                                              pytest.param((2, 3, 7, 6), (4, 3, 3, 2), id="non-square")])
def test_conv_backward_numerical_gradient(x_shape, w_shape):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out, cache = conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dx, dw = conv_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: conv_forward(v, w)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: conv_forward(x, v)[0], w, dout)
    # The course's tolerance for conv gradients (atol 1e-7); centered differences are good to ~1e-9 here.
    np.testing.assert_allclose(dx, dx_num, atol=1e-7)
    np.testing.assert_allclose(dw, dw_num, atol=1e-7)


@pytest.mark.parametrize("x_shape, w_shape", [pytest.param((2, 2, 6, 6), (3, 2, 3, 3), marks=course, id="square"),
                                              pytest.param((2, 2, 6, 5), (3, 2, 3, 2), id="non-square")])
def test_conv_backward_is_the_full_convolution_formula(x_shape, w_shape):
    """dx[n, c] = sum_f w[f, c] *full dout[n, f] written out with np.pad and flipped kernels."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out, cache = conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dx, _ = conv_backward(dout, cache)
    (N, C, H, W), (Fn, _, HH, WW) = x.shape, w.shape
    expected = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for f in range(Fn):
                padded = np.pad(dout[n, f], ((HH - 1, HH - 1), (WW - 1, WW - 1)))
                flipped = w[f, c, ::-1, ::-1]
                for i in range(H):
                    for j in range(W):
                        expected[n, c, i, j] += np.sum(padded[i:i + HH, j:j + WW] * flipped)
    np.testing.assert_allclose(dx, expected, atol=1e-12)


def _distinct(rng, shape):
    """Tie-free input: a random permutation of evenly spaced values."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) / 7.0


@pytest.mark.parametrize("windows", [pytest.param("the ConvNet's 2x2, stride 2", marks=course), "any"])
def test_max_pool_against_torch_on_60_random_shapes(windows):
    """Tie-free input. The graded ConvNet pools 2x2 windows with stride 2 (provided code, graded only there):
    other windows and strides are our extra."""
    rng = np.random.default_rng(5)
    for trial in range(60):
        ph, pw = rng.integers(1, 4), rng.integers(1, 4)
        stride = int(rng.integers(1, 4))
        if windows != "any":
            ph = pw = stride = 2
        H, W = rng.integers(ph, ph + 9), rng.integers(pw, pw + 9)
        x = _distinct(rng, (int(rng.integers(1, 4)), int(rng.integers(1, 4)), H, W))
        param = {"pool_height": int(ph), "pool_width": int(pw), "stride": stride}
        xt = torch.tensor(x, requires_grad=True)
        out, cache = max_pool_forward(x, param)
        dout = rng.standard_normal(out.shape)
        dx = max_pool_backward(dout, cache)
        out_t = F.max_pool2d(xt, (ph, pw), stride=stride)
        out_t.backward(torch.tensor(dout))
        np.testing.assert_array_equal(out, out_t.detach().numpy(), err_msg=str(param))
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12, err_msg=str(param))


def test_max_pool_numerical_gradient():
    rng = np.random.default_rng(6)
    x = _distinct(rng, (2, 3, 7, 8))
    param = {"pool_height": 3, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward(x, param)
    assert out.shape == (2, 3, 3, 4)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: max_pool_forward(v, param)[0], x, dout)
    np.testing.assert_allclose(dx, dx_num, atol=1e-9)


def test_max_pool_missing_keys_take_the_course_defaults():
    rng = np.random.default_rng(6)
    x = _distinct(rng, (2, 3, 7, 8))
    out, cache = max_pool_forward(x, {})  # the course's code defaults to 3x3 windows, stride 1
    assert out.shape == (2, 3, 5, 6)
    np.testing.assert_array_equal(out, max_pool_forward(x, {"pool_height": 3, "pool_width": 3, "stride": 1})[0])


def test_max_pool_ties_each_get_the_full_gradient():
    """The course's reference rule: every element equal to its window's max receives the window's whole dout
    (provided code, never graded: the course's inputs have no ties)."""
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]]]])
    out, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward(np.array([[[[3.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[3.0, 3.0], [0.0, 3.0]]]])


def test_max_pool_ties_in_overlapping_windows_add_up():
    x = np.array([[[[2.0, 2.0, 2.0], [0.0, 2.0, 1.0]]]])       # windows 2x2, stride 1: (0,0) and (0,1)
    _, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = max_pool_backward(np.array([[[[1.0, 10.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[1.0, 11.0, 10.0], [0.0, 11.0, 0.0]]]])


def test_max_pool_overlapping_windows_accumulate():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the max of all four 2x2 windows
    _, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = max_pool_backward(np.ones((1, 1, 2, 2)), cache)
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


@course
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
    (np.zeros((0, 1, 4, 4)), np.zeros((1, 1, 2, 2)), ValueError,
     r"x \(N, C, H, W\) = \(0, 1, 4, 4\) and w \(F, C, HH, WW\) = \(1, 1, 2, 2\) must hold at least one image"),
    (np.zeros((1, 1, 4, 4)), np.zeros((0, 1, 2, 2)), ValueError,
     r"x \(N, C, H, W\) = \(1, 1, 4, 4\) and w \(F, C, HH, WW\) = \(0, 1, 2, 2\) must hold at least one image"),
    (np.zeros((1, 1, 4, 4), dtype=int), np.zeros((1, 1, 2, 2)), TypeError, "x must be a real floating"),
    (np.zeros((1, 1, 4, 4), dtype=complex), np.zeros((1, 1, 2, 2)), TypeError, "x must be a real floating"),
    (np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2), dtype=complex), TypeError, "w must be a real floating"),
    ([[[[1.0]]]], np.zeros((1, 1, 1, 1)), TypeError, "x must be a real floating-point numpy array, got list"),
])
def test_conv_forward_rejects_bad_input(x, w, error, pattern):
    with pytest.raises(error, match=pattern):
        conv_forward(x, w)


@pytest.mark.parametrize("x, param, error, pattern", [
    (np.zeros((1, 1, 2, 2)), {"pool_height": 3, "pool_width": 1, "stride": 1}, ValueError, "larger than the input"),
    (np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 0}, ValueError, r"\['stride'\]"),
    (np.zeros((1, 1, 4, 4)), {"pool_height": 2.0}, ValueError, r"\['pool_height'\] must be a positive integer"),
    (np.zeros((0, 1, 4, 4)), {}, ValueError, "at least one image"),
    (np.zeros((1, 1, 4, 4)), {"pool_h": 2, "pool_width": 2, "stride": 2}, ValueError, r"unknown keys \['pool_h'\]"),
    (np.zeros((1, 1, 4, 4)), [("pool_height", 2)], TypeError, "pool_param must be a dict"),
    (np.zeros((1, 1, 4, 4), dtype=complex), {}, TypeError, "x must be a real floating"),
])
def test_max_pool_forward_rejects_bad_input(x, param, error, pattern):
    with pytest.raises(error, match=pattern):
        max_pool_forward(x, param)


def test_backward_passes_reject_bad_upstream_gradients():
    _, cache = conv_forward(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(1, 1, 3, 3\)"):
        conv_backward(np.zeros((1, 1, 2, 2)), cache)
    _, cache = max_pool_forward(np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(TypeError, match="dout must be a real floating-point numpy array, got list"):
        max_pool_backward([[[[1.0, 1.0], [1.0, 1.0]]]], cache)
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(1, 1, 2, 2\)"):
        max_pool_backward(np.zeros((1, 1, 3, 3)), cache)


def test_max_pool_cache_does_not_alias_the_output():
    """A caller may edit the returned output in place; the backward pass must not change because of it (our
    rule, not the course's: its reference caches may hold the outputs)."""
    rng = np.random.default_rng(10)
    x = _distinct(rng, (2, 2, 6, 6))
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward(x, param)
    dout = rng.standard_normal(out.shape)
    expected = max_pool_backward(dout, cache)
    out += 1
    np.testing.assert_array_equal(max_pool_backward(dout, cache), expected)
    conv_out, conv_cache = conv_forward(x, rng.standard_normal((3, 2, 3, 3)))
    expected = conv_backward(np.ones_like(conv_out), conv_cache)
    conv_out *= -1
    for got, want in zip(conv_backward(np.ones_like(conv_out), conv_cache), expected):
        np.testing.assert_array_equal(got, want)


@course
def test_conv_does_not_mutate_inputs():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    x0, w0 = x.copy(), w.copy()
    out, cache = conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dout0 = dout.copy()
    conv_backward(dout, cache)
    for a, b in ((x, x0), (w, w0), (dout, dout0)):
        np.testing.assert_array_equal(a, b)


def test_pool_does_not_mutate_inputs():
    """Ours: the course never checks the provided max pooling's inputs (the ConvNet no longer reads them)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 4, 4))
    pooled, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    x0, dpool = x.copy(), rng.standard_normal(pooled.shape)
    dpool0 = dpool.copy()
    max_pool_backward(dpool, cache)
    for a, b in ((x, x0), (dpool, dpool0)):
        np.testing.assert_array_equal(a, b)


def test_hello(capsys):
    cnn_layers.hello()
    assert capsys.readouterr().out.strip() == "Hello from cnn_layers.py!"


@pytest.mark.parametrize("x_shape, w_shape", [((1, 1, 5, 5), (1, 1, 5, 5)), ((2, 3, 6, 4), (2, 3, 1, 4)),
                                              ((3, 2, 7, 7), (4, 2, 3, 3))])
def test_results_survive_later_calls(x_shape, w_shape):
    """Returned arrays never alias memory a later call writes (our rule: the course compares each call's
    results at once)."""
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
