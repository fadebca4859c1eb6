"""A correct alternative cnn_layers.py: sliding_window_view + einsum for the convolution, the homework's full
convolution (zero-padded dout, kernel rotated 180 degrees) for dx, and reshape-based pooling when the windows
tile the input exactly (a loop over output positions otherwise)."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv_forward(x, w):
    HH, WW = w.shape[2:]
    windows = sliding_window_view(x, (HH, WW), axis=(2, 3))          # (N, C, Ho, Wo, HH, WW)
    out = np.einsum('nchwpq,fcpq->nfhw', windows, w)
    return out, (x, w)


def conv_backward(dout, cache):
    x, w = cache
    HH, WW = w.shape[2:]
    padded = np.pad(dout, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))
    dx = np.einsum('nfhwpq,fcpq->nchw', sliding_window_view(padded, (HH, WW), axis=(2, 3)),
                   w[:, :, ::-1, ::-1])
    dw = np.einsum('nchwij,nfij->fchw', sliding_window_view(x, dout.shape[2:], axis=(2, 3)), dout)
    return dx, dw


def max_pool_forward(x, pool_param):
    ph, pw, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H, W = x.shape
    if ph == pw == s and H % ph == 0 and W % pw == 0:
        out = x.reshape(N, C, H // ph, ph, W // pw, pw).max(axis=(3, 5))
    else:
        Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
        out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
        for i in range(Ho):
            for j in range(Wo):
                out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param, out)


def max_pool_backward(dout, cache):
    x, pool_param, out = cache
    ph, pw, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H, W = x.shape
    if ph == pw == s and H % ph == 0 and W % pw == 0:
        blocks = x.reshape(N, C, H // ph, ph, W // pw, pw)
        mask = blocks == out[:, :, :, None, :, None]
        return (mask * dout[:, :, :, None, :, None]).reshape(x.shape)
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw]
            mask = window == out[:, :, i:i + 1, j:j + 1]
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx
