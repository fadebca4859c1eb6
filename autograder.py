#!/usr/bin/env python
"""Local autograder for the autograded parts of EECS 545 HW4: know before you spend a submission.

    python autograder.py                 # every part
    python autograder.py cnn svm         # some parts: cnn (Q1), rnn (Q2), svm (Q4), all
    python autograder.py --dir DIR       # check the modules in DIR (imported before anything else)

Parts and the modules they import:
- cnn: layers.py (fc, relu, softmax loss), cnn_layers.py (conv_forward/backward, max pool), cnn.py (ConvNet)
- rnn: rnn_layers.py (RNN step and sequence, word embedding, temporal FC, temporal softmax loss), rnn.py
  (CaptioningRNN: initialization order, loss and gradients, sample)
- svm: svm.py (kernels, get_qp_params, fit_bias, decision_function, CVXOPTSVC)

Every expected value is computed here, at check time, by an independent oracle: direct formulas written
differently from the modules (explicit loops over output positions, time steps or pairs of points),
centered-difference numerical gradients in float64, cvxopt called directly on a QP built here, and PyTorch
or scikit-learn when installed (checks that need them are skipped, and say so, when they are not). No
expected number is stored in this file. Inputs are seeded, so a run is repeatable.

Each check prints PASS / FAIL / ERROR / SKIP with the measured error and its tolerance (error = max |a - b|
divided by the larger of max |a|, max |b| and 1e-8), and a one-line hint when it does not pass. The inputs of
every call into a module are snapshotted and compared afterwards, so a function that modifies its inputs
is reported.

Exit status, as the course's autograder:
  0  every check passed (skipped oracle checks do not count against you);
  2  some answer differs significantly from the correct answer, and nothing else went wrong;
  1  anything else: a module does not import, a function raises (NotImplementedError included), returns the
     wrong type, shape or dtype, modifies its inputs, or runs too long. 1 wins over 2.
Needs only NumPy (and cvxopt for the svm part).
"""
import argparse
import importlib
import inspect
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

PARTS = ("cnn", "rnn", "svm")
CHECK_TIMEOUT = 120          # seconds; a check that runs longer is an error (an endless loop, say)
EXIT_PASS, EXIT_ERROR, EXIT_WRONG = 0, 1, 2

# Tolerances on the relative error defined above.
TOL_EXACT = 1e-9             # float64 results against a direct formula (rounding only)
TOL_NUMGRAD = 1e-6           # analytic gradient against centered differences (h = 1e-5, float64)
TOL_TORCH = 1e-9             # float64 results against PyTorch float64


# ------------------------------------------------------------------------------------------------------
# Outcomes of a check
# ------------------------------------------------------------------------------------------------------
class ContractError(Exception):
    """The module returned the wrong type, shape or dtype (exit 1, like a crash)."""


class Skip(Exception):
    """An optional oracle is not installed."""


class Recorder:
    """Collects what one check measured: (label, error, tolerance) triples and input mutations."""

    def __init__(self):
        self.measures = []
        self.mutations = []
        self.notes = []

    # -- calling module code ---------------------------------------------------------------------
    def call(self, name, func, *args, watch=None, **kwargs):
        """Call ``func(*args, **kwargs)`` and report any argument (or array in ``watch``) it modifies.

        ``watch`` maps a label to extra state that must not change (e.g. a model's params)."""
        before_args = [_snapshot(a) for a in args]
        before_kwargs = {k: _snapshot(v) for k, v in kwargs.items()}
        before_watch = {k: _snapshot(v) for k, v in (watch or {}).items()}
        result = func(*args, **kwargs)
        names = _argument_names(func, len(args))
        for index, (value, saved) in enumerate(zip(args, before_args)):
            where = _changed(value, saved)
            if where:
                self.mutations.append(f"{name} modified its input {names[index]}{where}")
        for key, value in kwargs.items():
            where = _changed(value, before_kwargs[key])
            if where:
                self.mutations.append(f"{name} modified its input {key}{where}")
        for key, value in (watch or {}).items():
            where = _changed(value, before_watch[key])
            if where:
                self.mutations.append(f"{name} modified {key}{where}")
        # Put the original values back so that the oracles that follow see the intended inputs.
        for value, saved in zip([*args, *kwargs.values(), *(watch or {}).values()],
                                [*before_args, *before_kwargs.values(), *before_watch.values()]):
            _restore(value, saved)
        return result

    # -- comparing ---------------------------------------------------------------------------------
    def close(self, label, actual, expected, tol):
        """Record the relative error of ``actual`` against the oracle's ``expected``.

        A non-array, or an array of the wrong shape, is a ContractError (exit 1)."""
        expected = np.asarray(expected, dtype=np.float64)
        if expected.ndim == 0:
            actual = _scalar(label, actual)
        else:
            _expect_array(label, actual, expected.shape, "f")
        self.measures.append((label, relative_error(actual, expected), tol))

    def stable(self, label, func, first_args, second_args):
        """Call func twice; the first call's results must not change when the second one runs (a function that
        returns reused scratch memory silently overwrites results its caller still holds)."""
        first = func(*first_args)
        saved = _snapshot(first)
        func(*second_args)
        where = _changed(first, saved)
        self.measures.append((f"{label}: result{where or ''} overwritten by a later call" if where else
                              f"{label}: results survive a later call", 1.0 if where else 0.0, 0.5))

    def measure(self, label, error, tol):
        self.measures.append((label, float(error), tol))

    def note(self, text):
        self.notes.append(text)


def relative_error(actual, expected):
    """max |a - b| / max(max |a|, max |b|, 1e-8); inf when a holds NaN or inf."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-8)
    return float(np.max(np.abs(a - b)) / scale)


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (tuple, list)):
        return tuple(_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def _changed(value, saved, path=""):
    """'' when ``value`` still equals ``saved``, else a short description of where it changed."""
    if isinstance(saved, np.ndarray):
        if not isinstance(value, np.ndarray) or value.shape != saved.shape:
            return f"{path} (replaced)"
        if not np.array_equal(value, saved, equal_nan=value.dtype.kind in "fc"):
            diff = np.max(np.abs(value.astype(np.float64) - saved.astype(np.float64)))
            return f"{path} (in place; max change {diff:.3g})"
        return ""
    if isinstance(saved, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(saved):
            return f"{path} (replaced)"
        for i, (v, s) in enumerate(zip(value, saved)):
            where = _changed(v, s, f"{path}[{i}]")
            if where:
                return where
        return ""
    if isinstance(saved, dict):
        if not isinstance(value, dict) or set(value) != set(saved):
            return f"{path} (keys changed)"
        for k in saved:
            where = _changed(value[k], saved[k], f"{path}[{k!r}]")
            if where:
                return where
    return ""


def _restore(value, saved):
    """Copy a snapshot back into the arrays it was taken from (where they still have its shape)."""
    if isinstance(saved, np.ndarray):
        if isinstance(value, np.ndarray) and value.shape == saved.shape and value.flags.writeable:
            value[...] = saved
    elif isinstance(saved, tuple) and isinstance(value, (tuple, list)):
        for v, s in zip(value, saved):
            _restore(v, s)
    elif isinstance(saved, dict) and isinstance(value, dict):
        for k in saved:
            if k in value:
                _restore(value[k], saved[k])


def _argument_names(func, count):
    try:
        params = [p.name for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"#{i}" for i in range(count)]


def _expect_array(label, value, shape, kind):
    if not isinstance(value, np.ndarray):
        raise ContractError(f"{label}: expected a numpy array of shape {shape}, got {type(value).__name__}")
    if value.shape != tuple(shape):
        raise ContractError(f"{label}: wrong shape {value.shape}, expected {tuple(shape)}")
    if value.dtype.kind not in kind and not (kind == "f" and value.dtype.kind in "iu" and value.size == 0):
        wanted = {"f": "floating-point", "iu": "integer"}.get(kind, kind)
        raise ContractError(f"{label}: wrong dtype {value.dtype}, expected {wanted}")
    return value


def _expect_tuple(label, value, length):
    if not isinstance(value, (tuple, list)) or len(value) != length:
        got = f"a {type(value).__name__} of length {len(value)}" if isinstance(value, (tuple, list)) else \
            type(value).__name__
        raise ContractError(f"{label}: expected a tuple of {length} values, got {got}")
    return value


def _scalar(label, value):
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ContractError(f"{label}: expected a real number, got {type(value).__name__}")
    return float(value)


def numerical_arg_gradient(forward, args, k, dout):
    """numerical_gradient of ``forward(*args)[0]`` with respect to its k-th argument."""
    def f(v):
        new = list(args)
        new[k] = v
        return forward(*new)[0]

    return numerical_gradient(f, args[k], dout)


def numerical_gradient(f, x, df=None, h=1e-5):
    """Centered differences of sum(f(x) * df) (of f(x) when df is None) with respect to x, on a copy of x."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        old = x[index]
        x[index] = old + h
        # Copies: a module that returns reused memory must not make the difference vanish here (that is
        # reported by the reuse checks instead).
        plus = np.array(f(x.copy()), dtype=np.float64, copy=True)
        x[index] = old - h
        minus = np.array(f(x.copy()), dtype=np.float64, copy=True)
        x[index] = old
        grad[index] = np.sum((plus - minus) * (1.0 if df is None else df)) / (2 * h)
    return grad


def optional(module_name, purpose):
    """Import an optional oracle library, or Skip saying which check it would have run."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise Skip(f"{module_name} is not installed, so {purpose} is skipped") from None


# ------------------------------------------------------------------------------------------------------
# Running checks
# ------------------------------------------------------------------------------------------------------
class Report:
    def __init__(self, verbose=False, stream=sys.stdout):
        self.results = []        # (part, name, status, detail)
        self.verbose = verbose
        self.stream = stream

    def emit(self, text):
        print(text, file=self.stream, flush=True)

    def add(self, part, name, status, detail, hint=None, extra=()):
        self.results.append((part, name, status, detail))
        self.emit(f"{status:5s} {name}: {detail}")
        for line in extra:
            self.emit(f"      {line}")
        if hint and status in ("FAIL", "ERROR"):
            self.emit(f"      hint: {hint}")

    def run(self, part, name, check, hint, modules):
        """Run one check function ``check(rec, modules)`` and record its outcome."""
        rec = Recorder()
        with np.errstate(all="ignore"), _time_limit(CHECK_TIMEOUT):
            try:
                check(rec, modules)
            except Skip as exc:
                self.add(part, name, "SKIP", str(exc))
                return
            except ContractError as exc:
                self.add(part, name, "ERROR", f"wrong output: {exc}", hint)
                return
            except NotImplementedError as exc:
                self.add(part, name, "ERROR", f"NotImplementedError {exc}".strip(),
                         "the function is still a stub: implement it")
                return
            except _Timeout:
                self.add(part, name, "ERROR", f"did not finish within {CHECK_TIMEOUT} s",
                         "look for an endless loop or a loop over every element")
                return
            except Exception as exc:  # anything the module raised
                self.add(part, name, "ERROR", f"raised {type(exc).__name__}: {exc}", hint,
                         extra=[_where(exc)])
                return
        failed = [(label, err, tol) for label, err, tol in rec.measures if not err <= tol]
        worst = max(rec.measures, key=_badness, default=None)
        extra = list(rec.notes)
        if self.verbose:
            extra += [f"{label}: error {err:.2e} (tol {tol:.0e})" for label, err, tol in rec.measures]
        if rec.mutations:
            self.add(part, name, "ERROR", "modifies its inputs: " + "; ".join(sorted(set(rec.mutations))),
                     "work on copies (x = x.copy() or out-of-place operations); the caller's arrays must not change",
                     extra=extra)
        if failed:
            label, err, tol = max(failed, key=_badness)
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            self.add(part, name, "FAIL", f"{label}: error {err:.2e} > tol {tol:.0e}{more}", hint, extra=extra)
        elif not rec.mutations:
            if worst is None:
                self.add(part, name, "PASS", "ok", extra=extra)
            else:
                label, err, tol = worst
                self.add(part, name, "PASS", f"max error {err:.2e} <= tol {tol:.0e} ({len(rec.measures)} "
                         f"comparisons; worst: {label})", extra=extra)

    def exit_code(self):
        statuses = {status for _, _, status, _ in self.results}
        if "ERROR" in statuses:
            return EXIT_ERROR
        if "FAIL" in statuses:
            return EXIT_WRONG
        return EXIT_PASS


def _badness(measure):
    """error / tolerance of a (label, error, tolerance) triple, for picking the worst comparison."""
    _, err, tol = measure
    if not np.isfinite(err):
        return np.inf
    if tol <= 0:
        return 0.0 if err <= 0 else np.inf
    return err / tol


def _where(exc):
    """The innermost traceback frame outside this file, as 'file:line in function'."""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and Path(frames[-1].filename).name == Path(__file__).name:
        return "raised inside autograder.py while checking the result (an unexpected return value?)"
    frames = [f for f in frames if Path(f.filename).name != Path(__file__).name 
              and not f.filename.startswith("<") and "importlib" not in Path(f.filename).parts]
    if not frames:
        return "(no traceback inside the module: is the file there?)"
    f = frames[-1]
    return f"at {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}"


class _Timeout(Exception):
    pass


class _time_limit:
    def __init__(self, seconds):
        self.seconds = seconds
        self.enabled = hasattr(signal, "SIGALRM")

    def __enter__(self):
        if self.enabled:
            self.previous = signal.signal(signal.SIGALRM, self._raise)
            signal.alarm(self.seconds)

    def __exit__(self, *exc):
        if self.enabled:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    @staticmethod
    def _raise(signum, frame):
        raise _Timeout()


def import_modules(report, part, names):
    """Import ``names``; an import failure is an ERROR for the whole part (returns None)."""
    modules = {}
    for name in names:
        try:
            sys.modules.pop(name, None)
            modules[name] = importlib.import_module(name)
        except Exception as exc:
            report.add(part, f"import {name}", "ERROR", f"{type(exc).__name__}: {exc}",
                       f"`python -c 'import {name}'` must work from the folder that holds {name}.py",
                       extra=[_where(exc)])
            return None
    report.emit(f"      using {', '.join(_module_file(m) for m in modules.values())}")
    return modules


def _module_file(module):
    return str(Path(getattr(module, "__file__", "?")))


def rng_for(*key):
    """A generator seeded from a check's name, so checks do not depend on their order."""
    import zlib

    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ======================================================================================================
# Q1 oracles: direct formulas written with explicit loops over output positions
# ======================================================================================================
def ref_conv(x, w):
    """out[n, f, i, j] = sum_{c, p, q} x[n, c, i + p, j + q] w[f, c, p, q] (the course's *filt)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    out = np.zeros((N, F, H - HH + 1, W - WW + 1))
    for i in range(H - HH + 1):
        for j in range(W - WW + 1):
            out[:, :, i, j] = np.tensordot(x[:, :, i:i + HH, j:j + WW], w, axes=([1, 2, 3], [1, 2, 3]))
    return out


def ref_conv_backward(x, w, dout):
    """dx[n, c] = sum_f w[f, c] *full dout[n, f] (flipped kernel over zero-padded dout);
    dw[f, c] = sum_n x[n, c] *filt dout[n, f]. Written from the homework's formulas."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    padded = np.zeros((N, F, Ho + 2 * (HH - 1), Wo + 2 * (WW - 1)))
    padded[:, :, HH - 1:HH - 1 + Ho, WW - 1:WW - 1 + Wo] = dout
    flipped = w[:, :, ::-1, ::-1]
    dx = np.zeros_like(x, dtype=np.float64)
    for i in range(H):
        for j in range(W):
            # full convolution = valid convolution of the padded input with the flipped-back kernel
            dx[:, :, i, j] = np.einsum("nfpq,fcpq->nc", padded[:, :, i:i + HH, j:j + WW], flipped)
    dw = np.zeros_like(w, dtype=np.float64)
    for p in range(HH):
        for q in range(WW):
            dw[:, :, p, q] = np.einsum("nfij,ncij->fc", dout, x[:, :, p:p + Ho, q:q + Wo])
    return dx, dw


def ref_max_pool(x, ph, pw, stride):
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.empty((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(2, 3))
    return out


def tie_free(rng, shape, scale=1.0):
    """Distinct values (a shuffled grid plus a little noise): no max-pool ties, no ReLU kinks near 0."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) / size * 4 * scale
    return values.reshape(shape) + rng.uniform(-0.1, 0.1, size).reshape(shape) / size * scale


def ref_convnet_scores(params, X):
    """conv - relu - pool(2, 2) - conv - relu - pool - fc - relu - fc, from the oracles above."""
    a = ref_max_pool(np.maximum(ref_conv(X, params["W1"]), 0), 2, 2, 2)
    a = ref_max_pool(np.maximum(ref_conv(a, params["W2"]), 0), 2, 2, 2)
    hidden = np.maximum(a.reshape(len(X), -1) @ params["W3"] + params["b3"], 0)
    return hidden @ params["W4"] + params["b4"]


def ref_softmax_loss(scores, y):
    """Mean cross-entropy, via log-sum-exp with np.logaddexp (no explicit max shift)."""
    return float(np.mean([np.logaddexp.reduce(row) - row[label] for row, label in zip(scores, y)]))


# -- layers.py ---------------------------------------------------------------------------------------
def check_fc(rec, m):
    layers = m["layers"]
    rng = rng_for("fc")
    for shape, d_out in [((4, 5), 3), ((3, 2, 3, 2), 7), ((1, 6), 1)]:
        x, d_in = rng.standard_normal(shape), int(np.prod(shape[1:]))
        w, b = rng.standard_normal((d_in, d_out)), rng.standard_normal(d_out)
        out, cache = _expect_tuple("fc_forward", rec.call("fc_forward", layers.fc_forward, x, w, b), 2)
        expected = np.einsum("nk,km->nm", x.reshape(shape[0], -1), w) + b[None, :]
        rec.close(f"fc_forward out {shape}", out, expected, TOL_EXACT)
        dout = rng.standard_normal((shape[0], d_out))
        grads = _expect_tuple("fc_backward", rec.call("fc_backward", layers.fc_backward, dout, (x, w, b)), 3)
        for label, got, arg in zip(("dx", "dw", "db"), grads, (x, w, b)):
            f = {"dx": lambda v: layers.fc_forward(v, w, b)[0], "dw": lambda v: layers.fc_forward(x, v, b)[0],
                 "db": lambda v: layers.fc_forward(x, w, v)[0]}[label]
            rec.close(f"fc_backward {label} {shape} vs numerical", got, numerical_gradient(f, arg, dout), TOL_NUMGRAD)


def check_relu(rec, m):
    layers = m["layers"]
    rng = rng_for("relu")
    x = tie_free(rng, (3, 4, 5))
    out, cache = _expect_tuple("relu_forward", rec.call("relu_forward", layers.relu_forward, x), 2)
    rec.close("relu_forward out", out, (x + np.abs(x)) / 2, TOL_EXACT)
    dout = rng.standard_normal(x.shape)
    dx = rec.call("relu_backward", layers.relu_backward, dout, x)
    rec.close("relu_backward dx vs numerical", dx,
              numerical_gradient(lambda v: layers.relu_forward(v)[0], x, dout), TOL_NUMGRAD)


def check_softmax_loss(rec, m):
    layers = m["layers"]
    rng = rng_for("softmax")
    for N, C in [(5, 4), (1, 3), (20, 10)]:
        x = rng.standard_normal((N, C))
        y = rng.integers(0, C, N)
        loss, dx = _expect_tuple("softmax_loss", rec.call("softmax_loss", layers.softmax_loss, x, y), 2)
        rec.close(f"softmax_loss loss ({N}, {C})", loss, ref_softmax_loss(x, y), TOL_EXACT)
        rec.close(f"softmax_loss dx ({N}, {C}) vs numerical", dx,
                  numerical_gradient(lambda v: layers.softmax_loss(v, y)[0], x), TOL_NUMGRAD)
    # Huge scores: the loss is shift-invariant, so it must equal the loss of the unshifted scores.
    x = rng.standard_normal((4, 6))
    y = rng.integers(0, 6, 4)
    loss, dx = rec.call("softmax_loss", layers.softmax_loss, x * 1000 + 1e4, y)
    rec.close("softmax_loss with scores ~1e4 (stability)", loss, ref_softmax_loss(x * 1000 + 1e4, y), 1e-7)
    probs = np.exp(x * 1000 - np.logaddexp.reduce(x * 1000, axis=1, keepdims=True))
    probs[np.arange(4), y] -= 1
    rec.close("softmax_loss dx with scores ~1e4", dx, probs / 4, 1e-7)


# -- cnn_layers.py -----------------------------------------------------------------------------------
CONV_SHAPES = [  # (N, C, H, W, F, HH, WW): non-square images and kernels, C = 1, F = 1, kernel = image
    (2, 3, 7, 5, 4, 3, 2), (1, 1, 5, 5, 1, 5, 5), (3, 2, 6, 9, 2, 1, 4), (2, 1, 8, 8, 3, 3, 3),
    (1, 4, 4, 6, 1, 4, 1), (4, 2, 5, 7, 3, 2, 5), (2, 3, 6, 6, 2, 6, 1),
]


def check_conv_forward(rec, m):
    cl = m["cnn_layers"]
    rng = rng_for("conv_forward")
    for N, C, H, W, F, HH, WW in CONV_SHAPES:
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
        out, cache = _expect_tuple("conv_forward", rec.call("conv_forward", cl.conv_forward, x, w), 2)
        rec.close(f"conv_forward x{x.shape} w{w.shape}", out, ref_conv(x, w), TOL_EXACT)


def check_conv_backward(rec, m):
    cl = m["cnn_layers"]
    rng = rng_for("conv_backward")
    for k, (N, C, H, W, F, HH, WW) in enumerate(CONV_SHAPES):
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
        dout = rng.standard_normal((N, F, H - HH + 1, W - WW + 1))
        # The cache is built by hand with its documented contents (x, w), as the course may do.
        dx, dw = _expect_tuple("conv_backward", rec.call("conv_backward", cl.conv_backward, dout, (x, w)), 2)
        ref_dx, ref_dw = ref_conv_backward(x, w, dout)
        rec.close(f"conv_backward dx x{x.shape} w{w.shape} vs full-convolution formula", dx, ref_dx, TOL_EXACT)
        rec.close(f"conv_backward dw x{x.shape} w{w.shape} vs filtering formula", dw, ref_dw, TOL_EXACT)
        if k < 3:
            rec.close(f"conv_backward dx x{x.shape} vs numerical", dx,
                      numerical_gradient(lambda v: cl.conv_forward(v, w)[0], x, dout), TOL_NUMGRAD)
            rec.close(f"conv_backward dw w{w.shape} vs numerical", dw,
                      numerical_gradient(lambda v: cl.conv_forward(x, v)[0], w, dout), TOL_NUMGRAD)
    # And with the cache conv_forward itself returns.
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 2, 3))
    out, cache = cl.conv_forward(x, w)
    dout = rng.standard_normal(out.shape)
    dx, dw = _expect_tuple("conv_backward", rec.call("conv_backward", cl.conv_backward, dout, cache), 2)
    ref_dx, ref_dw = ref_conv_backward(x, w, dout)
    rec.close("conv_backward dx with conv_forward's cache", dx, ref_dx, TOL_EXACT)
    rec.close("conv_backward dw with conv_forward's cache", dw, ref_dw, TOL_EXACT)


def check_conv_torch(rec, m):
    torch = optional("torch", "the PyTorch conv2d oracle")
    cl = m["cnn_layers"]
    rng = rng_for("conv_torch")
    for _ in range(40):
        N, C, F = rng.integers(1, 4, 3)
        H, W = rng.integers(1, 10, 2)
        HH, WW = rng.integers(1, H + 1), rng.integers(1, W + 1)
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        out_t = torch.nn.functional.conv2d(xt, wt)
        dout = rng.standard_normal(tuple(out_t.shape))
        out_t.backward(torch.tensor(dout))
        out, cache = _expect_tuple("conv_forward", rec.call("conv_forward", cl.conv_forward, x, w), 2)
        rec.close(f"conv_forward x{x.shape} w{w.shape} vs torch conv2d", out, out_t.detach().numpy(), TOL_TORCH)
        dx, dw = _expect_tuple("conv_backward", rec.call("conv_backward", cl.conv_backward, dout, cache), 2)
        rec.close(f"conv_backward dx x{x.shape} vs torch", dx, xt.grad.numpy(), TOL_TORCH)
        rec.close(f"conv_backward dw w{w.shape} vs torch", dw, wt.grad.numpy(), TOL_TORCH)


POOL_CASES = [  # (x shape, pool_param, (ph, pw, stride)) incl. overlapping, non-square, defaults
    ((2, 3, 8, 6), {"pool_height": 2, "pool_width": 2, "stride": 2}, (2, 2, 2)),
    ((1, 2, 9, 7), {"pool_height": 2, "pool_width": 2, "stride": 2}, (2, 2, 2)),
    ((2, 2, 7, 8), {"pool_height": 3, "pool_width": 2, "stride": 1}, (3, 2, 1)),
    ((3, 1, 7, 7), {"pool_height": 3, "pool_width": 3, "stride": 2}, (3, 3, 2)),
    ((1, 2, 6, 5), {}, (3, 3, 1)),
    ((2, 2, 5, 9), {"pool_height": 1, "pool_width": 4, "stride": 3}, (1, 4, 3)),
]


def check_max_pool_forward(rec, m):
    cl = m["cnn_layers"]
    rng = rng_for("pool_forward")
    for shape, param, (ph, pw, s) in POOL_CASES:
        x = tie_free(rng, shape)
        out, cache = _expect_tuple("max_pool_forward", rec.call("max_pool_forward", cl.max_pool_forward, x,
                                                                dict(param)), 2)
        rec.close(f"max_pool_forward x{shape} {param or 'defaults 3x3 stride 1'}", out, ref_max_pool(x, ph, pw, s),
                  TOL_EXACT)


def check_max_pool_backward(rec, m):
    cl = m["cnn_layers"]
    rng = rng_for("pool_backward")
    for shape, param, (ph, pw, s) in POOL_CASES:
        x = tie_free(rng, shape)
        Ho, Wo = 1 + (shape[2] - ph) // s, 1 + (shape[3] - pw) // s
        dout = rng.standard_normal((shape[0], shape[1], Ho, Wo))
        # A cache built by hand with its documented contents (x, pool_param).
        dx = rec.call("max_pool_backward", cl.max_pool_backward, dout, (x, dict(param)))
        expected = numerical_gradient(lambda v: cl.max_pool_forward(v, dict(param))[0], x, dout)
        rec.close(f"max_pool_backward dx x{shape} {param or 'defaults'} vs numerical", dx, expected, TOL_NUMGRAD)
        out, cache = cl.max_pool_forward(x, dict(param))
        dx = rec.call("max_pool_backward", cl.max_pool_backward, dout, cache)
        rec.close(f"max_pool_backward dx x{shape} with max_pool_forward's cache", dx, expected, TOL_NUMGRAD)


def check_max_pool_torch(rec, m):
    torch = optional("torch", "the PyTorch max_pool2d oracle")
    cl = m["cnn_layers"]
    rng = rng_for("pool_torch")
    for _ in range(30):
        N, C = rng.integers(1, 4, 2)
        ph, pw = rng.integers(1, 4, 2)
        H, W = rng.integers(ph, 10), rng.integers(pw, 10)
        stride = int(rng.integers(1, 4))
        x = tie_free(rng, (N, C, H, W))
        xt = torch.tensor(x, requires_grad=True)
        out_t = torch.nn.functional.max_pool2d(xt, (int(ph), int(pw)), stride)
        dout = rng.standard_normal(tuple(out_t.shape))
        out_t.backward(torch.tensor(dout))
        param = {"pool_height": int(ph), "pool_width": int(pw), "stride": stride}
        out, cache = _expect_tuple("max_pool_forward", rec.call("max_pool_forward", cl.max_pool_forward, x,
                                                                dict(param)), 2)
        rec.close(f"max_pool_forward x{x.shape} {param} vs torch", out, out_t.detach().numpy(), TOL_TORCH)
        dx = rec.call("max_pool_backward", cl.max_pool_backward, dout, cache)
        rec.close(f"max_pool_backward x{x.shape} {param} vs torch", dx, xt.grad.numpy(), TOL_TORCH)


# -- cnn.py --------------------------------------------------------------------------------------------
def convnet_shapes(input_dim, F1, F2, fs, hidden, classes):
    C, H, W = input_dim
    h1, w1 = (H - fs + 1) // 2, (W - fs + 1) // 2
    h2, w2 = (h1 - fs + 1) // 2, (w1 - fs + 1) // 2
    fc_in = F2 * h2 * w2
    shapes = {"W1": (F1, C, fs, fs), "W2": (F2, F1, fs, fs), "W3": (fc_in, hidden), "b3": (hidden,),
              "W4": (hidden, classes), "b4": (classes,)}
    fan_in = {"W1": C * fs * fs, "W2": F1 * fs * fs, "W3": fc_in, "b3": fc_in, "W4": hidden, "b4": hidden}
    return shapes, fan_in


def check_convnet_init(rec, m):
    cnn = m["cnn"]
    configs = [((), ((1, 28, 28), 6, 16, 5, 100, 10), np.float32),
               (dict(input_dim=(3, 20, 24), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=30,
                     num_classes=7, dtype=np.float64), ((3, 20, 24), 4, 5, 3, 30, 7), np.float64)]
    for kwargs, spec, dtype in configs:
        np.random.seed(0)
        model = cnn.ConvNet(**dict(kwargs))
        shapes, fan_in = convnet_shapes(*spec)
        params = getattr(model, "params", None)
        if not isinstance(params, dict) or set(params) != set(shapes):
            raise ContractError(f"ConvNet{spec}.params must be a dict with keys {sorted(shapes)}, got "
                                f"{sorted(params) if isinstance(params, dict) else type(params).__name__}")
        for name, shape in shapes.items():
            p = _expect_array(f"ConvNet{spec}.params[{name!r}]", params[name], shape, "f")
            if p.dtype != dtype:
                raise ContractError(f"ConvNet{spec}.params[{name!r}] has dtype {p.dtype}, expected {np.dtype(dtype)}")
            bound = np.sqrt(1.0 / fan_in[name])
            # Uniform on [-bound, bound]: nothing outside, and (for enough samples) the extremes and the
            # standard deviation bound / sqrt(3) of that distribution.
            rec.measure(f"{name} {shape}: max |value| / sqrt(1/fan_in) - 1 (must not exceed the bound)",
                        max(np.abs(p).max() / bound - 1, 0), 1e-6)
            if p.size >= 100:
                rec.measure(f"{name} {shape}: 1 - max |value| / bound (values must fill the range)",
                            1 - np.abs(p).max() / bound, 0.1)
                std_err = abs(p.astype(np.float64).std() / (bound / np.sqrt(3)) - 1)
                rec.measure(f"{name} {shape}: std / (bound / sqrt 3) - 1 (uniform on the range)", std_err,
                            max(0.2, 5 / np.sqrt(p.size)))


def _small_convnet(cnn):
    np.random.seed(1)
    model = cnn.ConvNet(input_dim=(2, 11, 10), num_filters_1=3, num_filters_2=4, filter_size=3, hidden_dim=6,
                        num_classes=5, dtype=np.float64)
    rng = rng_for("small convnet")
    shapes, _ = convnet_shapes((2, 11, 10), 3, 4, 3, 6, 5)
    # Larger, tie-free weights so every unit is exercised away from ReLU kinks.
    model.params = {name: tie_free(rng, shape, scale=0.8) for name, shape in shapes.items()}
    return model


def check_convnet_loss(rec, m):
    cnn = m["cnn"]
    rng = rng_for("convnet loss")
    np.random.seed(0)
    model = cnn.ConvNet(dtype=np.float64)
    X = rng.standard_normal((4, 1, 28, 28))
    y = rng.integers(0, 10, 4)
    scores = rec.call("ConvNet.loss", model.loss, X, watch={"model.params": model.params})
    expected = ref_convnet_scores(model.params, X)
    rec.close("ConvNet.loss(X) scores (default architecture)", scores, expected, 1e-8)
    result = _expect_tuple("ConvNet.loss(X, y)", rec.call("ConvNet.loss", model.loss, X, y,
                                                           watch={"model.params": model.params}), 2)
    loss, grads = result
    rec.close("ConvNet.loss(X, y) loss", loss, ref_softmax_loss(expected, y), 1e-8)
    if not isinstance(grads, dict) or set(grads) != set(model.params):
        raise ContractError(f"ConvNet.loss grads must be a dict with keys {sorted(model.params)}")
    for name, p in model.params.items():
        _expect_array(f"grads[{name!r}]", grads[name], p.shape, "f")
    model = cnn.ConvNet(input_dim=(1, 15, 13), num_filters_1=2, num_filters_2=3, filter_size=4, hidden_dim=5,
                        num_classes=3, dtype=np.float64)
    X = rng.standard_normal((2, 1, 15, 13))
    rec.close("ConvNet.loss(X) scores on a non-square input", model.loss(X), ref_convnet_scores(model.params, X),
              1e-8)


def check_convnet_gradients(rec, m):
    cnn = m["cnn"]
    model = _small_convnet(cnn)
    rng = rng_for("convnet grads")
    X = tie_free(rng, (3, 2, 11, 10), scale=2.0)
    y = np.array([0, 4, 2])
    loss, grads = _expect_tuple("ConvNet.loss(X, y)", rec.call("ConvNet.loss", model.loss, X, y,
                                                                watch={"model.params": model.params}), 2)
    rec.close("loss of the small float64 network", loss, ref_softmax_loss(ref_convnet_scores(model.params, X), y),
              1e-8)
    for name in sorted(model.params):
        original = model.params[name]

        def loss_at(value, name=name):
            model.params[name] = value
            return model.loss(X, y)[0]

        numeric = numerical_gradient(loss_at, original)
        model.params[name] = original
        rec.close(f"grads[{name!r}] vs numerical", grads.get(name), numeric, TOL_NUMGRAD)


def check_convnet_torch(rec, m):
    torch = optional("torch", "the PyTorch ConvNet oracle")
    F = torch.nn.functional
    cnn = m["cnn"]
    np.random.seed(3)
    model = cnn.ConvNet(dtype=np.float64)
    rng = rng_for("convnet torch")
    X = rng.standard_normal((6, 1, 28, 28))
    y = rng.integers(0, 10, 6)
    loss, grads = _expect_tuple("ConvNet.loss(X, y)", rec.call("ConvNet.loss", model.loss, X, y,
                                                                watch={"model.params": model.params}), 2)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    a = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), p["W1"])), 2, 2)
    a = F.max_pool2d(F.relu(F.conv2d(a, p["W2"])), 2, 2)
    scores = F.relu(a.flatten(1) @ p["W3"] + p["b3"]) @ p["W4"] + p["b4"]
    loss_t = F.cross_entropy(scores, torch.tensor(y))
    loss_t.backward()
    rec.close("ConvNet loss vs torch", loss, loss_t.item(), 1e-9)
    for name in sorted(p):
        rec.close(f"grads[{name!r}] vs torch autograd", grads.get(name), p[name].grad.numpy(), 1e-8)


def check_cnn_results_survive(rec, m):
    """Results are the caller's: a later call may not overwrite them (N = 1, F = 1 and C = 1 included, where
    a transposed result is already contiguous and np.ascontiguousarray returns it without copying)."""
    layers, cl = m["layers"], m["cnn_layers"]
    rng = rng_for("cnn reuse")
    for N, C, H, W, F, HH, WW in [(1, 1, 5, 5, 1, 5, 5), (1, 2, 6, 5, 3, 2, 2), (2, 1, 6, 6, 1, 3, 3),
                                  (2, 3, 7, 6, 4, 3, 2)]:
        shape = f"x({N}, {C}, {H}, {W}) w({F}, {C}, {HH}, {WW})"
        x1, x2 = rng.standard_normal((2, N, C, H, W))
        w = rng.standard_normal((F, C, HH, WW))
        rec.stable(f"conv_forward {shape}", cl.conv_forward, (x1, w), (x2, w))
        d1, d2 = rng.standard_normal((2, N, F, H - HH + 1, W - WW + 1))
        rec.stable(f"conv_backward {shape}", cl.conv_backward, (d1, (x1, w)), (d2, (x2, w)))
        param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        rec.stable(f"max_pool_forward x({N}, {C}, {H}, {W})", cl.max_pool_forward, (x1, param), (x2, param))
        p1, p2 = rng.standard_normal((2, N, C, H // 2, W // 2))
        rec.stable(f"max_pool_backward x({N}, {C}, {H}, {W})", cl.max_pool_backward, (p1, (x1, param)),
                   (p2, (x2, param)))
        a1, a2 = x1.reshape(N, -1), x2.reshape(N, -1)
        fw, fb = rng.standard_normal((a1.shape[1], 3)), rng.standard_normal(3)
        rec.stable(f"fc_forward ({N}, {a1.shape[1]})", layers.fc_forward, (a1, fw, fb), (a2, fw, fb))


# ======================================================================================================
# Q2 oracles
# ======================================================================================================
def ref_rnn_step(x, prev_h, Wx, Wh, b):
    return np.tanh(np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b)


def ref_temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    total = 0.0
    for n in range(N):
        for t in range(T):
            if mask[n, t]:
                total += np.logaddexp.reduce(x[n, t]) - x[n, t, y[n, t]]
    return total / N


def check_rnn_step(rec, m):
    rl = m["rnn_layers"]
    rng = rng_for("rnn step")
    for N, D, H in [(3, 4, 5), (1, 2, 3), (4, 6, 2)]:
        x, prev_h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
        Wx, Wh, b = rng.standard_normal((D, H)) * 0.5, rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H)
        next_h, cache = _expect_tuple("rnn_step_forward", rec.call("rnn_step_forward", rl.rnn_step_forward,
                                                                   x, prev_h, Wx, Wh, b), 2)
        rec.close(f"rnn_step_forward next_h N={N} D={D} H={H}", next_h, ref_rnn_step(x, prev_h, Wx, Wh, b),
                  TOL_EXACT)
        dnext = rng.standard_normal((N, H))
        a = x @ Wx + prev_h @ Wh + b
        grads = _expect_tuple("rnn_step_backward", rec.call("rnn_step_backward", rl.rnn_step_backward, dnext,
                                                            (Wx, Wh, x, prev_h, a)), 5)
        args = [x, prev_h, Wx, Wh, b]
        for k, label in enumerate(("dx", "dprev_h", "dWx", "dWh", "db")):
            rec.close(f"rnn_step_backward {label} (hand-built cache) vs numerical", grads[k],
                      numerical_arg_gradient(rl.rnn_step_forward, args, k, dnext), TOL_NUMGRAD)


def check_rnn_sequence(rec, m):
    rl = m["rnn_layers"]
    rng = rng_for("rnn sequence")
    for T, N, D, H in [(4, 3, 5, 6), (1, 1, 2, 3), (6, 2, 3, 2)]:
        x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
        Wx, Wh, b = rng.standard_normal((D, H)) * 0.5, rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H)
        h, cache = _expect_tuple("rnn_forward", rec.call("rnn_forward", rl.rnn_forward, x, h0, Wx, Wh, b), 2)
        expected, prev = [], h0
        for t in range(T):
            prev = ref_rnn_step(x[t], prev, Wx, Wh, b)
            expected.append(prev)
        expected = np.stack(expected)
        rec.close(f"rnn_forward h (T={T}, N={N}, H={H}), time-major", h, expected, TOL_EXACT)
        dh = rng.standard_normal((T, N, H))
        grads = _expect_tuple("rnn_backward", rec.call("rnn_backward", rl.rnn_backward, dh,
                                                       (x, h0, Wx, Wh, b, expected)), 5)
        args = [x, h0, Wx, Wh, b]
        for k, label in enumerate(("dx", "dh0", "dWx", "dWh", "db")):
            rec.close(f"rnn_backward {label} (T={T}, hand-built cache) vs numerical", grads[k],
                      numerical_arg_gradient(rl.rnn_forward, args, k, dh), TOL_NUMGRAD)


def check_word_embedding(rec, m):
    rl = m["rnn_layers"]
    rng = rng_for("embedding")
    for N, T, V, D in [(4, 3, 5, 6), (1, 1, 2, 3), (3, 7, 4, 2)]:
        x = rng.integers(0, V, (N, T))
        W = rng.standard_normal((V, D))
        out, cache = _expect_tuple("word_embedding_forward", rec.call("word_embedding_forward",
                                                                      rl.word_embedding_forward, x, W), 2)
        expected = np.array([[W[x[n, t]] for t in range(T)] for n in range(N)])
        rec.close(f"word_embedding_forward (N={N}, T={T})", out, expected, TOL_EXACT)
        dout = rng.standard_normal((N, T, D))
        dW = rec.call("word_embedding_backward", rl.word_embedding_backward, dout, (x, W))
        expected = np.zeros((V, D))
        for n in range(N):
            for t in range(T):
                expected[x[n, t]] += dout[n, t]   # repeated words accumulate
        rec.close(f"word_embedding_backward dW (N={N}, T={T}, hand-built cache)", dW, expected, TOL_EXACT)


def check_temporal_fc(rec, m):
    rl = m["rnn_layers"]
    rng = rng_for("temporal fc")
    for N, T, D, M in [(2, 3, 4, 5), (1, 1, 3, 2), (4, 5, 2, 6)]:
        x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
        out, cache = _expect_tuple("temporal_fc_forward", rec.call("temporal_fc_forward", rl.temporal_fc_forward,
                                                                   x, w, b), 2)
        expected = np.array([[x[n, t] @ w + b for t in range(T)] for n in range(N)])
        rec.close(f"temporal_fc_forward out (N={N}, T={T})", out, expected, TOL_EXACT)
        dout = rng.standard_normal((N, T, M))
        grads = _expect_tuple("temporal_fc_backward", rec.call("temporal_fc_backward", rl.temporal_fc_backward,
                                                               dout, (x, w, b, expected)), 3)
        args = [x, w, b]
        for k, label in enumerate(("dx", "dw", "db")):
            rec.close(f"temporal_fc_backward {label} (N={N}, T={T}, hand-built cache) vs numerical", grads[k],
                      numerical_arg_gradient(rl.temporal_fc_forward, args, k, dout), TOL_NUMGRAD)


def check_temporal_softmax_loss(rec, m):
    rl = m["rnn_layers"]
    rng = rng_for("temporal softmax")
    for N, T, V in [(3, 4, 5), (1, 1, 3), (6, 2, 7)]:
        x = rng.standard_normal((N, T, V))
        y = rng.integers(0, V, (N, T))
        mask = rng.random((N, T)) < 0.7
        mask[0, 0] = True
        loss, dx = _expect_tuple("temporal_softmax_loss", rec.call("temporal_softmax_loss",
                                                                   rl.temporal_softmax_loss, x, y, mask), 2)
        rec.close(f"temporal_softmax_loss loss (N={N}, T={T}, V={V})", loss, ref_temporal_softmax_loss(x, y, mask),
                  TOL_EXACT)
        rec.close(f"temporal_softmax_loss dx (N={N}, T={T}) vs numerical", dx,
                  numerical_gradient(lambda v: rl.temporal_softmax_loss(v, y, mask)[0], x), TOL_NUMGRAD)
    x = rng.standard_normal((3, 2, 4)) * 1000 + 1e4
    y = rng.integers(0, 4, (3, 2))
    mask = np.ones((3, 2), dtype=bool)
    loss, dx = rec.call("temporal_softmax_loss", rl.temporal_softmax_loss, x, y, mask)
    rec.close("temporal_softmax_loss with scores ~1e4 (stability)", loss, ref_temporal_softmax_loss(x, y, mask), 1e-7)


def check_rnn_results_survive(rec, m):
    """Results are the caller's: a later call may not overwrite them."""
    rl = m["rnn_layers"]
    rng = rng_for("rnn reuse")
    for T, N, D, H in [(1, 1, 2, 3), (3, 2, 4, 5)]:
        x1, x2 = rng.standard_normal((2, T, N, D))
        h0, Wx, Wh, b = rng.standard_normal((N, H)), rng.standard_normal((D, H)), rng.standard_normal((H, H)), \
            rng.standard_normal(H)
        rec.stable(f"rnn_step_forward N={N}", rl.rnn_step_forward, (x1[0], h0, Wx, Wh, b), (x2[0], h0, Wx, Wh, b))
        rec.stable(f"rnn_forward T={T} N={N}", rl.rnn_forward, (x1, h0, Wx, Wh, b), (x2, h0, Wx, Wh, b))
        h1 = rl.rnn_forward(x1, h0, Wx, Wh, b)[0].copy()
        d1, d2 = rng.standard_normal((2, T, N, H))
        cache = (x1, h0, Wx, Wh, b, h1)
        rec.stable(f"rnn_backward T={T} N={N}", rl.rnn_backward, (d1, cache), (d2, cache))
        xb1, xb2 = x1.transpose(1, 0, 2).copy(), x2.transpose(1, 0, 2).copy()
        w, bias = rng.standard_normal((D, 4)), rng.standard_normal(4)
        rec.stable(f"temporal_fc_forward N={N} T={T}", rl.temporal_fc_forward, (xb1, w, bias), (xb2, w, bias))
        y = rng.integers(0, D, (N, T))
        mask = np.ones((N, T), dtype=bool)
        rec.stable(f"temporal_softmax_loss N={N} T={T}", rl.temporal_softmax_loss, (xb1, y, mask), (xb2, y, mask))


def check_rnn_torch(rec, m):
    torch = optional("torch", "the PyTorch RNN oracle")
    F = torch.nn.functional
    rl = m["rnn_layers"]
    rng = rng_for("rnn torch")
    for _ in range(10):
        T, N, D, H, V = (int(v) for v in rng.integers(1, 6, 5))
        V += 1
        x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
        Wx, Wh, b = rng.standard_normal((D, H)) * 0.5, rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H)
        Wv, bv = rng.standard_normal((H, V)), rng.standard_normal(V)
        y = rng.integers(0, V, (N, T))
        mask = rng.random((N, T)) < 0.8
        t = {k: torch.tensor(v, requires_grad=True) for k, v in
             dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b, Wv=Wv, bv=bv).items()}
        prev, states = t["h0"], []
        for step in range(T):
            prev = torch.tanh(t["x"][step] @ t["Wx"] + prev @ t["Wh"] + t["b"])
            states.append(prev)
        h_t = torch.stack(states)                                   # (T, N, H)
        scores_t = h_t.transpose(0, 1) @ t["Wv"] + t["bv"]           # (N, T, V)
        scores_t.retain_grad()
        h_t.retain_grad()
        losses = F.cross_entropy(scores_t.reshape(N * T, V), torch.tensor(y.reshape(-1)), reduction="none")
        loss_t = (losses * torch.tensor(mask.reshape(-1), dtype=torch.float64)).sum() / N
        loss_t.backward()

        h, rnn_cache = rec.call("rnn_forward", rl.rnn_forward, x, h0, Wx, Wh, b)
        rec.close(f"rnn_forward (T={T}, N={N}) vs torch", h, h_t.detach().numpy(), TOL_TORCH)
        scores, fc_cache = rec.call("temporal_fc_forward", rl.temporal_fc_forward, np.ascontiguousarray(
            h.transpose(1, 0, 2)), Wv, bv)
        rec.close("temporal_fc_forward vs torch", scores, scores_t.detach().numpy(), TOL_TORCH)
        loss, dscores = rec.call("temporal_softmax_loss", rl.temporal_softmax_loss, scores, y, mask)
        rec.close("temporal_softmax_loss vs torch cross_entropy", loss, loss_t.item(), TOL_TORCH)
        rec.close("temporal_softmax_loss dx vs torch", dscores, scores_t.grad.numpy(), TOL_TORCH)
        dh, dWv, dbv = rec.call("temporal_fc_backward", rl.temporal_fc_backward, dscores, fc_cache)
        rec.close("temporal_fc_backward dw vs torch", dWv, t["Wv"].grad.numpy(), TOL_TORCH)
        rec.close("temporal_fc_backward db vs torch", dbv, t["bv"].grad.numpy(), TOL_TORCH)
        dx, dh0, dWx, dWh, db = rec.call("rnn_backward", rl.rnn_backward,
                                         np.ascontiguousarray(np.asarray(dh).transpose(1, 0, 2)), rnn_cache)
        for label, got, key in (("dx", dx, "x"), ("dh0", dh0, "h0"), ("dWx", dWx, "Wx"), ("dWh", dWh, "Wh"),
                                ("db", db, "b")):
            rec.close(f"rnn_backward {label} vs torch", got, t[key].grad.numpy(), TOL_TORCH)


# -- rnn.py --------------------------------------------------------------------------------------------
def vocab(V):
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2}
    word_to_idx.update({f"w{i}": i for i in range(3, V)})
    return word_to_idx


def ref_captioning_loss(params, features, captions, null):
    """The captioning loss written step by step: h0, then for each t embed, step, score, masked CE."""
    h = features @ params["W_proj"] + params["b_proj"]
    N, T1 = captions.shape
    total = 0.0
    for t in range(T1 - 1):
        h = ref_rnn_step(params["W_embed"][captions[:, t]], h, params["Wx"], params["Wh"], params["b"])
        scores = h @ params["W_vocab"] + params["b_vocab"]
        for n in range(N):
            target = captions[n, t + 1]
            if target != null:
                total += np.logaddexp.reduce(scores[n]) - scores[n, target]
    return total / N


def check_captioning_init(rec, m):
    rnn = m["rnn"]
    V, D, W, H = 7, 6, 5, 4
    np.random.seed(231)
    model = rnn.CaptioningRNN(vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type="rnn",
                              dtype=np.float64)
    # The same draws from the global stream, in the documented order.
    np.random.seed(231)
    expected = {}
    expected["W_embed"] = np.random.randn(V, W) / 100
    expected["W_proj"] = np.random.randn(D, H) / np.sqrt(D)
    expected["b_proj"] = np.zeros(H)
    expected["Wx"] = np.random.randn(W, H) / np.sqrt(W)
    expected["Wh"] = np.random.randn(H, H) / np.sqrt(H)
    expected["b"] = np.zeros(H)
    expected["W_vocab"] = np.random.randn(H, V) / np.sqrt(H)
    expected["b_vocab"] = np.zeros(V)
    params = getattr(model, "params", None)
    if not isinstance(params, dict) or set(params) != set(expected):
        raise ContractError(f"CaptioningRNN.params must have keys {sorted(expected)}, got "
                            f"{sorted(params) if isinstance(params, dict) else type(params).__name__}")
    for name, value in expected.items():
        rec.close(f"params[{name!r}] (seeded, in the documented order)", params[name], value, TOL_EXACT)
    for attr, value in (("_null", 0), ("_start", 1), ("_end", 2)):
        rec.measure(f"model.{attr} == word_to_idx entry", float(getattr(model, attr, None) != value), 0.5)
    model32 = rnn.CaptioningRNN(vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H)
    for name, value in model32.params.items():
        if value.dtype != np.float32:
            raise ContractError(f"CaptioningRNN(dtype=np.float32 default).params[{name!r}] has dtype {value.dtype}")
    # The course builds a vocabulary whose <END> id equals V; construction must accept it.
    rnn.CaptioningRNN({"<NULL>": 0, "<START>": 1, **{f"w{i}": i for i in range(2, 10)}, "<END>": 10},
                      input_dim=D, wordvec_dim=W, hidden_dim=H)


def check_captioning_loss(rec, m):
    rnn = m["rnn"]
    rng = rng_for("captioning loss")
    # The classic setup: linspace parameters, a vocabulary without <START>/<END>.
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    V = len(word_to_idx)
    model = rnn.CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type="rnn",
                              dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(-1.5, 0.3, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    result = _expect_tuple("CaptioningRNN.loss", rec.call("CaptioningRNN.loss", model.loss, features, captions,
                                                          watch={"model.params": model.params}), 2)
    rec.close("CaptioningRNN.loss, linspace parameters", result[0],
              ref_captioning_loss(model.params, features, captions, 0), TOL_EXACT)
    # Random model and captions with <NULL> padding; gradients of every parameter.
    V, D, W, H, N, T = 6, 4, 5, 3, 3, 5
    np.random.seed(5)
    model = rnn.CaptioningRNN(vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, dtype=np.float64)
    model.params = {k: rng.standard_normal(v.shape) * 0.7 for k, v in model.params.items()}
    features = rng.standard_normal((N, D))
    captions = rng.integers(1, V, (N, T + 1))
    captions[:, 0] = 1
    captions[0, 3:] = 0
    captions[2, 5:] = 0
    loss, grads = _expect_tuple("CaptioningRNN.loss", rec.call("CaptioningRNN.loss", model.loss, features, captions,
                                                               watch={"model.params": model.params}), 2)
    rec.close("CaptioningRNN.loss with <NULL> padding", loss,
              ref_captioning_loss(model.params, features, captions, 0), TOL_EXACT)
    if not isinstance(grads, dict) or set(grads) != set(model.params):
        raise ContractError(f"CaptioningRNN.loss grads must be a dict with keys {sorted(model.params)}")
    for name in sorted(model.params):
        original = model.params[name]

        def loss_at(value, name=name):
            model.params[name] = value
            return model.loss(features, captions)[0]

        numeric = numerical_gradient(loss_at, original)
        model.params[name] = original
        _expect_array(f"grads[{name!r}]", grads[name], original.shape, "f")
        rec.close(f"grads[{name!r}] vs numerical", grads[name], numeric, TOL_NUMGRAD)


def check_captioning_sample(rec, m):
    rnn = m["rnn"]
    rng = rng_for("captioning sample")
    V, D, W, H, N, L = 9, 5, 4, 6, 4, 7
    model = rnn.CaptioningRNN(vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, dtype=np.float64)
    model.params = {k: rng.standard_normal(v.shape) for k, v in model.params.items()}
    features = rng.standard_normal((N, D))
    captions = rec.call("CaptioningRNN.sample", model.sample, features, L, watch={"model.params": model.params})
    _expect_array("CaptioningRNN.sample", captions, (N, L), "iu")
    p = model.params
    h = features @ p["W_proj"] + p["b_proj"]
    word = np.full(N, 1)
    expected = np.zeros((N, L), dtype=int)
    for t in range(L):
        h = ref_rnn_step(p["W_embed"][word], h, p["Wx"], p["Wh"], p["b"])
        word = np.array([int(np.argmax(row)) for row in h @ p["W_vocab"] + p["b_vocab"]])
        expected[:, t] = word
    rec.measure("sample: fraction of words that differ from greedy decoding", np.mean(captions != expected), 0)


# ======================================================================================================
# Q4 oracles
# ======================================================================================================
def ref_kernel(x, z, kp):
    kind = kp["kernel"]
    if kind == "linear":
        return float(sum(a * b for a, b in zip(x, z)))
    if kind == "poly":
        return float((kp["gamma"] * sum(a * b for a, b in zip(x, z)) + kp["coef0"]) ** kp["degree"])
    if kind == "rbf":
        return float(np.exp(-kp["gamma"] * sum((a - b) ** 2 for a, b in zip(x, z))))
    if kind == "sigmoid":
        return float(np.tanh(kp["gamma"] * sum(a * b for a, b in zip(x, z)) + kp["coef0"]))
    raise ValueError(kind)


def ref_gram(X1, X2, kp):
    return np.array([[ref_kernel(a, b, kp) for b in X2] for a in X1])


KERNELS = [{"kernel": "linear", "degree": 3, "gamma": 1.0, "coef0": 0.0},
           {"kernel": "poly", "degree": 2, "gamma": 0.7, "coef0": 1.5},
           {"kernel": "rbf", "degree": 3, "gamma": 0.4, "coef0": 0.0},
           {"kernel": "sigmoid", "degree": 3, "gamma": 0.3, "coef0": -0.2}]


def check_kernels(rec, m):
    svm = m["svm"]
    rng = rng_for("kernels")
    X1, X2 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    Z = rng.standard_normal((5, 3))
    for kp in KERNELS:
        K = rec.call("kernel_matrix", svm.kernel_matrix, X1, X2, dict(kp))
        rec.close(f"kernel_matrix {kp['kernel']}", K, ref_gram(X1, X2, kp), TOL_EXACT)
        k = rec.call("kernel_dot", svm.kernel_dot, X1, Z, dict(kp))
        rec.close(f"kernel_dot {kp['kernel']}", k, [ref_kernel(a, b, kp) for a, b in zip(X1, Z)], TOL_EXACT)


def check_qp_params(rec, m):
    svm = m["svm"]
    rng = rng_for("qp params")
    n, d, C = 6, 3, 0.7
    X = rng.standard_normal((n, d))
    for kp, y in [(KERNELS[0], np.where(rng.random(n) < 0.5, -1.0, 1.0)), (KERNELS[2], rng.standard_normal(n)),
                  (KERNELS[1], rng.standard_normal(n)), (KERNELS[3], np.where(rng.random(n) < 0.5, -1.0, 1.0))]:
        out = _expect_tuple("get_qp_params", rec.call("get_qp_params", svm.get_qp_params, X, y, C, dict(kp)), 6)
        K = ref_gram(X, X, kp)
        expected = {
            "P": np.array([[y[i] * y[j] * K[i, j] for j in range(n)] for i in range(n)]),
            "q": -np.ones(n),
            "G": np.concatenate([-np.eye(n), np.eye(n)]),
            "h": np.concatenate([np.zeros(n), np.full(n, C)]),
            "A": y.reshape(1, n),
            "b": np.zeros(1),
        }
        for (name, value), got in zip(expected.items(), out):
            _expect_array(f"get_qp_params {name}", got, value.shape, "f")
            if got.dtype != np.float64:
                raise ContractError(f"get_qp_params {name}: dtype {got.dtype}, expected float64 (cvxopt needs it)")
            rec.close(f"get_qp_params {name} ({kp['kernel']}{', real-valued y' if set(y) - {-1, 1} else ''})",
                      got, value, TOL_EXACT)


def check_fit_bias(rec, m):
    svm = m["svm"]
    rng = rng_for("fit bias")
    n, d = 8, 2
    X = rng.standard_normal((n, d))
    for kp in (KERNELS[2], KERNELS[1]):
        for y in (np.where(rng.random(n) < 0.5, -1.0, 1.0), rng.standard_normal(n)):
            alpha = rng.uniform(0, 2.0, n)
            alpha[[1, 4]] = [0.0, 5e-5]        # below the support threshold 1e-4
            alpha[6] = 3.5                     # above any C: fit_bias must not care
            b = rec.call("fit_bias", svm.fit_bias, X, y, alpha, dict(kp))
            support = [i for i in range(n) if alpha[i] > 1e-4]
            expected = np.mean([y[s] - sum(alpha[j] * y[j] * ref_kernel(X[j], X[s], kp) for j in support)
                                for s in support])
            rec.close(f"fit_bias ({kp['kernel']})", b, expected, TOL_EXACT)


def check_decision_function(rec, m):
    svm = m["svm"]
    rng = rng_for("decision function")
    n, d = 7, 3
    X_train, X = rng.standard_normal((n, d)), rng.standard_normal((5, d))
    for kp in KERNELS:
        y = rng.standard_normal(n)
        alpha = rng.uniform(0, 1.5, n)
        alpha[2] = 0.0
        alpha[5] = 2e-5
        b = float(rng.standard_normal())
        out = rec.call("decision_function", svm.decision_function, X, X_train, y, b, alpha, dict(kp))
        support = [i for i in range(n) if alpha[i] > 1e-4]
        expected = [sum(alpha[j] * y[j] * ref_kernel(X_train[j], x, kp) for j in support) + b for x in X]
        rec.close(f"decision_function ({kp['kernel']})", out, expected, TOL_EXACT)


def _blobs(rng, n, d=2, shift=1.2):
    y = np.where(np.arange(n) % 2 == 0, 1, 0)
    X = rng.standard_normal((n, d)) + np.where(y[:, None] == 1, shift, -shift) * np.ones(d) / np.sqrt(d)
    return X, y


def _cvxopt_dual(X, y_pm, C, kp):
    """The dual solved directly with cvxopt on dense matrices built here (tight tolerances)."""
    from cvxopt import matrix, solvers

    n = len(y_pm)
    K = ref_gram(X, X, kp)
    P = matrix(np.outer(y_pm, y_pm) * K)
    q = matrix(-np.ones(n))
    G = matrix(np.vstack([-np.eye(n), np.eye(n)]))
    h = matrix(np.concatenate([np.zeros(n), np.full(n, float(C))]))
    A = matrix(y_pm.reshape(1, n).astype(float))
    b = matrix(np.zeros(1))
    options = {"show_progress": False, "abstol": 1e-10, "reltol": 1e-10, "feastol": 1e-10, "maxiters": 200}
    solution = solvers.qp(P, q, G, h, A, b, options=options)
    return np.ravel(solution["x"]), K


def check_cvxoptsvc(rec, m):
    optional("cvxopt", "the CVXOPTSVC check (the oracle solves the QP with cvxopt)")
    svm = m["svm"]
    rng = rng_for("cvxoptsvc")
    X, y = _blobs(rng, 40)
    X_test, y_test = _blobs(rng, 30)
    y_pm = np.where(y == 1, 1.0, -1.0)
    for kernel, gamma, coef0, C in (("rbf", 0.5, 0.0, 1.0), ("poly", 0.3, 1.0, 2.0), ("linear", 1.0, 0.0, 0.5)):
        kp = {"kernel": kernel, "degree": 3, "gamma": gamma, "coef0": coef0}
        alpha_ref, K = _cvxopt_dual(X, y_pm, C, kp)
        model = svm.CVXOPTSVC(C=C, kernel=kernel, gamma=gamma, coef0=coef0)
        fitted = rec.call("CVXOPTSVC.fit", model.fit, X, y)
        if fitted is not model:
            raise ContractError("CVXOPTSVC.fit must return self")
        alpha = _expect_array("CVXOPTSVC.alpha", np.asarray(model.alpha).reshape(-1), (len(y),), "f")
        # The dual objective, 1/2 a'Pa - 1'a: the module's alpha must be as good as the oracle's, and feasible.
        P = np.outer(y_pm, y_pm) * K

        def objective(a):
            return 0.5 * a @ P @ a - a.sum()

        gap = (objective(alpha) - objective(alpha_ref)) / max(1.0, abs(objective(alpha_ref)))
        rec.measure(f"{kernel}: dual objective above the oracle's (relative)", max(gap, 0.0), 1e-5)
        rec.measure(f"{kernel}: box violation max(-alpha, alpha - C)", max(0.0, -alpha.min(), alpha.max() - C), 1e-5)
        rec.measure(f"{kernel}: |y'alpha|", abs(alpha @ y_pm), 1e-5)
        if kernel == "rbf":   # a positive definite Gram matrix: the dual has a unique solution
            rec.measure(f"{kernel}: max |alpha - alpha_oracle|", np.max(np.abs(alpha - alpha_ref)), 1e-3)
        support = np.flatnonzero(alpha > 1e-4)
        got_support = np.sort(np.asarray(model.support_).reshape(-1))
        rec.measure(f"{kernel}: support_ differs from flatnonzero(alpha > 1e-4)",
                    float(got_support.shape != support.shape or np.any(got_support != support)), 0.5)
        b = np.mean([y_pm[s] - sum(alpha[j] * y_pm[j] * K[j, s] for j in support) for s in support])
        rec.close(f"{kernel}: b (course formula on the model's alpha)", model.b, b, 1e-8)
        K_test = ref_gram(X, X_test, kp)
        scores = np.array([sum(alpha[j] * y_pm[j] * K_test[j, i] for j in support) + b for i in range(len(X_test))])
        got = rec.call("CVXOPTSVC.decision_function", model.decision_function, X_test)
        rec.close(f"{kernel}: decision_function", got, scores, 1e-8)
        pred = rec.call("CVXOPTSVC.predict", model.predict, X_test)
        _expect_array("CVXOPTSVC.predict", np.asarray(pred), (len(X_test),), "iuf")
        rec.measure(f"{kernel}: predict differs from (decision_function > 0) in {{0, 1}} labels",
                    np.mean(np.asarray(pred) != (scores > 0).astype(int)), 0)
        acc = rec.call("CVXOPTSVC.score", model.score, X_test, y_test)
        rec.close(f"{kernel}: score = mean accuracy", acc, np.mean((scores > 0).astype(int) == y_test), 1e-12)
    # {-1, +1} labels come back as {-1, +1}
    model = svm.CVXOPTSVC(C=1.0, kernel="rbf", gamma=0.5).fit(X, y_pm)
    pred = np.asarray(model.predict(X_test))
    rec.measure("labels given as {-1, +1} are predicted as {-1, +1}", float(not set(np.unique(pred)) <= {-1, 1}), 0.5)


def check_cvxoptsvc_sklearn(rec, m):
    sklearn_svm = optional("sklearn.svm", "the scikit-learn SVC oracle")
    base = optional("sklearn.base", "the scikit-learn compatibility check")
    svm = m["svm"]
    rng = rng_for("cvxoptsvc sklearn")
    X, y = _blobs(rng, 60, shift=1.0)
    ours = svm.CVXOPTSVC(C=1.0, kernel="rbf", gamma=0.5).fit(X, y)
    ref = sklearn_svm.SVC(C=1.0, kernel="rbf", gamma=0.5, tol=1e-8).fit(X, y)
    alpha_ref = np.zeros(len(y))
    alpha_ref[ref.support_] = np.abs(ref.dual_coef_[0])
    rec.measure("rbf: max |alpha - SVC dual coefficients|", np.max(np.abs(np.asarray(ours.alpha) - alpha_ref)), 1e-3)
    grid = np.stack(np.meshgrid(np.linspace(-3, 3, 10), np.linspace(-3, 3, 10)), -1).reshape(-1, 2)
    # Decision functions differ by a constant (the course's bias averages over all support vectors), so
    # compare the kernel parts: f - b.
    rec.close("rbf: decision_function - b vs SVC's decision_function - intercept",
              np.asarray(ours.decision_function(grid)) - ours.b, ref.decision_function(grid) - ref.intercept_[0],
              1e-3)
    clone = base.clone(ours)
    params = clone.get_params()
    rec.measure("sklearn.base.clone keeps C, kernel, gamma",
                float(not (params.get("C") == 1.0 and params.get("kernel") == "rbf" and params.get("gamma") == 0.5)),
                0.5)
    clone.set_params(C=2.0)
    rec.measure("set_params(C=2.0) sets C", float(clone.get_params().get("C") != 2.0), 0.5)


# ======================================================================================================
# Parts
# ======================================================================================================
CHECKS = {
    "cnn": (["layers", "cnn_layers", "cnn"], [
        ("layers.fc_forward / fc_backward", check_fc,
         "out = x.reshape(N, -1) @ w + b; dx = dout @ w.T reshaped like x, dw = x_rows.T @ dout, db = dout.sum(0)"),
        ("layers.relu_forward / relu_backward", check_relu, "dx = dout where x > 0, else 0"),
        ("layers.softmax_loss", check_softmax_loss,
         "mean over N of logsumexp(x_i) - x_i[y_i]; shift each row by its max; dx = (softmax - onehot) / N"),
        ("cnn_layers.conv_forward", check_conv_forward,
         "out[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q]: no kernel flip, no padding, stride 1"),
        ("cnn_layers.conv_backward", check_conv_backward,
         "dx[n,c] = sum_f w[f,c] *full dout[n,f]; dw[f,c] = sum_n x[n,c] *filt dout[n,f]; the cache is (x, w)"),
        ("cnn_layers.conv_forward / conv_backward vs PyTorch", check_conv_torch,
         "compare with torch.nn.functional.conv2d on the failing shape"),
        ("cnn_layers.max_pool_forward", check_max_pool_forward,
         "out has 1 + (H - ph) // stride rows; missing pool_param keys default to 3, 3, 1"),
        ("cnn_layers.max_pool_backward", check_max_pool_backward,
         "route each window's gradient to its max; overlapping windows add up; the cache is (x, pool_param)"),
        ("cnn_layers.max_pool_forward / backward vs PyTorch", check_max_pool_torch,
         "compare with torch.nn.functional.max_pool2d on the failing shape"),
        ("layers / cnn_layers results survive later calls", check_cnn_results_survive,
         "return fresh arrays: np.ascontiguousarray(a) does not copy an a that is already contiguous (N, C or F = 1), "
         "so a result built in reused scratch memory is overwritten by the next call; use np.array(a) or .copy()"),
        ("cnn.ConvNet.__init__ shapes, dtypes, init ranges", check_convnet_init,
         "W3 has F2*h2*w2 rows with h1 = (H-fs+1)//2, h2 = (h1-fs+1)//2; U(-sqrt(k), sqrt(k)), k = 1/fan_in"),
        ("cnn.ConvNet.loss scores and loss", check_convnet_loss,
         "conv - relu - 2x2 pool - conv - relu - 2x2 pool - fc - relu - fc - softmax, no regularization"),
        ("cnn.ConvNet.loss gradients", check_convnet_gradients,
         "backpropagate through every layer in reverse order; grads keyed like params"),
        ("cnn.ConvNet vs PyTorch", check_convnet_torch, "the same network in PyTorch disagrees"),
    ]),
    "rnn": (["rnn_layers", "rnn"], [
        ("rnn_layers.rnn_step_forward / rnn_step_backward", check_rnn_step,
         "next_h = tanh(x Wx + prev_h Wh + b); da = dnext_h * (1 - tanh(a)^2); cache (Wx, Wh, x, prev_h, a)"),
        ("rnn_layers.rnn_forward / rnn_backward", check_rnn_sequence,
         "time-major (T, N, ...); add dh[t] to the gradient flowing back from t+1; cache (x, h0, Wx, Wh, b, h)"),
        ("rnn_layers.word_embedding_forward / backward", check_word_embedding,
         "out = W[x]; repeated words must accumulate (np.add.at), not overwrite"),
        ("rnn_layers.temporal_fc_forward / temporal_fc_backward", check_temporal_fc,
         "out[n,t] = x[n,t] @ w + b; dw sums over N and T; cache (x, w, b, out)"),
        ("rnn_layers.temporal_softmax_loss", check_temporal_softmax_loss,
         "sum the masked cross-entropy over N and T, divide by N only; dx masked and divided by N"),
        ("rnn_layers results survive later calls", check_rnn_results_survive,
         "return fresh arrays, not buffers that the next call reuses"),
        ("rnn_layers vs PyTorch", check_rnn_torch, "the same computation in PyTorch autograd disagrees"),
        ("rnn.CaptioningRNN.__init__", check_captioning_init,
         "draw W_embed, W_proj, Wx, Wh, W_vocab from np.random in this order; cast to dtype"),
        ("rnn.CaptioningRNN.loss", check_captioning_loss,
         "inputs captions[:, :-1], targets captions[:, 1:], mask targets != <NULL>; h0 = features W_proj + b_proj"),
        ("rnn.CaptioningRNN.sample", check_captioning_sample,
         "start from <START> and h0; column t holds the argmax word of step t; feed it back in"),
    ]),
    "svm": (["svm"], [
        ("svm.kernel_matrix / kernel_dot", check_kernels,
         "linear x.z; poly (gamma x.z + coef0)^degree; rbf exp(-gamma |x-z|^2); sigmoid tanh(gamma x.z + coef0)"),
        ("svm.get_qp_params", check_qp_params,
         "P = (y y') * K, q = -1, G = [-I; I], h = [0; C], A = y' (1, n), b = [0], all float64"),
        ("svm.fit_bias", check_fit_bias,
         "S = {alpha > 1e-4}; b = mean_s (y_s - sum_{m in S} alpha_m y_m K(x_m, x_s))"),
        ("svm.decision_function", check_decision_function,
         "h(x) = sum over alpha_m > 1e-4 of alpha_m y_m K(x_m, x) + b"),
        ("svm.CVXOPTSVC", check_cvxoptsvc,
         "solve the dual of get_qp_params with cvxopt.solvers.qp; map {0, 1} labels to -1/+1 and back"),
        ("svm.CVXOPTSVC vs scikit-learn", check_cvxoptsvc_sklearn,
         "alpha should match SVC's |dual_coef_| at support_; inherit BaseEstimator for clone/get_params"),
    ]),
}


def run_part(report, part):
    names, checks = CHECKS[part]
    report.emit(f"\n== {part}: {', '.join(n + '.py' for n in names)}")
    modules = import_modules(report, part, names)
    if modules is None:
        return
    for name, check, hint in checks:
        start = time.time()
        report.run(part, name, check, hint, modules)
        if report.verbose:
            report.emit(f"      ({time.time() - start:.1f} s)")


class _Parser(argparse.ArgumentParser):
    """Usage errors exit with 1 ("anything else"): 2 means a wrong answer here."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def main(argv=None):
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", metavar="PART", help="cnn, rnn, svm or all (default all)")
    parser.add_argument("--dir", help="folder holding the modules to check (put first on sys.path)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every comparison")
    args = parser.parse_args(argv)
    unknown = [p for p in args.parts if p not in (*PARTS, "all")]
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}: choose from {', '.join(PARTS)} or all")
    if args.dir:
        folder = Path(args.dir).resolve()
        if not folder.is_dir():
            parser.error(f"--dir {args.dir}: no such folder")
        sys.path.insert(0, str(folder))
    parts = PARTS if not args.parts or "all" in args.parts else tuple(dict.fromkeys(args.parts))
    report = Report(verbose=args.verbose)
    started = time.time()
    for part in parts:
        run_part(report, part)
    counts = {s: sum(1 for r in report.results if r[2] == s) for s in ("PASS", "FAIL", "ERROR", "SKIP")}
    code = report.exit_code()
    meaning = {EXIT_PASS: "all checks passed", EXIT_WRONG: "some answers differ from the correct answer",
               EXIT_ERROR: "errors (import, exception, wrong shape/dtype, input mutation)"}[code]
    report.emit(f"\n{counts['PASS']} passed, {counts['FAIL']} failed, {counts['ERROR']} errors, "
                f"{counts['SKIP']} skipped in {time.time() - started:.1f} s -> exit {code} ({meaning})")
    return code


if __name__ == "__main__":
    sys.exit(main())
