"""ConvNet: parameter shapes and init ranges, numerical gradients, PyTorch as an oracle."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnn
from cnn import ConvNet
from gradient_check import eval_numerical_gradient, rel_error


def test_param_shapes_dtypes_and_pytorch_init_ranges():
    np.random.seed(0)
    model = ConvNet()
    expected = {"W1": (6, 1, 5, 5), "W2": (16, 6, 5, 5), "W3": (256, 100), "b3": (100,),
                "W4": (100, 10), "b4": (10,)}
    fan_in = {"W1": 25, "W2": 150, "W3": 256, "b3": 256, "W4": 100, "b4": 100}
    assert set(model.params) == set(expected)
    for name, shape in expected.items():
        p = model.params[name]
        bound = np.sqrt(1.0 / fan_in[name])
        assert p.shape == shape and p.dtype == np.float32, name
        assert np.all(np.abs(p) <= bound), name
        # a uniform sample fills its range: not a normal, not a narrower range
        if p.size >= 100:
            assert np.abs(p).max() > 0.9 * bound and abs(p.std() - bound / np.sqrt(3)) < 0.15 * bound, name


def test_non_square_input_shapes():
    model = ConvNet(input_dim=(3, 32, 24), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=7,
                    num_classes=3, dtype=np.float64)
    # h1 = (32-3+1)//2 = 15, h2 = (15-3+1)//2 = 6; w1 = 11, w2 = 4
    assert model.params["W3"].shape == (5 * 6 * 4, 7)
    scores = model.loss(np.random.randn(2, 3, 32, 24))
    assert scores.shape == (2, 3)


def _torch_loss(params, X, y):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), t["W1"])), 2)
    a = F.max_pool2d(F.relu(F.conv2d(a, t["W2"])), 2)
    h = F.relu(a.reshape(X.shape[0], -1) @ t["W3"] + t["b3"])
    loss = F.cross_entropy(h @ t["W4"] + t["b4"], torch.tensor(y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


@pytest.mark.parametrize("seed, input_dim", [(0, (1, 28, 28)), (1, (2, 19, 23)), (2, (1, 16, 14))])
def test_loss_and_grads_match_torch(seed, input_dim):
    np.random.seed(seed)
    model = ConvNet(input_dim=input_dim, num_filters_1=3, num_filters_2=4, filter_size=3, hidden_dim=11,
                    num_classes=5, dtype=np.float64)
    X = np.random.randn(7, *input_dim)
    y = np.random.randint(0, 5, 7)
    loss, grads = model.loss(X, y)
    loss_t, grads_t = _torch_loss(model.params, X, y)
    assert loss == pytest.approx(loss_t, abs=1e-12)
    for name in model.params:
        np.testing.assert_allclose(grads[name], grads_t[name], atol=1e-12, err_msg=name)


def test_numerical_gradient_of_every_parameter():
    np.random.seed(3)
    model = ConvNet(input_dim=(1, 12, 12), num_filters_1=2, num_filters_2=3, filter_size=3, hidden_dim=6,
                    num_classes=4, dtype=np.float64)
    X = np.random.randn(3, 1, 12, 12)
    y = np.array([0, 3, 1])
    loss, grads = model.loss(X, y)
    for name, param in model.params.items():
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False, h=1e-5)
        assert rel_error(num, grads[name]) < 1e-6, name


def test_scores_without_labels_and_float32_grads():
    np.random.seed(0)
    model = ConvNet()
    X = np.random.rand(4, 1, 28, 28).astype(np.float32)
    assert model.loss(X).shape == (4, 10)
    loss, grads = model.loss(X, np.array([1, 2, 3, 4]))
    assert np.isfinite(loss) and all(g.dtype == np.float32 for g in grads.values())


def test_repeated_calls_with_changing_batch_sizes_give_the_same_answer():
    """The model reuses scratch buffers between calls: results must not depend on call history."""
    np.random.seed(0)
    model = ConvNet(dtype=np.float64)
    X = np.random.rand(6, 1, 28, 28)
    y = np.arange(6)
    loss_a, grads_a = model.loss(X, y)
    model.loss(np.random.rand(9, 1, 28, 28))
    model.loss(np.random.rand(2, 1, 28, 28), np.array([0, 1]))
    loss_b, grads_b = model.loss(X, y)
    assert loss_a == loss_b
    for name in grads_a:
        np.testing.assert_array_equal(grads_a[name], grads_b[name])


def test_bad_input_and_no_mutation():
    model = ConvNet()
    with pytest.raises(ValueError, match=r"X must have shape \(N, 1, 28, 28\)"):
        model.loss(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="empty batch"):
        model.loss(np.zeros((0, 1, 28, 28)))
    with pytest.raises(ValueError, match="y must have shape"):
        model.loss(np.zeros((2, 1, 28, 28)), np.array([1]))
    with pytest.raises(ValueError, match="too small"):
        ConvNet(input_dim=(1, 8, 8))
    X = np.random.rand(3, 1, 28, 28).astype(np.float32)
    y = np.array([1, 2, 3])
    X0, y0 = X.copy(), y.copy()
    model.loss(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_hello(capsys):
    cnn.hello()
    assert capsys.readouterr().out.strip() == "Hello from cnn.py!"
