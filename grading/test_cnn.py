"""Q1, as the course grades it: cnn_layers.py (conv_forward, conv_backward) and cnn.py (ConvNet).

The course's contract (what decides the exit status): conv_forward / conv_backward on x (7, 3, 19, 19) and
w (5, 3, 4, 4), standard normal, 10 trials; the forward's cache is compared item by item with (x, w) and the
backward is called with the course's own cache. ConvNet.__init__: the number of parameters and their shapes.
ConvNet.loss on X (5, 3, 29, 29) float64 with the course's float32 params copied in (num_filters 4 and 5,
filter_size 3, hidden_dim 19, 5 classes), cnn.conv_forward / cnn.conv_backward patched with the reference, the
rest from the student's own files; scores, loss and every gradient compared, 10 trials. Max pooling, fc, ReLU
and softmax are provided code: not graded. Everything else here is advice (WARN).

    python -m grading.test_cnn [--dir DIR]      # this question only (same as python autograder.py cnn)
"""
import sys
from unittest import mock

import numpy as np

from grading.case import GradingCase, advice, check, held_in_cache, rng_for, shapes, tie_free
from grading.sandbox import reference
from grading.verdicts import CheckFailure, ContractError

REF, REF_LAYERS = reference("cnn_layers"), reference("layers")
COURSE_CONV = ((7, 3, 19, 19), (5, 3, 4, 4))
COURSE_NET = dict(input_dim=(3, 29, 29), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=19,
                  num_classes=5)
TRIALS = 10
CONV_CASES = [  # (N, C, H, W, F, HH, WW): non-square images and kernels, C = 1, F = 1, kernel = image
    (2, 3, 7, 5, 4, 3, 2), (1, 1, 5, 5, 1, 5, 5), (3, 2, 6, 9, 2, 1, 4), (2, 1, 8, 8, 3, 3, 3),
    (1, 4, 4, 6, 1, 4, 1), (2, 2, 5, 7, 3, 2, 5),
]
POOL_CASES = [  # (x shape, (pool_height, pool_width, stride)): non-overlapping, overlapping, uncovered edges
    ((2, 3, 8, 6), (2, 2, 2)), ((1, 2, 9, 7), (2, 2, 2)), ((2, 2, 7, 8), (3, 2, 1)), ((3, 1, 7, 7), (3, 3, 2)),
    ((2, 2, 5, 9), (1, 4, 3)), ((1, 1, 4, 4), (4, 4, 1)),
]
HINT_FORWARD = ("out[n, f, i, j] = sum over c, p, q of x[n, c, i + p, j + q] * w[f, c, p, q]: the course's filtering "
                "(no kernel flip), no padding, stride 1, out (N, F, H - HH + 1, W - WW + 1); cache (x, w)")
HINT_BACKWARD = ("dx[n, c] = sum over f of w[f, c] *full dout[n, f] (the full convolution flips the kernel); "
                 "dw[f, c] = sum over n of x[n, c] *filt dout[n, f]; the cache is (x, w)")
HINT_POOL_TIES = ("the course's rule for tied maxima: every element equal to its window's maximum receives that "
                  "window's full upstream gradient (dx[window] += (window == window.max()) * dout), with no "
                  "division among the ties and not only the first argmax; overlapping windows add up")
HINT_NAMES = ("at the top of cnn.py: `from cnn_layers import conv_forward, conv_backward, max_pool_forward, "
              "max_pool_backward` and `from layers import fc_forward, ...`, and call those names in ConvNet.loss: "
              "the course replaces cnn.conv_forward / cnn.conv_backward with its reference")
HINT_NET = ("conv - relu - 2x2 max pool - conv - relu - 2x2 max pool - flatten to (N, -1) (the course's fc_forward "
            "does not flatten) - fc - relu - fc - softmax_loss; backpropagate through every layer in reverse; do not "
            "cast X or the gradients (float32 params with float64 X give float64 results)")
WHY_SHAPES = ("a convolution layer must work for any image and kernel size: a non-square image (e.g. a 28 x 32 "
              "scan) or kernel gives a wrong answer or a crash with this code")
WHY_POOL = "max pooling is provided code; if you changed it, the course's ConvNet check runs your version"


# ---------------------------------------------------------------------------------------------------------
# Reference functions
# ---------------------------------------------------------------------------------------------------------
def convnet_shapes(input_dim, num_filters_1, num_filters_2, filter_size, hidden_dim, num_classes):
    """The documented parameter shapes of ConvNet and each parameter's fan-in, in the documented draw order."""
    C, H, W = input_dim
    h2 = ((H - filter_size + 1) // 2 - filter_size + 1) // 2
    w2 = ((W - filter_size + 1) // 2 - filter_size + 1) // 2
    fc_in = num_filters_2 * h2 * w2
    shapes_ = {"W1": (num_filters_1, C, filter_size, filter_size),
               "W2": (num_filters_2, num_filters_1, filter_size, filter_size), "W3": (fc_in, hidden_dim),
               "b3": (hidden_dim,), "W4": (hidden_dim, num_classes), "b4": (num_classes,)}
    fan_in = {"W1": C * filter_size ** 2, "W2": num_filters_1 * filter_size ** 2, "W3": fc_in, "b3": fc_in,
              "W4": hidden_dim, "b4": hidden_dim}
    return shapes_, fan_in


def course_params(rng, arch, dtype=np.float32):
    """Parameters as the course's ConvNet draws them: uniform in +-sqrt(1 / fan_in), cast to ``dtype``."""
    shapes_, fan_in = convnet_shapes(**arch)
    return {k: rng.uniform(-1, 1, s).astype(dtype) * np.sqrt(1 / fan_in[k]).astype(dtype) for k, s in shapes_.items()}


def ref_convnet_loss(params, X, y):
    """The reference ConvNet: (scores, loss, grads), composed from the reference layers."""
    L, pool = REF_LAYERS, {"pool_height": 2, "pool_width": 2, "stride": 2}
    a1, c1 = REF.conv_forward(X, params["W1"])
    p1, pc1 = REF.max_pool_forward(L.relu_forward(a1)[0], pool)
    a2, c2 = REF.conv_forward(p1, params["W2"])
    p2, pc2 = REF.max_pool_forward(L.relu_forward(a2)[0], pool)
    h, hc = L.fc_forward(p2.reshape(len(X), -1), params["W3"], params["b3"])
    scores, sc = L.fc_forward(L.relu_forward(h)[0], params["W4"], params["b4"])
    loss, dscores = L.softmax_loss(scores, y)
    grads = {}
    dhr, grads["W4"], grads["b4"] = L.fc_backward(dscores, sc)
    dflat, grads["W3"], grads["b3"] = L.fc_backward(L.relu_backward(dhr, h), hc)
    dp1, grads["W2"] = REF.conv_backward(L.relu_backward(REF.max_pool_backward(dflat.reshape(p2.shape), pc2), a2), c2)
    _, grads["W1"] = REF.conv_backward(L.relu_backward(REF.max_pool_backward(dp1, pc1), a1), c1)
    return scores, loss, grads


def pool_out_shape(shape, ph, pw, stride):
    N, C, H, W = shape
    return N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride


def _pool_param(ph, pw, stride):
    return {"pool_height": ph, "pool_width": pw, "stride": stride}


# ---------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------
class TestCnn(GradingCase):
    """Q1: cnn_layers.py and cnn.py."""

    QUESTION = "cnn"

    # -- graded: the course's tests ----------------------------------------------------------------------
    @check("conv_forward", "the course's test: out and cache for x (7, 3, 19, 19), w (5, 3, 4, 4), 10 trials",
           HINT_FORWARD)
    def test_conv_forward(self):
        layers, rng = self.module("cnn_layers"), rng_for("conv_forward")
        for trial in range(TRIALS):
            x, w = rng.standard_normal(COURSE_CONV[0]), rng.standard_normal(COURSE_CONV[1])
            self.now = shapes(x, w, names=("x", "w")) + f", trial {trial + 1}"
            out, cache = self.returns(layers, "conv_forward", 2, "(out, cache)", x, w)
            expected, _ = REF.conv_forward(x, w)
            self.assert_close("conv_forward out", out, expected, diagnose=[(
                "a convolution with the kernel flipped", REF.conv_forward(x, w[:, :, ::-1, ::-1])[0],
                "conv_forward is the course's filtering *filt, which does not flip the kernel")])
            self.assert_cache("conv_forward cache", cache, (x, w), ("x", "w"))

    @check("conv_backward", "the course's test: dx and dw from the course's cache (x, w), 10 trials", HINT_BACKWARD)
    def test_conv_backward(self):
        layers, rng = self.module("cnn_layers"), rng_for("conv_backward")
        for trial in range(TRIALS):
            x, w = rng.standard_normal(COURSE_CONV[0]), rng.standard_normal(COURSE_CONV[1])
            dout = rng.standard_normal((7, 5, 16, 16))
            self.now = shapes(x, w, dout, names=("x", "w", "dout")) + f", trial {trial + 1}"
            self._check_conv_backward(layers, x, w, dout)

    def _check_conv_backward(self, layers, x, w, dout):
        cache = (x, w)
        dx, dw = self.returns(layers, "conv_backward", 2, "(dx, dw)", dout, cache,
                              watch=held_in_cache("the course's cache", x=x, w=w))
        ref_dx, ref_dw = REF.conv_backward(dout, cache)
        self.assert_close("conv_backward dx", dx, ref_dx, diagnose=[(
            "the full convolution with the kernel not flipped", REF.conv_backward(dout, (x, w[:, :, ::-1, ::-1]))[0],
            "the kernel must be flipped for dx: dx is the full convolution of dout with w rotated 180 degrees")])
        self.assert_close("conv_backward dw", dw, ref_dw, diagnose=[(
            "the filtering with the kernel axes flipped", ref_dw[:, :, ::-1, ::-1],
            "dw[f, c, p, q] = sum over n, i, j of x[n, c, i + p, j + q] * dout[n, f, i, j]: no flip for dw")])
        return dx, dw

    @check("ConvNet.__init__", "the course's test: the number of parameters and their shapes",
           "self.params holds W1 (F1, C, fs, fs), W2 (F2, F1, fs, fs), W3 (F2 * H2 * W2, hidden_dim), b3 "
           "(hidden_dim,), W4 (hidden_dim, num_classes), b4 (num_classes,), with H2 = ((H - fs + 1) // 2 - fs + "
           "1) // 2 (two valid convolutions, each followed by 2x2 max pooling)")
    def test_convnet_init(self):
        cnn = self.module("cnn")
        defaults = dict(input_dim=(1, 28, 28), num_filters_1=6, num_filters_2=16, filter_size=5, hidden_dim=100,
                        num_classes=10)
        for kwargs, arch in (({}, defaults), (COURSE_NET, COURSE_NET)):
            self.now = f"ConvNet({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
            model = self.call("ConvNet", cnn.ConvNet, **kwargs)
            expected, _ = convnet_shapes(**arch)
            params = self.expect_dict("ConvNet.__init__ params", getattr(model, "params", None), expected)
            for name, shape in expected.items():
                self.expect_array(f"ConvNet.__init__ params[{name!r}]", params[name], shape)

    @check("ConvNet.loss", "the course's test: float32 params, X float64 (5, 3, 29, 29), conv names patched, "
           "10 trials", HINT_NET)
    def test_convnet_loss(self):
        cnn = self.module("cnn")
        self._course_loss_trials(cnn, rng_for("convnet loss"), TRIALS)

    def _course_loss_trials(self, cnn, rng, trials):
        """The course's ConvNet.loss test on ``cnn``; returns the patched names' mocks (for call counts)."""
        patches = self._patched(cnn)
        with patches[0] as forward, patches[1] as backward:
            model = self.call("ConvNet", cnn.ConvNet, **COURSE_NET)
            for trial in range(trials):
                params, X, y = course_params(rng, COURSE_NET), rng.standard_normal((5, 3, 29, 29)), rng.integers(0, 5, 5)
                self.now = f"ConvNet(input_dim=(3, 29, 29), num_filters_1=4, num_filters_2=5, filter_size=3, " \
                           f"hidden_dim=19, num_classes=5) with float32 params, X float64 (5, 3, 29, 29), trial {trial + 1}"
                self._compare_model(model, params, X, y)
        return forward, backward

    def _patched(self, cnn):
        missing = [n for n in ("conv_forward", "conv_backward") if not callable(getattr(cnn, n, None))]
        if missing:
            raise ContractError(f"cnn.py has no module-level {', '.join(missing)}: the course patches "
                                f"cnn.{missing[0]} with its reference implementation, which fails with "
                                f"AttributeError", HINT_NAMES, "ConvNet.loss")
        return [mock.patch.object(cnn, n, side_effect=getattr(REF, n), autospec=True)
                for n in ("conv_forward", "conv_backward")]

    def _compare_model(self, model, params, X, y):
        """scores, loss and every gradient of ``model`` with ``params`` copied in, against the reference."""
        have = self.expect_dict("ConvNet.params", getattr(model, "params", None), params)
        for name, value in params.items():
            have[name] = value.copy()
        ref_scores, ref_loss, ref_grads = ref_convnet_loss(params, X, y)
        scores = self.call("ConvNet.loss", model.loss, X)
        self.assert_close("ConvNet.loss(X) scores", scores, ref_scores)
        loss, grads = self.unpack("ConvNet.loss", self.call("ConvNet.loss", model.loss, X, y), 2, "(loss, grads)")
        self.assert_scalar("ConvNet.loss(X, y) loss", loss, ref_loss)
        self.expect_dict("ConvNet.loss grads", grads, ref_grads)
        for name in ("W4", "b4", "W3", "b3", "W2", "W1"):        # backpropagation's order
            self.assert_close(f"ConvNet.loss grads[{name!r}]", grads[name], ref_grads[name])

    # -- advice ----------------------------------------------------------------------------------------
    @check("conv_forward / conv_backward", "non-square images and kernels, C = 1, F = 1, kernel = image",
           HINT_BACKWARD)
    @advice(WHY_SHAPES)
    def test_conv_any_shape(self):
        layers, rng = self.module("cnn_layers"), rng_for("conv shapes")
        for N, C, H, W, F, HH, WW in CONV_CASES:
            x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
            dout = rng.standard_normal((N, F, H - HH + 1, W - WW + 1))
            self.now = shapes(x, w, names=("x", "w"))
            out, _ = self.returns(layers, "conv_forward", 2, "(out, cache)", x, w)
            self.assert_close("conv_forward out", out, REF.conv_forward(x, w)[0])
            self.remember("conv_forward", out)
            self.remember("conv_backward", self._check_conv_backward(layers, x, w, dout))
        self.check_kept()

    @check("conv_forward / conv_backward", "against PyTorch conv2d on random shapes (optional oracle)",
           "compare with torch.nn.functional.conv2d on the failing shape")
    @advice("PyTorch's conv2d is an independent oracle: a mismatch on any shape is a bug")
    def test_conv_torch(self):
        torch, layers, rng = self.optional("torch", "the PyTorch conv2d oracle"), self.module("cnn_layers"), \
            rng_for("conv torch")
        for _ in range(12):
            N, C, F = (int(v) for v in rng.integers(1, 4, 3))
            H, W = (int(v) for v in rng.integers(1, 9, 2))
            HH, WW = int(rng.integers(1, H + 1)), int(rng.integers(1, W + 1))
            x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
            xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
            out_t = torch.nn.functional.conv2d(xt, wt)
            dout = rng.standard_normal(tuple(out_t.shape))
            out_t.backward(torch.tensor(dout))
            self.now = shapes(x, w, names=("x", "w")) + " (vs PyTorch)"
            out, cache = self.returns(layers, "conv_forward", 2, "(out, cache)", x, w)
            self.assert_close("conv_forward out", out, out_t.detach().numpy())
            dx, dw = self.returns(layers, "conv_backward", 2, "(dx, dw)", dout, cache)
            self.assert_close("conv_backward dx", dx, xt.grad.numpy())
            self.assert_close("conv_backward dw", dw, wt.grad.numpy())

    @check("max_pool_forward / max_pool_backward", "provided code: distinct values, overlapping windows",
           "out has 1 + (H - pool_height) // stride rows and 1 + (W - pool_width) // stride columns; backward "
           "routes each window's gradient to its maximum, adding up where windows overlap")
    @advice(WHY_POOL)
    def test_max_pool(self):
        layers, rng = self.module("cnn_layers"), rng_for("max pool")
        for shape, (ph, pw, s) in POOL_CASES:
            x = tie_free(rng, shape)
            self.now = f"x {shape}, pool {ph}x{pw} stride {s} (distinct values)"
            out, cache = self.returns(layers, "max_pool_forward", 2, "(out, cache)", x, _pool_param(ph, pw, s))
            self.assert_close("max_pool_forward out", out, REF.max_pool_forward(x, _pool_param(ph, pw, s))[0])
            dout = rng.standard_normal(pool_out_shape(shape, ph, pw, s))
            dx = self.call("max_pool_backward", layers.max_pool_backward, dout, cache,
                           watch=held_in_cache("max_pool_forward", x=x))
            self.assert_close("max_pool_backward dx", dx, REF.max_pool_backward_rule(x, dout, ph, pw, s), diagnose=[(
                "assigning instead of adding where windows overlap",
                REF.max_pool_backward_rule(x, dout, ph, pw, s, "assign"),
                "overlapping windows (stride < pool size) can share a maximum: add the gradients")])
            self.remember("max_pool_forward", out)
        self.check_kept()

    @check("max_pool_backward", "provided code: tied maxima (the course's rule)", HINT_POOL_TIES)
    @advice(WHY_POOL + "; its tie rule decides the gradient wherever activations repeat")
    def test_max_pool_ties(self):
        layers, rng = self.module("cnn_layers"), rng_for("max pool ties")
        for shape, (ph, pw, s) in [((2, 2, 6, 6), (2, 2, 2)), ((1, 2, 5, 7), (3, 3, 1)), ((2, 1, 6, 5), (2, 2, 1))]:
            x = rng.integers(0, 3, shape).astype(np.float64)        # small integers: many ties
            self.now = f"x {shape} holding small integers (tied maxima), pool {ph}x{pw} stride {s}"
            _, cache = self.returns(layers, "max_pool_forward", 2, "(out, cache)", x, _pool_param(ph, pw, s))
            dout = rng.standard_normal(pool_out_shape(shape, ph, pw, s))
            dx = self.call("max_pool_backward", layers.max_pool_backward, dout, cache)
            rule = REF.max_pool_backward_rule
            self.assert_close("max_pool_backward dx", dx, rule(x, dout, ph, pw, s), diagnose=[
                ("the gradient divided among the tied maxima", rule(x, dout, ph, pw, s, "share"),
                 "you divide the gradient among tied maxima; " + HINT_POOL_TIES),
                ("the gradient sent to the first maximum only", rule(x, dout, ph, pw, s, "first"),
                 "you route the gradient to one maximum (argmax); " + HINT_POOL_TIES)])

    @check("max_pool_forward / max_pool_backward", "against PyTorch max_pool2d on random shapes (optional oracle)",
           "compare with torch.nn.functional.max_pool2d on the failing shape")
    @advice("PyTorch's max_pool2d is an independent oracle: a mismatch on any shape is a bug")
    def test_max_pool_torch(self):
        torch, layers, rng = self.optional("torch", "the PyTorch max_pool2d oracle"), self.module("cnn_layers"), \
            rng_for("max pool torch")
        for _ in range(12):
            N, C = (int(v) for v in rng.integers(1, 4, 2))
            ph, pw = (int(v) for v in rng.integers(1, 4, 2))
            H, W, stride = int(rng.integers(ph, 9)), int(rng.integers(pw, 9)), int(rng.integers(1, 4))
            x = tie_free(rng, (N, C, H, W))
            xt = torch.tensor(x, requires_grad=True)
            out_t = torch.nn.functional.max_pool2d(xt, (ph, pw), stride)
            dout = rng.standard_normal(tuple(out_t.shape))
            out_t.backward(torch.tensor(dout))
            self.now = f"x {x.shape}, pool {ph}x{pw} stride {stride} (vs PyTorch)"
            out, cache = self.returns(layers, "max_pool_forward", 2, "(out, cache)", x, _pool_param(ph, pw, stride))
            self.assert_close("max_pool_forward out", out, out_t.detach().numpy())
            dx = self.call("max_pool_backward", layers.max_pool_backward, dout, cache)
            self.assert_close("max_pool_backward dx", dx, xt.grad.numpy())

    @check("ConvNet.__init__", "seeded values: uniform in +-sqrt(1 / fan_in), draw order W1, W2, W3, b3, W4, b4",
           "the homework's initialization: np.random.uniform(-sqrt(k), sqrt(k), size=shape) with k = 1 / fan_in "
           "(C*fs*fs for W1, F1*fs*fs for W2, F2*H2*W2 for W3 and b3, hidden_dim for W4 and b4), then cast to dtype")
    @advice("the homework asks for this initialization; the training in cnn.ipynb depends on it")
    def test_convnet_init_values(self):
        cnn = self.module("cnn")
        np.random.seed(0)
        model = self.call("ConvNet", cnn.ConvNet)
        self.now = "np.random.seed(0); ConvNet()"
        shapes_, fan_in = convnet_shapes((1, 28, 28), 6, 16, 5, 100, 10)
        params = self.expect_dict("ConvNet.__init__ params", getattr(model, "params", None), shapes_)
        np.random.seed(0)
        for name in shapes_:
            bound = np.sqrt(1.0 / fan_in[name])
            expected = np.random.uniform(-bound, bound, size=shapes_[name]).astype(np.float32)
            got = self.expect_array(f"ConvNet.__init__ params[{name!r}]", params[name], shapes_[name], np.float32)
            if np.abs(got).max() > bound * (1 + 1e-6) or np.abs(got).max() < bound / 2:
                raise CheckFailure(f"params[{name!r}] spans +-{np.abs(got).max():.4g}, expected values up to "
                                   f"sqrt(1 / {fan_in[name]}) = {bound:.4g} ({self.now})", self.hint,
                                   "ConvNet.__init__")
            self.assert_close(f"ConvNet.__init__ params[{name!r}]", got, expected)

    @check("ConvNet.loss", "beside the kit's reference layers, the course's setup; the patched names are called",
           HINT_NAMES)
    @advice("the course runs your cnn.py beside your own cnn_layers.py; a model that imports private helpers, "
            "or computes a convolution without the patched names, depends on your layer file's internals")
    def test_convnet_beside_reference(self):
        cnn = self.module("cnn", beside_reference=True)
        forward, backward = self._course_loss_trials(cnn, rng_for("convnet beside reference"), 1)
        for name, patched, expected in (("conv_forward", forward, 4), ("conv_backward", backward, 2)):
            if patched.call_count < expected:
                raise ContractError(f"ConvNet.loss called cnn.{name} {patched.call_count} times in loss(X) and "
                                    f"loss(X, y), expected {expected} (one per convolution layer and pass): a "
                                    f"convolution is computed some other way, so the course's patched {name} is "
                                    f"bypassed", HINT_NAMES, "ConvNet.loss")

    @check("ConvNet.loss", "float64 params, a non-square input and large scores (gaps in the hundreds)",
           "compute the loss from shifted scores: log softmax = s - max(s) - log(sum(exp(s - max(s)))) (the "
           "provided softmax_loss does); log(exp(s) / sum(exp(s))) overflows to inf at large scores")
    @advice("real training meets large scores (a high learning rate, an early epoch): a loss of inf or NaN "
            "ends the training")
    def test_convnet_large_scores(self):
        cnn, rng = self.module("cnn"), rng_for("convnet float64")
        arch = dict(input_dim=(2, 17, 14), num_filters_1=3, num_filters_2=4, filter_size=4, hidden_dim=7, num_classes=6)
        shapes_, _ = convnet_shapes(**arch)
        params = {k: tie_free(rng, s, scale=0.8) for k, s in shapes_.items()}
        X, y = tie_free(rng, (4, 2, 17, 14), scale=2.0), np.array([0, 5, 2, 3])
        self.now = "ConvNet(input_dim=(2, 17, 14), num_filters_1=3, num_filters_2=4, filter_size=4, hidden_dim=7, " \
                   "num_classes=6, dtype=np.float64), X float64 (4, 2, 17, 14), score gaps in the hundreds"
        patches = self._patched(cnn)
        with patches[0], patches[1]:
            self._compare_model(self.call("ConvNet", cnn.ConvNet, **arch, dtype=np.float64), params, X, y)


if __name__ == "__main__":
    from grading.runner import main
    sys.exit(main(["cnn", *sys.argv[1:]]))
