#!/usr/bin/env python
"""Local autograder for the autograded parts of EECS 545 HW4, in the course's style: know before you spend
one of your five daily submissions.

    python autograder.py                      # grade the submission in this folder: cnn, rnn and svm
    python autograder.py cnn svm              # some questions: cnn (Q1), rnn (Q2), svm (Q4), all
    python autograder.py rnn_layers           # one submitted module: cnn_layers, cnn, rnn_layers, rnn, svm
    python autograder.py --dir DIR            # grade the submitted modules found in DIR (nothing else from it)
    python autograder.py -v                   # also print what each passing check measured
    python autograder.py --timeout 30         # seconds allowed per check and per import (default 60)
    python autograder.py --no-optional        # skip the PyTorch / scikit-learn oracle checks
    python autograder.py --json report.json   # also write every verdict as JSON
    pytest autograder.py -k conv              # the same checks in one process, through pytest (or unittest);
                                              # HW4_AUTOGRADER_DIR=DIR grades DIR there

What is graded: the files a student submits, cnn_layers.py, cnn.py, rnn_layers.py, rnn.py and svm.py, in a
scratch folder beside course-style copies of the helper files the course supplies itself (this repository's
layers.py, solver.py, optim.py, gradient_check.py, coco_utils.py, captioning_solver.py play the course's), so a
submission that needs anything else in its folder fails here as it would in the course. A submitted module
missing from DIR is an ERROR that names the file; the repository's own modules are never used in its place.
The models (cnn.py, rnn.py) are graded a second way, as the course does: imported beside the kit's own plain
reference layers (tests/naive/), with the layer names the course patches (cnn.conv_forward,
cnn.conv_backward, rnn.temporal_fc_forward, rnn.temporal_fc_backward) replaced through unittest.mock by the
reference implementations, so a model that imports private helpers, bypasses those names, casts its input or
returns a Python float instead of a NumPy scalar fails here. SciPy's convolutions are patched to fail.

Every expected value is computed at check time by an independent oracle: direct formulas written in a
different style from any solution (explicit loops over output positions, time steps or pairs of points), the
kit's reference implementations (tests/naive/), cvxopt called directly on a QP built here, and PyTorch or
scikit-learn when installed (those checks say SKIP without them; only NumPy and cvxopt are required).
Each function is checked on its own, with inputs made here, never with another submitted function's output:
a backward pass gets only the cache its own forward pass returned (caches are opaque).

Isolation: each submitted module is graded in a child process (this script with --child) with a time limit
per check that also covers the import; a child that ends without a verdict (sys.exit or os._exit at import or
inside a function, an endless loop, a crash) is an ERROR that says what happened, and the remaining checks
run in a fresh child.

Each check prints PASS / FAIL / ERROR / SKIP; a check that does not pass names the function, the input that
exposed the problem, expected against got (with the dtype when it differs) and a hint.

Exit status, as the course's autograder:
  0  every check passed (skipped optional checks do not count);
  2  some answer differs significantly from the correct one (a value comparison failed), and nothing else
     went wrong;
  1  anything else: a missing file, an import error, an exception (NotImplementedError included), a wrong
     type, shape or dtype, a modified input, a time-out, a process that ended without a verdict, a usage
     error. 1 wins over 2.
"""
import argparse
import atexit
import contextlib
import importlib
import importlib.abc
import importlib.util
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import unittest
import zlib
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parent
REFERENCE_DIR = ROOT / "tests" / "naive"
EXIT_PASS, EXIT_ERROR, EXIT_WRONG = 0, 1, 2

PARTS = {"cnn": ("cnn_layers", "cnn"), "rnn": ("rnn_layers", "rnn"), "svm": ("svm",)}
SUBMITTED = tuple(m for modules in PARTS.values() for m in modules)
MODELS = ("cnn", "rnn")                       # graded beside the reference layers
# The course supplies these itself; ours stand in for them (data_utils.py is what our coco_utils.py needs).
COURSE_HELPERS = ("layers.py", "solver.py", "optim.py", "gradient_check.py", "coco_utils.py",
                  "captioning_solver.py", "data_utils.py")
REFERENCE_LAYERS = ("layers.py", "cnn_layers.py", "rnn_layers.py")
DEFAULT_TIMEOUT = 60.0                        # seconds per check (and for the import)

# Value comparisons: |got - expected| <= ATOL + RTOL * |expected| elementwise (the course uses atol 1e-7 for
# conv gradients); the models are compared with the course's 1e-6.
ATOL, RTOL = 1e-7, 1e-6
MODEL_TOL = 1e-6


# ======================================================================================================
# Outcomes
# ======================================================================================================
class _Verdict:
    """A verdict with its hint and ``function``: the graded function it is about, when the check covers several."""

    def __init__(self, message, hint=None, function=None):
        super().__init__(message)
        self.hint, self.function = hint, function


class CheckFailure(_Verdict, AssertionError):
    """A value comparison failed: FAIL, exit 2."""


class ContractError(_Verdict, Exception):
    """Wrong type, shape or dtype, a modified input, an overwritten result, a name the course patches that is
    missing or not called: ERROR, exit 1."""


class StudentError(Exception):
    """The submitted code raised (or called sys.exit): ERROR, exit 1."""

    def __init__(self, label, exc, inputs):
        self.label, self.exc, self.inputs = label, exc, inputs
        self.function = _function(label)
        super().__init__(describe_exception(label, exc, inputs))


def describe_exception(label, exc, inputs=None):
    where = _student_frame(exc)
    if isinstance(exc, SystemExit):
        what = f"{label} called sys.exit({exc.code!r}): graded code must return its result, never end the program"
    elif isinstance(exc, NotImplementedError):
        what = f"{label} is not implemented yet (raises NotImplementedError{': ' + str(exc) if str(exc) else ''})"
    else:
        what = f"{label} raised {type(exc).__name__}: {exc}"
    parts = [what]
    if inputs:
        parts.append(f"input: {inputs}")
    if where:
        parts.append(where)
    return "; ".join(parts)


def _student_frame(exc):
    """'at file.py:line in function: code' for the innermost frame of the exception in a graded folder."""
    frames = traceback.extract_tb(exc.__traceback__)
    folders = [str(f) for f in _CONTEXT.student_folders()]
    mine = [f for f in frames if any(f.filename.startswith(folder) for folder in folders)]
    if not mine:
        mine = [f for f in frames if Path(f.filename).resolve() != Path(__file__).resolve()
                and "unittest" not in Path(f.filename).parts and not f.filename.startswith("<")]
    if not mine:
        return ""
    f = mine[-1]
    return f"at {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}"


# ======================================================================================================
# Where the graded modules come from
# ======================================================================================================
class _Context:
    """The folders the graded modules are imported from.

    In a child process the parent has built them and the child imports one module from one folder. In one
    process (pytest autograder.py, python -m unittest autograder) they are built on first use from the folder
    in HW4_AUTOGRADER_DIR (default: this script's folder) and removed at exit.
    """

    def __init__(self):
        self.child_folder = None      # set in a child process
        self.folders = None           # {'submission': Path, 'models': Path} in one process
        self.modules = {}
        self.no_optional = os.environ.get("HW4_AUTOGRADER_NO_OPTIONAL") == "1"

    def student_folders(self):
        if self.child_folder is not None:
            return [self.child_folder]
        return list((self.folders or {}).values())

    def module(self, name):
        if name not in self.modules:
            if self.child_folder is not None:
                self.modules[name] = importlib.import_module(name)
            else:
                self.modules[name] = self._import_in_process(name)
        return self.modules[name]

    def _import_in_process(self, name):
        if self.folders is None:
            source = Path(os.environ.get("HW4_AUTOGRADER_DIR", ROOT))
            scratch = Path(tempfile.mkdtemp(prefix="hw4-autograder-"))
            atexit.register(shutil.rmtree, scratch, True)
            self.folders = build_scratch(source, scratch, [m for m in SUBMITTED if (source / f"{m}.py").is_file()])
            ban_scipy_convolutions()
        folder = self.folders["models" if name in MODELS else "submission"]
        if not (folder / f"{name}.py").is_file():
            raise ContractError(f"{name}.py is missing from the graded folder",
                                f"put your {name}.py there (the course expects exactly this file name)")
        return import_isolated(folder, name)


_CONTEXT = _Context()


def import_isolated(folder, name):
    """Import ``name`` from ``folder`` with its sibling imports (layers, cnn_layers, ...) resolved in that folder,
    then give sys.modules back its previous entries (the module keeps references to what it imported)."""
    siblings = {Path(f).stem for f in (*COURSE_HELPERS, *REFERENCE_LAYERS)} | set(SUBMITTED)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k in siblings}
    saved_path = list(sys.path)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved_path
        for k in [k for k in sys.modules if k in siblings]:
            del sys.modules[k]
        sys.modules.update(saved)


def build_scratch(source, scratch, modules):
    """Lay out the grading folders under ``scratch``: 'submission' holds the submitted ``modules`` from
    ``source`` beside the course-style helpers; 'models' holds cnn.py / rnn.py beside the reference layers."""
    submission, models = Path(scratch) / "submission", Path(scratch) / "models"
    submission.mkdir()
    models.mkdir()
    for helper in COURSE_HELPERS:
        if (ROOT / helper).is_file():
            shutil.copy2(ROOT / helper, submission / helper)
            if helper not in REFERENCE_LAYERS:
                shutil.copy2(ROOT / helper, models / helper)
    for layer in REFERENCE_LAYERS:
        shutil.copy2(REFERENCE_DIR / layer, models / layer)
    for name in modules:
        shutil.copy2(Path(source) / f"{name}.py", (models if name in MODELS else submission) / f"{name}.py")
    return {"submission": submission, "models": models}


_REFERENCES = {}


def reference(name):
    """The kit's reference implementation of a course module (tests/naive/NAME.py), under a private name."""
    if name not in _REFERENCES:
        path = REFERENCE_DIR / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"_hw4_reference_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _REFERENCES[name] = module
    return _REFERENCES[name]


# SciPy's convolutions are off limits (the course's grader patches them to fail).
BANNED = {"scipy.signal": ("convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve"),
          "scipy.ndimage": ("convolve", "correlate", "convolve1d", "correlate1d")}


class ForbiddenFunction(RuntimeError):
    pass


def _forbidden(qualname):
    def stub(*args, **kwargs):
        raise ForbiddenFunction(f"{qualname} is not allowed: the course's grader patches SciPy's convolutions to "
                                f"fail; write the convolution with NumPy")
    stub.__name__ = qualname.rsplit(".", 1)[1]
    return stub


def _ban_in(module):
    for attr in BANNED[module.__name__]:
        if hasattr(module, attr):
            setattr(module, attr, _forbidden(f"{module.__name__}.{attr}"))


class _ScipyConvolutionBan(importlib.abc.MetaPathFinder):
    """Replaces the banned functions right after scipy.signal / scipy.ndimage are first imported, so that even
    `from scipy.signal import correlate2d` gets the failing stub."""

    def find_spec(self, name, path, target=None):
        if name not in BANNED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_ban(module):
            exec_module(module)
            _ban_in(module)

        spec.loader.exec_module = exec_and_ban
        return spec


def ban_scipy_convolutions():
    for name in BANNED:
        if name in sys.modules:
            _ban_in(sys.modules[name])
    if not any(isinstance(f, _ScipyConvolutionBan) for f in sys.meta_path):
        sys.meta_path.insert(0, _ScipyConvolutionBan())


# ======================================================================================================
# The base of every check
# ======================================================================================================
def check(function, title, hint):
    """Decorator naming the graded function of a test method, what it checks, and the hint for a failure."""
    def decorate(method):
        method.function, method.title, method.hint = function, title, hint
        return method
    return decorate


def rng_for(key):
    """A generator seeded from a check's name, so checks do not depend on their order."""
    return np.random.default_rng(zlib.crc32(key.encode()))


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_snapshot(v) for v in value)
    return value


def _changed(value, saved, path=""):
    """'' when value still equals saved, else where and how it changed."""
    if isinstance(saved, np.ndarray):
        if not isinstance(value, np.ndarray) or value.shape != saved.shape:
            return f"{path} (replaced)"
        if not np.array_equal(value, saved, equal_nan=value.dtype.kind in "fc"):
            diff = np.max(np.abs(value.astype(np.float64) - saved.astype(np.float64)))
            return f"{path} (changed in place; max change {diff:.3g})"
        return ""
    if isinstance(saved, dict):
        if not isinstance(value, dict) or set(value) != set(saved):
            return f"{path} (keys changed)"
        for k in saved:
            where = _changed(value[k], saved[k], f"{path}[{k!r}]")
            if where:
                return where
        return ""
    if isinstance(saved, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(saved):
            return f"{path} (replaced)"
        for i, (v, s) in enumerate(zip(value, saved)):
            where = _changed(v, s, f"{path}[{i}]")
            if where:
                return where
    return ""


def _fmt(value):
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else repr(value)


def _allclose(a, b, atol=ATOL, rtol=RTOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


class GradingCase(unittest.TestCase):
    """Helpers shared by the checks: call submitted code, compare results, report clearly."""

    MODULE = None          # the submitted module the class grades
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.module = _CONTEXT.module(cls.MODULE)

    def setUp(self):
        method = getattr(self, self._testMethodName)
        self.function, self.hint = method.function, method.hint
        self.now = ""                  # the input being tried, for messages
        self.worst = (0.0, "")         # the largest error / tolerance seen, for -v
        self.first_results = {}        # label -> (first result, its copy), see check_kept

    # -- calling submitted code -----------------------------------------------------------------------
    def call(self, label, func, *args, watch=(), **kwargs):
        """Call submitted code. Its exceptions become StudentError; a modified array argument, or a change to an
        object in ``watch`` ((name, value, hint) triples), is a ContractError. Caches (tuples) are passed through
        unchecked."""
        names = _argument_names(func)
        inputs = [(f"its input {names[k] if isinstance(k, int) and k < len(names) else k}", v, HINT_INPUT_COPIES)
                  for k, v in [*enumerate(args), *kwargs.items()] if isinstance(v, np.ndarray)]
        saved = [(name, value, _snapshot(value), hint) for name, value, hint in [*inputs, *watch]]
        try:
            result = func(*args, **kwargs)
        except (KeyboardInterrupt, CheckFailure, ContractError):
            raise
        except BaseException as exc:  # SystemExit included: it is an answer too
            raise StudentError(label, exc, self.now) from exc
        for name, value, before, hint in saved:
            where = _changed(value, before)
            if where:
                raise ContractError(f"{label} modified {name}{where} (input: {self.now})", hint, _function(label))
        return result

    def forward(self, name, *args):
        """Call the submitted forward pass ``name``: its (out, cache)."""
        return self.returns(name, 2, "(out, cache)", *args)

    def returns(self, name, count, what, *args, watch=()):
        """Call the submitted function ``name``; it must return a tuple of ``count`` values (``what``)."""
        return self.unpack(name, self.call(name, getattr(self.module, name), *args, watch=watch), count, what)

    def unpack(self, label, result, count, what):
        if not isinstance(result, (tuple, list)) or len(result) != count:
            got = (f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list))
                   else f"a {type(result).__name__}")
            raise ContractError(f"{label} must return {what}, got {got} (input: {self.now})", None, _function(label))
        return result

    def remember(self, label, value):
        """Keep the first result of ``label`` (with a copy) for check_kept."""
        self.first_results.setdefault(label, (value, _snapshot(value)))

    def check_kept(self):
        """The first results must survive the later calls (no reused output buffers)."""
        for label, (value, saved) in self.first_results.items():
            where = _changed(value, saved)
            if where:
                raise ContractError(f"the array {label} returned was overwritten by a later call{where}",
                                    "return a fresh array for every call (np.array(a) or a.copy()), not a buffer "
                                    "that the next call reuses", _function(label))

    # -- comparing ----------------------------------------------------------------------------------
    def expect_dict(self, label, got, keys):
        """A dict with exactly ``keys`` (a model's params or grads)."""
        if not isinstance(got, dict) or set(got) != set(keys):
            have = sorted(got) if isinstance(got, dict) else type(got).__name__
            raise ContractError(f"{label} must be a dict with keys {sorted(keys)}, got {have} (input: {self.now})",
                                None, _function(label))
        return got

    def expect_array(self, label, got, shape, dtype):
        if not isinstance(got, np.ndarray):
            raise ContractError(f"{label} is a {type(got).__name__}, expected a NumPy array of shape {tuple(shape)} "
                                f"(input: {self.now})", None, _function(label))
        if got.shape != tuple(shape):
            raise ContractError(f"{label} has shape {got.shape}, expected {tuple(shape)} (input: {self.now})",
                                self.hint, _function(label))
        if dtype is not None and got.dtype != np.dtype(dtype):
            hint = (f"the course returns {np.dtype(dtype)} here: build the array with dtype=np.{np.dtype(dtype)}"
                    if np.dtype(dtype).kind in "iu" else
                    "results follow NumPy's promotion of the inputs (float64 in, float64 out): no astype(np.float32), "
                    "no float32 buffers, no cast of the input; the course compares dtypes before values")
            raise ContractError(f"{label} has dtype {got.dtype}, expected {np.dtype(dtype)} (input: {self.now})", hint,
                                _function(label))
        return got

    def assert_close(self, label, got, expected, dtype=np.float64, atol=ATOL, rtol=RTOL, diagnose=(), hint=None):
        """got must be an array shaped like expected, of ``dtype``, elementwise within atol + rtol |expected|.

        ``diagnose``: (description, value, hint) of typical wrong answers; a match names it in the message."""
        expected = np.asarray(expected)
        self.expect_array(label, got, expected.shape, dtype)
        a, b = got.astype(np.float64), expected.astype(np.float64)
        allowed = atol + rtol * np.abs(b)
        with np.errstate(all="ignore"):
            diff = np.abs(a - b)
            ratio = np.where(allowed > 0, diff / np.where(allowed > 0, allowed, 1), np.where(diff > 0, np.inf, 0.0))
        ratio[np.isnan(ratio)] = np.inf
        worst = float(ratio.max(initial=0.0))
        if worst > self.worst[0] or not self.worst[1]:
            self.worst = (worst, label)
        if worst <= 1.0:
            return
        bad = int(np.sum(ratio > 1.0))
        index = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.ndim else ()
        at = f" at [{', '.join(map(str, index))}]" if ratio.ndim else ""
        message = (f"{label} is wrong for {self.now}: {bad} of {ratio.size} values differ; worst{at}: got "
                   f"{_fmt(a[index])}, expected {_fmt(b[index])} (tolerance {atol:g} + {rtol:g} * |expected|)")
        if not np.all(np.isfinite(a)):
            message += "; the result holds NaN or inf"
        for description, value, special in diagnose:
            if not _allclose(value, b, atol, rtol) and _allclose(a, value, atol, rtol):
                message += f"; it matches {description}"
                hint = special or hint
                break
        raise CheckFailure(message, hint or self.hint, _function(label))

    def assert_scalar(self, label, got, expected, dtype, atol=ATOL, rtol=RTOL):
        """A loss: a NumPy scalar (or 0-d array) of ``dtype`` close to ``expected``."""
        if not (isinstance(got, np.generic) or (isinstance(got, np.ndarray) and got.ndim == 0)):
            what = (f"a Python {type(got).__name__}" if type(got) in (float, int, bool)
                    else f"a {type(got).__name__} of shape {np.shape(got)}")
            raise ContractError(f"{label} is {what}, expected a NumPy scalar of dtype {np.dtype(dtype)} "
                                f"(input: {self.now})",
                                "return the loss as NumPy computes it (e.g. -np.sum(...) / N, or the loss from "
                                "softmax_loss / temporal_softmax_loss) without float(...) or .item(): the course "
                                "compares its dtype", _function(label))
        if got.dtype != np.dtype(dtype):
            raise ContractError(f"{label} has dtype {got.dtype}, expected {np.dtype(dtype)} (input: {self.now})",
                                "do not cast the inputs or the result: float64 in, float64 out", _function(label))
        self.assert_close(label, np.asarray(got), np.asarray(expected), dtype, atol, rtol)

    def optional(self, module_name, purpose):
        """Import an optional oracle library, or skip the check saying why."""
        if _CONTEXT.no_optional:
            self.skipTest(f"{purpose} is skipped (--no-optional)")
        try:
            return importlib.import_module(module_name)
        except ImportError:
            self.skipTest(f"{module_name} is not installed, so {purpose} is skipped")


HINT_INPUT_COPIES = ("work on copies (x = x.copy(), or out-of-place operations such as a = a + b); the caller's "
                     "arrays must not change")
HINT_KEEP_PARAMS = "work on copies; the caller's arrays must not change"


def held_in_cache(forward, **arrays):
    """``watch`` triples for a backward pass: the arrays given to ``forward``, which its cache holds."""
    return [(f"{name} (given to {forward}, held in its cache)", value,
             "a backward pass must not write into the arrays its forward pass was given (they are in the cache): "
             "allocate the gradient with np.zeros(...)") for name, value in arrays.items()]


def _function(label):
    """The graded function a comparison label is about: its first word ('conv_backward dx' -> 'conv_backward')."""
    return label.split(" ")[0]


def _argument_names(func):
    try:
        return [p.name for p in inspect.signature(func).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def _shape(*arrays, names):
    return ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))


# ======================================================================================================
# Q1 oracles: direct formulas, loops over output positions
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
    """dx[n, c] = sum_f w[f, c] *full dout[n, f]; dw[f, c] = sum_n x[n, c] *filt dout[n, f] (the homework's
    formulas: the full convolution is a valid convolution of the zero-padded dout with the kernel)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    padded = np.zeros((N, F, Ho + 2 * (HH - 1), Wo + 2 * (WW - 1)))
    padded[:, :, HH - 1:HH - 1 + Ho, WW - 1:WW - 1 + Wo] = dout
    flipped = w[:, :, ::-1, ::-1]
    dx = np.zeros(x.shape)
    for i in range(H):
        for j in range(W):
            dx[:, :, i, j] = np.einsum("nfpq,fcpq->nc", padded[:, :, i:i + HH, j:j + WW], flipped)
    dw = np.zeros(w.shape)
    for p in range(HH):
        for q in range(WW):
            dw[:, :, p, q] = np.einsum("nfij,ncij->fc", dout, x[:, :, p:p + Ho, q:q + Wo])
    return dx, dw


def pool_out_shape(shape, ph, pw, stride):
    """The shape of max pooling's output for an input of ``shape`` (N, C, H, W)."""
    N, C, H, W = shape
    return N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride


def ref_max_pool(x, ph, pw, stride):
    out = np.zeros(pool_out_shape(x.shape, ph, pw, stride))
    _, _, Ho, Wo = out.shape
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(2, 3))
    return out


def ref_max_pool_backward(x, dout, ph, pw, stride, rule="course"):
    """The course's rule: every element equal to its window's max gets the window's full gradient; overlapping
    windows add up. ``rule`` 'share' (ties split the gradient), 'first' (only the first maximum) and 'assign'
    (overlapping windows overwrite each other's gradient) give the usual wrong answers, for diagnosis."""
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


def convnet_shapes(input_dim, num_filters_1, num_filters_2, filter_size, hidden_dim, num_classes):
    """Documented parameter shapes and fan-ins of ConvNet (its architecture arguments), in the documented draw
    order."""
    C, H, W = input_dim
    F1, F2, fs, hidden, classes = num_filters_1, num_filters_2, filter_size, hidden_dim, num_classes
    h1, w1 = (H - fs + 1) // 2, (W - fs + 1) // 2
    h2, w2 = (h1 - fs + 1) // 2, (w1 - fs + 1) // 2
    fc_in = F2 * h2 * w2
    shapes = {"W1": (F1, C, fs, fs), "W2": (F2, F1, fs, fs), "W3": (fc_in, hidden), "b3": (hidden,),
              "W4": (hidden, classes), "b4": (classes,)}
    fan_in = {"W1": C * fs * fs, "W2": F1 * fs * fs, "W3": fc_in, "b3": fc_in, "W4": hidden, "b4": hidden}
    return shapes, fan_in


def ref_convnet_loss(params, X, y):
    """The reference ConvNet, composed from the kit's reference layers: (scores, loss, grads)."""
    L, CL = reference("layers"), reference("cnn_layers")
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    a1, c1 = CL.conv_forward(X, params["W1"])
    r1, rc1 = L.relu_forward(a1)
    p1, pc1 = CL.max_pool_forward(r1, pool)
    a2, c2 = CL.conv_forward(p1, params["W2"])
    r2, rc2 = L.relu_forward(a2)
    p2, pc2 = CL.max_pool_forward(r2, pool)
    h, hc = L.fc_forward(p2.reshape(len(X), -1), params["W3"], params["b3"])
    hr, hrc = L.relu_forward(h)
    scores, sc = L.fc_forward(hr, params["W4"], params["b4"])
    loss, dscores = L.softmax_loss(scores, y)
    grads = {}
    dhr, grads["W4"], grads["b4"] = L.fc_backward(dscores, sc)
    dflat, grads["W3"], grads["b3"] = L.fc_backward(L.relu_backward(dhr, hrc), hc)
    dr2 = CL.max_pool_backward(dflat.reshape(p2.shape), pc2)
    dp1, grads["W2"] = CL.conv_backward(L.relu_backward(dr2, rc2), c2)
    dr1 = CL.max_pool_backward(dp1, pc1)
    _, grads["W1"] = CL.conv_backward(L.relu_backward(dr1, rc1), c1)
    return scores, loss, grads


def tie_free(rng, shape, scale=1.0):
    """Distinct values (a shuffled grid plus a little noise): no max-pool ties, nothing near ReLU's kink."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) / size * 4 * scale
    return values.reshape(shape) + rng.uniform(-0.1, 0.1, size).reshape(shape) / size * scale


CONV_CASES = [  # (N, C, H, W, F, HH, WW): non-square images and kernels, C = 1, F = 1, kernel = image
    (2, 3, 7, 5, 4, 3, 2), (1, 1, 5, 5, 1, 5, 5), (3, 2, 6, 9, 2, 1, 4), (2, 1, 8, 8, 3, 3, 3),
    (1, 4, 4, 6, 1, 4, 1), (2, 2, 5, 7, 3, 2, 5),
]
POOL_CASES = [  # (x shape, (pool_height, pool_width, stride)): non-overlapping, overlapping, uncovered edges
    ((2, 3, 8, 6), (2, 2, 2)), ((1, 2, 9, 7), (2, 2, 2)), ((2, 2, 7, 8), (3, 2, 1)), ((3, 1, 7, 7), (3, 3, 2)),
    ((2, 2, 5, 9), (1, 4, 3)), ((1, 1, 4, 4), (4, 4, 1)),
]
HINT_POOL_TIES = ("the course's rule for tied maxima: every element equal to its window's maximum receives that "
                  "window's full upstream gradient (dx[window] += (window == window.max()) * dout), with no "
                  "division among the ties and not only the first argmax; overlapping windows add up")


def _pool_param(ph, pw, stride):
    return {"pool_height": ph, "pool_width": pw, "stride": stride}


class TestCnnLayers(GradingCase):
    """cnn_layers.py: convolution and max pooling."""

    MODULE = "cnn_layers"

    @check("conv_forward", "out against the homework's filtering formula",
           "out[n, f, i, j] = sum over c, p, q of x[n, c, i + p, j + q] * w[f, c, p, q]: the course's filtering "
           "(no kernel flip), no padding, stride 1, out (N, F, H - HH + 1, W - WW + 1)")
    def test_conv_forward(self):
        rng = rng_for("conv_forward")
        for N, C, H, W, F, HH, WW in CONV_CASES:
            x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
            self.now = _shape(x, w, names=("x", "w"))
            out, _ = self.forward("conv_forward", x, w)
            self.assert_close("conv_forward out", out, ref_conv(x, w), diagnose=[(
                "a convolution with the kernel flipped", ref_conv(x, w[:, :, ::-1, ::-1]),
                "conv_forward is the course's filtering *filt, which does not flip the kernel: "
                "out[n, f, i, j] = sum x[n, c, i + p, j + q] * w[f, c, p, q]")])
            self.remember("conv_forward", out)
        self.check_kept()

    @check("conv_backward", "dx and dw against the homework's full-convolution and filtering formulas",
           "dx[n, c] = sum over f of w[f, c] *full dout[n, f] (the full convolution flips the kernel); "
           "dw[f, c] = sum over n of x[n, c] *filt dout[n, f]")
    def test_conv_backward(self):
        rng = rng_for("conv_backward")
        for N, C, H, W, F, HH, WW in CONV_CASES:
            x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
            dout = rng.standard_normal((N, F, H - HH + 1, W - WW + 1))
            self.now = _shape(x, w, dout, names=("x", "w", "dout"))
            _, cache = self.forward("conv_forward", x, w)
            dx, dw = self.returns("conv_backward", 2, "(dx, dw)", dout, cache,
                                  watch=held_in_cache("conv_forward", x=x, w=w))
            ref_dx, ref_dw = ref_conv_backward(x, w, dout)
            self.assert_close("conv_backward dx", dx, ref_dx, diagnose=[(
                "the full convolution with the kernel not flipped", ref_conv_backward(x, w[:, :, ::-1, ::-1], dout)[0],
                "the kernel must be flipped for dx: dx is the full convolution of dout with w rotated 180 degrees "
                "(equivalently, each output position sends dout[n, f, i, j] * w[f] back to the window it read)")])
            self.assert_close("conv_backward dw", dw, ref_dw, diagnose=[(
                "the filtering with the kernel axes flipped", ref_dw[:, :, ::-1, ::-1],
                "dw[f, c, p, q] = sum over n, i, j of x[n, c, i + p, j + q] * dout[n, f, i, j]: no flip for dw")])
            self.remember("conv_backward", (dx, dw))
        self.check_kept()

    @check("conv_forward / conv_backward", "against PyTorch conv2d on random shapes (optional oracle)",
           "compare with torch.nn.functional.conv2d on the failing shape")
    def test_conv_torch(self):
        torch = self.optional("torch", "the PyTorch conv2d oracle")
        rng = rng_for("conv_torch")
        for _ in range(12):
            N, C, F = (int(v) for v in rng.integers(1, 4, 3))
            H, W = (int(v) for v in rng.integers(1, 9, 2))
            HH, WW = int(rng.integers(1, H + 1)), int(rng.integers(1, W + 1))
            x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
            xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
            out_t = torch.nn.functional.conv2d(xt, wt)
            dout = rng.standard_normal(tuple(out_t.shape))
            out_t.backward(torch.tensor(dout))
            self.now = _shape(x, w, names=("x", "w")) + " (vs PyTorch)"
            out, cache = self.forward("conv_forward", x, w)
            self.assert_close("conv_forward out", out, out_t.detach().numpy())
            dx, dw = self.returns("conv_backward", 2, "(dx, dw)", dout, cache)
            self.assert_close("conv_backward dx", dx, xt.grad.numpy())
            self.assert_close("conv_backward dw", dw, wt.grad.numpy())

    @check("max_pool_forward", "out against the direct max over each window",
           "out has 1 + (H - pool_height) // stride rows and 1 + (W - pool_width) // stride columns; "
           "out[n, c, i, j] = max of x[n, c, i*stride : i*stride + pool_height, j*stride : j*stride + pool_width]")
    def test_max_pool_forward(self):
        rng = rng_for("max_pool_forward")
        for shape, (ph, pw, s) in POOL_CASES:
            x = tie_free(rng, shape)
            self.now = f"x {shape}, pool {ph}x{pw} stride {s}"
            out, _ = self.forward("max_pool_forward", x, _pool_param(ph, pw, s))
            self.assert_close("max_pool_forward out", out, ref_max_pool(x, ph, pw, s))
            self.remember("max_pool_forward", out)
        self.check_kept()

    @check("max_pool_backward", "dx against the direct rule (distinct values; overlapping windows)",
           "route each window's upstream gradient to its maximum; where windows overlap (stride < pool size) the "
           "gradients add up: dx[window] += mask * dout[n, c, i, j]")
    def test_max_pool_backward(self):
        rng = rng_for("max_pool_backward")
        for shape, (ph, pw, s) in POOL_CASES:
            x = tie_free(rng, shape)
            self.now = f"x {shape}, pool {ph}x{pw} stride {s} (distinct values)"
            _, cache = self.forward("max_pool_forward", x, _pool_param(ph, pw, s))
            dout = rng.standard_normal(pool_out_shape(shape, ph, pw, s))
            dx = self.call("max_pool_backward", self.module.max_pool_backward, dout, cache,
                           watch=held_in_cache("max_pool_forward", x=x))
            self.assert_close("max_pool_backward dx", dx, ref_max_pool_backward(x, dout, ph, pw, s), diagnose=[(
                "assigning instead of adding where windows overlap",
                ref_max_pool_backward(x, dout, ph, pw, s, "assign"),
                "overlapping windows (stride < pool size) can share a maximum: add the gradients "
                "(dx[...] += ...), do not assign them")])
            self.remember("max_pool_backward", dx)
        self.check_kept()

    @check("max_pool_backward", "dx with tied maxima (the course's rule)", HINT_POOL_TIES)
    def test_max_pool_backward_ties(self):
        rng = rng_for("max_pool_backward ties")
        for shape, (ph, pw, s) in [((2, 2, 6, 6), (2, 2, 2)), ((1, 2, 5, 7), (3, 3, 1)), ((2, 1, 6, 5), (2, 2, 1))]:
            x = rng.integers(0, 3, shape).astype(np.float64)        # small integers: many ties
            self.now = f"x {shape} holding small integers (tied maxima), pool {ph}x{pw} stride {s}"
            _, cache = self.forward("max_pool_forward", x, _pool_param(ph, pw, s))
            dout = rng.standard_normal(pool_out_shape(shape, ph, pw, s))
            dx = self.call("max_pool_backward", self.module.max_pool_backward, dout, cache)
            self.assert_close("max_pool_backward dx", dx, ref_max_pool_backward(x, dout, ph, pw, s), diagnose=[
                ("the gradient divided among the tied maxima", ref_max_pool_backward(x, dout, ph, pw, s, "share"),
                 "you divide the gradient among tied maxima; " + HINT_POOL_TIES),
                ("the gradient sent to the first maximum only", ref_max_pool_backward(x, dout, ph, pw, s, "first"),
                 "you route the gradient to one maximum (argmax); " + HINT_POOL_TIES)])

    @check("max_pool_forward / max_pool_backward", "against PyTorch max_pool2d on random shapes (optional oracle)",
           "compare with torch.nn.functional.max_pool2d on the failing shape")
    def test_max_pool_torch(self):
        torch = self.optional("torch", "the PyTorch max_pool2d oracle")
        rng = rng_for("max_pool_torch")
        for _ in range(12):
            N, C = (int(v) for v in rng.integers(1, 4, 2))
            ph, pw = (int(v) for v in rng.integers(1, 4, 2))
            H, W = int(rng.integers(ph, 9)), int(rng.integers(pw, 9))
            stride = int(rng.integers(1, 4))
            x = tie_free(rng, (N, C, H, W))
            xt = torch.tensor(x, requires_grad=True)
            out_t = torch.nn.functional.max_pool2d(xt, (ph, pw), stride)
            dout = rng.standard_normal(tuple(out_t.shape))
            out_t.backward(torch.tensor(dout))
            self.now = f"x {x.shape}, pool {ph}x{pw} stride {stride} (vs PyTorch)"
            out, cache = self.forward("max_pool_forward", x, _pool_param(ph, pw, stride))
            self.assert_close("max_pool_forward out", out, out_t.detach().numpy())
            dx = self.call("max_pool_backward", self.module.max_pool_backward, dout, cache)
            self.assert_close("max_pool_backward dx", dx, xt.grad.numpy())


# -- cnn.py ------------------------------------------------------------------------------------------------
HINT_CONVNET_NAMES = ("at the top of cnn.py: `from cnn_layers import conv_forward, conv_backward, max_pool_forward, "
                      "max_pool_backward` and `from layers import fc_forward, ...`, and call those names in "
                      "ConvNet.loss: the course replaces cnn.conv_forward / cnn.conv_backward with its reference")


class ModelCase(GradingCase):
    """A model module (cnn.py, rnn.py), imported beside the kit's reference layers."""

    MODEL = None           # the graded class
    LAYERS = None          # the reference layer module whose functions replace the patched names
    NAMES_HINT = None

    def _set_params(self, model, params):
        """Give ``model`` copies of ``params`` (its own must have the same names, shapes and dtypes)."""
        have = self.expect_dict(f"{self.MODEL}.params", getattr(model, "params", None), params)
        for name, value in params.items():
            self.expect_array(f"{self.MODEL}.params[{name!r}]", have[name], value.shape, value.dtype)
            model.params[name] = value.copy()
        return model

    def _check_loss(self, label, result, expected, order, hint=None):
        """``result`` of model.loss, (loss, grads), against the reference's ``expected`` (loss, grads); the
        gradients in ``order``."""
        loss, grads = self.unpack(label, result, 2, "(loss, grads)")
        ref_loss, ref_grads = expected
        self.assert_scalar(f"{label} loss", loss, ref_loss, ref_loss.dtype, MODEL_TOL, MODEL_TOL)
        self.expect_dict(f"{self.MODEL}.loss grads", grads, ref_grads)
        for name in order:
            self.assert_close(f"{self.MODEL}.loss grads[{name!r}]", grads[name], ref_grads[name],
                              dtype=ref_grads[name].dtype, atol=MODEL_TOL, rtol=MODEL_TOL, hint=hint)

    def _patched(self, names):
        """Patch cnn.NAME (or rnn.NAME) with the reference implementation, as the course does."""
        missing = [n for n in names if not callable(getattr(self.module, n, None))]
        if missing:
            raise ContractError(f"{self.MODULE}.py has no module-level {', '.join(missing)}: the course patches "
                                f"{', '.join(f'{self.MODULE}.{n}' for n in missing)} with its reference "
                                f"implementation, which fails with AttributeError", self.NAMES_HINT)
        layers = reference(self.LAYERS)
        return [mock.patch.object(self.module, n, side_effect=getattr(layers, n), autospec=True) for n in names]


class TestConvNet(ModelCase):
    """cnn.py: ConvNet, graded beside the kit's reference layers."""

    MODULE = "cnn"
    MODEL = "ConvNet"
    LAYERS = "cnn_layers"
    NAMES_HINT = HINT_CONVNET_NAMES

    @check("ConvNet.__init__", "parameter shapes, dtypes and seeded values (draw order W1, W2, W3, b3, W4, b4)",
           "draw each parameter with np.random.uniform(-sqrt(k), sqrt(k), size=shape), k = 1/fan_in (C*fs*fs for W1, "
           "F1*fs*fs for W2, F2*H2*W2 for W3 and b3, hidden_dim for W4 and b4), in the order W1, W2, W3, b3, W4, b4, "
           "then cast to dtype: the course's notebook compares seeded values")
    def test_init(self):
        configs = [({}, ((1, 28, 28), 6, 16, 5, 100, 10), np.float32),
                   (dict(input_dim=(3, 17, 14), num_filters_1=4, num_filters_2=5, filter_size=4, hidden_dim=7,
                         num_classes=6, dtype=np.float64), ((3, 17, 14), 4, 5, 4, 7, 6), np.float64)]
        for seed, (kwargs, spec, dtype) in enumerate(configs):
            shapes, fan_in = convnet_shapes(*spec)
            self.now = f"np.random.seed({seed}); ConvNet({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
            np.random.seed(seed)
            model = self.call("ConvNet", self.module.ConvNet, **kwargs)
            np.random.seed(seed)
            expected = {}
            for name in ("W1", "W2", "W3", "b3", "W4", "b4"):
                bound = np.sqrt(1.0 / fan_in[name])
                expected[name] = np.random.uniform(-bound, bound, size=shapes[name]).astype(dtype)
            params = self.expect_dict("ConvNet.params", getattr(model, "params", None), expected)
            for name in expected:
                self.expect_array(f"params[{name!r}]", params[name], shapes[name], dtype)
            for name, value in expected.items():
                bound = np.sqrt(1.0 / fan_in[name])
                if np.abs(params[name]).max() > bound * (1 + 1e-6):
                    raise CheckFailure(f"params[{name!r}] has values up to {np.abs(params[name]).max():.4g}, outside "
                                       f"[-sqrt(k), sqrt(k)] = +-{bound:.4g} with k = 1/{fan_in[name]} ({self.now})",
                                       self.hint)
                self.assert_close(f"params[{name!r}]", params[name], value, dtype=dtype)

    def _compare_model(self, model, X, y):
        """scores, loss and every gradient of model.loss against the reference model with the same params."""
        params = {k: v.copy() for k, v in model.params.items()}
        watch = [("model.params", model.params, HINT_KEEP_PARAMS)]
        scores = self.call("ConvNet.loss", model.loss, X, watch=watch)
        ref_scores, ref_loss, ref_grads = ref_convnet_loss(params, X, y)
        self.assert_close("ConvNet.loss(X) scores", scores, ref_scores, dtype=ref_scores.dtype, atol=MODEL_TOL,
                          rtol=MODEL_TOL,
                          hint="conv - relu - 2x2 max pool - conv - relu - 2x2 max pool - flatten - fc - relu - fc, "
                               "with no regularization; do not cast X")
        self._check_loss("ConvNet.loss(X, y)", self.call("ConvNet.loss", model.loss, X, y, watch=watch),
                         (ref_loss, ref_grads), ("W4", "b4", "W3", "b3", "W2", "W1"),   # backpropagation's order
                         hint="backpropagate through every layer in reverse order: fc - relu - fc, then unflatten "
                              "to the pool output's shape, pool - relu - conv twice; grads are not cast")

    @check("ConvNet.loss", "the course's test: conv names patched, float64 X with the default float32 params",
           "ConvNet.loss must call the module-level conv_forward / conv_backward (the course patches them), "
           "flatten the pooled features to (N, -1) itself (the course's fc_forward does not flatten), keep float64 X "
           "as it is (no cast: NumPy promotes to float64) and return the loss as a NumPy scalar")
    def test_loss_course_setup(self):
        rng = rng_for("convnet course setup")
        arch = dict(input_dim=(3, 29, 29), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=19,
                    num_classes=5)
        shapes, fan_in = convnet_shapes(**arch)
        params = {k: rng.uniform(-1, 1, shapes[k]).astype(np.float32) * np.float32(np.sqrt(1 / fan_in[k]))
                  for k in shapes}
        X = rng.standard_normal((5, 3, 29, 29))
        y = rng.integers(0, 5, 5)
        self.now = ("ConvNet(input_dim=(3, 29, 29), num_filters_1=4, num_filters_2=5, filter_size=3, hidden_dim=19, "
                    "num_classes=5) with float32 params, X float64 (5, 3, 29, 29)")
        patches = self._patched(("conv_forward", "conv_backward"))
        with patches[0] as forward, patches[1] as backward:
            self._compare_model(self._set_params(self.call("ConvNet", self.module.ConvNet, **arch), params), X, y)
            # loss(X) and loss(X, y): two convolutions forward each time, two backward in the second
            for name, patched, expected in (("conv_forward", forward, 4), ("conv_backward", backward, 2)):
                if patched.call_count < expected:
                    raise ContractError(f"ConvNet.loss called cnn.{name} {patched.call_count} times in loss(X) and "
                                        f"loss(X, y), expected {expected} (one per convolution layer and pass; "
                                        f"{self.now}): a convolution is computed some other way, so the course's "
                                        f"patched {name} is bypassed", HINT_CONVNET_NAMES, "ConvNet.loss")

    @check("ConvNet.loss", "float64 params and a non-square input, beside the reference layers",
           "conv - relu - 2x2 max pool - conv - relu - 2x2 max pool - flatten to (N, -1) (the course's fc_forward "
           "does not flatten) - fc - relu - fc - softmax; H1 = (H - fs + 1) // 2, H2 = (H1 - fs + 1) // 2")
    def test_loss_float64(self):
        rng = rng_for("convnet float64")
        arch = dict(input_dim=(2, 17, 14), num_filters_1=3, num_filters_2=4, filter_size=4, hidden_dim=7,
                    num_classes=6)
        shapes, _ = convnet_shapes(**arch)
        params = {k: tie_free(rng, shapes[k], scale=0.8) for k in shapes}
        X = tie_free(rng, (4, 2, 17, 14), scale=2.0)
        y = np.array([0, 5, 2, 3])
        self.now = "ConvNet(input_dim=(2, 17, 14), num_filters_1=3, num_filters_2=4, filter_size=4, hidden_dim=7, " \
                   "num_classes=6, dtype=np.float64), X float64 (4, 2, 17, 14)"
        model = self.call("ConvNet", self.module.ConvNet, **arch, dtype=np.float64)
        self._compare_model(self._set_params(model, params), X, y)


# ======================================================================================================
# Q2 oracles
# ======================================================================================================
def ref_rnn_step(x, prev_h, Wx, Wh, b):
    return np.tanh(np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b)


def ref_rnn_step_grads(x, prev_h, Wx, Wh, b, dnext, derivative=True):
    """(dx, dprev_h, dWx, dWh, db) of one step; derivative=False leaves out tanh' (a usual mistake)."""
    a = np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b
    da = dnext * (1 - np.tanh(a) ** 2) if derivative else dnext
    return (np.einsum("nh,dh->nd", da, Wx), np.einsum("nh,kh->nk", da, Wh), np.einsum("nd,nh->dh", x, da),
            np.einsum("nk,nh->kh", prev_h, da), da.sum(axis=0))


def ref_rnn_forward(x, h0, Wx, Wh, b):
    states, prev = [], h0
    for t in range(x.shape[0]):
        prev = ref_rnn_step(x[t], prev, Wx, Wh, b)
        states.append(prev)
    return np.stack(states)


def ref_rnn_backward(x, h0, Wx, Wh, b, dh, carry=True):
    """Backpropagation through time; carry=False drops the gradient flowing back from step t + 1."""
    h = ref_rnn_forward(x, h0, Wx, Wh, b)
    T = x.shape[0]
    dx = np.zeros(x.shape)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(b.shape)
    dnext = np.zeros(h0.shape)
    for t in range(T - 1, -1, -1):
        prev = h[t - 1] if t > 0 else h0
        gx, gprev, gWx, gWh, gb = ref_rnn_step_grads(x[t], prev, Wx, Wh, b, dh[t] + (dnext if carry else 0))
        dx[t] = gx
        dnext = gprev
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, dnext, dWx, dWh, db


def ref_temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    loss, dx = 0.0, np.zeros(x.shape)
    for n in range(N):
        for t in range(T):
            if mask[n, t]:
                loss += np.logaddexp.reduce(x[n, t]) - x[n, t, y[n, t]]
                dx[n, t] = np.exp(x[n, t] - np.logaddexp.reduce(x[n, t]))
                dx[n, t, y[n, t]] -= 1
    return loss / N, dx / N


RNN_STEP_CASES = [(3, 4, 5), (1, 2, 3), (4, 6, 2)]                 # (N, D, H)
RNN_CASES = [(4, 3, 5, 6), (1, 1, 2, 3), (6, 2, 3, 2)]              # (T, N, D, H), T != N in the first
HINT_STEP_BACKWARD = ("with a = x Wx + prev_h Wh + b and next_h = tanh(a): da = dnext_h * (1 - tanh(a)**2), "
                      "dx = da Wx^T, dprev_h = da Wh^T, dWx = x^T da, dWh = prev_h^T da, db = da summed over N")


def _rnn_weights(rng, D, H):
    return rng.standard_normal((D, H)) * 0.5, rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H)


class TestRnnLayers(GradingCase):
    """rnn_layers.py: the RNN step and sequence layers, word embedding, temporal FC, temporal softmax loss."""

    MODULE = "rnn_layers"

    @check("rnn_step_forward", "next_h = tanh(x Wx + prev_h Wh + b)",
           "next_h = tanh(x Wx + prev_h Wh + b) with x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,)")
    def test_rnn_step_forward(self):
        rng = rng_for("rnn_step_forward")
        for N, D, H in RNN_STEP_CASES:
            x, prev_h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
            Wx, Wh, b = _rnn_weights(rng, D, H)
            self.now = _shape(x, prev_h, Wx, names=("x", "prev_h", "Wx"))
            next_h, _ = self.returns("rnn_step_forward", 2, "(next_h, cache)", x, prev_h, Wx, Wh, b)
            self.assert_close("rnn_step_forward next_h", next_h, ref_rnn_step(x, prev_h, Wx, Wh, b))

    @check("rnn_step_backward", "gradients of one step against the chain rule", HINT_STEP_BACKWARD)
    def test_rnn_step_backward(self):
        rng = rng_for("rnn_step_backward")
        for N, D, H in RNN_STEP_CASES:
            x, prev_h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
            Wx, Wh, b = _rnn_weights(rng, D, H)
            dnext = rng.standard_normal((N, H))
            self.now = _shape(x, prev_h, Wx, names=("x", "prev_h", "Wx"))
            _, cache = self.returns("rnn_step_forward", 2, "(next_h, cache)", x, prev_h, Wx, Wh, b)
            grads = self.returns("rnn_step_backward", 5, "(dx, dprev_h, dWx, dWh, db)", dnext, cache)
            expected = ref_rnn_step_grads(x, prev_h, Wx, Wh, b, dnext)
            without = ref_rnn_step_grads(x, prev_h, Wx, Wh, b, dnext, derivative=False)
            for k, name in enumerate(("dx", "dprev_h", "dWx", "dWh", "db")):
                self.assert_close(f"rnn_step_backward {name}", grads[k], expected[k], diagnose=[(
                    "the chain rule without tanh'", without[k],
                    "multiply the upstream gradient by tanh'(a) = 1 - tanh(a)**2 = 1 - next_h**2 first: "
                    "da = dnext_h * (1 - next_h**2)")])

    @check("rnn_forward", "hidden states of every step (time-major)",
           "h[t] = tanh(x[t] Wx + h[t-1] Wh + b) with h[-1] = h0; x is (T, N, D) and h is (T, N, H): time-major")
    def test_rnn_forward(self):
        rng = rng_for("rnn_forward")
        for T, N, D, H in RNN_CASES:
            x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
            Wx, Wh, b = _rnn_weights(rng, D, H)
            self.now = _shape(x, h0, names=("x", "h0")) + f", H={H}"
            h, _ = self.returns("rnn_forward", 2, "(h, cache)", x, h0, Wx, Wh, b)
            self.assert_close("rnn_forward h", h, ref_rnn_forward(x, h0, Wx, Wh, b), diagnose=[(
                "every step started from h0", np.stack([ref_rnn_step(x[t], h0, Wx, Wh, b) for t in range(T)]),
                "feed each step the previous step's hidden state: prev_h = next_h")])

    @check("rnn_backward", "backpropagation through time against the chain rule",
           "loop t = T-1 .. 0: (dx[t], dprev, ...) = rnn_step_backward(dh[t] + dprev, step cache t), adding the "
           "upstream dh[t] to the gradient flowing back from step t+1; sum dWx, dWh, db over t; dh0 = the last dprev")
    def test_rnn_backward(self):
        rng = rng_for("rnn_backward")
        for T, N, D, H in RNN_CASES:
            x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
            Wx, Wh, b = _rnn_weights(rng, D, H)
            dh = rng.standard_normal((T, N, H))
            self.now = _shape(x, h0, dh, names=("x", "h0", "dh")) + f", H={H}"
            _, cache = self.returns("rnn_forward", 2, "(h, cache)", x, h0, Wx, Wh, b)
            grads = self.returns("rnn_backward", 5, "(dx, dh0, dWx, dWh, db)", dh, cache,
                                 watch=held_in_cache("rnn_forward", x=x, h0=h0, Wx=Wx, Wh=Wh, b=b))
            expected = ref_rnn_backward(x, h0, Wx, Wh, b, dh)
            dropped = ref_rnn_backward(x, h0, Wx, Wh, b, dh, carry=False)
            for k, name in enumerate(("dx", "dh0", "dWx", "dWh", "db")):
                self.assert_close(f"rnn_backward {name}", grads[k], expected[k], diagnose=[(
                    "the gradient without the part flowing back from step t+1", dropped[k],
                    "each step's upstream gradient is dh[t] plus the dprev_h that step t+1 sent back")])

    @check("word_embedding_forward", "out[n, t] = W[x[n, t]]", "out[n, t] = W[x[n, t]]: out (N, T, D)")
    def test_word_embedding_forward(self):
        rng = rng_for("word_embedding_forward")
        for N, T, V, D in [(4, 3, 5, 6), (1, 1, 2, 3), (3, 7, 4, 2)]:
            x, W = rng.integers(0, V, (N, T)), rng.standard_normal((V, D))
            self.now = _shape(x, W, names=("x", "W"))
            out, _ = self.forward("word_embedding_forward", x, W)
            expected = np.array([[W[x[n, t]] for t in range(T)] for n in range(N)])
            self.assert_close("word_embedding_forward out", out, expected)

    @check("word_embedding_backward", "dW with repeated words",
           "dW[v] is the sum of dout[n, t] over every (n, t) with x[n, t] == v: repeated words must accumulate "
           "(np.add.at(dW, x, dout) or a loop with +=), not overwrite (dW[x] = dout or dW[x] += dout)")
    def test_word_embedding_backward(self):
        rng = rng_for("word_embedding_backward")
        for N, T, V, D in [(4, 3, 5, 6), (1, 1, 2, 3), (3, 7, 4, 2)]:
            x, W = rng.integers(0, V, (N, T)), rng.standard_normal((V, D))
            dout = rng.standard_normal((N, T, D))
            self.now = _shape(x, W, dout, names=("x", "W", "dout")) + " (words repeat)"
            _, cache = self.forward("word_embedding_forward", x, W)
            dW = self.call("word_embedding_backward", self.module.word_embedding_backward, dout, cache)
            expected, overwrite = np.zeros((V, D)), np.zeros((V, D))
            for n in range(N):
                for t in range(T):
                    expected[x[n, t]] += dout[n, t]
            overwrite[x.reshape(-1)] = dout.reshape(-1, D)
            self.assert_close("word_embedding_backward dW", dW, expected, diagnose=[(
                "one gradient per word (later ones overwrite earlier ones)", overwrite, None)])

    @check("temporal_fc_forward", "out[n, t] = x[n, t] w + b", "out[n, t] = x[n, t] w + b: out (N, T, M)")
    def test_temporal_fc_forward(self):
        rng = rng_for("temporal_fc_forward")
        for N, T, D, M in [(2, 3, 4, 5), (1, 1, 3, 2), (4, 5, 2, 6)]:
            x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
            self.now = _shape(x, w, b, names=("x", "w", "b"))
            out, _ = self.forward("temporal_fc_forward", x, w, b)
            self.assert_close("temporal_fc_forward out", out, np.einsum("ntd,dm->ntm", x, w) + b, diagnose=[(
                "x w without the bias", np.einsum("ntd,dm->ntm", x, w), "add the bias b at every step")])

    @check("temporal_fc_backward", "dx, dw, db against the chain rule",
           "dx[n, t] = dout[n, t] w^T; dw = sum over n and t of x[n, t]^T dout[n, t]; db = dout summed over n and t")
    def test_temporal_fc_backward(self):
        rng = rng_for("temporal_fc_backward")
        for N, T, D, M in [(2, 3, 4, 5), (1, 1, 3, 2), (4, 5, 2, 6)]:
            x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
            dout = rng.standard_normal((N, T, M))
            self.now = _shape(x, w, dout, names=("x", "w", "dout"))
            _, cache = self.forward("temporal_fc_forward", x, w, b)
            dx, dw, db = self.returns("temporal_fc_backward", 3, "(dx, dw, db)", dout, cache)
            self.assert_close("temporal_fc_backward dx", dx, np.einsum("ntm,dm->ntd", dout, w))
            self.assert_close("temporal_fc_backward dw", dw, np.einsum("ntd,ntm->dm", x, dout), diagnose=[(
                "the average over N*T instead of the sum", np.einsum("ntd,ntm->dm", x, dout) / (N * T), None)])
            self.assert_close("temporal_fc_backward db", db, dout.sum(axis=(0, 1)))

    @check("temporal_softmax_loss", "the course's masked loss at moderate scores",
           "the course provides this function: sum the masked cross-entropy over N and T and divide by N; "
           "dx masked and divided by N; the loss is a NumPy scalar")
    def test_temporal_softmax_loss(self):
        rng = rng_for("temporal_softmax_loss")
        for N, T, V in [(3, 4, 5), (1, 1, 3), (6, 2, 7)]:
            x, y = rng.standard_normal((N, T, V)), rng.integers(0, V, (N, T))
            mask = rng.random((N, T)) < 0.7
            mask[0, 0] = True
            self.now = _shape(x, y, mask, names=("x", "y", "mask"))
            loss, dx = self.returns("temporal_softmax_loss", 2, "(loss, dx)", x, y, mask)
            ref_loss, ref_dx = ref_temporal_softmax_loss(x, y, mask)
            self.assert_scalar("temporal_softmax_loss loss", loss, ref_loss, np.float64)
            self.assert_close("temporal_softmax_loss dx", dx, ref_dx)

    @check("rnn_forward / rnn_backward / temporal_fc_*", "against PyTorch autograd on random shapes (optional oracle)",
           "the same computation in PyTorch disagrees on the failing shape")
    def test_rnn_torch(self):
        torch = self.optional("torch", "the PyTorch RNN oracle")
        rng = rng_for("rnn_torch")
        for _ in range(6):
            T, N, D, H, M = (int(v) for v in rng.integers(1, 6, 5))
            x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
            Wx, Wh, b = _rnn_weights(rng, D, H)
            Wv, bv = rng.standard_normal((H, M)), rng.standard_normal(M)
            t = {k: torch.tensor(v, requires_grad=True) for k, v in dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b, Wv=Wv,
                                                                         bv=bv).items()}
            prev, states = t["h0"], []
            for step in range(T):
                prev = torch.tanh(t["x"][step] @ t["Wx"] + prev @ t["Wh"] + t["b"])
                states.append(prev)
            h_t = torch.stack(states)                                                  # (T, N, H)
            scores_t = h_t.transpose(0, 1) @ t["Wv"] + t["bv"]                         # (N, T, M)
            dscores = rng.standard_normal((N, T, M))
            scores_t.backward(torch.tensor(dscores))
            self.now = f"x ({T}, {N}, {D}), H={H}, M={M} (vs PyTorch)"
            h, rnn_cache = self.returns("rnn_forward", 2, "(h, cache)", x, h0, Wx, Wh, b)
            self.assert_close("rnn_forward h", h, h_t.detach().numpy())
            hb = np.ascontiguousarray(h_t.detach().numpy().transpose(1, 0, 2))
            scores, fc_cache = self.forward("temporal_fc_forward", hb, Wv, bv)
            self.assert_close("temporal_fc_forward out", scores, scores_t.detach().numpy())
            _, dWv, dbv = self.returns("temporal_fc_backward", 3, "(dx, dw, db)", dscores, fc_cache)
            self.assert_close("temporal_fc_backward dw", dWv, t["Wv"].grad.numpy())
            self.assert_close("temporal_fc_backward db", dbv, t["bv"].grad.numpy())
            dh = np.ascontiguousarray(np.einsum("ntm,hm->tnh", dscores, Wv))
            grads = self.returns("rnn_backward", 5, "(dx, dh0, dWx, dWh, db)", dh, rnn_cache)
            for k, name in enumerate(("x", "h0", "Wx", "Wh", "b")):
                self.assert_close(f"rnn_backward d{name}", grads[k], t[name].grad.numpy())


# -- rnn.py ------------------------------------------------------------------------------------------------
def vocabulary(V):
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2}
    word_to_idx.update({f"w{i}": i for i in range(3, V)})
    return word_to_idx


def ref_captioning_loss(params, features, captions, null):
    """The reference CaptioningRNN.loss, composed from the kit's reference layers."""
    L, RL = reference("layers"), reference("rnn_layers")
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != null
    h0, h0_cache = L.fc_forward(features, params["W_proj"], params["b_proj"])
    x, embed_cache = RL.word_embedding_forward(captions_in, params["W_embed"])
    h, rnn_cache = RL.rnn_forward(x.transpose(1, 0, 2), h0, params["Wx"], params["Wh"], params["b"])
    scores, fc_cache = RL.temporal_fc_forward(h.transpose(1, 0, 2), params["W_vocab"], params["b_vocab"])
    loss, dscores = RL.temporal_softmax_loss(scores, captions_out, mask)
    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = RL.temporal_fc_backward(dscores, fc_cache)
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = RL.rnn_backward(dh.transpose(1, 0, 2), rnn_cache)
    grads["W_embed"] = RL.word_embedding_backward(dx.transpose(1, 0, 2), embed_cache)
    _, grads["W_proj"], grads["b_proj"] = L.fc_backward(dh0, h0_cache)
    return loss, grads


def ref_sample(params, features, max_length, start):
    """Greedy decoding written with the oracle formulas: all max_length words, <END> or not."""
    h = features @ params["W_proj"] + params["b_proj"]
    word = np.full(len(features), start)
    captions = np.zeros((len(features), max_length), dtype=np.int32)
    for t in range(max_length):
        h = ref_rnn_step(params["W_embed"][word], h, params["Wx"], params["Wh"], params["b"])
        word = np.argmax(h @ params["W_vocab"] + params["b_vocab"], axis=1)
        captions[:, t] = word
    return captions


CAPTIONING_ORDER = (("W_embed", "randn(V, W) / 100"), ("W_proj", "randn(D, H) / sqrt(D)"), ("b_proj", "zeros(H)"),
                    ("Wx", "randn(W, H) / sqrt(W)"), ("Wh", "randn(H, H) / sqrt(H)"), ("b", "zeros(H)"),
                    ("W_vocab", "randn(H, V) / sqrt(H)"), ("b_vocab", "zeros(V)"))


class TestCaptioningRNN(ModelCase):
    """rnn.py: CaptioningRNN, graded beside the kit's reference layers."""

    MODULE = "rnn"
    MODEL = "CaptioningRNN"
    LAYERS = "rnn_layers"
    NAMES_HINT = ("at the top of rnn.py: `from rnn_layers import temporal_fc_forward, temporal_fc_backward, ...` and "
                  "call those names in CaptioningRNN.loss: the course replaces rnn.temporal_fc_forward / "
                  "rnn.temporal_fc_backward with its reference")

    def _model(self, V, D, W, H, dtype=np.float32):
        kwargs = dict(input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type="rnn")
        if dtype is not np.float32:
            kwargs["dtype"] = dtype
        return self.call("CaptioningRNN", self.module.CaptioningRNN, vocabulary(V), **kwargs)

    @check("CaptioningRNN.__init__", "parameter shapes, dtypes and seeded values (the documented draw order)",
           "draw from the global np.random in this order: " + ", ".join(f"{k} = {v}" for k, v in CAPTIONING_ORDER) +
           "; then cast every parameter to dtype")
    def test_captioning_init(self):
        V, D, W, H = 7, 6, 5, 4
        for dtype in (np.float64, np.float32):
            self.now = f"np.random.seed(231); CaptioningRNN(vocabulary of {V} words, input_dim={D}, wordvec_dim={W}, " \
                       f"hidden_dim={H}{', dtype=np.float64' if dtype is np.float64 else ''})"
            np.random.seed(231)
            model = self._model(V, D, W, H, dtype)
            np.random.seed(231)
            expected = {"W_embed": np.random.randn(V, W) / 100, "W_proj": np.random.randn(D, H) / np.sqrt(D),
                        "b_proj": np.zeros(H), "Wx": np.random.randn(W, H) / np.sqrt(W),
                        "Wh": np.random.randn(H, H) / np.sqrt(H), "b": np.zeros(H),
                        "W_vocab": np.random.randn(H, V) / np.sqrt(H), "b_vocab": np.zeros(V)}
            params = self.expect_dict("CaptioningRNN.params", getattr(model, "params", None), expected)
            for name, value in expected.items():
                self.assert_close(f"params[{name!r}]", params[name], value.astype(dtype), dtype=dtype)

    def _captioning_case(self, rng, V=7, N=3, T=5, D=4, W=5, H=6, dtype=np.float64):
        shapes = {"W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, H), "Wh": (H, H), "b": (H,),
                  "W_vocab": (H, V), "b_vocab": (V,)}
        params = {k: (rng.standard_normal(s) * 0.6).astype(dtype) for k, s in shapes.items()}
        features = rng.standard_normal((N, D))
        captions = rng.integers(1, V, (N, T + 1))
        captions[:, 0] = 1
        captions[0, 3:] = 0                  # <NULL> padding: masked out
        captions[N - 1, 5:] = 0
        return params, features, captions

    @check("CaptioningRNN.loss", "the course's test: temporal_fc names patched, float64, <NULL> padding",
           "h0 = features W_proj + b_proj; the RNN reads captions[:, :-1] (embedded, then time-major) and predicts "
           "captions[:, 1:]; mask = targets != <NULL>; scores from temporal_fc_forward; backpropagate in reverse; "
           "call the module-level temporal_fc_forward / temporal_fc_backward (the course patches them)")
    def test_captioning_loss(self):
        rng = rng_for("captioning loss")
        params, features, captions = self._captioning_case(rng)
        self.now = ("CaptioningRNN(vocabulary of 7 words, input_dim=4, wordvec_dim=5, hidden_dim=6, dtype=np.float64), "
                    "features float64 (3, 4), captions (3, 6) with <NULL> padding")
        patches = self._patched(("temporal_fc_forward", "temporal_fc_backward"))
        with patches[0] as forward, patches[1] as backward:
            model = self._set_params(self._model(7, 4, 5, 6, np.float64), params)
            result = self.call("CaptioningRNN.loss", model.loss, features, captions,
                               watch=[("model.params", model.params, HINT_KEEP_PARAMS)])
            self._check_loss("CaptioningRNN.loss", result, ref_captioning_loss(params, features, captions, 0),
                             ("W_vocab", "b_vocab", "Wx", "Wh", "b", "W_embed", "W_proj", "b_proj"))
            for name, patched in (("temporal_fc_forward", forward), ("temporal_fc_backward", backward)):
                if patched.call_count == 0:
                    raise ContractError(f"CaptioningRNN.loss never called rnn.{name} ({self.now}): the course's "
                                        f"patched {name} is bypassed", self.NAMES_HINT, "CaptioningRNN.loss")

    @check("CaptioningRNN.loss", "float64 features with the default float32 params: the loss stays float64",
           "do not cast features (or anything else) to self.dtype in loss: NumPy promotes float64 features with "
           "float32 params to float64")
    def test_captioning_loss_dtype(self):
        rng = rng_for("captioning loss dtype")
        params, features, captions = self._captioning_case(rng, dtype=np.float32)
        self.now = ("CaptioningRNN(vocabulary of 7 words, input_dim=4, wordvec_dim=5, hidden_dim=6) with float32 "
                    "params, features float64 (3, 4)")
        model = self._model(7, 4, 5, 6)
        self._set_params(model, params)
        loss, _ = self.unpack("CaptioningRNN.loss", self.call("CaptioningRNN.loss", model.loss, features, captions), 2,
                              "(loss, grads)")
        ref_loss, _ = ref_captioning_loss(params, features, captions, 0)
        self.assert_scalar("CaptioningRNN.loss loss", loss, ref_loss, ref_loss.dtype, MODEL_TOL, MODEL_TOL)

    @check("CaptioningRNN.sample", "greedy captions, all max_length words even after <END>, int32",
           "start from <START> and h0 = features W_proj + b_proj; at each step embed the previous word, take one RNN "
           "step, and write the argmax word of W_vocab scores into column t; generate all max_length words (the "
           "course does not stop at <END>); return an int32 array (N, max_length)")
    def test_captioning_sample(self):
        V, D, W, H, N, L = 9, 5, 4, 6, 4, 8
        for seed in range(200):              # a model whose greedy captions hold <END> followed by other words
            rng = np.random.default_rng(seed)
            params = {"W_embed": rng.standard_normal((V, W)), "W_proj": rng.standard_normal((D, H)),
                      "b_proj": rng.standard_normal(H), "Wx": rng.standard_normal((W, H)),
                      "Wh": rng.standard_normal((H, H)), "b": rng.standard_normal(H),
                      "W_vocab": rng.standard_normal((H, V)), "b_vocab": rng.standard_normal(V)}
            features = rng.standard_normal((N, D))
            expected = ref_sample(params, features, L, 1)
            ends = [np.flatnonzero(row == 2) for row in expected]
            if any(e.size and e[0] < L - 1 and np.any(row[e[0] + 1:] != 2) for e, row in zip(ends, expected)):
                break
        stopped = expected.copy()
        for row in stopped:
            end = np.flatnonzero(row == 2)
            if end.size:
                row[end[0] + 1:] = 0
        self.now = f"CaptioningRNN(vocabulary of {V} words (<END> = 2), input_dim={D}, wordvec_dim={W}, " \
                   f"hidden_dim={H}, dtype=np.float64), features (4, {D}), max_length={L}"
        model = self._model(V, D, W, H, np.float64)
        self._set_params(model, params)
        captions = self.call("CaptioningRNN.sample", model.sample, features, max_length=L,
                             watch=[("model.params", model.params, HINT_KEEP_PARAMS)])
        stop_hint = ("generate all max_length words: the course's sample does not stop at <END> (the words after it "
                     "are ignored when captions are decoded)")
        self.assert_close("CaptioningRNN.sample captions", captions, expected, dtype=np.int32, atol=0, rtol=0,
                          diagnose=[("greedy decoding that stops at <END>", stopped, stop_hint)])
        row = next(i for i, r in enumerate(expected) if 2 in r[:-1])
        self.now += f"; then features[{row}:{row + 1}] alone"
        captions = self.call("CaptioningRNN.sample", model.sample, features[row:row + 1], max_length=L)
        self.assert_close("CaptioningRNN.sample captions", captions, expected[row:row + 1], dtype=np.int32, atol=0,
                          rtol=0, diagnose=[("greedy decoding that stops at <END>", stopped[row:row + 1], stop_hint)])


# ======================================================================================================
# Q4 oracles
# ======================================================================================================
def ref_kernel(x, z, kp):
    kind = kp["kernel"]
    dot = sum(float(a) * float(c) for a, c in zip(x, z))
    if kind == "linear":
        return dot
    if kind == "poly":
        return (kp["gamma"] * dot + kp["coef0"]) ** kp["degree"]
    if kind == "rbf":
        return float(np.exp(-kp["gamma"] * sum((float(a) - float(c)) ** 2 for a, c in zip(x, z))))
    if kind == "sigmoid":
        return float(np.tanh(kp["gamma"] * dot + kp["coef0"]))
    raise ValueError(kind)


def ref_gram(X1, X2, kp):
    return np.array([[ref_kernel(a, c, kp) for c in X2] for a in X1]).reshape(len(X1), len(X2))


def ref_kernel_dot(X1, X2, kp):
    return np.array([ref_kernel(a, c, kp) for a, c in zip(X1, X2)])


def ref_qp_params(X, y, C, kp):
    n = len(y)
    K = ref_gram(X, X, kp)
    return (np.array([[y[i] * y[j] * K[i, j] for j in range(n)] for i in range(n)]), -np.ones(n),
            np.concatenate([-np.eye(n), np.eye(n)]), np.concatenate([np.zeros(n), np.full(n, float(C))]),
            np.asarray(y, dtype=np.float64).reshape(1, n), np.zeros(1))


def ref_fit_bias(X, y, alpha, kp, threshold=1e-4):
    support = [i for i in range(len(y)) if alpha[i] > threshold]
    return float(np.mean([y[s] - sum(alpha[m] * y[m] * ref_kernel(X[m], X[s], kp) for m in support)
                          for s in support]))


def ref_decision(X, X_train, y_train, b, alpha, kp, threshold=1e-4):
    support = [m for m in range(len(y_train)) if alpha[m] > threshold]
    return np.array([sum(alpha[m] * y_train[m] * ref_kernel(X_train[m], x, kp) for m in support) + b for x in X])


KERNELS = [{"kernel": "linear", "degree": 3, "gamma": 1.0, "coef0": 0.0},
           {"kernel": "poly", "degree": 2, "gamma": 0.7, "coef0": 1.5},
           {"kernel": "rbf", "degree": 3, "gamma": 0.4, "coef0": 0.0},
           {"kernel": "sigmoid", "degree": 3, "gamma": 0.3, "coef0": -0.2}]
KERNEL_FORMULAS = "linear x.z; poly (gamma x.z + coef0)^degree; rbf exp(-gamma |x - z|^2); sigmoid tanh(gamma x.z + coef0)"
PROBE_ALPHAS = (3e-5, 7e-5, 2e-4, 6e-4)      # small alphas on both sides of the course's support threshold 1e-4


def _blobs(rng, n, d=2, shift=1.2):
    y = (np.arange(n) % 2 == 0).astype(int)
    X = rng.standard_normal((n, d)) + np.where(y[:, None] == 1, shift, -shift) / np.sqrt(d)
    return X, y


def course_dual(X, y_pm, C, kp):
    """The course's provided fit, on matrices built here: dense QP, cvxopt's default options."""
    from cvxopt import matrix, solvers
    P, q, G, h, A, b = ref_qp_params(X, y_pm, C, kp)
    args = [matrix(P), matrix(q.reshape(-1, 1)), matrix(G), matrix(h), matrix(A), matrix(b)]
    try:
        sol = solvers.qp(*args, options={"show_progress": False})
    except ValueError:
        sol = solvers.qp(*args, kktsolver="ldl", options={"show_progress": False, "kktreg": 1e-9})
    return np.array(sol["x"]).reshape(-1)


def probe(alpha):
    """The dual solution with its smallest entries moved to PROBE_ALPHAS: exposes the support threshold."""
    alpha = np.array(alpha, dtype=np.float64).reshape(-1)
    alpha[np.argsort(alpha, kind="stable")[:len(PROBE_ALPHAS)]] = PROBE_ALPHAS
    return alpha


class TestSvm(GradingCase):
    """svm.py: the QP parameters, the bias, the decision function and CVXOPTSVC."""

    MODULE = "svm"

    def replaced(self, **functions):
        """A context in which svm.NAME calls the oracle ``functions[NAME]`` (for each NAME svm.py defines), so
        that a bug in a helper (a kernel, fit_bias, ...) is not blamed on the function that calls it."""
        stack = contextlib.ExitStack()
        for name, func in functions.items():
            if callable(getattr(self.module, name, None)):
                stack.enter_context(mock.patch.object(self.module, name, side_effect=func, autospec=True))
        return stack

    def reference_kernels(self):
        return self.replaced(kernel_matrix=ref_gram, kernel_dot=ref_kernel_dot)

    @check("kernel_matrix / kernel_dot", "Gram matrices and row-wise kernel values", KERNEL_FORMULAS)
    def test_kernels(self):
        rng = rng_for("kernels")
        X1, X2, Z = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
        for kp in KERNELS:
            self.now = f"{kp}, X1 (5, 3), X2 (4, 3)"
            K = self.call("kernel_matrix", self.module.kernel_matrix, X1, X2, dict(kp))
            self.assert_close(f"kernel_matrix ({kp['kernel']})", K, ref_gram(X1, X2, kp))
            if hasattr(self.module, "kernel_dot"):
                k = self.call("kernel_dot", self.module.kernel_dot, X1, Z, dict(kp))
                self.assert_close(f"kernel_dot ({kp['kernel']})", k, ref_kernel_dot(X1, Z, kp))

    @check("get_qp_params", "P, q, G, h, A, b of the dual (dense, float64)",
           "min 1/2 v'Pv + q'v s.t. Gv <= h, Av = b with P = (y y') * K (n, n), q = -1 (n,), G = [-I; I] (2n, n), "
           "h = [0; C] (2n,) (first -alpha <= 0, then alpha <= C), A = y' (1, n), b = [0] (1,), all float64")
    def test_get_qp_params(self):
        rng = rng_for("get_qp_params")
        n, C = 6, 0.7
        X = rng.standard_normal((n, 3))
        for kp in KERNELS:
            y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
            self.now = f"X (6, 3), y in {{-1, +1}}, C={C}, {kp}"
            with self.reference_kernels():
                out = self.returns("get_qp_params", 6, "(P, q, G, h, A, b)", X, y, C, dict(kp))
            expected = ref_qp_params(X, y, C, kp)
            for name, got, value in zip("PqGhAb", out, expected):
                diagnose = []
                if name == "q":
                    diagnose = [("q = +1 (the objective's sign flipped)", -value,
                                 "cvxopt minimizes: maximizing sum(alpha) - ... means q = -1")]
                if name == "P":
                    diagnose = [("the kernel matrix without y y'", ref_gram(X, X, kp), "P[i, j] = y_i y_j K(x_i, x_j)")]
                self.assert_close(f"get_qp_params {name}", got, value, diagnose=diagnose)

    @check("fit_bias", "b = mean over the support vectors S = {alpha > 1e-4}",
           "S = {i : alpha_i > 1e-4}; b = mean over s in S of (y_s - sum over m in S of alpha_m y_m K(x_m, x_s))")
    def test_fit_bias(self):
        rng = rng_for("fit_bias")
        n = 8
        X = rng.standard_normal((n, 2))
        for kp in KERNELS:
            y = np.where(np.arange(n) % 3 == 0, -1.0, 1.0)
            alpha = rng.uniform(0.2, 2.0, n)
            alpha[[1, 4, 6]] = [0.0, 9e-5, 1.5e-4]      # two below the threshold, one just above it
            self.now = f"X (8, 2), alpha with entries 0, 9e-5 and 1.5e-4, {kp}"
            with self.reference_kernels():
                b = self.call("fit_bias", self.module.fit_bias, X, y, alpha, dict(kp))
            if np.ndim(b) != 0 or not np.isrealobj(b) or isinstance(b, (str, bytes)):
                raise ContractError(f"fit_bias returned {type(b).__name__} of shape {np.shape(b)}, expected a real "
                                    f"number (input: {self.now})")
            self.assert_close("fit_bias b", np.asarray(b, dtype=np.float64), ref_fit_bias(X, y, alpha, kp), diagnose=[
                ("the mean over every point (no support set)", ref_fit_bias(X, y, alpha, kp, -1.0), None),
                ("the support set alpha > 0", ref_fit_bias(X, y, alpha, kp, 0.0), None)])

    @check("decision_function", "h(x) = sum over alpha_m > 1e-4 of alpha_m y_m K(x_m, x) + b",
           "sum over the support vectors only (alpha_m > 1e-4) of alpha_m y_m K(x_m, x), plus b; returns (n,)")
    def test_decision_function(self):
        rng = rng_for("decision_function")
        X_train, X = rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
        for kp in KERNELS:
            y = np.where(np.arange(7) % 2 == 0, -1.0, 1.0)
            alpha = rng.uniform(0.2, 1.5, 7)
            alpha[[2, 5]] = [0.0, 9e-5]
            b = float(rng.standard_normal())
            self.now = f"X_train (7, 3), X (5, 3), alpha with entries 0 and 9e-5, b={b:.3f}, {kp}"
            with self.reference_kernels():
                out = self.call("decision_function", self.module.decision_function, X, X_train, y, b, alpha, dict(kp))
            self.assert_close("decision_function", out, ref_decision(X, X_train, y, b, alpha, kp), diagnose=[
                ("the sum over every training point (no support set)", ref_decision(X, X_train, y, b, alpha, kp, -1.0),
                 "sum only over the support vectors, alpha_m > 1e-4")])

    @check("CVXOPTSVC", "fit/predict against the course's provided fit (dense QP, default cvxopt options)",
           "the course's fit: y in {0, 1} -> {-1, +1}; get_qp_params -> cvxopt.solvers.qp(P, q, G, h, A, b) with "
           "show_progress=False; alpha = np.array(sol['x']).squeeze(1); support_ = alpha > 1e-4; b = fit_bias(...); "
           "predict = (decision_function >= 0) as {0, 1}")
    def test_cvxoptsvc(self):
        import cvxopt.solvers           # svm.py imports it too: were it missing, the import check says so
        rng = rng_for("cvxoptsvc")
        X, y = _blobs(rng, 40)
        X_test, y_test = _blobs(rng, 30)
        y_pm = np.where(y == 1, 1.0, -1.0)
        real_qp = cvxopt.solvers.qp
        calls = []

        def probing_qp(*args, **kwargs):
            sol = real_qp(*args, **kwargs)
            calls.append(1)
            sol["x"] = cvxopt.matrix(probe(np.array(sol["x"])).reshape(-1, 1))
            return sol

        for kernel, gamma, coef0, degree, C in (("rbf", 0.5, 0.0, 3, 1.0), ("poly", 0.3, 1.0, 3, 2.0),
                                                ("linear", 1.0, 0.0, 3, 0.5)):
            kp = {"kernel": kernel, "degree": degree, "gamma": gamma, "coef0": coef0}
            self.now = f"CVXOPTSVC(C={C}, kernel={kernel!r}, gamma={gamma}, coef0={coef0}) on 40 points, labels {{0, 1}}"
            model = self.call("CVXOPTSVC", self.module.CVXOPTSVC, C=C, kernel=kernel, degree=degree, gamma=gamma,
                              coef0=coef0)
            del calls[:]
            with self.replaced(kernel_matrix=ref_gram, kernel_dot=ref_kernel_dot, get_qp_params=ref_qp_params,
                               fit_bias=ref_fit_bias, decision_function=ref_decision), \
                    mock.patch.object(cvxopt.solvers, "qp", probing_qp):
                self.call("CVXOPTSVC.fit", model.fit, X, y)
                scores = self.call("CVXOPTSVC.decision_function", model.decision_function, X_test)
                pred = self.call("CVXOPTSVC.predict", model.predict, X_test)
                accuracy = self.call("CVXOPTSVC.score", model.score, X_test, y_test)
            alpha_ref = course_dual(X, y_pm, C, kp)
            if calls:
                alpha_ref = probe(alpha_ref)
                self.now += " (the solver's smallest alphas moved to 3e-5, 7e-5, 2e-4, 6e-4 to expose the threshold)"
            try:
                alpha = np.asarray(model.alpha, dtype=np.float64).reshape(-1)
            except (AttributeError, TypeError, ValueError):
                raise ContractError(f"CVXOPTSVC.alpha is missing or not a numeric array (input: {self.now})")
            self.assert_close("CVXOPTSVC.alpha", alpha, alpha_ref, atol=1e-6 * max(1.0, C), rtol=1e-5)
            support = np.flatnonzero(alpha_ref > 1e-4)
            if hasattr(model, "support_"):
                got = np.sort(np.asarray(model.support_).reshape(-1))
                if got.shape != support.shape or np.any(got != support):
                    extra = sorted(set(got.tolist()) - set(support.tolist()))
                    lost = sorted(set(support.tolist()) - set(got.tolist()))
                    raise CheckFailure(f"CVXOPTSVC.support_ is wrong for {self.now}: {len(got)} support vectors, "
                                       f"expected the {len(support)} with alpha > 1e-4 (extra {extra[:5]} with alpha "
                                       f"[{', '.join(f'{alpha_ref[i]:.3g}' for i in extra[:5])}], missing {lost[:5]})",
                                       "support_ = np.flatnonzero(alpha > 1e-4): the course's threshold")
            b = ref_fit_bias(X, y_pm, alpha_ref, kp)
            self.assert_close("CVXOPTSVC.b", np.asarray(getattr(model, "b", None), dtype=np.float64), b, atol=1e-5,
                              rtol=1e-5, diagnose=[
                                  ("the bias over alpha > 1e-5", ref_fit_bias(X, y_pm, alpha_ref, kp, 1e-5),
                                   "the support set is alpha > 1e-4")])
            expected = ref_decision(X_test, X, y_pm, b, alpha_ref, kp)
            self.assert_close("CVXOPTSVC.decision_function", scores, expected, atol=1e-5, rtol=1e-5)
            clear = np.abs(expected) > 1e-6
            pred = np.asarray(pred)
            self.expect_array("CVXOPTSVC.predict", pred, (len(X_test),), None)
            wrong = np.flatnonzero(clear & (pred != (expected >= 0).astype(int)))
            if wrong.size:
                raise CheckFailure(f"CVXOPTSVC.predict is wrong for {self.now}: {wrong.size} of {clear.sum()} "
                                   f"labels differ from (decision_function >= 0) as {{0, 1}}", self.hint)
            self.assert_close("CVXOPTSVC.score", np.asarray(accuracy, dtype=np.float64),
                              np.mean((expected >= 0).astype(int) == y_test), atol=1e-9)

    @check("CVXOPTSVC", "against scikit-learn's SVC (optional oracle)",
           "alpha should match SVC's |dual_coef_| on its support vectors (same QP, another solver)")
    def test_cvxoptsvc_sklearn(self):
        sklearn_svm = self.optional("sklearn.svm", "the scikit-learn SVC oracle")
        rng = rng_for("cvxoptsvc sklearn")
        X, y = _blobs(rng, 60, shift=1.0)
        self.now = "CVXOPTSVC(C=1.0, kernel='rbf', gamma=0.5) on 60 points vs sklearn.svm.SVC"
        model = self.call("CVXOPTSVC", self.module.CVXOPTSVC, C=1.0, kernel="rbf", gamma=0.5)
        self.call("CVXOPTSVC.fit", model.fit, X, y)
        svc = sklearn_svm.SVC(C=1.0, kernel="rbf", gamma=0.5, tol=1e-8).fit(X, y)
        alpha_svc = np.zeros(len(y))
        alpha_svc[svc.support_] = np.abs(svc.dual_coef_[0])
        # cvxopt's default tolerances (the course's) leave alpha ~1e-3 from libsvm's; a wrong QP is off by O(C).
        self.assert_close("CVXOPTSVC.alpha", np.asarray(model.alpha, dtype=np.float64).reshape(-1), alpha_svc,
                          atol=1e-2, rtol=0)


TEST_CLASSES = {"cnn_layers": TestCnnLayers, "cnn": TestConvNet, "rnn_layers": TestRnnLayers,
                "rnn": TestCaptioningRNN, "svm": TestSvm}
# A failing check whose function usually calls another failing one gets a note.
DEPENDS = {"rnn_forward": ("rnn_step_forward",), "rnn_backward": ("rnn_step_backward", "rnn_forward"),
           "max_pool_backward": ("max_pool_forward",), "conv_backward": ("conv_forward",),
           "word_embedding_backward": ("word_embedding_forward",), "temporal_fc_backward": ("temporal_fc_forward",),
           "get_qp_params": ("kernel_matrix", "kernel_dot"), "fit_bias": ("kernel_matrix", "kernel_dot"),
           "decision_function": ("kernel_matrix", "kernel_dot"),
           "CVXOPTSVC": ("get_qp_params", "fit_bias", "decision_function", "kernel_matrix", "kernel_dot")}


def checks_of(module):
    """[(test id, function, title)] of a module's checks, in order."""
    cls = TEST_CLASSES[module]
    names = [n for n in vars(cls) if n.startswith("test") and callable(getattr(cls, n))]   # in definition order
    return [(f"{cls.__name__}.{n}", getattr(cls, n).function, getattr(cls, n).title) for n in names]


# ======================================================================================================
# Child process: grade one module, report events as JSON lines
# ======================================================================================================
class _Events:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")

    def write(self, **event):
        self.file.write(json.dumps(event) + "\n")
        self.file.flush()


class _EventResult(unittest.TestResult):
    """Writes each check's start and verdict to the events file as it happens."""

    def __init__(self, events):
        super().__init__()
        self.events = events

    def startTest(self, test):
        super().startTest(test)
        self.events.write(event="start", test=_test_id(test))

    def _verdict(self, test, status, message="", hint=None, detail="", function=None):
        self.events.write(event="result", test=_test_id(test), status=status, message=message, hint=hint,
                          detail=detail, function=function)

    def addSuccess(self, test):
        super().addSuccess(test)
        worst, label = getattr(test, "worst", (0.0, ""))
        detail = f"worst comparison {label}: error {worst:.2g} x the tolerance" if label else ""
        self._verdict(test, "PASS", detail=detail)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._verdict(test, "SKIP", reason)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        exc = err[1]
        self._verdict(test, "FAIL", str(exc), getattr(exc, "hint", None) or getattr(test, "hint", None),
                      function=getattr(exc, "function", None))

    def addError(self, test, err):
        super().addError(test, err)
        exc = err[1]
        if isinstance(exc, ContractError):
            self._verdict(test, "ERROR", str(exc), exc.hint or _hint_for(test, exc.function), function=exc.function)
        elif isinstance(exc, StudentError):
            hint = ("the function is still a stub: implement it" if isinstance(exc.exc, NotImplementedError) else
                    "a graded function must return its result: remove sys.exit / exit() calls"
                    if isinstance(exc.exc, SystemExit) else
                    "SciPy's convolutions are not allowed (the course patches them to fail): use NumPy"
                    if isinstance(exc.exc, ForbiddenFunction) else _hint_for(test, exc.function))
            self._verdict(test, "ERROR", str(exc), hint, function=exc.function)
        else:
            text = "".join(traceback.format_exception(*err))
            self._verdict(test, "ERROR", f"the check itself crashed ({type(exc).__name__}: {exc}); this may be a "
                          f"result of an unexpected return value", None, text[-2000:])


def _hint_for(test, function):
    """The hint of the check of ``function`` (a forward pass that failed inside a backward check gets the
    forward check's hint), else the test's own."""
    if function and function != getattr(test, "function", None):
        for name, member in vars(type(test)).items():
            if name.startswith("test") and getattr(member, "function", None) == function:
                return member.hint
    return getattr(test, "hint", None)


def _test_id(test):
    return f"{type(test).__name__}.{getattr(test, '_testMethodName', '?')}"


def child_main(module, folder, events_path, only):
    """Grade ``module`` imported from ``folder``; report to ``events_path``."""
    here = str(ROOT)
    sys.path[:] = [folder] + [p for p in sys.path if p not in ("", ".", here)]
    _CONTEXT.child_folder = Path(folder)
    ban_scipy_convolutions()
    events = _Events(events_path)
    events.write(event="import", phase="start")
    try:
        loaded = _CONTEXT.module(module)
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            message = f"importing {module}.py called sys.exit({exc.code!r}): a module must not end the program"
        else:
            message = describe_exception(f"importing {module}.py", exc)
        events.write(event="import", phase="error", message=message)
        events.write(event="done")
        return 0
    events.write(event="import", phase="ok", file=str(getattr(loaded, "__file__", "?")))
    cls = TEST_CLASSES[module]
    suite = unittest.TestSuite(cls(test_id.split(".", 1)[1]) for test_id in only)
    np.seterr(all="ignore")
    suite.run(_EventResult(events))
    events.write(event="done")
    return 0


# ======================================================================================================
# Parent: scratch folders, children, report
# ======================================================================================================
class Report:
    """Every verdict, printed as it arrives; the exit status at the end."""

    def __init__(self, verbose=False):
        self.verbose = verbose
        self.modules = {}              # module -> list of result dicts

    def emit(self, text=""):
        print(text, flush=True)

    def add(self, module, status, function, title, message="", hint=None, detail="", test=None, always=False):
        """Record and print one verdict; ``detail`` is printed with -v, or always when ``always``."""
        result = dict(test=test, function=function, title=title, status=status, message=message, hint=hint)
        self.modules.setdefault(module, []).append(result)
        line = f"{status:5s} {function}: {title}"
        self.emit(line)
        if status in ("FAIL", "ERROR", "SKIP") and message:
            self.emit(f"      {message}")
        if status in ("FAIL", "ERROR") and hint:
            self.emit(f"      hint: {hint}")
        if (self.verbose or always) and str(detail).strip():
            if always:
                self.emit("      the module's last output lines:")
            for text in str(detail).splitlines():
                self.emit(f"      {text}")

    def notes(self):
        """A check that fails while a function it usually calls fails too gets a note saying so."""
        for results in self.modules.values():
            failing = {r["function"] for r in results if r["status"] in ("FAIL", "ERROR")}
            for r in results:
                causes = [d for d in DEPENDS.get(r["function"], ()) if d in failing and d != r["function"]]
                if r["status"] in ("FAIL", "ERROR") and causes:
                    r["note"] = (f"{' and '.join(causes)} fail{'s' if len(causes) == 1 else ''} too, and "
                                 f"{r['function']} usually relies on {'it' if len(causes) == 1 else 'them'}: "
                                 f"fix {causes[0]} first")

    @staticmethod
    def module_exit(results):
        statuses = {r["status"] for r in results}
        return EXIT_ERROR if "ERROR" in statuses else EXIT_WRONG if "FAIL" in statuses else EXIT_PASS

    def exit_code(self):
        codes = {self.module_exit(r) for r in self.modules.values()}
        return EXIT_ERROR if EXIT_ERROR in codes else EXIT_WRONG if EXIT_WRONG in codes else EXIT_PASS


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def run_child(module, folder, test_ids, scratch, timeout):
    """Run one child on ``test_ids``; return (events, how it ended: None when it reported 'done', else a sentence,
    the child's output)."""
    events_path = Path(scratch) / f"events-{module}-{time.time_ns()}.jsonl"
    out_path = events_path.with_suffix(".out")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", module, "--folder", str(folder),
               "--events", str(events_path), "--only", ",".join(test_ids)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")        # small problems: one BLAS thread avoids stalls on busy machines
    events, pending, offset = [], b"", 0
    started, ended = time.time(), None
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        while True:
            finished = proc.poll() is not None
            if events_path.exists():
                with open(events_path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    event = json.loads(line)
                    events.append(event)
                    if event["event"] in ("start", "import"):
                        started = time.time()        # the time limit applies to each check and to the import
            if any(e["event"] == "done" for e in events[-1:]):
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:   # e.g. a thread the module started keeps it alive
                    _kill(proc)
                break
            if finished:
                ended = f"the process exited with status {proc.returncode}"
                break
            if time.time() - started > timeout:
                _kill(proc)
                ended = f"killed after {timeout:g} s"
                break
            time.sleep(0.02)
    return events, ended, out_path.read_text(errors="replace")


def grade_module(report, module, folder, scratch, timeout):
    """Run every check of ``module`` in children (a fresh one after a child that ended without a verdict)."""
    tests = checks_of(module)
    info = {test_id: (function, title) for test_id, function, title in tests}
    remaining = [t for t, _, _ in tests]
    while remaining:
        events, ended, output = run_child(module, folder, remaining, scratch, timeout)
        done = set()
        imported = False
        running = None
        for event in events:
            if event["event"] == "import" and event["phase"] == "ok":
                imported = True
            elif event["event"] == "import" and event["phase"] == "error":
                report.add(module, "ERROR", f"import {module}.py", "the module imports",
                           f"{event['message']} ({len(remaining)} checks of {module}.py could not run)",
                           _import_hint(module, event["message"]))
                return
            elif event["event"] == "start":
                running = event["test"]
            elif event["event"] == "result":
                function, title = info[event["test"]]
                about = event.get("function")
                if about and about != function and (" / " in function or about in DEPENDS.get(function, ())):
                    # a check of several functions, or a forward pass that failed while giving a backward check
                    # its cache: name the function at fault
                    title = title if " / " in function else f"called by the {function} check ({title})"
                    function = about
                report.add(module, event["status"], function, title, event.get("message", ""), event.get("hint"),
                           event.get("detail", ""), test=event["test"])
                done.add(event["test"])
                running = None
        remaining = [t for t in remaining if t not in done]
        if ended is None:
            if remaining:
                report.add(module, "ERROR", f"{module}.py", f"{len(remaining)} checks did not report",
                           "the checks ended without a verdict for them")
            return
        tail = "\n".join(output.strip().splitlines()[-8:])
        if not imported:
            why = ("it hung while being imported (an endless loop at import?)" if ended.startswith("killed")
                   else "importing it ended the program (sys.exit or os._exit at import?)")
            report.add(module, "ERROR", f"import {module}.py", "the module imports",
                       f"no verdict: {ended} while importing {module}.py: {why} ({len(remaining)} checks of "
                       f"{module}.py could not run)",
                       "a module must only define functions and classes at import: no endless loops, no exit()",
                       detail=tail, always=True)
            return
        if running is None:
            report.add(module, "ERROR", f"{module}.py", "the checks ran to the end",
                       f"no verdict: {ended} between checks", None, detail=tail, always=True)
            return
        function, title = info[running]
        why = ("an endless loop, or an exception swallowed inside a loop?" if ended.startswith("killed")
               else "did the code call os._exit() or crash the interpreter?")
        report.add(module, "ERROR", function, title, f"no verdict: {ended} while checking {function} ({why})",
                   "a graded function must return its result in reasonable time and never end the program",
                   detail=tail, test=running, always=True)
        remaining = [t for t in remaining if t != running]


def _import_hint(module, message):
    if module in MODELS and ("cannot import name" in message or "has no attribute" in message):
        layer = "cnn_layers" if module == "cnn" else "rnn_layers"
        return (f"{module}.py is graded beside the course's own layers.py and another correct {layer}.py: import only "
                f"the course's public functions from them (conv_forward, ..., fc_forward, ...), never a private "
                f"helper or anything else you added")
    if "No module named" in message:
        return (f"{module}.py may import only NumPy (cvxopt for svm.py), its own course modules and the course's "
                f"helper files (layers.py, solver.py, ...): nothing else from your folder is submitted")
    return f"`python -c 'import {module}'` must work from a folder holding only the submission and the course's files"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help="cnn, rnn, svm or all (default all); a module name (cnn_layers, cnn, rnn_layers, rnn, "
                             "svm) grades that module only")
    parser.add_argument("--dir", help="folder holding the submitted modules (default: this script's folder)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print what every passing check measured")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds allowed per check and for each import (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--no-optional", action="store_true",
                        help="skip the checks against PyTorch and scikit-learn (they need those libraries)")
    parser.add_argument("--json", metavar="PATH", help="also write the verdicts to PATH as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--events", help=argparse.SUPPRESS)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:        # usage errors exit 1: 2 means a wrong answer here
        return EXIT_ERROR if exc.code else EXIT_PASS
    if args.child:
        return child_main(args.child, args.folder, args.events, args.only.split(",") if args.only else [])

    modules = []
    for part in args.parts or ["all"]:
        chosen = SUBMITTED if part == "all" else PARTS.get(part) or ((part,) if part in SUBMITTED else None)
        if chosen is None:
            print(f"autograder.py: unknown part {part!r}: choose from cnn, rnn, svm, all (or a module name: "
                  f"{', '.join(SUBMITTED)})", file=sys.stderr)
            return EXIT_ERROR
        modules += [m for m in chosen if m not in modules]
    source = Path(args.dir) if args.dir else ROOT
    if not source.is_dir():
        print(f"autograder.py: --dir {args.dir}: no such folder", file=sys.stderr)
        return EXIT_ERROR
    if not REFERENCE_DIR.is_dir():
        print(f"autograder.py: the kit's reference implementations are missing ({REFERENCE_DIR}); they come with "
              f"the repository (tests/naive/)", file=sys.stderr)
        return EXIT_ERROR
    if args.no_optional:
        os.environ["HW4_AUTOGRADER_NO_OPTIONAL"] = "1"

    report = Report(args.verbose)
    started = time.time()
    present = [m for m in modules if (source / f"{m}.py").is_file()]
    report.emit(f"Grading {', '.join(m + '.py' for m in modules)} from {source.resolve()}")
    report.emit(f"(beside course-style helper files from {ROOT}; the models also beside the kit's reference layers)")
    scratch = Path(tempfile.mkdtemp(prefix="hw4-autograder-"))
    try:
        folders = build_scratch(source, scratch, present)
        for module in modules:
            where = ("beside the kit's reference layers, with the course's patched names"
                     if module in MODELS else "beside the course-style helpers")
            report.emit(f"\n== {module}.py ({where})")
            if module not in present:
                report.add(module, "ERROR", f"{module}.py", "the file is there",
                           f"{module}.py is missing from {source.resolve()}: its {len(checks_of(module))} checks did "
                           f"not run", f"put your {module}.py in that folder (the course expects exactly this name)")
                continue
            folder = folders["models" if module in MODELS else "submission"]
            grade_module(report, module, folder, scratch, args.timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.notes()
    code = report.exit_code()
    report.emit("\n== summary")
    for module in modules:
        results = report.modules.get(module, [])
        bad = [r for r in results if r["status"] in ("FAIL", "ERROR")]
        verdict = {EXIT_PASS: "PASS", EXIT_WRONG: "FAIL", EXIT_ERROR: "ERROR"}[report.module_exit(results)]
        names = ", ".join(dict.fromkeys(r["function"] for r in bad))
        report.emit(f"{module + '.py':15s} {verdict}{': ' + names if names else ''}")
        for note in dict.fromkeys(r["note"] for r in bad if r.get("note")):
            report.emit(f"      note: {note}")
    counts = {s: sum(r["status"] == s for rs in report.modules.values() for r in rs)
              for s in ("PASS", "FAIL", "ERROR", "SKIP")}
    meaning = {EXIT_PASS: "all checks passed", EXIT_WRONG: "some answers differ from the correct ones",
               EXIT_ERROR: "errors (missing file, import, exception, wrong type/shape/dtype, modified input, "
                           "time-out or no verdict)"}[code]
    report.emit(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['ERROR']} errors, {counts['SKIP']} skipped "
                f"in {time.time() - started:.1f} s -> exit {code} ({meaning})")
    if args.json:
        from data_utils import write_text_atomic
        write_text_atomic(args.json, json.dumps({"exit": code, "dir": str(source.resolve()), "modules": {
            m: {"exit": report.module_exit(report.modules.get(m, [])), "checks": report.modules.get(m, [])}
            for m in modules}}, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(main())
