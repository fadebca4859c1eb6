"""A deliberately naive cnn.py (Q1): the ConvNet composed from the course's public layer functions, imported by
name at module level (the course's grader patches cnn.conv_forward and cnn.conv_backward).

Used by the autograder tests and `HW4_IMPL_DIR=tests/naive pytest -m course`, and as the base copy of the bug
catalogue (tests/grading_cases/). Needs only NumPy.
"""
import numpy as np

from cnn_layers import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from layers import fc_backward, fc_forward, relu_backward, relu_forward, softmax_loss


class ConvNet(object):
    """conv - relu - 2x2 max pool - conv - relu - 2x2 max pool - fc - relu - fc - softmax.

    Parameters (self.params): W1 (F1, C, fs, fs), W2 (F2, F1, fs, fs), W3 (F2 * H2 * W2, hidden_dim),
    b3 (hidden_dim,), W4 (hidden_dim, num_classes), b4 (num_classes,), with H1 = (H - fs + 1) // 2 and
    H2 = (H1 - fs + 1) // 2 (the same for the width). Each is drawn from U(-sqrt(k), sqrt(k)) with
    k = 1 / fan_in (as PyTorch does), in this order, then cast to dtype.
    """

    def __init__(self, input_dim=(1, 28, 28), num_filters_1=6, num_filters_2=16, filter_size=5,
                 hidden_dim=100, num_classes=10, dtype=np.float32):
        self.params = {}
        self.dtype = dtype
        C, H, W = input_dim
        fs = filter_size
        H1, W1 = (H - fs + 1) // 2, (W - fs + 1) // 2
        H2, W2 = (H1 - fs + 1) // 2, (W1 - fs + 1) // 2
        fc_in = num_filters_2 * H2 * W2

        k1 = 1.0 / (C * fs * fs)
        self.params['W1'] = np.random.uniform(-np.sqrt(k1), np.sqrt(k1), size=(num_filters_1, C, fs, fs))
        k2 = 1.0 / (num_filters_1 * fs * fs)
        self.params['W2'] = np.random.uniform(-np.sqrt(k2), np.sqrt(k2), size=(num_filters_2, num_filters_1, fs, fs))
        k3 = 1.0 / fc_in
        self.params['W3'] = np.random.uniform(-np.sqrt(k3), np.sqrt(k3), size=(fc_in, hidden_dim))
        self.params['b3'] = np.random.uniform(-np.sqrt(k3), np.sqrt(k3), size=hidden_dim)
        k4 = 1.0 / hidden_dim
        self.params['W4'] = np.random.uniform(-np.sqrt(k4), np.sqrt(k4), size=(hidden_dim, num_classes))
        self.params['b4'] = np.random.uniform(-np.sqrt(k4), np.sqrt(k4), size=num_classes)

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores (N, num_classes) for X (N, C, H, W) when y is None; else (loss, grads) with grads keyed like
        self.params."""
        W1, W2 = self.params['W1'], self.params['W2']
        W3, b3 = self.params['W3'], self.params['b3']
        W4, b4 = self.params['W4'], self.params['b4']
        pool_param = {'pool_height': 2, 'pool_width': 2, 'stride': 2}

        conv1, conv1_cache = conv_forward(X, W1)
        relu1, relu1_cache = relu_forward(conv1)
        pool1, pool1_cache = max_pool_forward(relu1, pool_param)
        conv2, conv2_cache = conv_forward(pool1, W2)
        relu2, relu2_cache = relu_forward(conv2)
        pool2, pool2_cache = max_pool_forward(relu2, pool_param)
        N = X.shape[0]
        flat = pool2.reshape(N, -1)
        fc3, fc3_cache = fc_forward(flat, W3, b3)
        relu3, relu3_cache = relu_forward(fc3)
        scores, fc4_cache = fc_forward(relu3, W4, b4)

        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        drelu3, grads['W4'], grads['b4'] = fc_backward(dscores, fc4_cache)
        dfc3 = relu_backward(drelu3, relu3_cache)
        dflat, grads['W3'], grads['b3'] = fc_backward(dfc3, fc3_cache)
        dpool2 = dflat.reshape(pool2.shape)
        drelu2 = max_pool_backward(dpool2, pool2_cache)
        dconv2 = relu_backward(drelu2, relu2_cache)
        dpool1, grads['W2'] = conv_backward(dconv2, conv2_cache)
        drelu1 = max_pool_backward(dpool1, pool1_cache)
        dconv1 = relu_backward(drelu1, relu1_cache)
        _, grads['W1'] = conv_backward(dconv1, conv1_cache)
        return loss, grads
