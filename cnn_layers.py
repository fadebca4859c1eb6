"""Convolution and max pooling layers for the CNN of Q1, vectorized in NumPy.

conv_forward / conv_backward implement the course's filtering (*filt): valid cross-correlation, stride 1,
no padding, no bias. max_pool_forward / max_pool_backward pool over (pool_height x pool_width) windows.
Every forward returns (out, cache) and the matching backward takes that cache.

How the convolution is vectorized: the "wide grid"
--------------------------------------------------
Flatten each image channel row by row. The receptive field of output (i, j) for kernel offset (k, l) is
the input element at flat index (i + k) * W + (j + l) = (i * W + j) + (k * W + l): a kernel offset is a
constant shift of the flat image. Computing outputs on a grid of width W instead of Wo = W - WW + 1 (the
last WW - 1 columns of each output row are garbage and dropped) makes the im2col matrix a strided *view*
of the flat images, with one contiguous run per (c, k, l, n): building it is a plain copy, and one matrix
product does the forward pass. The input gradient (a full convolution) uses the same shifts in reverse.

Returned arrays and caches never share memory with each other.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

POOL_DEFAULTS = {"pool_height": 3, "pool_width": 3, "stride": 1}


def hello():
    print("Hello from cnn_layers.py!")


def _check_array(name, value, ndim):
    """TypeError unless value is a real floating-point ndarray; ValueError unless it has ndim dimensions."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise TypeError(f"{name} must be a real floating-point numpy array, got "
                        f"{getattr(value, 'dtype', type(value).__name__)}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")


# ---------------------------------------- Convolution
def _wide_columns(x, HH, WW, dtype):
    """im2col on the wide grid.

    Inputs: x (N, C, H, W); kernel size HH x WW; the dtype to compute in.
    Returns cols (C*HH*WW, N*Ho*W) with cols[(c, k, l), (n, i, j)] = x[n, c, i + k, j + l]
    for j < Wo (columns with j >= Wo hold values that are never used).
    """
    N, C, H, W = x.shape
    Ho = H - HH + 1
    # Channel-major flat images, plus WW - 1 zeros so the last shifted reads stay in bounds.
    flat = np.empty((C, N, H * W + WW - 1), dtype=dtype)
    flat[:, :, :H * W].reshape(C, N, H, W)[...] = x.transpose(1, 0, 2, 3)
    flat[:, :, H * W:] = 0
    s_c, s_n, s = flat.strides
    shifted = as_strided(flat, shape=(C, HH, WW, N, Ho * W), strides=(s_c, W * s, s, s_n, s), writeable=False)
    cols = np.empty((C * HH * WW, N * Ho * W), dtype=dtype)
    cols.reshape(C, HH, WW, N, Ho * W)[...] = shifted
    return cols


def conv_forward(x, w):
    """Forward pass of a convolutional layer: the course's filtering, out[n, f] = sum_c x[n, c] *filt w[f, c].

    out[n, f, i, j] = sum_{c, k, l} x[n, c, i + k, j + l] * w[f, c, k, l]   (no kernel flip, no padding,
    stride 1, no bias).

    Inputs:
    - x: (N, C, H, W) input images.
    - w: (F, C, HH, WW) filters, 1 <= HH <= H and 1 <= WW <= W.

    Returns a tuple of:
    - out: (N, F, H - HH + 1, W - WW + 1), of dtype np.result_type(x, w).
    - cache: (x, w).
    """
    _check_array("x", x, 4)
    _check_array("w", w, 4)
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if 0 in (N, C, F):
        raise ValueError(f"x (N, C, H, W) = {x.shape} and w (F, C, HH, WW) = {w.shape} must hold at least one "
                         f"image, channel and filter")
    if C != Cw:
        raise ValueError(f"channel mismatch: x (N, C, H, W) = {x.shape} has C={C} but w (F, C, HH, WW) = "
                         f"{w.shape} has C={Cw}")
    if not (1 <= HH <= H and 1 <= WW <= W):
        raise ValueError(f"kernel {HH}x{WW} (w {w.shape}) must be non-empty and no larger than the image "
                         f"{H}x{W} (x {x.shape})")
    Ho, Wo = H - HH + 1, W - WW + 1
    dtype = np.result_type(x, w)
    cols = _wide_columns(x, HH, WW, dtype)
    out_wide = w.reshape(F, -1).astype(dtype, copy=False) @ cols
    out = out_wide.reshape(F, N, Ho, W)[..., :Wo].transpose(1, 0, 2, 3).copy()   # contiguous, no garbage columns
    return out, (x, w)


def _wide_input_gradient(dout_wide, w, H, W):
    """dx (C, N, H, W) with dx[c, n] = sum_f w[f, c] *full dout[f, n], from the wide gradient (F, N, Ho, W).

    Scattering the C*HH*WW rows of w^T dout back onto the image would take HH*WW strided adds. Instead the
    column offsets l go into the matrix product: with D[(f, l), n, q] = dout[f, n, q - l] (shifted copies of
    the flat gradient), T[(c, k), n, q] = sum_{f, l} w[f, c, k, l] D[(f, l), n, q] is one BLAS call, and the
    row offsets k take HH contiguous adds: dx[c, n, q + k * W] += T[(c, k), n, q].
    """
    F, N, Ho, _ = dout_wide.shape
    _, C, HH, WW = w.shape
    P = Ho * W                   # flat length of one image's gradient on the wide grid
    Q = P + WW - 1               # ... after the column shifts
    dtype = dout_wide.dtype
    padded = np.zeros((F, N, P + 2 * (WW - 1)), dtype=dtype)
    padded[:, :, WW - 1:WW - 1 + P] = dout_wide.reshape(F, N, P)
    s_f, s_n, s = padded.strides
    # shifted[f, l', n, q] = padded[f, n, q + l'] = dout[f, n, q - (WW - 1 - l')]
    shifted_view = as_strided(padded, shape=(F, WW, N, Q), strides=(s_f, s, s_n, s), writeable=False)
    shifted = np.empty((F * WW, N * Q), dtype=dtype)
    shifted.reshape(F, WW, N, Q)[...] = shifted_view
    # Row (c, k), column (f, l') of the weights: w[f, c, k, WW - 1 - l'].
    w_rows = w[:, :, :, ::-1].transpose(1, 2, 0, 3).reshape(C * HH, F * WW).astype(dtype, copy=False)
    rows = (w_rows @ shifted).reshape(C, HH, N, Q)
    dflat = np.zeros((C, N, H * W + WW - 1), dtype=dtype)
    for k in range(HH):  # a loop over kernel rows only; each add is one contiguous block per (c, n)
        dflat[:, :, k * W:k * W + Q] += rows[:, k]
    return dflat[:, :, :H * W].reshape(C, N, H, W)


def conv_backward(dout, cache):
    """Backward pass of conv_forward.

    dL/dx[n, c] = sum_f w[f, c] *full dout[n, f]     and     dL/dw[f, c] = sum_n x[n, c] *filt dout[n, f].

    Inputs:
    - dout: (N, F, Ho, Wo) upstream gradient.
    - cache: (x, w) from conv_forward.

    Returns a tuple of:
    - dx: (N, C, H, W) gradient with respect to x.
    - dw: (F, C, HH, WW) gradient with respect to w.
    """
    x, w = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    _check_array("dout", dout, 4)
    if dout.shape != (N, F, Ho, Wo):   # a dout that broadcasts would give a silently wrong gradient
        raise ValueError(f"dout must have the output's shape {(N, F, Ho, Wo)}, got {dout.shape}")
    dtype = np.result_type(dout, x, w)
    dout_wide = np.zeros((F, N, Ho, W), dtype=dtype)     # the garbage columns of the wide grid get no gradient
    dout_wide[..., :Wo] = dout.transpose(1, 0, 2, 3)
    # The columns are rebuilt rather than cached: a plain copy is cheaper than keeping a multi-megabyte matrix
    # alive per layer.
    cols = _wide_columns(x, HH, WW, dtype)
    # (cols dout^T)^T: OpenBLAS is about twice as fast on this long-inner-dimension product this way round.
    dw = (cols @ dout_wide.reshape(F, -1).T).T.reshape(w.shape)
    dx = _wide_input_gradient(dout_wide, w, H, W).transpose(1, 0, 2, 3).copy()
    return dx, dw


# ---------------------------------------- Max pooling
def _pool_geometry(x_shape, pool_param):
    """(pool_height, pool_width, stride, Ho, Wo) for an input of shape (N, C, H, W); missing keys of pool_param
    take the course's defaults."""
    settings = {**POOL_DEFAULTS, **pool_param}
    ph, pw, stride = (settings[key] for key in POOL_DEFAULTS)
    return ph, pw, stride, 1 + (x_shape[2] - ph) // stride, 1 + (x_shape[3] - pw) // stride


def _windows(a, ph, pw, stride, Ho, Wo, writeable=False):
    """View of every pooling window of a (N, C, H, W): shape (N, C, Ho, Wo, ph, pw), no copy."""
    s0, s1, s2, s3 = a.strides
    return as_strided(a, shape=a.shape[:2] + (Ho, Wo, ph, pw),
                      strides=(s0, s1, stride * s2, stride * s3, s2, s3), writeable=writeable)


def _window_max(windows):
    """(N, C, Ho, Wo) maximum of every window of a (N, C, Ho, Wo, ph, pw) window view.

    An elementwise maximum over the ph*pw window offsets is several times faster than ndarray.max over
    two short strided axes."""
    out = windows[..., 0, 0].copy()
    for k in range(windows.shape[4]):
        for l in range(windows.shape[5]):
            np.maximum(out, windows[..., k, l], out=out)
    return out


def max_pool_forward(x, pool_param):
    """Forward pass of a max-pooling layer.

    Inputs:
    - x: (N, C, H, W) input.
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride' (missing keys default to 3, 3 and 1,
      as in the course's code; any other key is an error).

    Returns a tuple of:
    - out: (N, C, Ho, Wo) with Ho = 1 + (H - pool_height) // stride, Wo = 1 + (W - pool_width) // stride;
      out[n, c, i, j] is the max of x[n, c] over the window whose top-left corner is (i*stride, j*stride).
    - cache: (x, pool_param).
    """
    _check_array("x", x, 4)
    if not isinstance(pool_param, dict):
        raise TypeError(f"pool_param must be a dict, got {type(pool_param).__name__}")
    unknown = sorted(set(pool_param) - set(POOL_DEFAULTS), key=str)
    if unknown:   # a misspelled key would silently pool with a default
        raise ValueError(f"pool_param has unknown keys {unknown}; the keys are {sorted(POOL_DEFAULTS)} "
                         f"(missing ones default to {POOL_DEFAULTS})")
    for name, value in {**POOL_DEFAULTS, **pool_param}.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"pool_param['{name}'] must be a positive integer, got {value!r}")
    ph, pw, stride, Ho, Wo = _pool_geometry(x.shape, pool_param)
    if 0 in x.shape[:2]:
        raise ValueError(f"x (N, C, H, W) must hold at least one image and channel, got shape {x.shape}")
    if ph > x.shape[2] or pw > x.shape[3]:
        raise ValueError(f"pool window {ph}x{pw} is larger than the input {x.shape[2]}x{x.shape[3]} (x {x.shape})")
    return _window_max(_windows(x, ph, pw, stride, Ho, Wo)), (x, pool_param)


def max_pool_backward(dout, cache):
    """Backward pass of a max-pooling layer.

    Each window passes its upstream gradient to the input elements equal to the window's maximum: every
    such element receives the full dout of the window (ties are not split, as in the course's reference),
    and an element in several overlapping windows adds up what each window gives it.

    Inputs:
    - dout: (N, C, Ho, Wo) upstream gradient.
    - cache: (x, pool_param) from max_pool_forward.

    Returns:
    - dx: (N, C, H, W) gradient with respect to x, of dtype np.result_type(x, dout).
    """
    x, pool_param = cache
    ph, pw, stride, Ho, Wo = _pool_geometry(x.shape, pool_param)
    _check_array("dout", dout, 4)
    if dout.shape != x.shape[:2] + (Ho, Wo):   # a dout that broadcasts would give a silently wrong gradient
        raise ValueError(f"dout must have the output's shape {x.shape[:2] + (Ho, Wo)}, got {dout.shape}")
    windows = _windows(x, ph, pw, stride, Ho, Wo)
    window_max = _window_max(windows)
    H, W = x.shape[2:]
    overlapping = stride < ph or stride < pw
    covers_every_element = stride == ph and stride == pw and Ho * ph == H and Wo * pw == W
    dx = (np.empty if covers_every_element else np.zeros)(x.shape, dtype=np.result_type(x, dout))
    dx_windows = _windows(dx, ph, pw, stride, Ho, Wo, writeable=True)
    # For a fixed offset (k, l) distinct windows touch distinct elements, so each update below is safe.
    for k in range(ph):  # a loop over window offsets only
        for l in range(pw):
            is_max = windows[..., k, l] == window_max
            if overlapping:  # an element may sit in several windows: add up what each gives it
                dx_windows[..., k, l] += np.where(is_max, dout, 0)
            else:
                np.multiply(is_max, dout, out=dx_windows[..., k, l])
    return dx
