#!/usr/bin/env python
"""`make writeup`: writeup.pdf for Gradescope (and its source writeup.md), every answer HW4 asks for outside the
autograded code, from the executed notebooks.

    python -m hw4.writeup                                    # writes writeup.md, writeup.pdf (+ writeup_files/)
    python -m hw4.writeup --name "Ada Lovelace" --uniqname adal --collaborators "none"

Numbers, logs and figures are read from the notebooks' saved outputs (SUMMARY lines, printed logs, inline figures)
and from the figure files they saved ("saved figure NAME" lines). Only the derivations are typed in: Q4(a) and a
summary of the convolution gradient, in hw4/writeup_text.md. Each answer says which notebook it comes from, when
that ran and on which data (real data or an offline stand-in, as the notebook reported it).

The PDF (hw4/pdf.py: pandoc, then Typst) opens with a cover: name, uniqname and collaborators (saved in
writeup_cover.txt, see hw4/cover.py; a placeholder and a warning when not set) and the pages of each
subquestion for Gradescope's page selection. Each written subquestion starts a page and is a PDF bookmark.

Exit status 0 when every notebook ran in full after its modules' last change and every piece was found. Else 1:
the problems are listed on stderr with the command that fixes each, writeup.md marks them, and writeup.pdf is
replaced by a DRAFT (stamped on every page, the problems on its cover), so no complete-looking PDF is left.
Every file is written atomically; an unwritable writeup.pdf is reported and kept as it was.
"""
import argparse
import re
import sys
import time
from pathlib import Path

from hw4 import cover as cover_fields
from hw4 import lines, pdf
from hw4.outputs import Notebook, accuracy_tables, epoch_table, inline_images
from hw4.files import display_path, error_summary, without_machine_paths, write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
FIXED_TEXT = Path(__file__).with_name("writeup_text.md")
TITLE = "EECS 545 (Winter 2023) Homework 4"
# Page geometry of hw4/writeup.typ (US letter, 0.85 in side margins), to size the figures.
TEXT_WIDTH_INCHES = 6.8
# Every part of the homework, in order: (part, what answers it, label of its heading in the PDF or, for parts
# that take no pages, what the cover says instead).
SUBQUESTIONS = (
    ("Q1(a)", "conv_forward, conv_backward in cnn_layers.py", "(Autograder)"),
    ("Q1(b)", "ConvNet in cnn.py", "(Autograder)"),
    ("Q1(c)", "CNN on MNIST: test accuracy and loss plot (cnn.png)", "#q1c"),
    ("Q2(a)", "temporal_fc_forward, temporal_fc_backward in rnn_layers.py", "(Autograder)"),
    ("Q2(b)", "CaptioningRNN.loss in rnn.py", "(Autograder)"),
    ("Q2(c)", "captioning RNN: learning curve and caption samples", "#q2c"),
    ("Q3(a)", "train_model, finetune, freeze in transfer_learning.py (graded from the submitted code)", "(code)"),
    ("Q3(b)", "transfer learning: per-epoch train/val loss and accuracy", "#q3b"),
    ("Q3(c)", "transfer learning: prediction figures", "#q3c"),
    ("Q4(a)", "the SVM dual as a cvxopt QP: P, q, G, h, A, b", "#q4a"),
    ("Q4(b)", "svm.py", "(Autograder)"),
    ("Q4(c)", "SVMs: test accuracy per dataset, cvxopt decision boundaries", "#q4c"),
)


def fixed_text(section):
    """The section ``section`` of hw4/writeup_text.md: the derivations and notes typed once, in LaTeX."""
    parts = re.split(r"^<!-- section: (.+?) -->\n", FIXED_TEXT.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))[section].strip()


def code_block(text, language=""):
    return f"```{language}\n" + text.rstrip() + "\n```"


def figure_width(path, max_height_inches):
    """'NN%' of the text width at which the image at ``path`` is as wide as the text but at most
    ``max_height_inches`` tall."""
    from PIL import Image

    with Image.open(path) as image:
        image.verify()          # a truncated or damaged file fails here, with its name, rather than in Typst
        width, height = image.size
    return f"{min(100, round(100 * max_height_inches * width / height / TEXT_WIDTH_INCHES))}%"


# ----------------------------------------------------------------------------------------------------
# The writeup
# ----------------------------------------------------------------------------------------------------
class Writeup:
    """writeup.md's body, built from the notebooks in ``root``; ``problems`` lists what keeps it from being
    complete (each with its fix)."""

    def __init__(self, root):
        self.root = Path(root)
        self.files_dir = self.root / "writeup_files"
        self.blocks = []
        self.problems = []
        self.notebooks = {name: Notebook(self.root, name, self.files_dir)              # each read once
                          for name in lines.NOTEBOOKS}

    def add(self, *texts):
        self.blocks.extend(texts)

    def heading(self, part):
        """The page-starting heading of a written subquestion, labelled for the cover's page list."""
        answer, anchor = next((a, p[1:]) for q, a, p in SUBQUESTIONS if q == part)
        self.add(f"## {part} {answer[0].upper()}{answer[1:]} {{#{anchor}}}")

    def need(self, what, fix):
        self.problems.append(f"{what}: {fix}")
        self.add(f"> **MISSING: {what}.** {fix}")

    def figure(self, path, caption, max_height_inches=4.0):
        """A figure (``path`` inside root) with its caption and file name, sized to fit ``max_height_inches``."""
        relative = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        try:
            width = figure_width(self.root / relative, max_height_inches)
        except (OSError, SyntaxError, ValueError) as exc:      # what Pillow raises for a damaged image
            self.need(f"{relative} cannot be read as an image ({error_summary(exc)})",
                      "run the notebook that saves it again (make run)")
            return
        self.add(f"![{caption} (`{Path(relative).name}`)]({relative}){{width={width}}}")

    def source(self, nb, data_words=("data",), default="not stated by the notebook"):
        """The answer's source line: notebook, run time, data; the notebook's problems are marked and recorded.
        False when the notebook is missing or unreadable (then the answer holds only a MISSING mark)."""
        if not nb.exists:
            self.need(f"{nb.name} {'is unreadable' if nb.error else 'is missing'}",
                      nb.error or f"run it: make run (or .venv/bin/python -m hw4.notebooks {nb.name})")
            return False
        self.add(f"*Source: `{nb.name}`, run at {nb.run_time() or 'an unknown time'}. "
                 f"Data: {nb.data(data_words) or default}.*")
        for problem in map(without_machine_paths, nb.problems()):
            self.problems.append(problem)
            self.add(f"> **Not for submission:** {problem}")
        return True

    def other_summaries(self, nb):
        """The SUMMARY lines not shown yet, as a table."""
        rest = [(k, v) for k, v in nb.summaries() if k not in nb.used]
        if rest:
            self.add(f"| other results of `{nb.name}` | value |\n|:---|:---|\n" +
                     "\n".join(f"| {k} | {v.replace('|', '/')} |" for k, v in rest))

    # -- questions ---------------------------------------------------------------------------------
    def q1(self):
        nb = self.notebooks["cnn.ipynb"]
        self.heading("Q1(c)")
        if not self.source(nb):
            return
        accuracy = nb.summary("q1", "test accuracy") or nb.summary("test accuracy")
        if accuracy:
            self.add(f"**Test accuracy: {accuracy}**")
        else:
            self.need("the Q1 test accuracy (a 'SUMMARY Q1 test accuracy: ...' line in cnn.ipynb)",
                      "run cnn.ipynb to the end: .venv/bin/python -m hw4.notebooks cnn.ipynb")
        figures = nb.saved_figures()
        if "cnn.png" in figures:
            self.figure(figures["cnn.png"], "Q1(c): training loss per iteration (left), train/val accuracy per "
                                            "epoch (right)")
        else:
            self.need("cnn.png saved by cnn.ipynb", "run cnn.ipynb: .venv/bin/python -m hw4.notebooks cnn.ipynb")
        self.other_summaries(nb)

    def q2(self):
        nb = self.notebooks["rnn.ipynb"]
        self.heading("Q2(c)")
        if not self.source(nb):
            return
        figures = nb.saved_figures()
        if "image_captioning_loss.png" in figures:
            self.figure(figures["image_captioning_loss.png"], "Q2(c): training loss per iteration",
                        max_height_inches=3.3)
        else:
            self.need("image_captioning_loss.png saved by rnn.ipynb",
                      "run rnn.ipynb: .venv/bin/python -m hw4.notebooks rnn.ipynb")
        final = nb.summary("final", "loss")
        if final:
            self.add(f"Final training loss: **{final}**.")
        sample_cells = nb.cells_calling(r"\.sample\(")
        images = inline_images(sample_cells, self.files_dir, "rnn_samples")
        texts = [nb.stdout(c).strip() for c in sample_cells if nb.stdout(c).strip()]
        if not images and not texts:
            self.need("caption samples (outputs of the rnn.ipynb cells that call model.sample)",
                      "run rnn.ipynb to the end: .venv/bin/python -m hw4.notebooks rnn.ipynb")
            return
        self.add("### Caption samples", "Sampled and ground-truth (GT) captions, from the cells that call `sample`:")
        for number, path in enumerate(images, 1):
            self.figure(path, f"Q2(c): caption samples, set {number}", max_height_inches=2.2)
        for text in texts:
            self.add(code_block("\n".join(l for l in text.splitlines() if not l.startswith("SUMMARY "))))
        self.other_summaries(nb)

    def q3(self):
        nb = self.notebooks["transfer_learning.ipynb"]
        self.heading("Q3(b)")
        logs = []
        if self.source(nb, data_words=("data", "weights")):
            majority = nb.summary("majority")
            if majority:
                self.add(f"Always predicting the larger class scores **{majority}** on the validation set.")
            logs = self.q3_epochs(nb)
            self.other_summaries(nb)
        self.heading("Q3(c)")
        if not nb.exists:
            self.add(f"See Q3(b): {nb.name} is {'unreadable' if nb.error else 'missing'}.")
            return logs
        self.add(f"*Source: `{nb.name}`, run at {nb.run_time() or 'an unknown time'}; data as in Q3(b).*")
        figures = nb.saved_figures()
        predictions = [n for n in figures if "prediction" in n]
        if len(predictions) < 2:
            self.need("the two prediction figures (finetuned and frozen model) saved by transfer_learning.ipynb",
                      "run transfer_learning.ipynb to the end: .venv/bin/python -m hw4.notebooks "
                      "transfer_learning.ipynb")
        for name in predictions:
            which = "finetuned" if "finetune" in name else "frozen-feature" if "freeze" in name else "trained"
            self.figure(figures[name], f"Q3(c): predictions of the {which} model on validation images (each "
                                       f"title: true class, then the prediction)", max_height_inches=5.6)
        return logs

    def q3_epochs(self, nb):
        """Q3(b)'s two per-epoch tables, best accuracies and curves; return the raw logs [(title, log)]."""
        logs = []
        for title, pattern, word in (("Finetuning: every layer trained", r"\bfinetune\(", "finetune"),
                                     ("Frozen features: only the new fc layer trained", r"\bfreeze\(", "freeze")):
            log = "\n".join(nb.stdout(c) for c in nb.cells_calling(pattern)).strip()
            self.add(f"### {title}")
            table = epoch_table(log)
            if table is None:
                self.need(f"the {word} training log ('Epoch i/n' and 'train/val Loss: ... Acc: ...' lines)",
                          "run transfer_learning.ipynb: .venv/bin/python -m hw4.notebooks transfer_learning.ipynb")
                continue
            best = re.findall(r"^Best val Acc: (\S+)", log, re.M)
            nb.summary(word, "best val acc")         # the same number as the log's last line
            seconds = nb.summary(word, "time")
            # the caption keeps the best accuracy on the table's page (a table with a caption is one figure)
            self.add(table + f"\n\n: Per-epoch log of {word}"
                     + (f"; best validation accuracy **{best[-1]}** (its weights are kept)" if best else "")
                     + (f"; training time {seconds}" if seconds else ""))
            for name, path in nb.saved_figures().items():
                if word in name and "prediction" not in name:
                    self.figure(path, f"Q3(b): {word} loss and accuracy per epoch (x = 0: before "
                                      f"training; x = k: after the logged epoch k\u22121)", 2.6)
            logs.append((title, log))
        return logs

    def q4(self):
        nb = self.notebooks["svm.ipynb"]
        self.heading("Q4(a)")
        self.add(fixed_text("Q4(a)"))
        self.heading("Q4(c)")
        if not self.source(nb, default="the generated scikit-learn toy datasets (moons, circles, linearly "
                                       "separable, XOR); no download involved"):
            return {}
        self.q4_accuracy(nb)
        figures = {n: path for n, path in nb.saved_figures().items() if n.startswith("svm")}
        cvxopt_figures = [n for n in figures if "cvxopt" in n.lower()]
        if not cvxopt_figures:
            self.need("the cvxopt decision-boundary figures (svm_*cvxopt*.png saved by svm.ipynb)",
                      "run svm.ipynb: .venv/bin/python -m hw4.notebooks svm.ipynb")
        for name in cvxopt_figures:
            self.figure(figures[name], f"Q4(c): CVXOPTSVC decision boundaries{_support(name)}", 5.8)
        self.other_summaries(nb)
        return {n: path for n, path in figures.items() if n not in cvxopt_figures}

    def q4_accuracy(self, nb):
        """Both test-accuracy tables of svm.ipynb (scikit-learn SVC, CVXOPTSVC) and the fits cvxopt left early."""
        tables = accuracy_tables(nb.nb)
        if not tables:
            self.need("the test-accuracy tables of svm.ipynb (outputs naming the kernels and the accuracy)",
                      "run svm.ipynb: .venv/bin/python -m hw4.notebooks svm.ipynb")
        elif not any("cvxopt" in (source + text).lower() for source, _, text in tables):
            self.need("the CVXOPTSVC test-accuracy table", "run svm.ipynb to the end")
        for source, kind, text in tables:
            which = "CVXOPTSVC (cvxopt)" if "cvxopt" in (source + text).lower() else "scikit-learn SVC"
            if kind == "markdown":      # a rendered table carries its own title
                self.add(text)
            else:
                self.add(f"**Test accuracy, {which}:**", code_block(text))
        for line in nb.all_stdout_lines():       # fits where cvxopt stopped early (circles / sigmoid)
            if "did not reach 'optimal'" in line:
                self.add(f"*Note:* {line.strip().replace(' (see below)', '')}. The sigmoid Gram matrix is "
                         "indefinite there, so the QP is not convex; svm.ipynb shows where cvxopt stopped and what "
                         "`CVXOPTSVC(solver='structured')` finds instead.")

    def appendix(self, logs, other_svm_figures):
        self.add("## Appendix: the autograded parts and the raw logs {#appendix}",
                 "Not asked for in a written answer; for reference.",
                 fixed_text("autograded"))
        for title, log in logs:
            self.add(f"### Q3(b) log as printed: {title[0].lower()}{title[1:]}", code_block(log, "trainlog"))
        for name, path in other_svm_figures.items():
            self.figure(path, f"Q4: scikit-learn SVC decision boundaries{_support(name)}", 4.1)

    def build(self):
        """writeup.md's body (every subquestion, then the appendix)."""
        self.q1()
        self.q2()
        logs = self.q3() or []
        svm_figures = self.q4()
        self.appendix(logs, svm_figures or {})
        return "\n\n".join(self.blocks) + "\n"

    def cover(self, fields):
        """The PDF cover (see hw4/writeup.typ): the fields, the subquestions, each run's data, the problems."""
        runs = [{"notebook": nb.name, "run": nb.run_time() or "not run",
                 "data": nb.data(("data", "weights")) or ("generated toy datasets" if nb.name == "svm.ipynb" else
                                                          "not stated") if nb.exists else
                 f"{'unreadable' if nb.error else 'missing'}: see the problems above"}
                for nb in self.notebooks.values()]
        subquestions = [{"part": part, "answer": answer, "anchor": pages[1:] if pages.startswith("#") else None,
                         "pages": pages} for part, answer, pages in SUBQUESTIONS]
        placeholders = {f: f"NOT SET: make writeup {cover_fields.setting(f)}" for f in cover_fields.FIELDS}
        return {"title": TITLE, **{f: fields.get(f) for f in cover_fields.FIELDS}, "placeholders": placeholders,
                "subquestions": subquestions, "runs": runs, "problems": list(self.problems)}


def _support(name):
    return " with support vectors highlighted" if "support" in name or "_sv" in name else ""


def cover_markdown(cover):
    """writeup.md's opening: title, cover fields, the parts answered by code."""
    fields = " · ".join(f"**{field.capitalize()}:** {cover[field] or cover['placeholders'][field]}"
                        for field in cover_fields.FIELDS)
    code_parts = ", ".join(q["part"] for q in cover["subquestions"] if q["anchor"] is None)
    return (f"# {cover['title']}\n\n{fields}\n\n*Source of writeup.pdf, the file for Gradescope (its cover lists the "
            f"pages of each subquestion); both are written by `make writeup` from the executed notebooks: do not "
            f"edit by hand. Answered by the submitted code: {code_parts}.*\n\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT), help="folder with the notebooks and figures; writeup.md and "
                                                          "writeup.pdf are written there")
    for field, variable in cover_fields.FIELDS.items():
        parser.add_argument(f"--{field}", default=None, help=f"cover field (make writeup {variable}=...); saved "
                                                             f"in {cover_fields.COVER_FILE}, '' unsets it")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = Path(args.root).resolve()
    writeup = Writeup(root)
    try:
        fields = cover_fields.update_cover(root / cover_fields.COVER_FILE,
                                           {f: getattr(args, f) for f in cover_fields.FIELDS})
        body = writeup.build()
        cover = writeup.cover(fields)
        write_text_atomic(root / "writeup.md", cover_markdown(cover) + body)
        pdf.write_pdf(root / "writeup.pdf", pdf.typeset(body, cover, root))
    except (ValueError, pdf.PdfError) as exc:
        print(f"make writeup: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:      # a full disk or a read-only folder; every file is written atomically
        where = display_path(exc.filename) if exc.filename else display_path(root)
        print(f"make writeup: cannot write {where} ({exc.strerror or exc}); the files it would replace are "
              f"unchanged: free some disk space or make {display_path(root)} writable, then run make writeup "
              f"again", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    state = "a DRAFT, not for Gradescope" if writeup.problems else "ready for Gradescope"
    print(f"wrote {display_path(root / 'writeup.pdf')} ({state}) and writeup.md in {seconds:.1f} s")
    warning = cover_fields.unset_warning(fields)
    if warning:
        print(warning, file=sys.stderr)
    if writeup.problems:
        print(f"\n{len(writeup.problems)} problem(s) keep writeup.pdf from being complete (it is stamped DRAFT):",
              file=sys.stderr)
        for item in writeup.problems:
            print(f"  - {item}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
