"""A deliberately naive cnn_layers.py (Q1), written the way a careful student would: a plain loop over every
output position (each position's sum over the batch, channels and window at once), the homework's formulas
spelled out.

Used as the autograder's reference layers, by `HW4_IMPL_DIR=tests/naive pytest -m course`, and as the base copy
that the bug catalogue (tests/grading_cases/) mutates. Needs only NumPy.
"""
import numpy as np


def conv_forward(x, w):
    """Valid filtering (the course's *filt; no kernel flip, no padding, stride 1).

    out[n, f, i, j] = sum over c, p, q of x[n, c, i + p, j + q] * w[f, c, p, q]

    Inputs: x (N, C, H, W); w (F, C, HH, WW).
    Returns (out, cache): out (N, F, H - HH + 1, W - WW + 1); cache (x, w).
    """
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = H - HH + 1
    W_out = W - WW + 1
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i:i + HH, j:j + WW]                                    # (N, C, HH, WW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    cache = (x, w)
    return out, cache


def conv_backward(dout, cache):
    """Backward pass of conv_forward.

    dx[n, c] = sum over f of w[f, c] *full dout[n, f]; dw[f, c] = sum over n of x[n, c] *filt dout[n, f].
    Written as the loop that undoes the forward pass: every output position (i, j) sends dout[:, :, i, j] w back
    to the input windows it read, and dout[:, :, i, j] times those windows to w.

    Inputs: dout (N, F, H_out, W_out); cache (x, w) from conv_forward.
    Returns (dx, dw): dx (N, C, H, W), dw (F, C, HH, WW).
    """
    x, w = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = H - HH + 1
    W_out = W - WW + 1
    dtype = np.result_type(x, w, dout)
    dx = np.zeros(x.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    for i in range(H_out):
        for j in range(W_out):
            dx[:, :, i:i + HH, j:j + WW] += np.tensordot(dout[:, :, i, j], w, axes=(1, 0))
            dw += np.tensordot(dout[:, :, i, j], x[:, :, i:i + HH, j:j + WW], axes=(0, 0))
    return dx, dw


def max_pool_forward(x, pool_param):
    """Max pooling.

    Inputs: x (N, C, H, W); pool_param dict with 'pool_height', 'pool_width', 'stride'.
    Returns (out, cache): out (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride); cache (x, pool_param).
    """
    N, C, H, W = x.shape
    ph = pool_param['pool_height']
    pw = pool_param['pool_width']
    stride = pool_param['stride']
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward(dout, cache):
    """Backward pass of max_pool_forward (the course's rule).

    Every element equal to its window's maximum receives the window's full upstream gradient (a mask, no
    division among ties); overlapping windows add up.

    Inputs: dout (N, C, H_out, W_out); cache (x, pool_param).
    Returns dx (N, C, H, W).
    """
    x, pool_param = cache
    N, C, H, W = x.shape
    ph = pool_param['pool_height']
    pw = pool_param['pool_width']
    stride = pool_param['stride']
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            mask = window == np.max(window, axis=(2, 3), keepdims=True)
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx
