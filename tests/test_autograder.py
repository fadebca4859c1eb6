"""autograder.py, the grading kit: it must judge a submission the way the course does.

- The kit's own oracles agree with PyTorch / scikit-learn / hand-computed numbers (a test that can fail).
- tests/naive/ (plain-loop implementations of every graded function) passes everything: exit 0.
- The bug catalogue (tests/grading_cases/catalogue.toml): every realistic student bug gives exit 2 (a wrong
  value) or 1 (crash, shape, dtype, mutation, no verdict) with the right function named, and no other function
  blamed; every correct alternative implementation passes (exit 0). The measured catch rate is printed.
- Isolation and the command line: --dir grades only DIR (a missing module is an ERROR naming the file, files
  beside the submission are not used), exit codes combine as the course's (1 wins over 2), usage errors exit 1,
  the checks run through pytest too, and with only NumPy and cvxopt the optional oracle checks say SKIP.

Bugs with no shared module are graded together in one autograder run (each submitted module is graded in its
own child process against reference inputs, so verdicts stay attributable); runs use --no-optional (the kit's
own oracles must catch every bug without PyTorch), except for the correct alternatives, which must also pass
the PyTorch and scikit-learn checks.
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

import autograder

ROOT = Path(__file__).resolve().parents[1]
NAIVE = ROOT / "tests" / "naive"
CASES = ROOT / "tests" / "grading_cases"
CATALOGUE = tomllib.loads((CASES / "catalogue.toml").read_text())
BUGS = CATALOGUE["bug"]
CORRECT = CATALOGUE["correct"]
HANG_TIMEOUT = 8          # seconds per check for the cases that never return


# ----------------------------------------------------------------------------------------------------
# building cases
# ----------------------------------------------------------------------------------------------------
def case_modules(case):
    """{module name: source text} of every module the case changes (its own module first)."""
    if case.get("source") == "repo":
        return {case["module"]: (ROOT / f"{case['module']}.py").read_text()}
    if "file" in case:
        return {case["module"]: (CASES / case["file"]).read_text()}
    texts = {case["module"]: (NAIVE / f"{case['module']}.py").read_text()}
    for edit in case.get("edit", []):
        module = edit.get("module", case["module"])
        text = texts.setdefault(module, (NAIVE / f"{module}.py").read_text())
        if "append" in edit or "append_file" in edit:
            texts[module] = text + "\n\n" + (edit.get("append") or (CASES / edit["append_file"]).read_text())
            continue
        count = text.count(edit["find"])
        assert count == 1 or (edit.get("all") and count >= 1), \
            f"{case['id']}: the text to replace occurs {count} times in {module}.py: {edit['find']!r}"
        texts[module] = text.replace(edit["find"], edit["replace"])
    return texts


def batches(cases):
    """Group cases so that no two change the same module; a case that hangs is graded alone."""
    groups = []                                   # [(cases, the modules they change)]
    for case in cases:
        touched = set(case_modules(case))
        fits = [] if case.get("hang") else [(group, changed) for group, changed in groups
                                            if not group[0].get("hang") and touched.isdisjoint(changed)]
        if fits:
            fits[0][0].append(case)
            fits[0][1].update(touched)
        else:
            groups.append(([case], touched))
    return [group for group, _ in groups]


def run(args, env=None):
    command = [sys.executable, str(ROOT / "autograder.py"), *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, **(env or {})))


def naive_copy(folder):
    """A new folder holding a copy of every submitted module from tests/naive."""
    folder.mkdir()
    for module in autograder.SUBMITTED:
        shutil.copy2(NAIVE / f"{module}.py", folder / f"{module}.py")
    return folder


def show(result):
    return f"exit {result.returncode}\nSTDOUT:\n{result.stdout}\nSTDERR:\n{result.stderr}"


def grade_batch(folder, group, optional):
    """Write the group's modules over a copy of tests/naive in folder, grade the changed modules; return
    (CompletedProcess, JSON report)."""
    naive_copy(folder)
    graded = []
    for case in group:
        for module, text in case_modules(case).items():
            (folder / f"{module}.py").write_text(text)
            graded.append(module)
    args = [*graded, "--dir", folder, "--json", folder / "report.json"]
    if not optional:
        args.append("--no-optional")
    if any(case.get("hang") for case in group):
        args += ["--timeout", HANG_TIMEOUT]
    result = run(args)
    report = json.loads((folder / "report.json").read_text()) if (folder / "report.json").exists() else None
    return result, report


def grade_all(tmp_path_factory, cases, optional):
    """{case id: (module report, CompletedProcess, JSON report)} for every case."""
    verdicts = {}
    for k, group in enumerate(batches(cases)):
        result, report = grade_batch(tmp_path_factory.mktemp("batch") / f"b{k}", group, optional)
        assert report is not None, show(result)
        codes = {m["exit"] for m in report["modules"].values()}
        combined = 1 if 1 in codes else 2 if 2 in codes else 0
        assert result.returncode == report["exit"] == combined, show(result)        # 1 wins over 2
        for case in group:
            for module in case_modules(case):
                if module != case["module"]:          # a helper the case adds must not break its module
                    assert report["modules"][module]["exit"] == 0, show(result)
            verdicts[case["id"]] = (report["modules"][case["module"]], result, report)
    return verdicts


@pytest.fixture(scope="module")
def bug_verdicts(tmp_path_factory):
    return grade_all(tmp_path_factory, BUGS, optional=False)


@pytest.fixture(scope="module")
def correct_verdicts(tmp_path_factory):
    return grade_all(tmp_path_factory, CORRECT, optional=True)


def failing(module_report):
    return [c for c in module_report["checks"] if c["status"] in ("FAIL", "ERROR")]


def verdict_problems(bug, module_report, result):
    """What is wrong with the kit's verdict on a bug ([] when it is caught as the catalogue says)."""
    problems = []
    bad = failing(module_report)
    if module_report["exit"] != bug["exit"]:
        problems.append(f"exit {module_report['exit']} for {bug['module']}.py, expected {bug['exit']}")
    named = {c["function"] for c in bad}
    if not named & set(bug["names"]):
        problems.append(f"none of {bug['names']} is reported failing (failing: {sorted(named)})")
    if named - set(bug["names"]):
        problems.append(f"also blames {sorted(named - set(bug['names']))}")
    if "message" in bug and not any(bug["message"].lower() in f"{c['message']} {c.get('hint')}".lower()
                                    for c in bad):
        problems.append(f"no failing check says {bug['message']!r}")
    repeated = [line for line, n in collections.Counter(result.stdout.splitlines()).items()
                if n >= 10 and line.strip()]
    if repeated:
        problems.append(f"a line repeats 10 times or more: {repeated[0]!r}")
    return problems


# ----------------------------------------------------------------------------------------------------
# the catalogue
# ----------------------------------------------------------------------------------------------------
def test_catalogue_size_and_edits_apply():
    assert len(BUGS) >= 40 and len(CORRECT) >= 10
    assert len({c["id"] for c in BUGS + CORRECT}) == len(BUGS) + len(CORRECT)
    for case in BUGS + CORRECT:
        assert case["module"] in autograder.SUBMITTED, case["id"]
        texts = case_modules(case)                          # every find occurs exactly once
        if case in BUGS:
            assert texts[case["module"]] != (NAIVE / f"{case['module']}.py").read_text(), case["id"]
            assert case["exit"] in (1, 2) and case["names"], case["id"]


@pytest.mark.parametrize("bug", BUGS, ids=[b["id"] for b in BUGS])
def test_bug_is_caught(bug, bug_verdicts):
    module_report, result, _ = bug_verdicts[bug["id"]]
    problems = verdict_problems(bug, module_report, result)
    assert not problems, "; ".join(problems) + "\n" + show(result)


def test_catch_rate(bug_verdicts, capsys):
    caught = [b["id"] for b in BUGS if bug_verdicts[b["id"]][0]["exit"] != 0]
    exact = [b["id"] for b in BUGS if not verdict_problems(b, bug_verdicts[b["id"]][0], bug_verdicts[b["id"]][1])]
    with capsys.disabled():
        print(f"\nautograder catalogue: {len(caught)}/{len(BUGS)} bugs caught ({100 * len(caught) / len(BUGS):.0f}%), "
              f"{len(exact)}/{len(BUGS)} with the expected exit code, function and message; missed: "
              f"{sorted(set(b['id'] for b in BUGS) - set(caught)) or 'none'}")
    assert len(caught) == len(BUGS)


@pytest.mark.parametrize("case", CORRECT, ids=[c["id"] for c in CORRECT])
def test_correct_alternative_passes(case, correct_verdicts):
    module_report, result, _ = correct_verdicts[case["id"]]
    assert module_report["exit"] == 0 and not failing(module_report), show(result)


def test_hint_and_message_of_a_wrong_gradient(bug_verdicts):
    """A FAIL names the function, the input that exposed it, got against expected and a hint at the usual cause."""
    module_report, result, _ = bug_verdicts["conv_backward_dx_kernel_flipped"]
    [check] = failing(module_report)
    assert check["status"] == "FAIL" and check["function"] == "conv_backward"
    assert "x (2, 3, 7, 5), w (4, 3, 3, 2)" in check["message"] and "got" in check["message"] \
        and "expected" in check["message"]
    assert "rotated 180 degrees" in check["hint"]
    assert "hint: the kernel must be flipped for dx" in result.stdout


def test_a_float32_result_names_the_dtype_and_no_other_function(bug_verdicts):
    module_report, result, _ = bug_verdicts["conv_forward_float32_result"]
    assert [c["function"] for c in failing(module_report)] == ["conv_forward"], show(result)
    [check] = failing(module_report)
    assert check["status"] == "ERROR" and "dtype float32, expected float64" in check["message"]
    statuses = {c["function"]: c["status"] for c in module_report["checks"]}
    assert statuses["conv_backward"] == "PASS"


def test_a_function_that_fails_because_another_does_gets_a_note(bug_verdicts):
    _, result, _ = bug_verdicts["rnn_step_backward_missing_tanh_derivative"]
    assert "note: rnn_step_backward fails too, and rnn_backward usually relies on it" in result.stdout, show(result)


# ----------------------------------------------------------------------------------------------------
# the naive implementations and the repository
# ----------------------------------------------------------------------------------------------------
def test_naive_implementations_pass_every_check():
    result = run(["--dir", NAIVE])
    assert result.returncode == 0, show(result)
    assert "FAIL" not in result.stdout and "ERROR" not in result.stdout
    assert f"from {NAIVE}" in result.stdout


def test_default_grades_this_folder():
    result = run(["cnn", "--no-optional"])
    assert result.returncode == 0, show(result)
    assert f"from {ROOT}\n" in result.stdout


# ----------------------------------------------------------------------------------------------------
# isolation, command line
# ----------------------------------------------------------------------------------------------------
def test_dir_grades_only_dir(tmp_path):
    """Missing modules are ERRORs naming the file (never the repository's); files beside the submission
    (a helper module, a broken layers.py) are not used: the course-style helpers come from the kit."""
    shutil.copy2(NAIVE / "cnn_layers.py", tmp_path / "cnn_layers.py")
    (tmp_path / "layers.py").write_text("raise ImportError('the student copy of layers.py must not be used')\n")
    (tmp_path / "rnn_layers.py").write_text("from my_helpers import *\n")
    (tmp_path / "my_helpers.py").write_text("def rnn_step_forward(*args):\n    return None\n")
    result = run(["--dir", tmp_path, "--no-optional", "--json", tmp_path / "r.json"])
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.returncode == 1, show(result)
    assert report["modules"]["cnn_layers"]["exit"] == 0
    for name in ("cnn", "rnn", "svm"):
        [check] = report["modules"][name]["checks"]
        assert check["status"] == "ERROR" and f"{name}.py is missing from {tmp_path}" in check["message"]
    [check] = report["modules"]["rnn_layers"]["checks"]
    assert check["function"] == "import rnn_layers.py" and "No module named 'my_helpers'" in check["message"]
    assert "10 checks of rnn_layers.py could not run" in check["message"]


def test_usage_errors_exit_1(tmp_path):
    assert run(["cnnn"]).returncode == 1
    assert run(["--dir", tmp_path / "nowhere"]).returncode == 1


def test_checks_run_under_pytest(tmp_path):
    env = {"HW4_AUTOGRADER_DIR": str(NAIVE)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "autograder.py"),
               "-k", "conv_forward or word_embedding"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, **env))
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
    assert result.returncode == 0, show(result)
    assert result.stdout.count("SKIP") == 4 and "torch is not installed" in result.stdout
    assert "sklearn.svm is not installed" in result.stdout


# ----------------------------------------------------------------------------------------------------
# the kit's oracles (each must be able to fail: compared with independent computations)
# ----------------------------------------------------------------------------------------------------
def test_conv_oracles_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for N, C, H, W, F, HH, WW in [*autograder.CONV_CASES, (2, 2, 9, 4, 3, 4, 1)]:
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW))
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        out = torch.nn.functional.conv2d(xt, wt)
        dout = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(dout))
        np.testing.assert_allclose(autograder.ref_conv(x, w), out.detach().numpy(), atol=1e-12)
        dx, dw = autograder.ref_conv_backward(x, w, dout)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-12)


def test_max_pool_oracles():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for shape, (ph, pw, s) in autograder.POOL_CASES:
        x = autograder.tie_free(rng, shape)
        xt = torch.tensor(x, requires_grad=True)
        out = torch.nn.functional.max_pool2d(xt, (ph, pw), s)
        dout = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(dout))
        np.testing.assert_allclose(autograder.ref_max_pool(x, ph, pw, s), out.detach().numpy())
        np.testing.assert_allclose(autograder.ref_max_pool_backward(x, dout, ph, pw, s), xt.grad.numpy())
    # Ties, by hand: a 2x2 window of equal maxima gives each the full gradient and overlapping windows add up
    # (the course's rule); the usual wrong answers split it, give it to the first only, or let overlapping
    # windows overwrite each other.
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]]])
    dout = np.array([[[[2.0, 3.0]]]])                     # 2x2 windows, stride 1: columns 0-1 and 1-2
    np.testing.assert_array_equal(autograder.ref_max_pool_backward(x, dout, 2, 2, 1),
                                  [[[[2.0, 5.0, 0.0], [2.0, 5.0, 0.0]]]])
    np.testing.assert_array_equal(autograder.ref_max_pool_backward(x, dout, 2, 2, 1, "share"),
                                  [[[[0.5, 2.0, 0.0], [0.5, 2.0, 0.0]]]])
    np.testing.assert_array_equal(autograder.ref_max_pool_backward(x, dout, 2, 2, 1, "first"),
                                  [[[[2.0, 3.0, 0.0], [0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(autograder.ref_max_pool_backward(x, dout, 2, 2, 1, "assign"),
                                  [[[[2.0, 3.0, 0.0], [2.0, 3.0, 0.0]]]])


def test_rnn_oracles_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
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
    np.testing.assert_allclose(autograder.ref_rnn_forward(x, h0, Wx, Wh, b), torch.stack(states).detach().numpy())
    for got, key in zip(autograder.ref_rnn_backward(x, h0, Wx, Wh, b, dh), ("x", "h0", "Wx", "Wh", "b")):
        np.testing.assert_allclose(got, t[key].grad.numpy(), atol=1e-12)
    scores = rng.standard_normal((N, T, V)) * 3
    y = rng.integers(0, V, (N, T))
    mask = rng.random((N, T)) < 0.6
    st = torch.tensor(scores, requires_grad=True)
    losses = torch.nn.functional.cross_entropy(st.reshape(-1, V), torch.tensor(y.reshape(-1)), reduction="none")
    (losses * torch.tensor(mask.reshape(-1), dtype=torch.float64)).sum().div(N).backward()
    loss, dx = autograder.ref_temporal_softmax_loss(scores, y, mask)
    np.testing.assert_allclose(loss, (losses * torch.tensor(mask.reshape(-1))).sum().item() / N)
    np.testing.assert_allclose(dx, st.grad.numpy(), atol=1e-12)


def test_reference_models_match_torch():
    """The reference ConvNet and CaptioningRNN compositions the model checks compare with."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    shapes, _ = autograder.convnet_shapes((2, 13, 11), 3, 4, 3, 5, 4)
    params = {k: autograder.tie_free(rng, s) for k, s in shapes.items()}
    X, y = autograder.tie_free(rng, (3, 2, 13, 11)), np.array([0, 3, 1])
    _, loss, grads = autograder.ref_convnet_loss(params, X, y)
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
    loss, grads = autograder.ref_captioning_loss(params, features, captions, 0)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(features) @ p["W_proj"] + p["b_proj"]
    total = 0
    for step in range(T):
        h = torch.tanh(p["W_embed"][torch.tensor(captions[:, step])] @ p["Wx"] + h @ p["Wh"] + p["b"])
        target = torch.tensor(captions[:, step + 1])
        ce = F.cross_entropy(h @ p["W_vocab"] + p["b_vocab"], target, reduction="none")
        total = total + (ce * (target != 0)).sum()
    (total / N).backward()
    np.testing.assert_allclose(loss, total.item() / N)
    for name in params:
        np.testing.assert_allclose(grads[name], p[name].grad.numpy(), atol=1e-12, err_msg=name)


def test_svm_oracles():
    rng = np.random.default_rng(4)
    X, y = autograder._blobs(rng, 30)
    y_pm = np.where(y == 1, 1.0, -1.0)
    kp = {"kernel": "rbf", "degree": 3, "gamma": 0.5, "coef0": 0.0}
    alpha = autograder.course_dual(X, y_pm, 1.0, kp)
    sklearn_svm = pytest.importorskip("sklearn.svm")
    svc = sklearn_svm.SVC(C=1.0, kernel="rbf", gamma=0.5, tol=1e-8).fit(X, y)
    expected = np.zeros(len(y))
    expected[svc.support_] = np.abs(svc.dual_coef_[0])
    np.testing.assert_allclose(alpha, expected, atol=1e-2)
    K = np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1))
    np.testing.assert_allclose(autograder.ref_gram(X, X, kp), K, atol=1e-12)
    support = alpha > 1e-4
    b = np.mean(y_pm[support] - K[np.ix_(support, support)] @ (alpha * y_pm)[support])
    np.testing.assert_allclose(autograder.ref_fit_bias(X, y_pm, alpha, kp), b)
    np.testing.assert_allclose(autograder.ref_decision(X[:5], X, y_pm, b, alpha, kp),
                               K[:5][:, support] @ (alpha * y_pm)[support] + b)
    probed = autograder.probe(alpha)
    smallest = np.argsort(alpha)[:4]
    assert list(probed[smallest]) == list(autograder.PROBE_ALPHAS) and np.all(alpha[smallest] < 1e-6)
    others = np.setdiff1d(np.arange(len(alpha)), smallest)
    np.testing.assert_array_equal(probed[others], alpha[others])
