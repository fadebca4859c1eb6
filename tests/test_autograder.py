"""autograder.py: exit 0 on the real modules, and the right verdict on deliberately broken copies.

Each broken copy is the real module with an override appended (so the test does not depend on the
module's internals): the autograder runs as a subprocess with ``--dir`` pointing at the copies.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autograder

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("layers.py", "cnn_layers.py", "cnn.py", "rnn_layers.py", "rnn.py", "svm.py")


def run(args, cwd=ROOT, script=None, timeout=300):
    """Run autograder.py (or ``script``) with ``args``; return the CompletedProcess."""
    command = [sys.executable, str(script or ROOT / "autograder.py"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def broken_copy(tmp_path, module, override):
    """Copy every checked module into tmp_path and append ``override`` to ``module``."""
    if not (ROOT / module).exists():
        pytest.skip(f"{module} does not exist yet")
    for name in MODULES:
        if (ROOT / name).exists():
            (tmp_path / name).write_text((ROOT / name).read_text())
    code = "\n\n# --- deliberately broken by tests/test_autograder.py ---\nimport numpy as np\n"
    (tmp_path / module).write_text((ROOT / module).read_text() + code + textwrap.dedent(override))
    return tmp_path


def show(result):
    return f"exit {result.returncode}\nSTDOUT:\n{result.stdout}\nSTDERR:\n{result.stderr}"


# ----------------------------------------------------------------------------------------------------
# The real modules
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("part", ["cnn", "rnn", "svm"])
def test_real_modules_pass(part):
    result = run([part])
    assert result.returncode == 0, show(result)
    assert "FAIL" not in result.stdout and "ERROR" not in result.stdout
    assert f"using {ROOT}" in result.stdout      # checked the repo's modules, not something else on sys.path


def test_runs_with_only_numpy_and_cvxopt(tmp_path):
    """With torch, torchvision, scipy and scikit-learn unimportable, the torch oracle checks are skipped (and
    say so) and everything else still passes. svm.py may use sklearn.base (the contract allows inheriting
    BaseEstimator), so for the svm part only sklearn.svm, the oracle, is hidden."""
    blocker = tmp_path / "blocked_autograder.py"
    blocker.write_text(textwrap.dedent(f"""
        import runpy, sys
        BLOCKED = set(sys.argv[1].split(","))

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                parts = name.split(".")
                if any(".".join(parts[:i]) in BLOCKED for i in range(1, len(parts) + 1)):
                    raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)", name=name)
                return None

        sys.meta_path.insert(0, Blocker())
        sys.path.insert(0, {str(ROOT)!r})
        sys.argv = ["autograder.py", *sys.argv[2:]]
        runpy.run_path({str(ROOT / "autograder.py")!r}, run_name="__main__")
    """))
    result = run(["torch,torchvision,scipy,sklearn", "cnn", "rnn"], script=blocker)
    assert result.returncode == 0, show(result)
    assert result.stdout.count("SKIP") == 4, show(result)
    assert "torch is not installed" in result.stdout
    if not (ROOT / "svm.py").exists():
        pytest.skip("svm.py does not exist yet")
    result = run(["torch,torchvision,sklearn.svm", "svm"], script=blocker)
    assert result.returncode == 0, show(result)
    assert "SKIP  svm.CVXOPTSVC vs scikit-learn: sklearn.svm is not installed" in result.stdout, show(result)


# ----------------------------------------------------------------------------------------------------
# Broken copies
# ----------------------------------------------------------------------------------------------------
def test_sign_error_exits_2(tmp_path):
    folder = broken_copy(tmp_path, "cnn_layers.py", """
        _original_conv_backward = conv_backward

        def conv_backward(dout, cache):
            dx, dw = _original_conv_backward(dout, cache)
            return dx, -dw
    """)
    result = run(["cnn", "--dir", str(folder)])
    assert result.returncode == 2, show(result)
    assert f"using {folder}" in result.stdout
    assert "FAIL  cnn_layers.conv_backward: conv_backward dw" in result.stdout, show(result)
    assert "hint: dx[n,c] = sum_f w[f,c] *full dout[n,f]" in result.stdout
    assert "ERROR" not in result.stdout


def test_svm_sign_error_exits_2(tmp_path):
    folder = broken_copy(tmp_path, "svm.py", """
        _original_decision_function = decision_function

        def decision_function(X, X_train, y_train, b, alpha, kernel_params):
            return -_original_decision_function(X, X_train, y_train, b, alpha, kernel_params)
    """)
    result = run(["svm", "--dir", str(folder)])
    assert result.returncode == 2, show(result)
    assert "FAIL  svm.decision_function" in result.stdout


SUBTLE_BUGS = {
    "loss divided by N*T": ("rnn_layers.py", "rnn", "FAIL  rnn_layers.temporal_softmax_loss", """
        _original_temporal_softmax_loss = temporal_softmax_loss

        def temporal_softmax_loss(x, y, mask):
            loss, dx = _original_temporal_softmax_loss(x, y, mask)
            return loss / x.shape[1], dx / x.shape[1]
    """),
    "repeated words overwrite": ("rnn_layers.py", "rnn", "FAIL  rnn_layers.word_embedding_forward / backward", """
        def word_embedding_backward(dout, cache):
            x, W = cache
            dW = np.zeros(W.shape)
            dW[x] = dout
            return dW
    """),
    "bias averaged over every point": ("svm.py", "svm", "FAIL  svm.fit_bias", """
        def fit_bias(X, y, alpha, kernel_params):
            return float(np.mean(y - (alpha * y) @ kernel_matrix(X, X, kernel_params)))
    """),
}


SUBTLE_BUGS["result in a reused buffer"] = ("rnn_layers.py", "rnn", "results survive later calls", """
    _buffers = {}
    _original_temporal_fc_forward = temporal_fc_forward

    def temporal_fc_forward(x, w, b):
        out, cache = _original_temporal_fc_forward(x, w, b)
        buffer = _buffers.setdefault(out.shape, np.empty(out.shape))
        buffer[...] = out
        return buffer, cache
""")


@pytest.mark.parametrize("bug", SUBTLE_BUGS)
def test_subtle_bugs_exit_2(tmp_path, bug):
    module, part, expected, override = SUBTLE_BUGS[bug]
    result = run([part, "--dir", str(broken_copy(tmp_path, module, override))])
    assert result.returncode == 2, show(result)
    assert expected in result.stdout, show(result)


def test_raised_exception_exits_1(tmp_path):
    folder = broken_copy(tmp_path, "rnn_layers.py", """
        def temporal_fc_forward(x, w, b):
            raise NotImplementedError("TODO: temporal_fc_forward")
    """)
    result = run(["rnn", "--dir", str(folder)])
    assert result.returncode == 1, show(result)
    assert "ERROR rnn_layers.temporal_fc_forward / temporal_fc_backward: NotImplementedError" in result.stdout


def test_wrong_shape_exits_1(tmp_path):
    folder = broken_copy(tmp_path, "cnn_layers.py", """
        _original_max_pool_forward = max_pool_forward

        def max_pool_forward(x, pool_param):
            out, cache = _original_max_pool_forward(x, pool_param)
            return out[..., :-1], cache
    """)
    result = run(["cnn", "--dir", str(folder)])
    assert result.returncode == 1, show(result)
    assert "ERROR cnn_layers.max_pool_forward: wrong output:" in result.stdout
    assert "wrong shape" in result.stdout


def test_wrong_dtype_exits_1(tmp_path):
    folder = broken_copy(tmp_path, "svm.py", """
        _original_get_qp_params = get_qp_params

        def get_qp_params(X, y, C, kernel_params):
            P, q, G, h, A, b = _original_get_qp_params(X, y, C, kernel_params)
            return P.astype(np.float32), q, G, h, A, b
    """)
    result = run(["svm", "--dir", str(folder)])
    assert result.returncode == 1, show(result)
    assert "ERROR svm.get_qp_params: wrong output: get_qp_params P: dtype float32" in result.stdout


def test_in_place_mutation_is_reported(tmp_path):
    # Shifting the scores in place leaves the loss and gradient right: only the mutation is wrong.
    folder = broken_copy(tmp_path, "rnn_layers.py", """
        _original_temporal_softmax_loss = temporal_softmax_loss

        def temporal_softmax_loss(x, y, mask):
            x -= x.max(axis=2, keepdims=True)
            return _original_temporal_softmax_loss(x, y, mask)
    """)
    result = run(["rnn", "--dir", str(folder)])
    assert result.returncode == 1, show(result)
    assert ("ERROR rnn_layers.temporal_softmax_loss: modifies its inputs: temporal_softmax_loss modified its "
            "input x (in place") in result.stdout, show(result)
    assert "FAIL" not in result.stdout, show(result)


def test_mutated_model_params_are_reported(tmp_path):
    folder = broken_copy(tmp_path, "cnn.py", """
        _original_loss = ConvNet.loss

        def _loss(self, X, y=None):
            self.params["b4"] += 0          # harmless
            self.params["b3"] *= 1.0001     # not harmless: loss must not touch the parameters
            return _original_loss(self, X, y)

        ConvNet.loss = _loss
    """)
    result = run(["cnn", "--dir", str(folder)])
    assert result.returncode == 1, show(result)
    assert "ConvNet.loss modified model.params['b3']" in result.stdout, show(result)


def test_import_error_exits_1(tmp_path):
    folder = broken_copy(tmp_path, "rnn.py", "def broken(:\n")
    result = run(["rnn", "--dir", str(folder)])
    assert result.returncode == 1, show(result)
    assert "ERROR import rnn: SyntaxError" in result.stdout


def test_missing_module_and_bad_usage_exit_1(tmp_path):
    result = run(["svm", "--dir", str(tmp_path)])        # an empty folder: svm.py comes from nowhere...
    if (ROOT / "svm.py").exists():                        # ...except the repo root next to autograder.py
        assert f"using {ROOT}" in result.stdout
    for args in (["--dir", str(tmp_path / "absent")], ["nonsense"]):
        result = run(args)
        assert result.returncode == 1, show(result)
        assert "error:" in result.stderr


# ----------------------------------------------------------------------------------------------------
# The machinery, in process
# ----------------------------------------------------------------------------------------------------
def test_exit_code_precedence():
    for statuses, code in [((), 0), (("PASS", "SKIP"), 0), (("PASS", "FAIL"), 2), (("FAIL", "ERROR"), 1),
                           (("ERROR",), 1)]:
        report = autograder.Report(stream=open("/dev/null", "w"))
        for status in statuses:
            report.add("part", "check", status, "detail")
        assert report.exit_code() == code, statuses


def test_relative_error_and_nan():
    assert autograder.relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0
    assert autograder.relative_error(np.array([1.0, 2.2]), np.array([1.0, 2.0])) == pytest.approx(0.2 / 2.2)
    assert autograder.relative_error(np.array([np.nan]), np.array([1.0])) == np.inf


def test_recorder_detects_and_undoes_mutation_in_nested_arguments():
    rec = autograder.Recorder()
    x, w = np.arange(6.0).reshape(2, 3), np.ones(3)

    def sneaky(cache):
        cache[0][1, 1] = -1.0
        return 0

    rec.call("sneaky", sneaky, (x, w))
    assert rec.mutations == ["sneaky modified its input cache[0] (in place; max change 5)"]
    assert x[1, 1] == 4.0                   # restored for the oracles that follow
    rec = autograder.Recorder()
    rec.call("honest", lambda cache: cache[0] * 2, (x, w))
    assert rec.mutations == []


def test_wrong_shape_is_a_contract_error():
    rec = autograder.Recorder()
    with pytest.raises(autograder.ContractError, match=r"wrong shape \(2, 2\), expected \(2, 3\)"):
        rec.close("out", np.zeros((2, 2)), np.zeros((2, 3)), 1e-9)
    with pytest.raises(autograder.ContractError, match="expected a real number"):
        rec.close("loss", "0.5", 0.5, 1e-9)


def test_numerical_gradient_oracle_is_right():
    x = np.random.randn(3, 4)
    df = np.random.randn(3, 4)
    grad = autograder.numerical_gradient(lambda v: np.sin(v), x, df)
    np.testing.assert_allclose(grad, np.cos(x) * df, rtol=1e-8, atol=1e-10)


def test_reference_convolution_matches_direct_sum():
    """The oracle itself against the homework's definition, written as a sum over every index."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 2, 3))
    out = autograder.ref_conv(x, w)
    expected = np.zeros((2, 3, 4, 2))
    for n, f, i, j, c, p, q in np.ndindex(2, 3, 4, 2, 2, 2, 3):
        expected[n, f, i, j] += x[n, c, i + p, j + q] * w[f, c, p, q]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx, dw = autograder.ref_conv_backward(x, w, dout)
    f = lambda v: autograder.ref_conv(v, w)   # noqa: E731
    np.testing.assert_allclose(dx, autograder.numerical_gradient(f, x, dout), rtol=1e-7, atol=1e-9)
    f = lambda v: autograder.ref_conv(x, v)   # noqa: E731
    np.testing.assert_allclose(dw, autograder.numerical_gradient(f, w, dout), rtol=1e-7, atol=1e-9)
