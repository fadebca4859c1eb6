#!/usr/bin/env python
"""`make writeup`: build writeup.md, every answer HW4 asks for outside the autograded code, from the notebooks.

    python writeup.py                   # writes writeup.md (+ writeup_files/ for figures shown inline)
    python writeup.py --out other.md

Numbers, logs and figures are read from the executed notebooks' saved outputs (SUMMARY lines, printed logs,
inline figures) and from the figure files they saved ("saved figure NAME" lines); nothing is typed in here
except the derivations (Q4(a) and the short summary of the convolution gradient). Each question states the data
its numbers came from (real data or the offline default), as its notebook reported it, and the writeup warns
when a notebook's outputs are older than its modules (the FINGERPRINT check of `make submit`).

Exit status 0 when every required piece was found; 1 otherwise (writeup.md is still written, with a
"MISSING" line where a piece is absent, and the missing pieces are listed on stderr with the fix; a notebook
that cannot be read is named with the fix). writeup.md and each file of writeup_files/ are written atomically.
"""
import argparse
import base64
import re
import sys
from pathlib import Path

import run_notebooks
import submit
from data_utils import write_bytes_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("cnn.ipynb", "rnn.ipynb", "transfer_learning.ipynb", "svm.ipynb")
SAVED_FIGURE = re.compile(r"^saved figure (\S+)$")
EPOCH = re.compile(r"^Epoch (\d+)/(\d+)\s*$")
PHASE = re.compile(r"^(train|val) Loss: ([-+\d.eE]+|nan|inf) Acc: ([-+\d.eE]+|nan)\s*$")
KERNELS = ("linear", "poly", "rbf", "sigmoid")


# ----------------------------------------------------------------------------------------------------
# Reading a notebook
# ----------------------------------------------------------------------------------------------------
class Notebook:
    """The saved outputs of one executed notebook."""

    def __init__(self, root, name):
        self.root, self.name = Path(root), name
        self.path = self.root / name
        self.nb, self.error = None, None
        if self.path.exists():
            try:
                self.nb = run_notebooks.read_notebook(self.path)
            except run_notebooks.NotebookFailed as failure:
                self.error = f"{failure.reason}, then `make writeup`"
        self.cells = [c for c in self.nb.cells if c.cell_type == "code"] if self.nb else []

    @property
    def exists(self):
        return self.nb is not None

    def stdout(self, cell):
        return "".join(o.get("text", "") for o in cell.get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")

    def all_stdout(self):
        return "\n".join(self.stdout(c) for c in self.cells)

    def summaries(self):
        """[(key, value)] from the 'SUMMARY key: value' lines, in order."""
        pairs = []
        for line in self.all_stdout().splitlines():
            if line.startswith("SUMMARY ") and ": " in line:
                key, value = line[len("SUMMARY "):].split(": ", 1)
                pairs.append((key.strip(), value.strip()))
        return pairs

    def summary(self, *words):
        """The first SUMMARY value whose key contains every one of ``words`` (case-insensitive), or None."""
        for key, value in self.summaries():
            if all(w.lower() in key.lower() for w in words):
                return value
        return None

    def run_header(self):
        """The notebook's 'NAME run at ...' line, or None."""
        for line in self.all_stdout().splitlines():
            if " run at " in line and line.startswith(self.name):
                return line.strip()
        return None

    def saved_figures(self):
        """Figure files the run saved (from 'saved figure NAME' lines) that exist next to the notebook."""
        names = []
        for line in self.all_stdout().splitlines():
            match = SAVED_FIGURE.match(line.strip())
            if match and Path(match.group(1)).name not in names:
                names.append(Path(match.group(1)).name)
        return [n for n in names if (self.root / n).exists()]

    def cells_calling(self, pattern):
        return [c for c in self.cells if re.search(pattern, c.source)]

    def problems(self):
        """What `make submit` would say about this notebook's run (stale, smoke, unexecuted, errors)."""
        if not self.exists:
            return [f"{self.name} is missing"]
        return submit.check_notebook(self.path, root=self.root, nb=self.nb)


def inline_images(cells, out_dir, stem):
    """Write the PNG outputs of ``cells`` to out_dir/stem_K.png, each atomically, then remove the earlier
    stem_K.png files (ours) beyond the new count; return the new paths."""
    paths = []
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                path = out_dir / f"{stem}_{len(paths) + 1}.png"
                write_bytes_atomic(path, base64.b64decode(data["image/png"]))
                paths.append(path)
    for old in out_dir.glob(f"{stem}_*.png"):
        if re.fullmatch(rf"{re.escape(stem)}_\d+\.png", old.name) and old not in paths:
            old.unlink()
    return paths


def epoch_table(log):
    """Markdown table of a train_model log: one row per epoch with train/val loss and accuracy."""
    rows, epoch, before = [], None, None
    for line in log.splitlines():
        match = EPOCH.match(line.strip())
        if match:
            epoch = int(match.group(1))
            rows.append({"epoch": epoch})
            continue
        match = PHASE.match(line.strip())
        if match:
            phase, loss, acc = match.groups()
            if epoch is None:
                before = (loss, acc) if phase == "val" else before
            else:
                rows[-1][phase] = (loss, acc)
    if not rows:
        return None
    lines = ["| epoch | train loss | train acc | val loss | val acc |", "|---|---|---|---|---|"]
    if before:
        lines.append(f"| before training | | | {before[0]} | {before[1]} |")
    for row in rows:
        train, val = row.get("train", ("", "")), row.get("val", ("", ""))
        lines.append(f"| {row['epoch']} | {train[0]} | {train[1]} | {val[0]} | {val[1]} |")
    return "\n".join(lines)


def accuracy_tables(nb):
    """[(source of the cell, text)] of svm.ipynb outputs that look like test-accuracy tables (they name at
    least three of the four kernels and mention accuracy)."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text, kind = output.get("text", ""), "text"
            elif "text/markdown" in data:
                text, kind = data["text/markdown"], "markdown"
            elif "text/plain" in data and "image/png" not in data:
                text, kind = data["text/plain"], "text"
            else:
                continue
            lowered = (text + cell.source).lower()
            if sum(k in text.lower() for k in KERNELS) >= 3 and "acc" in lowered:
                found.append((cell.source, kind, text.strip()))
    return found


def code_block(text):
    return "```\n" + text.rstrip() + "\n```"


# ----------------------------------------------------------------------------------------------------
# The writeup
# ----------------------------------------------------------------------------------------------------
class Writeup:
    def __init__(self, root, out_path):
        self.root = Path(root)
        self.out_path = Path(out_path)
        self.files_dir = self.out_path.parent / "writeup_files"
        self.lines = []
        self.missing = []
        self.notebooks = {name: Notebook(self.root, name) for name in NOTEBOOKS}   # each read once

    def add(self, *texts):
        for text in texts:
            self.lines.append(text)
            self.lines.append("")

    def need(self, what, fix):
        self.missing.append(f"{what}: {fix}")
        self.add(f"> **MISSING: {what}.** {fix}")

    def figure(self, name, caption):
        relative = _relative(self.root / name, self.out_path.parent)
        self.add(f"![{caption}]({relative})", f"*{caption}* (`{name}`)")

    def provenance(self, nb, data_words=("data",), default="not stated by the notebook"):
        """The data line and run header of a notebook, and warnings from the submit check."""
        if not nb.exists:
            return
        data = [f"{k}: {v}" for k, v in nb.summaries()
                if any(re.search(rf"\b{w}\b", k, re.IGNORECASE) for w in data_words)]
        header = nb.run_header()
        self.add(f"*Source: `{nb.name}`{' — ' + header.split(' (')[0].replace(nb.name + ' ', '') if header else ''}. "
                 f"Data: {'; '.join(data) if data else default}.*")
        for problem in nb.problems():
            self.add(f"> **Warning:** {problem}")

    def summaries(self, nb):
        pairs = nb.summaries()
        if pairs:
            self.add("| headline (SUMMARY lines of the run) | value |\n|---|---|\n" +
                     "\n".join(f"| {k} | {v.replace('|', '/')} |" for k, v in pairs))

    # -- questions ---------------------------------------------------------------------------------
    def q1(self):
        nb = self.notebooks["cnn.ipynb"]
        self.add("## Q1. CNNs for multi-class classification")
        self.add("**(a), (b) (Autograder).** `cnn_layers.py` (`conv_forward`, `conv_backward`, max pooling) and "
                 "`cnn.py` (`ConvNet`); check them locally with `python autograder.py cnn`.")
        self.add("*Convolution gradient (summary of the appendix).* With $Y_{n,f} = \\sum_c X_{n,c} *_{filt} K_{f,c}$ "
                 "and $(a *_{filt} b)_{i,j} = \\sum_{p,q} a_{i+p-1,j+q-1} b_{p,q}$, one output entry depends on "
                 "$a_{k,l}$ through $b_{k-i+1,l-j+1}$ and on $b_{k,l}$ through $a_{i+k-1,j+l-1}$. Summing the "
                 "chain rule over all output positions $(i, j)$ turns the first into a full convolution with $b$ "
                 "and the second into a filtering of $a$; summing over the filters $f$ (every $Y_{n,f}$ uses "
                 "$X_{n,c}$) and over the examples $n$ (every example uses $K_{f,c}$) gives")
        self.add("$$\\frac{\\partial L}{\\partial X_{n,c}} = \\sum_{f=1}^{F} K_{f,c} *_{full} "
                 "\\frac{\\partial L}{\\partial Y_{n,f}}, \\qquad \\frac{\\partial L}{\\partial K_{f,c}} = "
                 "\\sum_{n=1}^{N} X_{n,c} *_{filt} \\frac{\\partial L}{\\partial Y_{n,f}}.$$")
        self.add("### Q1(c) Training on MNIST")
        if not nb.exists:
            self.need("cnn.ipynb", "run `make run`")
            return
        self.provenance(nb)
        accuracy = nb.summary("q1", "test accuracy") or nb.summary("test accuracy")
        if accuracy:
            self.add(f"**Test accuracy: {accuracy}** (as printed by the notebook).")
        else:
            self.need("the Q1 test accuracy (a 'SUMMARY Q1 test accuracy: ...' line in cnn.ipynb)",
                      "run cnn.ipynb to the end: .venv/bin/python run_notebooks.py cnn.ipynb")
        if "cnn.png" in nb.saved_figures():
            self.figure("cnn.png", "Q1(c): training loss per iteration (left), train/val accuracy per epoch (right)")
        else:
            self.need("cnn.png saved by cnn.ipynb", "run cnn.ipynb: .venv/bin/python run_notebooks.py cnn.ipynb")
        self.summaries(nb)

    def q2(self):
        nb = self.notebooks["rnn.ipynb"]
        self.add("## Q2. Image captioning with an RNN")
        self.add("**(a), (b) (Autograder).** `rnn_layers.py` (`temporal_fc_forward` / `temporal_fc_backward` and the "
                 "other layers) and `rnn.py` (`CaptioningRNN.loss`, `sample`); check them with "
                 "`python autograder.py rnn`.")
        self.add("### Q2(c) Learning curve and caption samples")
        if not nb.exists:
            self.need("rnn.ipynb", "run `make run`")
            return
        self.provenance(nb)
        if "image_captioning_loss.png" in nb.saved_figures():
            self.figure("image_captioning_loss.png", "Q2(c): training loss of the overfitting run")
        else:
            self.need("image_captioning_loss.png saved by rnn.ipynb", "run rnn.ipynb: "
                      ".venv/bin/python run_notebooks.py rnn.ipynb")
        final = nb.summary("final", "loss")
        if final:
            self.add(f"Final training loss: **{final}**.")
        sample_cells = nb.cells_calling(r"\.sample\(")
        images = inline_images(sample_cells, self.files_dir, "rnn_samples")
        texts = [nb.stdout(c).strip() for c in sample_cells if nb.stdout(c).strip()]
        if not images and not texts:
            self.need("caption samples (outputs of the rnn.ipynb cells that call model.sample)",
                      "run rnn.ipynb to the end")
            return
        self.add("**Caption samples** (sampled vs ground-truth captions, from the cells that call `sample`):")
        for path in images:
            self.add(f"![caption samples]({_relative(path, self.out_path.parent)})")
        for text in texts:
            self.add(code_block("\n".join(l for l in text.splitlines() if not l.startswith("SUMMARY "))))
        self.summaries(nb)

    def q3(self):
        nb = self.notebooks["transfer_learning.ipynb"]
        self.add("## Q3. Transfer learning")
        self.add("**(a)** `transfer_learning.py`: `train_model`, `finetune`, `freeze` (and `visualize_model`).")
        self.add("### Q3(b) Per-epoch train/val loss and accuracy")
        if not nb.exists:
            self.need("transfer_learning.ipynb", "run `make run`")
            return
        self.provenance(nb, data_words=("data", "weights"))
        figures = nb.saved_figures()
        for label, pattern, curve_word in (("finetune (every layer trained)", r"\bfinetune\(", "finetune"),
                                           ("freeze (only the new fc trained)", r"\bfreeze\(", "freeze")):
            log = "\n".join(nb.stdout(c) for c in nb.cells_calling(pattern))
            table = epoch_table(log)
            self.add(f"**{label}**")
            if table is None:
                self.need(f"the {curve_word} training log ('Epoch i/n' and 'train/val Loss: ... Acc: ...' lines)",
                          "run transfer_learning.ipynb: .venv/bin/python run_notebooks.py transfer_learning.ipynb")
                continue
            self.add(table)
            best = re.findall(r"^Best val Acc: (\S+)", log, re.M)
            if best:
                self.add(f"Best validation accuracy: **{best[-1]}** (its weights are the ones kept).")
            self.add("Log as printed:", code_block(log.strip()))
            for name in figures:
                if curve_word in name and "prediction" not in name:
                    self.figure(name, f"Q3(b): {curve_word} loss and accuracy per epoch")
        self.add("### Q3(c) Predictions")
        predictions = [n for n in figures if "prediction" in n]
        if len(predictions) < 2:
            self.need("the two prediction figures (finetuned and frozen model) saved by transfer_learning.ipynb",
                      "run transfer_learning.ipynb to the end")
        for name in predictions:
            which = "finetuned" if "finetune" in name else "frozen" if "freeze" in name else "model"
            self.figure(name, f"Q3(c): {which} model predictions (true class, then prediction)")
        self.summaries(nb)

    def q4(self):
        nb = self.notebooks["svm.ipynb"]
        self.add("## Q4. SVMs with convex optimization")
        self.add("### Q4(a) The dual as a cvxopt QP")
        self.add("The dual maximizes $\\sum_n \\alpha^{(n)} - \\frac12 \\sum_{n,m} \\alpha^{(n)} \\alpha^{(m)} y^{(n)} "
                 "y^{(m)} k(x^{(n)}, x^{(m)})$. By hint 1, maximizing it is minimizing its negative, "
                 "$\\frac12 \\alpha^\\top P \\alpha - \\mathbf{1}^\\top \\alpha$, with the $N \\times N$ matrix")
        self.add("$$P_{nm} = y^{(n)} y^{(m)} k(x^{(n)}, x^{(m)}) \\quad (P = yy^\\top \\circ K), \\qquad "
                 "q = -\\mathbf{1}_N .$$")
        self.add("By hint 2 the box $0 \\le \\alpha^{(n)} \\le C$ is the $2N$ inequalities $-\\alpha^{(n)} \\le 0$ "
                 "and $\\alpha^{(n)} \\le C$, i.e. $G v \\le h$ with")
        self.add("$$G = \\begin{bmatrix} -I_N \\\\ I_N \\end{bmatrix} \\in \\mathbb{R}^{2N \\times N}, \\qquad "
                 "h = \\begin{bmatrix} \\mathbf{0}_N \\\\ C\\,\\mathbf{1}_N \\end{bmatrix},$$")
        self.add("and the equality $\\sum_n \\alpha^{(n)} y^{(n)} = 0$ is $A v = b$ with")
        self.add("$$A = y^\\top = \\begin{bmatrix} y^{(1)} & \\cdots & y^{(N)} \\end{bmatrix} \\in "
                 "\\mathbb{R}^{1 \\times N}, \\qquad b = 0 .$$")
        self.add("With these, cvxopt's minimizer $v$ is the dual solution $\\alpha$. (For a positive "
                 "semidefinite kernel (linear, polynomial, RBF) $K$ is a Gram matrix and $P = D_y K D_y$ with "
                 "$D_y = \\mathrm{diag}(y)$ is positive semidefinite, so the QP is convex; the sigmoid kernel is "
                 "in general not positive semidefinite, and then the QP is not convex.)")
        self.add("**(b) (Autograder).** `svm.py`; check it with `python autograder.py svm`.")
        self.add("### Q4(c) Test accuracy and cvxopt decision boundaries")
        if not nb.exists:
            self.need("svm.ipynb", "run `make run`")
            return
        self.provenance(nb, default="the generated scikit-learn toy datasets (moons, circles, linearly separable, "
                                    "XOR); no download involved")
        tables = accuracy_tables(nb.nb)
        cvxopt_tables = [t for t in tables if "cvxopt" in (t[0] + t[2]).lower()]
        if not tables:
            self.need("the test-accuracy tables of svm.ipynb (outputs naming the kernels and the accuracy)",
                      "run svm.ipynb: .venv/bin/python run_notebooks.py svm.ipynb")
        elif not cvxopt_tables:
            self.need("the CVXOPTSVC test-accuracy table", "run svm.ipynb to the end")
        for source, kind, text in tables:
            which = "CVXOPTSVC (cvxopt)" if "cvxopt" in (source + text).lower() else "scikit-learn SVC"
            if kind == "markdown":      # a rendered table carries its own title
                self.add(text)
            else:
                self.add(f"**Test accuracy, {which}:**", code_block(text))
        for line in nb.all_stdout().splitlines():       # fits where cvxopt stopped early (circles / sigmoid)
            if "did not reach 'optimal'" in line:
                self.add(f"*Note:* {line.strip().replace(' (see below)', '')}. The sigmoid Gram matrix is indefinite "
                         "there, so the QP is not convex; svm.ipynb shows where cvxopt stopped and what "
                         "`CVXOPTSVC(solver='structured')` finds instead.")
        figures = [n for n in nb.saved_figures() if n.startswith("svm")]
        cvxopt_figures = [n for n in figures if "cvxopt" in n.lower()]
        if not cvxopt_figures:
            self.need("the cvxopt decision-boundary figures (svm_*cvxopt*.png saved by svm.ipynb)",
                      "run svm.ipynb: .venv/bin/python run_notebooks.py svm.ipynb")
        for name in cvxopt_figures + [n for n in figures if n not in cvxopt_figures]:
            which = "CVXOPTSVC" if name in cvxopt_figures else "scikit-learn SVC"
            support = " with support vectors highlighted" if "support" in name or "_sv" in name else ""
            self.figure(name, f"Q4(c): {which} decision boundaries{support}")
        self.summaries(nb)

    def build(self):
        self.add("# EECS 545 (Winter 2023) HW4 — writeup",
                 "*Generated by `make writeup` from the executed notebooks and the figures they saved: re-run "
                 "`make run` and then `make writeup` after changing any code; do not edit by hand. The autograded "
                 "parts are the `.py` files (check them with `python autograder.py`; pack them with "
                 "`make submit`).*")
        for name, nb in self.notebooks.items():
            if nb.error:
                self.need(f"{name} is unreadable", nb.error)
        for question in (self.q1, self.q2, self.q3, self.q4):
            question()
        return "\n".join(self.lines).rstrip() + "\n"


def _relative(path, start):
    try:
        return Path(path).resolve().relative_to(Path(start).resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT), help="folder with the notebooks and figures")
    parser.add_argument("--out", default=None, help="output markdown file (default: ROOT/writeup.md)")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    out = Path(args.out) if args.out else root / "writeup.md"
    writeup = Writeup(root, out)
    text = writeup.build()
    write_text_atomic(out, text)
    print(f"wrote {out} ({len(text.splitlines())} lines)")
    if writeup.missing:
        print(f"\n{len(writeup.missing)} piece(s) missing (marked MISSING in {out.name}):", file=sys.stderr)
        for item in writeup.missing:
            print(f"  - {item}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
