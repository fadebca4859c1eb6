"""ConvNet: parameter shapes, init ranges and draw order, numerical gradients, PyTorch as an oracle, the
course grader's contract (layers called through cnn's module-level names, NumPy-scalar loss, dtypes kept).

Tests marked `course` check only the course's contract, so they pass on any implementation the course accepts:
parameter names and shapes (not values or draw order), square inputs, NumPy-scalar loss, float64 X giving
float64 results, the conv names patched. Seeded values, non-square inputs and float32 X are our extras."""
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnn
from cnn import ConvNet
from conftest import imported_names, run_beside
from gradient_check import eval_numerical_gradient, rel_error

ROOT = Path(__file__).resolve().parents[1]
NAIVE = Path(__file__).resolve().parent / "naive"
course = pytest.mark.course


@course
def test_params_have_the_courses_names_and_shapes():
    """The course checks the number of parameters and their shapes (its loss check then copies its own in)."""
    model = ConvNet(input_dim=(3, 29, 29), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=19,
                    num_classes=5)
    # h1 = (29 - 3 + 1) // 2 = 13, h2 = (13 - 3 + 1) // 2 = 5
    expected = {"W1": (4, 3, 3, 3), "W2": (5, 4, 3, 3), "W3": (5 * 5 * 5, 19), "b3": (19,), "W4": (19, 5),
                "b4": (5,)}
    assert {name: p.shape for name, p in model.params.items()} == expected


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


def test_params_are_drawn_in_the_documented_order():
    """W1, W2, W3, b3, W4, b4 from np.random.uniform(-sqrt(k), sqrt(k)), k = 1 / fan_in, then cast."""
    np.random.seed(231)
    model = ConvNet(input_dim=(2, 13, 11), num_filters_1=3, num_filters_2=4, filter_size=3, hidden_dim=5,
                    num_classes=6, dtype=np.float64)
    np.random.seed(231)
    fc_in = 4 * 1 * 1                  # h2 = ((13-3+1)//2 - 3 + 1)//2 = 1, w2 = ((11-3+1)//2 - 3 + 1)//2 = 1
    draws = [("W1", (3, 2, 3, 3), 18), ("W2", (4, 3, 3, 3), 27), ("W3", (fc_in, 5), fc_in), ("b3", (5,), fc_in),
             ("W4", (5, 6), 5), ("b4", (6,), 5)]
    for name, shape, fan_in in draws:
        bound = np.sqrt(1.0 / fan_in)
        np.testing.assert_array_equal(model.params[name], np.random.uniform(-bound, bound, size=shape), name)


def test_non_square_input_shapes():
    model = ConvNet(input_dim=(3, 32, 24), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=7,
                    num_classes=3, dtype=np.float64)
    # h1 = (32-3+1)//2 = 15, h2 = (15-3+1)//2 = 6; w1 = 11, w2 = 4
    assert model.params["W3"].shape == (5 * 6 * 4, 7)
    scores = model.loss(np.random.randn(2, 3, 32, 24))
    assert scores.shape == (2, 3)


def _torch_scores(t, X):
    a = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), t["W1"])), 2)
    a = F.max_pool2d(F.relu(F.conv2d(a, t["W2"])), 2)
    return F.relu(a.reshape(X.shape[0], -1) @ t["W3"] + t["b3"]) @ t["W4"] + t["b4"]


def _torch_loss(params, X, y):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss = F.cross_entropy(_torch_scores(t, X), torch.tensor(y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


@pytest.mark.parametrize("seed, input_dim", [pytest.param(0, (1, 28, 28), marks=course), (1, (2, 19, 23)),
                                             (2, (1, 16, 14))])
def test_loss_and_grads_match_torch(seed, input_dim):
    np.random.seed(seed)
    model = ConvNet(input_dim=input_dim, num_filters_1=3, num_filters_2=4, filter_size=3, hidden_dim=11,
                    num_classes=5, dtype=np.float64)
    X = np.random.randn(7, *input_dim)
    y = np.random.randint(0, 5, 7)
    loss, grads = model.loss(X, y)
    loss_t, grads_t = _torch_loss(model.params, X, y)
    assert loss == pytest.approx(loss_t, abs=1e-10)
    for name in model.params:
        np.testing.assert_allclose(grads[name], grads_t[name], atol=1e-10, err_msg=name)


@course
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


@course
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_is_a_numpy_scalar_and_float64_X_gives_float64(dtype):
    """The course's grader compares dtypes before values: float64 X gives float64 scores, loss and gradients,
    with its own float32 params as with float64 ones (the course's ConvNet casts only its params, never X)."""
    np.random.seed(0)
    model = ConvNet(input_dim=(3, 29, 29), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=19,
                    num_classes=5, dtype=dtype)
    X = np.random.standard_normal((5, 3, 29, 29))
    scores = model.loss(X)
    loss, grads = model.loss(X, np.array([0, 1, 2, 3, 4]))
    assert scores.dtype == np.float64
    assert isinstance(loss, np.floating) and loss.dtype == np.float64
    assert all(g.dtype == np.float64 for g in grads.values())


@course
def test_the_courses_convnet_loss_check():
    """As the course grades ConvNet.loss: its float32 params copied in, float64 X (5, 3, 29, 29), the conv names
    patched with reference layers (the naive ones here), scores, loss and every gradient against PyTorch
    (dtype, shape, max abs < 1e-6)."""
    rng = np.random.default_rng(12)
    model = ConvNet(input_dim=(3, 29, 29), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=19,
                    num_classes=5)
    for name, param in model.params.items():
        model.params[name] = (rng.standard_normal(param.shape) * 0.3).astype(np.float32)
    X, y = rng.standard_normal((5, 3, 29, 29)), rng.integers(0, 5, 5)
    naive = _naive_cnn_layers()
    with mock.patch("cnn.conv_forward", naive.conv_forward), mock.patch("cnn.conv_backward", naive.conv_backward):
        scores = model.loss(X)
        loss, grads = model.loss(X, y)
    params64 = {name: param.astype(np.float64) for name, param in model.params.items()}
    loss_t, grads_t = _torch_loss(params64, X, y)
    scores_t = _torch_scores({k: torch.tensor(v) for k, v in params64.items()}, X).numpy()
    assert scores.dtype == np.float64 and scores.shape == (5, 5) and np.max(np.abs(scores - scores_t)) < 1e-6
    assert isinstance(loss, np.floating) and loss.dtype == np.float64 and abs(loss - loss_t) < 1e-6
    for name in model.params:
        assert grads[name].dtype == np.float64 and grads[name].shape == model.params[name].shape, name
        assert np.max(np.abs(grads[name] - grads_t[name])) < 1e-6, name


def test_x_is_not_cast_to_the_params_dtype():
    np.random.seed(0)
    model = ConvNet()                                   # float32 params
    X = np.random.rand(2, 1, 28, 28)                    # float64 images: NumPy promotes, the course never casts X
    loss, grads = model.loss(X, np.array([1, 2]))
    assert model.loss(X).dtype == np.float64 and loss.dtype == np.float64
    loss32, _ = model.loss(X.astype(np.float32), np.array([1, 2]))
    assert loss32.dtype == np.float32


def test_scores_without_labels_and_float32_grads():
    np.random.seed(0)
    model = ConvNet()
    X = np.random.rand(4, 1, 28, 28).astype(np.float32)
    assert model.loss(X).shape == (4, 10)
    loss, grads = model.loss(X, np.array([1, 2, 3, 4]))
    assert np.isfinite(loss) and all(g.dtype == np.float32 for g in grads.values())


def test_repeated_calls_with_changing_batch_sizes_give_the_same_answer():
    """Results must not depend on call history (no state kept between calls)."""
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


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(filter_size=0), ValueError, "filter_size must be a positive integer"),
    (dict(num_filters_1=2.5), ValueError, "num_filters_1 must be a positive integer"),
    (dict(dtype=int), TypeError, "dtype must be a NumPy floating-point type"),
    (dict(input_dim=(1, 8, 8)), ValueError, "too small"),
])
def test_constructor_rejects_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        ConvNet(**kwargs)


def test_bad_input_and_no_mutation():
    model = ConvNet()
    with pytest.raises(ValueError, match=r"X must be an array of shape \(N, 1, 28, 28\)"):
        model.loss(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="with N >= 1, got"):
        model.loss(np.zeros((0, 1, 28, 28)))
    with pytest.raises(ValueError, match="y must be an array of shape"):
        model.loss(np.zeros((2, 1, 28, 28)), np.array([1]))
    X = np.random.rand(3, 1, 28, 28).astype(np.float32)
    y = np.array([1, 2, 3])
    X0, y0 = X.copy(), y.copy()
    model.loss(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_hello(capsys):
    cnn.hello()
    assert capsys.readouterr().out.strip() == "Hello from cnn.py!"


def _naive_cnn_layers():
    """tests/naive/cnn_layers.py (plain loops) under another module name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("naive_cnn_layers", NAIVE / "cnn_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loss_calls_the_conv_layers_through_module_level_names():
    """The course's grader patches cnn.conv_forward / cnn.conv_backward: the model should use what it finds there
    (ours: the course's own check only compares the results, so a model that bypasses a name still passes)."""
    np.random.seed(1)
    model = ConvNet(input_dim=(1, 12, 12), num_filters_1=2, num_filters_2=3, filter_size=3, hidden_dim=6,
                    num_classes=4, dtype=np.float64)
    X, y = np.random.randn(3, 1, 12, 12), np.array([0, 3, 1])
    expected_loss, expected_grads = model.loss(X, y)
    naive = _naive_cnn_layers()
    with mock.patch("cnn.conv_forward", side_effect=naive.conv_forward, autospec=True) as fwd, \
            mock.patch("cnn.conv_backward", side_effect=naive.conv_backward, autospec=True) as bwd:
        loss, grads = model.loss(X, y)
    assert fwd.call_count == 2 and bwd.call_count == 2
    assert loss == pytest.approx(expected_loss, abs=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name], expected_grads[name], atol=1e-12)
    expected_scores = model.loss(X)
    with mock.patch("cnn.conv_forward", side_effect=lambda x, w: (naive.conv_forward(x, w)[0] * 0, (x, w))):
        scores = model.loss(X)
    assert not np.allclose(scores, expected_scores)   # a different conv_forward changes what the model computes


def test_cnn_imports_only_the_course_api():
    """cnn.py names only documented course functions from other modules (it must work beside any correct
    cnn_layers.py and the course's layers.py)."""
    allowed = {"cnn_layers": {"conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward"},
               "layers": {"fc_forward", "fc_backward", "relu_forward", "relu_backward", "softmax_loss"}}
    for module, names in imported_names(ROOT / "cnn.py").items():
        assert module == "numpy" or (module in allowed and names <= allowed[module]), (module, names)


def test_cnn_trains_beside_plain_loop_layers(tmp_path):
    """Our cnn.py next to deliberately naive cnn_layers.py and a course-style layers.py: gradient check passes."""
    script = """
import numpy as np
from cnn import ConvNet
from gradient_check import eval_numerical_gradient, rel_error
np.random.seed(0)
model = ConvNet(input_dim=(2, 11, 10), num_filters_1=3, num_filters_2=2, filter_size=3, hidden_dim=5,
                num_classes=4, dtype=np.float64)
X, y = np.random.randn(2, 2, 11, 10), np.array([1, 3])
loss, grads = model.loss(X, y)
assert isinstance(loss, np.floating) and loss.dtype == np.float64, type(loss)
for name, param in model.params.items():
    num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
    assert rel_error(num, grads[name]) < 1e-6, (name, rel_error(num, grads[name]))
print("ok")
"""
    out = run_beside(tmp_path, ["cnn_layers.py", "layers.py"], ["cnn.py", "gradient_check.py"], script)
    assert out.strip() == "ok"
