"""fc, relu and softmax_loss (provided by the course): numerical gradients, PyTorch as an independent oracle,
NumPy-scalar loss, bad input.

Tests marked `course` check only what the graded models need from this provided file, so they pass on the
course's own layers.py too: fc on (N, d_in) inputs, relu, and float64 softmax at ordinary scales (the graded
ConvNet feeds float64 scores). Refusing other input, float32 softmax and huge logits are our extras."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from layers import fc_backward, fc_forward, relu_backward, relu_forward, softmax_loss


def test_fc_forward_matches_direct_formula():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 30)), rng.standard_normal((30, 7)), rng.standard_normal(7)
    out, cache = fc_forward(x, w, b)
    expected = np.einsum("nd,dm->nm", x, w) + b
    assert out.shape == (4, 7)
    assert rel_error(out, expected) < 1e-12
    assert len(cache) == 3 and cache[0] is x and cache[1] is w and cache[2] is b


def test_fc_forward_does_not_flatten_like_the_courses():
    """The course's fc_forward expects (N, d_in): images must be flattened by the caller (cnn.py does)."""
    with pytest.raises(ValueError, match=r"x must have shape \(N, d_in\), got shape \(4, 2, 3, 5\)"):
        fc_forward(np.zeros((4, 2, 3, 5)), np.zeros((30, 7)), np.zeros(7))


@pytest.mark.course
def test_fc_backward_numerical_gradient():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((5, 6)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((5, 4))
    dx, dw, db = fc_backward(dout, fc_forward(x, w, b)[1])
    assert dx.shape == x.shape
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: fc_forward(v, w, b)[0], x, dout)) < 1e-8
    assert rel_error(dw, eval_numerical_gradient_array(lambda v: fc_forward(x, v, b)[0], w, dout)) < 1e-8
    assert rel_error(db, eval_numerical_gradient_array(lambda v: fc_forward(x, w, v)[0], b, dout)) < 1e-8


@pytest.mark.course
def test_relu_forward_backward():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep the numerical gradient away from the kink
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0))
    dout = rng.standard_normal(x.shape)
    dx = relu_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: relu_forward(v)[0], x, dout)) < 1e-9


@pytest.mark.course
@pytest.mark.parametrize("seed", range(20))
def test_softmax_loss_matches_torch_cross_entropy(seed):
    rng = np.random.default_rng(seed)
    N, C = rng.integers(1, 40), rng.integers(2, 15)
    x = rng.standard_normal((N, C)) * rng.choice([0.1, 1, 10])
    y = rng.integers(0, C, N)
    loss, dx = softmax_loss(x, y)
    xt = torch.tensor(x, requires_grad=True)
    lt = F.cross_entropy(xt, torch.tensor(y))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-10
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("dtype", [pytest.param(np.float64, marks=pytest.mark.course), np.float32])
def test_softmax_loss_is_a_numpy_scalar_of_the_scores_dtype(dtype):
    """The course's loss is -np.sum(...) / N: a NumPy scalar with a dtype (its grader checks dtypes)."""
    loss, dx = softmax_loss(np.random.randn(4, 3).astype(dtype), np.array([0, 1, 2, 0]))
    assert isinstance(loss, np.floating) and loss.dtype == dtype and dx.dtype == dtype


@pytest.mark.course
def test_softmax_loss_numerical_gradient():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    _, dx = softmax_loss(x, y)
    assert rel_error(dx, eval_numerical_gradient(lambda v: softmax_loss(v, y)[0], x, verbose=False)) < 1e-7


def test_softmax_loss_is_stable_for_huge_logits():
    x = np.array([[1e30, -1e30, 0.0], [5e3, 5e3, -5e3]])
    loss, dx = softmax_loss(x, np.array([0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx((0 + (1e4 + np.log(2))) / 2)


@pytest.mark.parametrize("bad_y, error", [
    (np.array([0.0, 1.0]), TypeError),           # non-integer labels
    (np.array([0, 3]), ValueError),              # out of range
    (np.array([-1, 0]), ValueError),
    (np.array([0, 1, 2]), ValueError),           # wrong length
])
def test_softmax_loss_rejects_bad_labels(bad_y, error):
    with pytest.raises(error, match="y|label"):
        softmax_loss(np.zeros((2, 3)), bad_y)


@pytest.mark.parametrize("scores", [np.array([[0.0, np.nan]]), np.array([[np.inf, 0.0]]),
                                    np.array([[-np.inf, -np.inf]])])
def test_softmax_loss_refuses_nan_and_inf_scores(scores):
    with pytest.raises(ValueError, match="NaN or infinite scores"):
        softmax_loss(scores, np.array([0]))


def test_bad_shapes_are_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="at least one row"):
        softmax_loss(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"expected x \(N, d_in\) with N >= 1, .* got x \(0, 3\)"):
        fc_forward(np.zeros((0, 3)), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"b \(d_out,\), got x \(2, 3\), w \(3, 2\) and b \(1,\)"):
        fc_forward(np.zeros((2, 3)), np.zeros((3, 2)), np.zeros(1))       # b (1,) would broadcast
    with pytest.raises(TypeError, match="x must be a numpy array of real numbers, got complex128"):
        fc_forward(np.zeros((1, 3), dtype=complex), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(TypeError, match="x must be a numpy array of real numbers"):
        relu_forward(np.ones(3, dtype=complex))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 2\)"):
        fc_backward(np.zeros((3, 2)), fc_forward(np.zeros((2, 3)), np.zeros((3, 2)), np.zeros(2))[1])
    with pytest.raises(ValueError, match=r"w \(d_in, d_out\)"):
        fc_forward(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(5))
    with pytest.raises(TypeError, match="x must be a numpy array"):
        fc_forward([[1.0]], np.zeros((1, 1)), np.zeros(1))


@pytest.mark.course
def test_layers_do_not_mutate_inputs():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    y = np.array([0, 1, 1])
    copies = [a.copy() for a in (x, w, b, y)]
    out, cache = fc_forward(x, w, b)
    fc_backward(np.ones_like(out), cache)
    relu_backward(np.ones_like(x), relu_forward(x)[1])
    softmax_loss(out, y)
    for original, copy in zip((x, w, b, y), copies):
        np.testing.assert_array_equal(original, copy)
