"""The grading kit (autograder.py, grading/) apart from its catalogue (tests/test_catalogue.py).

- The kit's reference implementations agree with PyTorch / scikit-learn / hand-computed numbers (a test that can
  fail).
- tests/naive/ (plain-loop implementations of every graded function) passes everything: exit 0, no advice.
- Isolation and the command line: --dir grades only DIR (a missing module is an ERROR naming the file, files
  beside the submission are not used), usage errors exit 1, the checks run through pytest too, and with only
  NumPy and cvxopt the optional oracle checks say SKIP.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from grading.sandbox import reference
from test_catalogue import BUGS, NAIVE, ROOT, case_modules, naive_copy

# ----------------------------------------------------------------------------------------------------
# the naive implementations and the repository, through the command line
# ----------------------------------------------------------------------------------------------------
def run(args, env=None):
    command = [sys.executable, str(ROOT / "autograder.py"), *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, **(env or {})))


def show_run(result):
    return f"exit {result.returncode}\nSTDOUT:\n{result.stdout}\nSTDERR:\n{result.stderr}"


def test_naive_implementations_pass_every_check():
    result = run(["--dir", NAIVE])
    assert result.returncode == 0, show_run(result)
    assert not any(line.startswith(("FAIL", "ERROR", "WARN")) for line in result.stdout.splitlines())
    assert f"from {NAIVE}" in result.stdout


def test_default_grades_this_folder():
    result = run(["cnn", "--no-optional"])
    assert result.returncode == 0, show_run(result)
    assert f"from {ROOT}\n" in result.stdout


def test_dir_grades_only_dir(tmp_path):
    """Missing modules are ERRORs naming the file (never the repository's); files beside the submission
    (a helper module, a broken layers.py) are not used: the course's helpers come from the kit."""
    shutil.copy2(NAIVE / "cnn_layers.py", tmp_path / "cnn_layers.py")
    (tmp_path / "layers.py").write_text("raise ImportError('the student copy of layers.py must not be used')\n")
    (tmp_path / "rnn_layers.py").write_text("from my_helpers import *\n")
    (tmp_path / "my_helpers.py").write_text("def rnn_step_forward(*args):\n    return None\n")
    result = run(["--dir", tmp_path, "--no-optional", "--json", tmp_path / "r.json"])
    report = json.loads((tmp_path / "r.json").read_text())["questions"]
    assert result.returncode == 1, show_run(result)
    checks = {q: {c["function"]: c for c in report[q]["checks"]} for q in report}
    assert checks["cnn"]["conv_forward"]["status"] == checks["cnn"]["conv_backward"]["status"] == "PASS"
    for q, name in (("cnn", "cnn"), ("rnn", "rnn"), ("svm", "svm")):
        assert checks[q][f"{name}.py"]["status"] == "ERROR"
        assert f"{name}.py is missing from {tmp_path}" in checks[q][f"{name}.py"]["message"]
    problem = checks["rnn"]["import rnn_layers.py"]["message"]
    assert "No module named 'my_helpers'" in problem and "8 graded checks could not run" in problem


def test_usage_errors_exit_1(tmp_path):
    assert run(["cnnn"]).returncode == 1
    assert run(["--dir", tmp_path / "nowhere"]).returncode == 1


def test_checks_run_under_pytest(tmp_path):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "autograder.py"),
               "-k", "conv_forward or word_embedding"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, HW4_AUTOGRADER_DIR=str(NAIVE)))
    assert result.returncode == 0 and "3 passed" in result.stdout, result.stdout + result.stderr
    broken = naive_copy(tmp_path / "broken")
    bug = next(b for b in BUGS if b["id"] == "word_embedding_backward_overwrites_repeats")
    (broken / "rnn_layers.py").write_text(case_modules(bug)["rnn_layers"])
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, HW4_AUTOGRADER_DIR=str(broken)))
    assert result.returncode == 1 and "1 failed, 2 passed" in result.stdout, result.stdout + result.stderr
    assert "word_embedding_backward dW is wrong" in result.stdout


def test_only_numpy_and_cvxopt_needed(tmp_path):
    """With torch, scikit-learn and scipy unimportable (in every process), the optional checks say SKIP and
    everything else passes."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import os, sys
        BLOCKED = set(os.environ["HW4_TEST_BLOCKED"].split(","))

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
                return None

        sys.meta_path.insert(0, Blocker())
    """))
    env = {"PYTHONPATH": str(tmp_path), "HW4_TEST_BLOCKED": "torch,sklearn,scipy"}
    result = run(["--dir", NAIVE], env=env)
    assert result.returncode == 0, show_run(result)
    assert sum(line.startswith("SKIP") for line in result.stdout.splitlines()) == 4
    assert "torch is not installed" in result.stdout and "sklearn.svm is not installed" in result.stdout


# ----------------------------------------------------------------------------------------------------
# the kit's reference implementations (each must be able to fail: compared with independent computations)
# ----------------------------------------------------------------------------------------------------
def test_reference_layers_match_torch():
    torch = pytest.importorskip("torch")
    from grading.test_cnn import CONV_CASES, POOL_CASES
    from grading.case import tie_free
    cnn, rnn = reference("cnn_layers"), reference("rnn_layers")
    rng = np.random.default_rng(0)
    for N, C, H, W, F, HH, WW in [*CONV_CASES, (2, 2, 9, 4, 3, 4, 1), (7, 3, 19, 19, 5, 4, 4)]:
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        out = torch.nn.functional.conv2d(xt, wt)
        dout = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(dout))
        np.testing.assert_allclose(cnn.conv_forward(x, w)[0], out.detach().numpy(), atol=1e-12)
        dx, dw = cnn.conv_backward(dout, (x, w))
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-12)
    for shape, (ph, pw, s) in POOL_CASES:
        x = tie_free(rng, shape)
        xt = torch.tensor(x, requires_grad=True)
        out = torch.nn.functional.max_pool2d(xt, (ph, pw), s)
        dout = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(dout))
        got, cache = cnn.max_pool_forward(x, {"pool_height": ph, "pool_width": pw, "stride": s})
        np.testing.assert_allclose(got, out.detach().numpy())
        np.testing.assert_allclose(cnn.max_pool_backward(dout, cache), xt.grad.numpy())
    T, N, D, H, V = 4, 3, 5, 6, 7
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    dh = rng.standard_normal((T, N, H))
    t = {k: torch.tensor(v, requires_grad=True) for k, v in dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b).items()}
    prev, states = t["h0"], []
    for step in range(T):
        prev = torch.tanh(t["x"][step] @ t["Wx"] + prev @ t["Wh"] + t["b"])
        states.append(prev)
    torch.stack(states).backward(torch.tensor(dh))
    h, cache = rnn.rnn_forward(x, h0, Wx, Wh, b)
    np.testing.assert_allclose(h, torch.stack(states).detach().numpy())
    for got, key in zip(rnn.rnn_backward(dh, cache), ("x", "h0", "Wx", "Wh", "b")):
        np.testing.assert_allclose(got, t[key].grad.numpy(), atol=1e-12)
    scores, y, mask = rng.standard_normal((N, T, V)) * 3, rng.integers(0, V, (N, T)), rng.random((N, T)) < 0.6
    st = torch.tensor(scores, requires_grad=True)
    losses = torch.nn.functional.cross_entropy(st.reshape(-1, V), torch.tensor(y.reshape(-1)), reduction="none")
    (losses * torch.tensor(mask.reshape(-1), dtype=torch.float64)).sum().div(N).backward()
    loss, dx = rnn.temporal_softmax_loss(scores, y, mask)
    np.testing.assert_allclose(loss, (losses * torch.tensor(mask.reshape(-1))).sum().item() / N)
    np.testing.assert_allclose(dx, st.grad.numpy(), atol=1e-12)
    ids = rng.integers(0, V, (N, T))
    W = rng.standard_normal((V, D))
    dW = rnn.word_embedding_backward(rng.standard_normal((N, T, D)), (ids, W))
    assert dW.shape == W.shape and rnn.word_embedding_forward(ids[:, 0], W)[0].shape == (N, D)   # 1-D ids too


def test_max_pool_tie_rules_by_hand():
    """A 2x2 window of equal maxima gives each the full gradient and overlapping windows add up (the course's
    rule); the usual wrong answers split it, give it to the first only, or let overlapping windows overwrite."""
    rule = reference("cnn_layers").max_pool_backward_rule
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]]])
    dout = np.array([[[[2.0, 3.0]]]])                     # 2x2 windows, stride 1: columns 0-1 and 1-2
    np.testing.assert_array_equal(rule(x, dout, 2, 2, 1), [[[[2.0, 5.0, 0.0], [2.0, 5.0, 0.0]]]])
    np.testing.assert_array_equal(rule(x, dout, 2, 2, 1, "share"), [[[[0.5, 2.0, 0.0], [0.5, 2.0, 0.0]]]])
    np.testing.assert_array_equal(rule(x, dout, 2, 2, 1, "first"), [[[[2.0, 3.0, 0.0], [0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(rule(x, dout, 2, 2, 1, "assign"), [[[[2.0, 3.0, 0.0], [2.0, 3.0, 0.0]]]])


def test_reference_models_match_torch():
    """The reference ConvNet and CaptioningRNN compositions the model checks compare with."""
    torch = pytest.importorskip("torch")
    from grading.case import tie_free
    from grading.test_cnn import convnet_shapes, ref_convnet_loss
    from grading.test_rnn import ref_captioning_loss, ref_sample
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    shapes, _ = convnet_shapes((2, 13, 11), 3, 4, 3, 5, 4)
    params = {k: tie_free(rng, s) for k, s in shapes.items()}
    X, y = tie_free(rng, (3, 2, 13, 11)), np.array([0, 3, 1])
    _, loss, grads = ref_convnet_loss(params, X, y)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), p["W1"])), 2, 2)
    a = F.max_pool2d(F.relu(F.conv2d(a, p["W2"])), 2, 2)
    loss_t = F.cross_entropy(F.relu(a.flatten(1) @ p["W3"] + p["b3"]) @ p["W4"] + p["b4"], torch.tensor(y))
    loss_t.backward()
    np.testing.assert_allclose(loss, loss_t.item())
    for name in params:
        np.testing.assert_allclose(grads[name], p[name].grad.numpy(), atol=1e-12, err_msg=name)

    V, N, D, W, H, T = 6, 2, 3, 4, 5, 4
    shapes = {"W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, H), "Wh": (H, H), "b": (H,),
              "W_vocab": (H, V), "b_vocab": (V,)}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}
    features, captions = rng.standard_normal((N, D)), rng.integers(1, V, (N, T + 1))
    captions[1, 3:] = 0
    loss, grads = ref_captioning_loss(params, features, captions)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(features) @ p["W_proj"] + p["b_proj"]
    total = 0
    for step in range(T):
        h = torch.tanh(p["W_embed"][torch.tensor(captions[:, step])] @ p["Wx"] + h @ p["Wh"] + p["b"])
        target = torch.tensor(captions[:, step + 1])
        total = total + (F.cross_entropy(h @ p["W_vocab"] + p["b_vocab"], target, reduction="none") * (target != 0)).sum()
    (total / N).backward()
    np.testing.assert_allclose(loss, total.item() / N)
    for name in params:
        np.testing.assert_allclose(grads[name], p[name].grad.numpy(), atol=1e-12, err_msg=name)
    h, words = torch.tensor(features) @ p["W_proj"] + p["b_proj"], torch.full((N,), 1)
    for step in range(6):                                 # greedy decoding, written out in PyTorch
        h = torch.tanh(p["W_embed"][words] @ p["Wx"] + h @ p["Wh"] + p["b"])
        words = torch.argmax(h @ p["W_vocab"] + p["b_vocab"], dim=1)
        assert list(ref_sample(params, features, 6)[:, step]) == words.tolist()


def test_reference_svm_matches_sklearn_and_hand_formulas():
    from grading.test_svm import PROBE_ALPHAS, blobs, probe
    svm = reference("svm")
    rng = np.random.default_rng(4)
    X, y = blobs(rng, 30)
    y_pm = np.where(y == 1, 1.0, -1.0)
    kp = {"kernel": "rbf", "degree": 3, "gamma": 0.5, "coef0": 0.0}
    alpha = svm.course_dual(X, y_pm, 1.0, kp)
    sklearn_svm = pytest.importorskip("sklearn.svm")
    svc = sklearn_svm.SVC(C=1.0, kernel="rbf", gamma=0.5, tol=1e-8).fit(X, y)
    expected = np.zeros(len(y))
    expected[svc.support_] = np.abs(svc.dual_coef_[0])
    np.testing.assert_allclose(alpha, expected, atol=1e-2)
    K = np.array([[np.exp(-0.5 * np.sum((a - c) ** 2)) for c in X] for a in X])
    np.testing.assert_allclose(svm.kernel_matrix(X, X, kp), K, atol=1e-12)
    for other in ({"kernel": "poly", "degree": 2, "gamma": 0.7, "coef0": 1.5},
                  {"kernel": "sigmoid", "degree": 3, "gamma": 0.3, "coef0": -0.2}):
        got = svm.kernel_matrix(X[:4], X[:5], other)
        dot = X[:4] @ X[:5].T
        want = ((0.7 * dot + 1.5) ** 2) if other["kernel"] == "poly" else np.tanh(0.3 * dot - 0.2)
        np.testing.assert_allclose(got, want, atol=1e-12)
    support = alpha > 1e-4
    b = np.mean(y_pm[support] - K[np.ix_(support, support)] @ (alpha * y_pm)[support])
    np.testing.assert_allclose(svm.fit_bias(X, y_pm, alpha, kp), b)
    np.testing.assert_allclose(svm.decision_function(X[:5], X, y_pm, b, alpha, kp),
                               K[:5][:, support] @ (alpha * y_pm)[support] + b)
    probed = probe(alpha)
    smallest = np.argsort(alpha)[:4]
    assert list(probed[smallest]) == list(PROBE_ALPHAS) and np.all(alpha[smallest] < 1e-6)
    others = np.setdiff1d(np.arange(len(alpha)), smallest)
    np.testing.assert_array_equal(probed[others], alpha[others])
