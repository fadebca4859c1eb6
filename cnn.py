"""A LeNet-like convolutional network for MNIST, trained with solver.Solver.

conv(5x5) - relu - 2x2 max pool - conv(5x5) - relu - 2x2 max pool - fc - relu - fc - softmax
"""
import numpy as np

from cnn_layers import (Workspace, conv_backward_cn, conv_dout_buffer, conv_forward_cn, max_pool_backward_into,
                        max_pool_forward)
from layers import fc_backward, fc_forward, relu_backward, relu_forward, softmax_loss

POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def hello():
    print("Hello from cnn.py!")


class ConvNet(object):
    """conv - relu - 2x2 max pool - conv - relu - 2x2 max pool - fc - relu - fc - softmax.

    Parameters (self.params):
    - W1 (F1, C, fs, fs), W2 (F2, F1, fs, fs): convolution filters (valid, stride 1, no bias).
    - W3 (F2 * h2 * w2, hidden_dim), b3 (hidden_dim,), W4 (hidden_dim, num_classes), b4 (num_classes,),
      where h1 = (H - fs + 1) // 2 and h2 = (h1 - fs + 1) // 2 (likewise for the width).
    Initialized like PyTorch's defaults: U(-sqrt(k), sqrt(k)) with k = 1 / fan_in.
    """

    def __init__(self, input_dim=(1, 28, 28), num_filters_1=6, num_filters_2=16, filter_size=5,
                 hidden_dim=100, num_classes=10, dtype=np.float32):
        C, H, W = input_dim
        fs = filter_size
        h1, w1 = (H - fs + 1) // 2, (W - fs + 1) // 2
        h2, w2 = (h1 - fs + 1) // 2, (w1 - fs + 1) // 2
        if min(h1, w1, h2, w2) < 1:
            raise ValueError(f"input_dim {input_dim} is too small for two {fs}x{fs} convolutions and 2x2 pools")
        self.input_dim = tuple(input_dim)
        self.dtype = dtype
        fc_in = num_filters_2 * h2 * w2

        def uniform(shape, fan_in):
            bound = np.sqrt(1.0 / fan_in)
            return np.random.uniform(-bound, bound, size=shape).astype(dtype)

        self.params = {
            "W1": uniform((num_filters_1, C, fs, fs), C * fs * fs),
            "W2": uniform((num_filters_2, num_filters_1, fs, fs), num_filters_1 * fs * fs),
            "W3": uniform((fc_in, hidden_dim), fc_in),
            "b3": uniform((hidden_dim,), fc_in),
            "W4": uniform((hidden_dim, num_classes), hidden_dim),
            "b4": uniform((num_classes,), hidden_dim),
        }
        self._workspace = Workspace()

    def _check_input(self, X, y):
        if not isinstance(X, np.ndarray) or X.ndim != 4 or X.shape[1:] != self.input_dim:
            raise ValueError(f"X must have shape (N, {', '.join(map(str, self.input_dim))}), got "
                             f"{getattr(X, 'shape', type(X).__name__)}")
        if X.shape[0] == 0:
            raise ValueError("X is an empty batch (N = 0)")
        if y is not None and (not isinstance(y, np.ndarray) or y.shape != (X.shape[0],)):
            raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {getattr(y, 'shape', y)}")

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients.

        Inputs:
        - X: (N, C, H, W) images.
        - y: (N,) integer labels, or None.

        Returns scores (N, num_classes) when y is None; else (loss, grads) with grads keyed like params.

        The convolutions run in the channel-major layout of cnn_layers, and each pool is applied before
        its ReLU: max pooling commutes with a ReLU (both are monotone), in value and in gradient, and
        the ReLU then touches 4x fewer values.
        """
        self._check_input(X, y)
        p = self.params
        X = X.astype(self.dtype, copy=False)
        N = X.shape[0]

        ws = self._workspace
        a1, cols1 = conv_forward_cn(X.transpose(1, 0, 2, 3), p["W1"], ws, "conv1_")      # (F1, N, H1, W1)
        m1, pool1_cache = max_pool_forward(a1, POOL_PARAM)                 # (F1, N, h1, w1)
        r1, relu1_cache = relu_forward(m1)
        a2, cols2 = conv_forward_cn(r1, p["W2"], ws, "conv2_")                           # (F2, N, H2, W2)
        m2, pool2_cache = max_pool_forward(a2, POOL_PARAM)                 # (F2, N, h2, w2)
        r2, relu2_cache = relu_forward(m2)
        features = r2.transpose(1, 0, 2, 3).reshape(N, -1)                 # (N, F2*h2*w2)
        hidden, fc3_cache = fc_forward(features, p["W3"], p["b3"])
        hidden_relu, relu3_cache = relu_forward(hidden)
        scores, fc4_cache = fc_forward(hidden_relu, p["W4"], p["b4"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dhidden_relu, grads["W4"], grads["b4"] = fc_backward(dscores, fc4_cache)
        dhidden = relu_backward(dhidden_relu, relu3_cache)
        dfeatures, grads["W3"], grads["b3"] = fc_backward(dhidden, fc3_cache)
        dr2 = dfeatures.reshape(N, *r2.shape[:1], *r2.shape[2:]).transpose(1, 0, 2, 3)
        # Each pool writes its gradient straight into the buffer the convolution below reads.
        da2 = conv_dout_buffer(ws, "conv2_", a2.shape, r1.shape[3], a2.dtype)
        max_pool_backward_into(relu_backward(dr2, relu2_cache), pool2_cache, da2)
        dr1, grads["W2"] = conv_backward_cn(da2, r1.shape, p["W2"], cols2, True, ws, "conv2_")
        da1 = conv_dout_buffer(ws, "conv1_", a1.shape, X.shape[3], a1.dtype)
        max_pool_backward_into(relu_backward(dr1, relu1_cache), pool1_cache, da1)
        x_shape_cn = (X.shape[1], N, X.shape[2], X.shape[3])
        _, grads["W1"] = conv_backward_cn(da1, x_shape_cn, p["W1"], cols1, False, ws, "conv1_")
        return loss, {name: grad.astype(self.dtype, copy=False) for name, grad in grads.items()}
