"""A correct alternative cnn_layers.py: im2col convolution (one matrix product per pass) and max pooling over a
strided window view, with np.add.at for the backward scatter. The conv cache is the course's (x, w): the backward
pass rebuilds the columns (the course compares the cache and hands its own to conv_backward)."""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def _im2col(x, HH, WW):
    """cols (N * Ho * Wo, C * HH * WW): one row per output position."""
    N, C, H, W = x.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    s0, s1, s2, s3 = x.strides
    windows = as_strided(x, shape=(N, Ho, Wo, C, HH, WW), strides=(s0, s2, s3, s1, s2, s3), writeable=False)
    return windows.reshape(N * Ho * Wo, C * HH * WW)


def conv_forward(x, w):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    cols = _im2col(np.ascontiguousarray(x), HH, WW)
    out = (cols @ w.reshape(F, -1).T).reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2).copy()
    return out, (x, w)


def conv_backward(dout, cache):
    x, w = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    cols = _im2col(np.ascontiguousarray(x), HH, WW)
    d = dout.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, F)
    dw = (d.T @ cols).reshape(w.shape)
    dcols = (d @ w.reshape(F, -1)).reshape(N, Ho, Wo, C, HH, WW)
    dx = np.zeros(x.shape, dtype=dcols.dtype)
    for p in range(HH):                     # scatter the columns back: a loop over kernel offsets only
        for q in range(WW):
            dx[:, :, p:p + Ho, q:q + Wo] += dcols[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    return dx, dw


def _windows(x, ph, pw, stride):
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    s0, s1, s2, s3 = x.strides
    return as_strided(x, shape=(N, C, Ho, Wo, ph, pw), strides=(s0, s1, stride * s2, stride * s3, s2, s3),
                      writeable=False)


def max_pool_forward(x, pool_param):
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    out = _windows(x, ph, pw, stride).max(axis=(4, 5))
    return out, (x, pool_param)


def max_pool_backward(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    windows = _windows(x, ph, pw, stride)
    N, C, Ho, Wo = windows.shape[:4]
    mask = windows == windows.max(axis=(4, 5), keepdims=True)
    grads = mask * dout[..., None, None]                    # (N, C, Ho, Wo, ph, pw)
    n, c, i, j, p, q = np.indices(grads.shape, sparse=False)
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    np.add.at(dx, (n, c, i * stride + p, j * stride + q), grads)
    return dx
