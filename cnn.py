"""A LeNet-like convolutional network for MNIST, trained with solver.Solver.

conv - relu - 2x2 max pool - conv - relu - 2x2 max pool - fc - relu - fc - softmax

The layers are imported by name and called through these module-level names, so the network works beside
any correct cnn_layers.py and the course's layers.py (the course's grader replaces cnn.conv_forward and
cnn.conv_backward with its reference implementations).
"""
import numpy as np

from cnn_layers import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from layers import fc_backward, fc_forward, relu_backward, relu_forward, softmax_loss


def hello():
    print("Hello from cnn.py!")


class ConvNet(object):
    """conv - relu - 2x2 max pool - conv - relu - 2x2 max pool - fc - relu - fc - softmax.

    The network takes minibatches of N images of shape (C, H, W). Parameters (self.params):
    - W1 (F1, C, fs, fs), W2 (F2, F1, fs, fs): convolution filters (valid, stride 1, no bias).
    - W3 (F2 * h2 * w2, hidden_dim), b3 (hidden_dim,): hidden fully connected layer, where
      h1 = (H - fs + 1) // 2 and h2 = (h1 - fs + 1) // 2 (likewise w1, w2 for the width).
    - W4 (hidden_dim, num_classes), b4 (num_classes,): output layer.
    """

    def __init__(self, input_dim=(1, 28, 28), num_filters_1=6, num_filters_2=16, filter_size=5,
                 hidden_dim=100, num_classes=10, dtype=np.float32):
        """Initialize a new network.

        Inputs:
        - input_dim: (C, H, W), the size of one input image.
        - num_filters_1, num_filters_2: F1 and F2, the number of filters of the two convolutions.
        - filter_size: fs, the height and width of every filter.
        - hidden_dim: size of the hidden fully connected layer.
        - num_classes: number of scores the network produces.
        - dtype: floating-point type of the parameters (float32 to train, float64 for gradient checks).

        Like PyTorch's defaults, every weight and bias is drawn from U(-sqrt(k), sqrt(k)) with k = 1 / fan_in
        (fan_in = C_in * fs * fs for a convolution, in_features for a linear layer), from the global
        np.random stream in the order W1, W2, W3, b3, W4, b4, then cast to dtype.
        """
        if np.dtype(dtype).kind != "f":   # an integer dtype would round every weight to 0
            raise TypeError(f"dtype must be a NumPy floating-point type such as np.float32, got {dtype!r}")
        sizes = dict(num_filters_1=num_filters_1, num_filters_2=num_filters_2, filter_size=filter_size,
                     hidden_dim=hidden_dim, num_classes=num_classes)
        for name, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        C, H, W = input_dim
        fs = filter_size
        h1, w1 = (H - fs + 1) // 2, (W - fs + 1) // 2
        h2, w2 = (h1 - fs + 1) // 2, (w1 - fs + 1) // 2
        if min(h1, w1, h2, w2) < 1:
            raise ValueError(f"input_dim {tuple(input_dim)} is too small for two {fs}x{fs} convolutions "
                             f"each followed by a 2x2 max pool")
        self.input_dim = tuple(input_dim)
        self.dtype = dtype
        fc_in = num_filters_2 * h2 * w2
        shapes_and_fan_ins = {"W1": ((num_filters_1, C, fs, fs), C * fs * fs),
                              "W2": ((num_filters_2, num_filters_1, fs, fs), num_filters_1 * fs * fs),
                              "W3": ((fc_in, hidden_dim), fc_in), "b3": ((hidden_dim,), fc_in),
                              "W4": ((hidden_dim, num_classes), hidden_dim), "b4": ((num_classes,), hidden_dim)}
        self.params = {}
        for name, (shape, fan_in) in shapes_and_fan_ins.items():
            bound = np.sqrt(1.0 / fan_in)
            self.params[name] = np.random.uniform(-bound, bound, size=shape).astype(dtype)

    def loss(self, X, y=None):
        """Class scores, or the loss and the gradient of every parameter.

        Inputs:
        - X: (N, C, H, W) images (not cast: results follow NumPy's promotion of X and the params).
        - y: (N,) integer labels in [0, num_classes), or None.

        Returns the scores (N, num_classes) when y is None; else a tuple of:
        - loss: NumPy scalar, the mean softmax cross-entropy (no regularization).
        - grads: dict with the keys of self.params, each gradient shaped like its parameter.
        """
        # Checked once here, so that a wrong batch is named at the model's entry and not deep in a layer.
        if not isinstance(X, np.ndarray) or X.shape[1:] != self.input_dim or X.shape[0] == 0:
            raise ValueError(f"X must be an array of shape (N, {', '.join(map(str, self.input_dim))}) with N >= 1, "
                             f"got {getattr(X, 'shape', type(X).__name__)}")
        if y is not None and np.shape(y) != (X.shape[0],):
            raise ValueError(f"y must be an array of shape ({X.shape[0]},) to match X, got {np.shape(y)}")
        W1, W2 = self.params["W1"], self.params["W2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        W4, b4 = self.params["W4"], self.params["b4"]
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        conv1, conv1_cache = conv_forward(X, W1)                        # (N, F1, H - fs + 1, W - fs + 1)
        relu1, relu1_cache = relu_forward(conv1)
        pool1, pool1_cache = max_pool_forward(relu1, pool_param)        # (N, F1, h1, w1)
        conv2, conv2_cache = conv_forward(pool1, W2)
        relu2, relu2_cache = relu_forward(conv2)
        pool2, pool2_cache = max_pool_forward(relu2, pool_param)        # (N, F2, h2, w2)
        # The course's fc_forward expects (N, d_in): flatten here.
        features = pool2.reshape(pool2.shape[0], -1)                    # (N, F2 * h2 * w2)
        hidden, fc3_cache = fc_forward(features, W3, b3)
        hidden_relu, relu3_cache = relu_forward(hidden)
        scores, fc4_cache = fc_forward(hidden_relu, W4, b4)            # (N, num_classes)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dhidden_relu, grads["W4"], grads["b4"] = fc_backward(dscores, fc4_cache)
        dhidden = relu_backward(dhidden_relu, relu3_cache)
        dfeatures, grads["W3"], grads["b3"] = fc_backward(dhidden, fc3_cache)
        dpool2 = dfeatures.reshape(pool2.shape)
        drelu2 = max_pool_backward(dpool2, pool2_cache)
        dconv2 = relu_backward(drelu2, relu2_cache)
        dpool1, grads["W2"] = conv_backward(dconv2, conv2_cache)
        drelu1 = max_pool_backward(dpool1, pool1_cache)
        dconv1 = relu_backward(drelu1, relu1_cache)
        _, grads["W1"] = conv_backward(dconv1, conv1_cache)
        return loss, {name: grads[name] for name in self.params}
