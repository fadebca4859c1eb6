"""Convolution (valid cross-correlation, no bias, stride 1) and max pooling, vectorized in NumPy.

Layout trick used by the convolution: images are handled channel-major as (C, N, H, W) with each
image flattened row by row. A kernel offset (k, l) then shifts a whole output row block by the flat
offset k*W + l, so the im2col matrix is a strided *view* of the flat images: output positions are
computed on a grid of width W instead of W_out (the W - W_out extra columns are discarded), which
turns every copy and scatter into contiguous memory runs and lets one BLAS call do each product.
The CNN keeps activations in that layout (see cnn.py); the public functions below take and return
the course's (N, C, H, W) layout.
"""
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

_THREAD_SCRATCH = threading.local()


def hello():
    print("Hello from cnn_layers.py!")


# ----------------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------------
def _require_float_array(name, value, ndim):
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array, got dtype {value.dtype}")


def _check_conv_inputs(x, w):
    _require_float_array("x", x, 4)
    _require_float_array("w", w, 4)
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if N == 0:
        raise ValueError(f"x is an empty batch: shape {x.shape}")
    if C != Cw:
        raise ValueError(f"channel mismatch: x (N, C, H, W) = {x.shape} has C={C} but w (F, C, HH, WW) = "
                         f"{w.shape} has C={Cw}")
    if HH > H or WW > W or HH == 0 or WW == 0:
        raise ValueError(f"kernel {HH}x{WW} (w {w.shape}) must be non-empty and no larger than the "
                         f"image {H}x{W} (x {x.shape})")


# ----------------------------------------------------------------------------------------------------
# convolution in the channel-major layout (C, N, H, W)
# ----------------------------------------------------------------------------------------------------
class Workspace(object):
    """Scratch arrays reused from one training step to the next, keyed by name.

    Fresh multi-megabyte temporaries are served by mmap and page-faulted in on every step, which
    costs more than the arithmetic at MNIST sizes; a network reuses its buffers instead. A buffer
    is only valid until the next call that asks for the same name, so only code that finishes its
    backward pass before the next forward pass (ConvNet.loss) may use one.
    """

    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype):
        """An uninitialized array of the given shape and dtype, reused when possible."""
        array = self._arrays.get(name)
        if array is None or array.shape != tuple(shape) or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype=dtype)
        return array


def _scratch(workspace, name, shape, dtype):
    return np.empty(shape, dtype=dtype) if workspace is None else workspace.get(name, shape, dtype)


def _im2col(x_cn, HH, WW, workspace=None, tag=""):
    """Columns of every receptive field on the width-W output grid.

    Inputs: x_cn (C, N, H, W); kernel size HH x WW; optional Workspace and buffer-name prefix.
    Returns cols (C*HH*WW, N*Ho*W) with cols[(c, k, l), (n, i, j)] = x_cn[c, n, i + k, j + l] for
    j < Wo = W - WW + 1 (columns with j >= Wo hold values that are never used).
    """
    C, N, H, W = x_cn.shape
    Ho = H - HH + 1
    # The WW - 1 tail elements keep the last strided reads in bounds.
    flat = _scratch(workspace, tag + "flat", (C, N, H * W + WW - 1), x_cn.dtype)
    flat[:, :, :H * W].reshape(C, N, H, W)[...] = x_cn
    flat[:, :, H * W:] = 0
    sC, sN, s = flat.strides
    view = as_strided(flat, shape=(C, HH, WW, N, Ho * W), strides=(sC, W * s, s, sN, s), writeable=False)
    cols = _scratch(workspace, tag + "cols", (C * HH * WW, N * Ho * W), x_cn.dtype)
    cols.reshape(C, HH, WW, N, Ho * W)[...] = view
    return cols


def _input_gradient(dout_wide, w, H, W, workspace=None, tag=""):
    """dx_cn (C, N, H, W) = sum_f w[f, c] *full dout[f, n], from the wide gradient (F, N, Ho, W).

    Scattering the C*HH*WW rows of w^T dout back to the image costs HH*WW strided adds. Here the
    column offsets l are folded into the matrix product instead: with D[(f, l), n, q] = dout[f, n, q - l]
    (a shifted copy of the flat gradient), T[(c, k), n, q] = sum_{f, l} w[f, c, k, l] D[(f, l), n, q]
    is one BLAS call, and only HH row-offset adds remain.
    """
    F, N, Ho, _ = dout_wide.shape
    _, C, HH, WW = w.shape
    P = Ho * W                   # flat length of one image's gradient on the wide grid
    Q = P + WW - 1               # ... after the column shifts
    dtype = dout_wide.dtype
    padded = _scratch(workspace, tag + "dpad", (F, N, P + 2 * (WW - 1)), dtype)
    padded[:, :, :WW - 1] = 0
    padded[:, :, WW - 1 + P:] = 0
    padded[:, :, WW - 1:WW - 1 + P] = dout_wide.reshape(F, N, P)
    sF, sN, s = padded.strides
    # shifted[f, l', n, q] = padded[f, n, q + l'] = dout[f, n, q - (WW - 1 - l')]
    shifted_view = as_strided(padded, shape=(F, WW, N, Q), strides=(sF, s, sN, s), writeable=False)
    shifted = _scratch(workspace, tag + "dshift", (F * WW, N * Q), dtype)
    shifted.reshape(F, WW, N, Q)[...] = shifted_view
    # Row (c, k), column (f, l') of the weights: w[f, c, k, WW - 1 - l'].
    w_rows = w[:, :, :, ::-1].transpose(1, 2, 0, 3).reshape(C * HH, F * WW)
    rows = _scratch(workspace, tag + "drows", (C * HH, N * Q), dtype)
    np.matmul(w_rows, shifted, out=rows)
    rows = rows.reshape(C, HH, N, Q)
    dflat = _scratch(workspace, tag + "dflat", (C, N, H * W + WW - 1), dtype)
    dflat[...] = 0
    for k in range(HH):  # a loop over kernel rows only; each add is a contiguous block
        dflat[:, :, k * W:k * W + Q] += rows[:, k]
    return dflat[:, :, :H * W].reshape(C, N, H, W)


def conv_forward_cn(x_cn, w, workspace=None, tag=""):
    """Convolution on channel-major input.

    Inputs: x_cn (C, N, H, W); w (F, C, HH, WW); optional Workspace and buffer-name prefix.
    Returns (out_cn, cols): out_cn (F, N, Ho, Wo) (a view), cols from _im2col for the backward pass.
    """
    C, N, H, W = x_cn.shape
    F, _, HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    cols = _im2col(x_cn, HH, WW, workspace, tag)
    out_wide = _scratch(workspace, tag + "out", (F, N * Ho * W), np.result_type(x_cn, w))
    np.matmul(w.reshape(F, -1), cols, out=out_wide)
    return out_wide.reshape(F, N, Ho, W)[..., :Wo], cols


def conv_dout_buffer(workspace, tag, out_shape_cn, W, dtype):
    """The slot where conv_backward_cn (same workspace and tag) reads its upstream gradient.

    Inputs: out_shape_cn = (F, N, Ho, Wo); W the input width. Returns a (F, N, Ho, Wo) view of the
    zero-padded wide gradient buffer: a layer that writes its dx there saves a copy.
    """
    F, N, Ho, Wo = out_shape_cn
    dout_wide = workspace.get(tag + "dout", (F, N, Ho, W), dtype)
    dout_wide[..., Wo:] = 0
    return dout_wide[..., :Wo]


def conv_backward_cn(dout_cn, x_shape_cn, w, cols, need_dx=True, workspace=None, tag=""):
    """Backward pass of conv_forward_cn.

    Inputs: dout_cn (F, N, Ho, Wo); x_shape_cn = (C, N, H, W); w (F, C, HH, WW); cols from the forward
    pass; need_dx False skips the input gradient (the first layer of a network does not need it);
    optional Workspace and buffer-name prefix (dout_cn may already be the conv_dout_buffer view).
    Returns (dx_cn (C, N, H, W) or None, dw (F, C, HH, WW)).
    """
    C, N, H, W = x_shape_cn
    F, _, HH, WW = w.shape
    Ho, Wo = H - HH + 1, W - WW + 1
    dtype = np.result_type(dout_cn, w)
    dout_wide = _scratch(workspace, tag + "dout", (F, N, Ho, W), dtype)
    if not np.shares_memory(dout_cn, dout_wide):
        dout_wide[..., Wo:] = 0
        dout_wide[..., :Wo] = dout_cn
    dmat = dout_wide.reshape(F, N * Ho * W)
    # (cols @ dmat.T).T is ~2x faster than dmat @ cols.T for these long-K products in OpenBLAS.
    dw = np.ascontiguousarray((cols @ dmat.T).T).reshape(w.shape)
    if not need_dx:
        return None, dw
    return _input_gradient(dout_wide, w.astype(dtype, copy=False), H, W, workspace, tag), dw


# ----------------------------------------------------------------------------------------------------
# public convolution API (N, C, H, W)
# ----------------------------------------------------------------------------------------------------
def _thread_workspace():
    """This thread's Workspace for the public functions' temporaries (never for returned arrays)."""
    workspace = getattr(_THREAD_SCRATCH, "workspace", None)
    if workspace is None:
        workspace = _THREAD_SCRATCH.workspace = Workspace()
    return workspace


def conv_forward(x, w):
    """Valid 2-D cross-correlation (the course's filtering *filt), no bias, no padding, stride 1.

    out[n, f] = sum_c x[n, c] *filt w[f, c], i.e.
    out[n, f, i, j] = sum_{c, k, l} x[n, c, i + k, j + l] * w[f, c, k, l].

    Inputs:
    - x: (N, C, H, W) input images.
    - w: (F, C, HH, WW) filters, HH <= H and WW <= W.

    Returns (out, cache): out (N, F, H - HH + 1, W - WW + 1); cache (x, w).
    """
    _check_conv_inputs(x, w)
    out_cn, _ = conv_forward_cn(x.transpose(1, 0, 2, 3), w, _thread_workspace(), "public_")
    # A copy, always: out_cn lives in scratch memory that the next call reuses.
    out = out_cn.transpose(1, 0, 2, 3).copy()
    return out, (x, w)


def conv_backward(dout, cache):
    """Backward pass of conv_forward.

    dL/dx[n, c] = sum_f w[f, c] *full dout[n, f]   and   dL/dw[f, c] = sum_n x[n, c] *filt dout[n, f].

    Inputs:
    - dout: (N, F, Ho, Wo) upstream gradient.
    - cache: (x, w) as returned by conv_forward.

    Returns (dx, dw): dx (N, C, H, W), dw (F, C, HH, WW).
    """
    x, w = cache[0], cache[1]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    expected = (N, F, H - HH + 1, W - WW + 1)
    if not isinstance(dout, np.ndarray) or dout.shape != expected:
        raise ValueError(f"dout must have shape {expected} (N, F, Ho, Wo), got "
                         f"{getattr(dout, 'shape', type(dout).__name__)}")
    # Rebuilding the columns in reused scratch memory is cheaper than keeping a fresh multi-MB
    # matrix per call in the cache (fresh pages are faulted in one by one).
    workspace = _thread_workspace()
    cols = _im2col(x.transpose(1, 0, 2, 3), HH, WW, workspace, "public_")
    dx_cn, dw = conv_backward_cn(dout.transpose(1, 0, 2, 3), (C, N, H, W), w, cols, True, workspace, "public_")
    return dx_cn.transpose(1, 0, 2, 3).copy(), dw  # a copy: dx_cn lives in reused scratch memory


# ----------------------------------------------------------------------------------------------------
# max pooling (works on the last two axes, so it serves both layouts)
# ----------------------------------------------------------------------------------------------------
def _pool_settings(x, pool_param):
    _require_float_array("x", x, 4)
    if not isinstance(pool_param, dict):
        raise TypeError(f"pool_param must be a dict, got {type(pool_param).__name__}")
    ph = pool_param.get("pool_height", 3)
    pw = pool_param.get("pool_width", 3)
    stride = pool_param.get("stride", 1)
    for name, value in (("pool_height", ph), ("pool_width", pw), ("stride", stride)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"pool_param['{name}'] must be a positive integer, got {value!r}")
    H, W = x.shape[2:]
    if ph > H or pw > W:
        raise ValueError(f"pool window {ph}x{pw} is larger than the input {H}x{W} (x {x.shape})")
    if x.shape[0] == 0:
        raise ValueError(f"x is an empty batch: shape {x.shape}")
    return int(ph), int(pw), int(stride)


def _pool_windows(x, ph, pw, stride):
    """View of every pooling window, (N, C, Ho, Wo, ph, pw), without copying x.

    For non-overlapping windows (stride == pool size) this is the reshape of the cropped input to
    (N, C, Ho, ph, Wo, pw) with the axes reordered; the backward pass then writes each input once.
    """
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    s0, s1, s2, s3 = x.strides
    return as_strided(x, shape=(N, C, Ho, Wo, ph, pw),
                      strides=(s0, s1, stride * s2, stride * s3, s2, s3), writeable=False)


def max_pool_forward(x, pool_param):
    """Max pooling over (pool_height x pool_width) windows moved by stride.

    Inputs:
    - x: (N, C, H, W) input.
    - pool_param: dict with 'pool_height', 'pool_width', 'stride' (missing keys default to 3, 3, 1).

    Returns (out, cache): out (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride);
    cache (x, pool_param, out), where the trailing out is an optional speed-up for the backward pass.
    """
    ph, pw, stride = _pool_settings(x, pool_param)
    windows = _pool_windows(x, ph, pw, stride)
    # An elementwise maximum over the ph*pw window offsets is several times faster than
    # ndarray.max over two short strided axes.
    out = windows[..., 0, 0].copy()
    for k in range(ph):
        for l in range(pw):
            if k or l:
                np.maximum(out, windows[..., k, l], out=out)
    return out, (x, pool_param, out)


def max_pool_backward(dout, cache):
    """Backward pass of max_pool_forward.

    Each window's upstream gradient goes to the input elements equal to the window's maximum; tied
    maxima share it equally (a valid subgradient that preserves the gradient's sum). Overlapping
    windows accumulate.

    Inputs: dout (N, C, Ho, Wo); cache (x, pool_param) or (x, pool_param, out) from max_pool_forward.
    Returns dx (N, C, H, W).
    """
    x = cache[0]
    dx = np.empty(x.shape, dtype=np.result_type(x, dout))
    return max_pool_backward_into(dout, cache, dx)


def max_pool_backward_into(dout, cache, dx):
    """max_pool_backward writing into a given array dx shaped like x (returned); lets a network
    write the gradient straight into the buffer its next backward step reads."""
    x, pool_param = cache[0], cache[1]
    ph, pw, stride = _pool_settings(x, pool_param)
    windows = _pool_windows(x, ph, pw, stride)
    N, C, Ho, Wo = windows.shape[:4]
    if not isinstance(dout, np.ndarray) or dout.shape != (N, C, Ho, Wo):
        raise ValueError(f"dout must have shape {(N, C, Ho, Wo)}, got {getattr(dout, 'shape', dout)}")
    window_max = cache[2] if len(cache) > 2 else max_pool_forward(x, pool_param)[0]
    is_max = [windows[..., k, l] == window_max for k in range(ph) for l in range(pw)]
    ties = is_max[0].astype(dx.dtype)
    for mask in is_max[1:]:
        ties += mask
    share = dout / ties
    s0, s1, s2, s3 = dx.strides
    dx_windows = as_strided(dx, shape=windows.shape, strides=(s0, s1, stride * s2, stride * s3, s2, s3))
    overlapping = stride < ph or stride < pw
    if overlapping or stride > ph or stride > pw or Ho * ph != x.shape[2] or Wo * pw != x.shape[3]:
        dx[...] = 0  # some elements are in no window, or in several
    for index, mask in enumerate(is_max):  # a loop over window offsets only
        k, l = divmod(index, pw)
        if overlapping:
            dx_windows[..., k, l] += np.where(mask, share, 0)
        else:
            np.multiply(mask, share, out=dx_windows[..., k, l])
    return dx
