"""The kit's reference cnn_layers.py: the course's API and cache layouts, written with sliding windows.

conv_forward is the homework's filtering (no kernel flip, no padding, stride 1); conv_backward uses the
homework's formulas: dx = sum_f w[f] *full dout[n, f] (the full convolution flips the kernel) and
dw = sum_n x[n] *filt dout[n]. Any image and kernel shape (the course's own reference handles square ones).
max_pool_backward follows the course's rule for tied maxima; max_pool_backward_rule also gives the usual
wrong rules, for diagnosis.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv_forward(x, w):
    """out[n, f, i, j] = sum_{c, p, q} x[n, c, i + p, j + q] w[f, c, p, q]; x (N, C, H, W), w (F, C, HH, WW),
    out (N, F, H - HH + 1, W - WW + 1); cache (x, w)."""
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))           # (N, C, H', W', HH, WW)
    return np.einsum("ncijpq,fcpq->nfij", windows, w), (x, w)


def conv_backward(dout, cache):
    """(dx, dw) of conv_forward for dout (N, F, H', W') and cache (x, w)."""
    x, w = cache
    HH, WW = w.shape[2:]
    padded = np.pad(dout, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))
    dx = np.einsum("nfijpq,fcpq->ncij", sliding_window_view(padded, (HH, WW), axis=(2, 3)), w[:, :, ::-1, ::-1])
    dw = np.einsum("ncpqij,nfij->fcpq", sliding_window_view(x, dout.shape[2:], axis=(2, 3)), dout)
    return dx, dw


def _pool_sizes(pool_param):
    """(pool_height, pool_width, stride); the course's code defaults to 3 x 3 windows, stride 1."""
    return pool_param.get("pool_height", 3), pool_param.get("pool_width", 3), pool_param.get("stride", 1)


def max_pool_forward(x, pool_param):
    """out[n, c, i, j] = max of x[n, c] over the window at (i * stride, j * stride); cache (x, pool_param)."""
    ph, pw, stride = _pool_sizes(pool_param)
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(4, 5)), (x, pool_param)


def max_pool_backward(dout, cache):
    """dx of max_pool_forward: every element equal to its window's max gets the window's full gradient."""
    x, pool_param = cache
    return max_pool_backward_rule(x, dout, *_pool_sizes(pool_param))


def max_pool_backward_rule(x, dout, ph, pw, stride, rule="course"):
    """dx of max pooling under a rule for tied maxima: 'course' (each tied maximum gets the full gradient,
    overlapping windows add up), or the usual mistakes 'share' (ties split it), 'first' (the first maximum
    only) and 'assign' (overlapping windows overwrite each other's gradient)."""
    dx = np.zeros(x.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)
            window = x[:, :, rows, cols]
            mask = (window == window.max(axis=(2, 3), keepdims=True)).astype(np.float64)
            if rule == "share":
                mask /= mask.sum(axis=(2, 3), keepdims=True)
            elif rule == "first":
                flat = mask.reshape(*mask.shape[:2], -1)
                first = np.zeros_like(flat)
                np.put_along_axis(first, flat.argmax(axis=2)[..., None], 1.0, axis=2)
                mask = first.reshape(mask.shape)
            update = mask * dout[:, :, i:i + 1, j:j + 1]
            if rule == "assign":
                np.copyto(dx[:, :, rows, cols], update, where=mask > 0)
            else:
                dx[:, :, rows, cols] += update
    return dx
