"""hw4/submit.py (`make submit`): each check catches what it should, packing is exact, and the committed files pass."""
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from hw4 import submit

ROOT = Path(__file__).resolve().parents[1]


def make_notebook(path, fingerprints, counts=None, outputs=True, error=False, smoke=False, cells=3):
    """Write an executed-looking notebook: a header cell with FINGERPRINT lines, then `cells - 1` code cells."""
    nb = nbformat.v4.new_notebook()
    header = f"x.ipynb run at 2026-01-01T00:00:00 (Python 3.11, smoke={smoke}, offline=True)\n"
    header += "".join(f"FINGERPRINT {m} {h}\n" for m, h in fingerprints.items())
    counts = list(range(1, cells + 1)) if counts is None else counts
    nb.cells.append(nbformat.v4.new_markdown_cell("# title"))
    for i in range(cells):
        cell = nbformat.v4.new_code_cell(f"print({i})")
        cell.execution_count = counts[i]
        if outputs:
            text = header if i == 0 else f"{i}\n"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    if error:
        nb.cells[-1].outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]))
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fake_root(tmp_path):
    """A folder with every submitted file: trivial modules and notebooks whose fingerprints match them."""
    for notebook, modules in submit.SUBMISSION.items():
        for module in modules:
            (tmp_path / module).write_text(f"VALUE = {module!r}\n")
        make_notebook(tmp_path / notebook, {m: submit.fingerprint(tmp_path / m) for m in modules})
    return tmp_path


# ----------------------------------------------------------------------------------------------------
# notebooks
# ----------------------------------------------------------------------------------------------------
def test_good_notebook_passes(fake_root):
    assert submit.check_notebook(fake_root / "cnn.ipynb") == []


@pytest.mark.parametrize("kwargs, expected", [
    (dict(counts=[1, 3, 2]), "execution counts are [1, 3, 2], not 1..3 in order"),
    (dict(counts=[2, 3, 4]), "not 1..3 in order"),
    (dict(counts=[1, None, 2]), "was never executed"),
    (dict(error=True), "has an error output (ValueError: bad)"),
    (dict(smoke=True), "smoke run"),
])
def test_bad_runs_are_caught(fake_root, kwargs, expected):
    path = fake_root / "cnn.ipynb"
    make_notebook(path, {m: submit.fingerprint(fake_root / m) for m in ("cnn_layers.py", "cnn.py")}, **kwargs)
    problems = submit.check_notebook(path)
    assert any(expected in p for p in problems), problems
    assert all("python -m hw4.notebooks cnn.ipynb" in p for p in problems)    # every message says how to fix it


def test_cleared_outputs_are_caught(fake_root):
    path = make_notebook(fake_root / "svm.ipynb", {}, outputs=False)
    problems = submit.check_notebook(path)
    assert any("holds no outputs" in p for p in problems)
    assert any("printed no FINGERPRINT lines" in p for p in problems)


def test_module_changed_after_the_run_is_caught(fake_root):
    path = fake_root / "rnn.ipynb"
    assert submit.check_notebook(path) == []
    (fake_root / "rnn.py").write_text("VALUE = 'edited after the notebook ran'\n")
    problems = submit.check_notebook(path)
    assert len(problems) == 1 and "executed before the last change of rnn.py" in problems[0], problems


def test_helper_fingerprints_count_too_and_required_modules_must_appear(fake_root):
    (fake_root / "solver.py").write_text("old = 1\n")
    path = make_notebook(fake_root / "cnn.ipynb", {"cnn.py": submit.fingerprint(fake_root / "cnn.py"),
                                                   "solver.py": submit.fingerprint(fake_root / "solver.py")})
    (fake_root / "solver.py").write_text("new = 2\n")
    problems = submit.check_notebook(path)
    assert any("did not fingerprint cnn_layers.py" in p for p in problems), problems
    assert any("last change of solver.py" in p for p in problems), problems


def test_invalid_notebook_is_caught(fake_root):
    (fake_root / "svm.ipynb").write_text("{not json")
    problems = submit.check_notebook(fake_root / "svm.ipynb")
    assert len(problems) == 1 and "is not a valid notebook" in problems[0]


def test_fingerprint_is_the_files_sha256_prefix(fake_root):
    import hashlib

    digest = hashlib.sha256((fake_root / "cnn.py").read_bytes()).hexdigest()
    assert submit.fingerprint(fake_root / "cnn.py") == digest[:16]


def test_notes_name_repository_only_imports(fake_root):
    (fake_root / "notebook_utils.py").write_text("")
    nb = nbformat.read(fake_root / "cnn.ipynb", as_version=4)
    nb.cells[1].source = "import numpy as np\nimport notebook_utils\nfrom cnn import VALUE\nfrom solver import Solver"
    nbformat.write(nb, fake_root / "cnn.ipynb")
    (fake_root / "solver.py").write_text("")
    notes = submit.notebook_notes(fake_root / "cnn.ipynb", fake_root)
    assert len(notes) == 1 and "imports notebook_utils.py" in notes[0]


# ----------------------------------------------------------------------------------------------------
# files and imports
# ----------------------------------------------------------------------------------------------------
def test_missing_and_empty_files(fake_root):
    assert submit.check_files(fake_root) == []
    (fake_root / "svm.py").unlink()
    (fake_root / "rnn.ipynb").write_text("")
    problems = submit.check_files(fake_root)
    assert len(problems) == 2
    assert "rnn.ipynb is empty" in problems[0] and "svm.py is missing" in problems[1]


def test_imports_only_see_the_submission_and_course_helpers(fake_root):
    assert submit.check_imports(fake_root) == []
    (fake_root / "data_utils.py").write_text("X = 1\n")      # exists in the repo, is not submitted
    (fake_root / "transfer_learning.py").write_text("import data_utils\n")
    (fake_root / "layers.py").write_text("def fc_forward(): pass\n")   # a course helper: allowed
    (fake_root / "cnn.py").write_text("from layers import fc_forward\n")
    (fake_root / "svm.py").write_text("raise RuntimeError('boom')\n")
    problems = submit.check_imports(fake_root)
    assert len(problems) == 2, problems
    assert "transfer_learning.py does not import without data_utils.py" in problems[0]
    assert "svm.py does not import" in problems[1] and "RuntimeError: boom" in problems[1]


# ----------------------------------------------------------------------------------------------------
# packing and the command
# ----------------------------------------------------------------------------------------------------
def test_pack_writes_exactly_the_submission(fake_root):
    zip_path = submit.pack(fake_root, fake_root / "submission", fake_root / "submission.zip")
    assert sorted(p.name for p in (fake_root / "submission").iterdir()) == sorted([*submit.FILES, submit.MARKER])
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == sorted(submit.FILES)          # the marker is not submitted
        for name in submit.FILES:
            assert archive.read(name) == (fake_root / name).read_bytes()
    (fake_root / "cnn.py").write_text("VALUE = 'second version'\n")
    submit.pack(fake_root, fake_root / "submission", fake_root / "submission.zip")     # its own folder: replaced
    assert (fake_root / "submission" / "cnn.py").read_text() == "VALUE = 'second version'\n"
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.read("cnn.py") == b"VALUE = 'second version'\n"
    assert [p.name for p in fake_root.iterdir() if p.name.startswith(".")] == []     # no temporary left


@pytest.mark.parametrize("packed_first, prepare, expected", [
    (False, lambda out: out.mkdir() or (out / "thesis.tex").write_text("mine"), "was not created by submit.py"),
    (True, lambda out: (out / "thesis.tex").write_text("mine"), "holds files submit.py did not write there (thesis.tex)"),
    (True, lambda out: (out / "cnn.py").write_text("# edited in submission/"), "was changed after submit.py wrote it"),
    (True, lambda out: (out / submit.MARKER).write_text("{"), "was not created by submit.py"),
])
def test_out_is_replaced_only_when_submit_made_it(fake_root, monkeypatch, capsys, packed_first, prepare, expected):
    out = fake_root / "elsewhere"
    if packed_first:
        submit.pack(fake_root, out, fake_root / "submission.zip")
    prepare(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(submit.OutputRefused, match=re.escape(expected)):
        submit.pack(fake_root, out, fake_root / "other.zip")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and not (fake_root / "other.zip").exists()

    monkeypatch.setattr(submit, "run_checks", lambda *a, **k: pytest.fail("checks must not run when refused"))
    assert submit.main(["--root", str(fake_root), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "refused:" in printed and expected in printed and "Nothing was checked or packed" in printed
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_out_never_the_checkout_and_zip_never_a_foreign_file(fake_root, monkeypatch):
    (fake_root / ".git").mkdir()
    (fake_root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for out in (fake_root, fake_root.parent):
        with pytest.raises(submit.OutputRefused, match="is the repository or a folder holding it"):
            submit.pack(fake_root, out, fake_root / "submission.zip")
    (fake_root / "notes.zip").write_bytes(b"not a zip at all")
    with pytest.raises(submit.OutputRefused, match="notes.zip exists and is not a submission zip"):
        submit.pack(fake_root, fake_root / "submission", fake_root / "notes.zip")
    with pytest.raises(submit.OutputRefused, match="is inside --out"):
        submit.pack(fake_root, fake_root / "submission", fake_root / "submission" / "x.zip")
    assert (fake_root / ".git" / "HEAD").exists() and (fake_root / "notes.zip").read_bytes() == b"not a zip at all"
    assert not (fake_root / "submission").exists()


def test_zip_written_atomically(fake_root, monkeypatch):
    from test_data_utils import disk_full

    zip_path = submit.pack(fake_root, fake_root / "submission", fake_root / "submission.zip")
    previous = zip_path.read_bytes()
    (fake_root / "svm.py").write_text("VALUE = 'new'\n" * 200)
    disk_full(monkeypatch, fake_root, room=200)
    with pytest.raises(OSError, match="No space left"):
        submit.pack(fake_root, fake_root / "submission", zip_path)
    monkeypatch.undo()
    assert zip_path.read_bytes() == previous
    assert sorted(p.name for p in fake_root.iterdir() if "tmp" in p.name or p.name.startswith(".")) == []


def test_main_packs_only_when_every_check_passes(fake_root, monkeypatch, capsys):
    monkeypatch.setattr(submit, "check_autograder", lambda root: [])
    assert submit.main(["--root", str(fake_root)]) == 0
    assert (fake_root / "submission.zip").exists()
    assert "all checks passed" in capsys.readouterr().out

    (fake_root / "submission.zip").unlink()
    monkeypatch.setattr(submit, "check_autograder", lambda root: ["python autograder.py exits 2"])
    assert submit.main(["--root", str(fake_root)]) == 1
    assert not (fake_root / "submission.zip").exists()
    assert "Nothing was packed" in capsys.readouterr().out


def test_autograder_check_runs_on_the_submitted_modules(tmp_path):
    """A sign error in a submitted module makes the autograder check fail with its exit status 2."""
    for name in (*submit.FILES, *submit.COURSE_HELPERS):
        if name.endswith(".py") and (ROOT / name).exists():
            (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "rnn_layers.py").write_text((ROOT / "rnn_layers.py").read_text() + (
        "\n_original = word_embedding_backward\n"
        "def word_embedding_backward(dout, cache):\n    return -_original(dout, cache)\n"))
    problems = submit.check_autograder(tmp_path)
    assert len(problems) == 1 and "exits 2" in problems[0] and "word_embedding" in problems[0], problems


# ----------------------------------------------------------------------------------------------------
# the committed repository (passes once every notebook has been executed by `make run` after the last change)
# ----------------------------------------------------------------------------------------------------
def test_committed_files_satisfy_the_submit_checks():
    problems = submit.check_files(ROOT) + submit.check_imports(ROOT)
    for notebook in submit.SUBMISSION:
        if (ROOT / notebook).exists():
            problems += submit.check_notebook(ROOT / notebook)
    assert problems == [], "\n".join(problems)
