"""The TestCase base of the question modules: call submitted code, compare as the course compares, give advice.

The course's comparison of one result: the dtype must equal the reference's, then the shape (either
mismatch: ERROR, exit 1), then max |got - expected| < 1e-6 (else FAIL, exit 2). Inputs must be unchanged
(ERROR). A check decorated with ``advice`` goes beyond the course's contract: its failures print WARN and never
change the exit status.
"""
import functools
import importlib
import inspect
import os
import unittest
import warnings
import zlib

import numpy as np

from grading import sandbox
from grading.sandbox import numpy2_removals
from grading.verdicts import ADVICE_PREFIX, CheckFailure, ContractError, StudentError, Verdict

TOL = 1e-6                     # the course's tolerance: max |got - expected| < 1e-6


class GradingAdvice(UserWarning):
    """An advisory finding, as a warning when the checks run under pytest or unittest."""


def check(function, title, hint):
    """Name the graded function of a test method, what it checks, and the hint for a failure."""
    def decorate(method):
        method.function, method.title, method.hint = function, title, hint
        return method
    return decorate


def advice(why):
    """Mark a check as advice: the course does not test it; ``why`` ends 'still worth fixing because ...'.

    In the kit's child processes its failure is re-raised (the report prints WARN); run under pytest or
    unittest it becomes a GradingAdvice warning and the test passes."""
    def decorate(method):
        @functools.wraps(method)
        def run(self):
            try:
                method(self)
            except (Verdict, StudentError) as exc:
                if GradingCase.ADVICE_RAISES:
                    raise
                warnings.warn(GradingAdvice(f"{exc} ({ADVICE_PREFIX}{why})"), stacklevel=2)
        run.advice = why
        return run
    return decorate


def rng_for(key):
    """A generator seeded from a check's name, so that checks do not depend on their order."""
    return np.random.default_rng(zlib.crc32(key.encode()))


def tie_free(rng, shape, scale=1.0):
    """Distinct values (a shuffled grid plus a little noise): no max-pool ties, nothing near ReLU's kink."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) / size * 4 * scale
    return values.reshape(shape) + rng.uniform(-0.1, 0.1, size).reshape(shape) / size * scale


def shapes(*arrays, names):
    return ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_snapshot(v) for v in value)
    return value


def changed(value, saved, path=""):
    """'' when ``value`` still equals ``saved``, else where and how it changed."""
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
        return next((w for k in saved for w in [changed(value[k], saved[k], f"{path}[{k!r}]")] if w), "")
    if isinstance(saved, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(saved):
            return f"{path} (replaced)"
        return next((w for i, (v, s) in enumerate(zip(value, saved)) for w in [changed(v, s, f"{path}[{i}]")]
                     if w), "")
    return ""


def _argument_names(func):
    try:
        return [p.name for p in inspect.signature(func).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def _fmt(value):
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else repr(value)


HINT_INPUT_COPIES = ("work on copies (x = x.copy(), or out-of-place operations such as a = a + b): the course "
                     "checks that the caller's arrays are unchanged")
HINT_DTYPE = ("results follow NumPy's promotion of the inputs (float64 in, float64 out): no astype(np.float32), no "
              "float32 buffers, no cast of the input; the course compares dtypes before values")
HINT_LOSS_SCALAR = ("return the loss as NumPy computes it (e.g. -np.sum(...) / N, or the loss softmax_loss / "
                    "temporal_softmax_loss returns) without float(...) or .item(): the course compares its dtype")


class GradingCase(unittest.TestCase):
    """Helpers shared by the checks. ``CONTEXT`` gives the submitted modules (set by the runner)."""

    __test__ = False           # pytest collects the checks only through autograder.py (grading.inprocess)
    QUESTION = None            # 'cnn', 'rnn' or 'svm'
    CONTEXT = None             # grading.runner.Context
    ADVICE_RAISES = False      # True in the kit's child processes (the report prints WARN)
    maxDiff = None

    def setUp(self):
        method = getattr(self, self._testMethodName)
        self.function, self.hint = method.function, method.hint
        self.now = ""                  # the input being tried, for messages
        self.first_results = {}        # label -> (first result, its copy), see check_kept

    def module(self, name, beside_reference=False):
        """The submitted module ``name`` (imported beside the course's helpers, or beside the kit's
        reference layers when ``beside_reference``)."""
        return self.CONTEXT.module(name, beside_reference)

    # -- calling submitted code -----------------------------------------------------------------------
    def call(self, label, func, *args, watch=(), **kwargs):
        """Call submitted code. Its exceptions become StudentError; a change to an array argument or to an object
        in ``watch`` ((name, value, hint) triples, e.g. the course's own cache) is a ContractError."""
        names = _argument_names(func)
        inputs = [(f"its input {names[k] if isinstance(k, int) and k < len(names) else k}", v, HINT_INPUT_COPIES)
                  for k, v in [*enumerate(args), *kwargs.items()] if isinstance(v, np.ndarray)]
        saved = [(name, value, _snapshot(value), hint) for name, value, hint in [*inputs, *watch]]
        try:
            result = func(*args, **kwargs)
        except (KeyboardInterrupt, Verdict):
            raise
        except BaseException as exc:  # SystemExit included: it is an answer too
            raise StudentError(label, exc, self.now, self.CONTEXT) from exc
        for name, value, before, hint in saved:
            where = changed(value, before)
            if where:
                raise ContractError(f"{label} modified {name}{where} (input: {self.now})", hint, label.split(" ")[0])
        return result

    def returns(self, module, name, count, what, *args, watch=()):
        """Call ``module.name``; it must return a tuple of ``count`` values (``what``)."""
        return self.unpack(name, self.call(name, getattr(module, name), *args, watch=watch), count, what)

    def unpack(self, label, result, count, what):
        if not isinstance(result, (tuple, list)) or len(result) != count:
            got = (f"a {type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list))
                   else f"a {type(result).__name__}")
            raise ContractError(f"{label} must return {what}, got {got} (input: {self.now})", None,
                                label.split(" ")[0])
        return result

    def remember(self, label, value):
        """Keep the first result of ``label`` (with a copy) for check_kept."""
        self.first_results.setdefault(label, (value, _snapshot(value)))

    def check_kept(self):
        """The first results must survive later calls (no reused output buffers)."""
        for label, (value, saved) in self.first_results.items():
            where = changed(value, saved)
            if where:
                raise ContractError(f"the array {label} returned was overwritten by a later call{where}",
                                    "return a fresh array for every call (np.array(a) or a.copy()), not a buffer "
                                    "that the next call reuses", label.split(" ")[0])

    # -- comparing as the course compares ----------------------------------------------------------------
    def expect_dict(self, label, got, keys):
        """A dict with exactly ``keys`` (a model's params or grads)."""
        if not isinstance(got, dict) or set(got) != set(keys):
            have = sorted(got) if isinstance(got, dict) else type(got).__name__
            raise ContractError(f"{label} must be a dict with keys {sorted(keys)}, got {have} (input: {self.now})",
                                None, label.split(" ")[0])
        return got

    def expect_array(self, label, got, shape, dtype=None, hint=None):
        """``got`` is a NumPy array of ``dtype`` (None: any; 'integer': any integer dtype) and ``shape``, in
        the course's order: dtype first, then shape (``hint`` for a wrong shape; default the check's)."""
        function = label.split(" ")[0]
        if not isinstance(got, np.ndarray):
            raise ContractError(f"{label} is a {type(got).__name__}, expected a NumPy array of shape {tuple(shape)} "
                                f"(input: {self.now})", None, function)
        if dtype == "integer":
            if got.dtype.kind not in "iu":
                raise ContractError(f"{label} has dtype {got.dtype}, expected an integer dtype (input: {self.now})",
                                    "word ids are integers: build the array with an integer dtype", function)
        elif dtype is not None and got.dtype != np.dtype(dtype):
            raise ContractError(f"{label} has dtype {got.dtype}, expected {np.dtype(dtype)} (input: {self.now})",
                                HINT_DTYPE, function)
        if got.shape != tuple(shape):
            raise ContractError(f"{label} has shape {got.shape}, expected {tuple(shape)} (input: {self.now})",
                                hint or self.hint, function)
        return got

    def assert_close(self, label, got, expected, dtype="same", tol=TOL, diagnose=(), hint=None):
        """``got`` against ``expected``: dtype (``dtype``; 'same': expected's), shape, then max |got - expected|
        < ``tol``. ``diagnose``: (description, value, hint) of typical wrong answers; a match is named."""
        expected = np.asarray(expected)
        self.expect_array(label, got, expected.shape, expected.dtype if dtype == "same" else dtype, hint)
        a, b = got.astype(np.float64), expected.astype(np.float64)
        with np.errstate(all="ignore"):
            diff = np.abs(a - b)
        diff = np.where(np.isnan(diff), np.inf, diff)
        if diff.size == 0 or diff.max() < tol:
            return
        bad = int(np.sum(diff >= tol))
        index = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        at = f" at [{', '.join(map(str, index))}]" if diff.ndim else ""
        message = (f"{label} is wrong for {self.now}: {bad} of {diff.size} values differ; worst{at}: got "
                   f"{_fmt(a[index])}, expected {_fmt(b[index])} (the course allows max |got - expected| < {tol:g})")
        if not np.all(np.isfinite(a)):
            message += "; the result holds NaN or inf"
        for description, value, special in diagnose:
            value = np.asarray(value, dtype=np.float64)
            if value.shape == b.shape and np.abs(value - b).max() >= tol and np.abs(a - value).max() < tol:
                message += f"; it matches {description}"
                hint = special or hint
                break
        raise CheckFailure(message, hint or self.hint, label.split(" ")[0])

    def assert_scalar(self, label, got, expected):
        """A loss: a NumPy scalar (or 0-d array) of expected's dtype, close to ``expected``."""
        expected = np.asarray(expected)
        if not (isinstance(got, np.generic) or (isinstance(got, np.ndarray) and got.ndim == 0)):
            what = (f"a Python {type(got).__name__}" if type(got) in (float, int, bool)
                    else f"a {type(got).__name__} of shape {np.shape(got)}")
            raise ContractError(f"{label} is {what}, expected a NumPy scalar of dtype {expected.dtype} "
                                f"(input: {self.now})", HINT_LOSS_SCALAR, label.split(" ")[0])
        self.assert_close(label, np.asarray(got), expected)

    def assert_cache(self, label, cache, expected, names):
        """The course compares a forward pass's cache item by item with ``expected`` (its own layout)."""
        layout = f"({', '.join(names)})"
        if not isinstance(cache, (tuple, list)) or len(cache) != len(expected):
            got = (f"{len(cache)} items" if isinstance(cache, (tuple, list)) else f"a {type(cache).__name__}")
            raise ContractError(f"{label} is {got}; the course compares it item by item with {layout} "
                                f"(input: {self.now})", f"return the cache {layout}, in this order: the course "
                                f"compares it and passes its own {layout} to the backward pass",
                                label.split(" ")[0])
        for name, got, value in zip(names, cache, expected):
            self.assert_close(f"{label} item {name}", got, value,
                              hint=f"the course compares the cache item by item with {layout} and passes its own "
                                   f"{layout} to the backward pass: return exactly that, in this order")

    @check("NumPy 2", "names NumPy 2.0 removed (np.float_, np.NaN, ...) in the submitted modules", "")
    @advice("current NumPy (2.x) removed these names: the code fails on any up-to-date installation")
    def test_numpy2(self):
        """The submitted modules must not use names NumPy 2.0 removed (they are restored while grading, as the
        course ran NumPy 1.x). Every question's TestCase inherits this check."""
        modules = sandbox.QUESTIONS[self.QUESTION]
        found = [(m, line, name, fix) for m in modules if self.CONTEXT.path(m)
                 for line, name, fix in numpy2_removals(self.CONTEXT.path(m))]
        if found:
            uses = "; ".join(f"{m}.py:{line} uses {name}, write {fix}" for m, line, name, fix in found)
            raise ContractError(f"{uses}. NumPy 2.0 removed these names (this machine has NumPy {np.__version__}); "
                                f"the course ran NumPy 1.x (Python 3.10, 2023), where they work, so the kit graded "
                                f"your code with them restored", "the replacements work on NumPy 1.x and 2.x alike",
                                "NumPy 2")

    def optional(self, module_name, purpose):
        """Import an optional oracle library, or skip the check saying why."""
        if os.environ.get("HW4_AUTOGRADER_NO_OPTIONAL") == "1":
            self.skipTest(f"{purpose} is skipped (--no-optional)")
        try:
            return importlib.import_module(module_name)
        except ImportError:
            self.skipTest(f"{module_name} is not installed, so {purpose} is skipped")


def held_in_cache(forward, **arrays):
    """``watch`` triples for a backward pass: the arrays given to ``forward``, which its cache holds."""
    return [(f"{name} (given to {forward}, held in its cache)", value,
             "a backward pass must not write into the arrays its forward pass was given (they are in the cache): "
             "allocate the gradient with np.zeros(...)") for name, value in arrays.items()]
