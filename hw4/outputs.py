"""What an executed notebook shows, read for the writeup: its SUMMARY lines, printed logs, figures and tables."""
import base64
import re
from pathlib import Path

from hw4 import lines, notebooks, submit
from hw4.files import write_bytes_atomic

EPOCH = re.compile(r"^Epoch (\d+)/(\d+)\s*$")
PHASE = re.compile(r"^(train|val) Loss: ([-+\d.eE]+|nan|inf) Acc: ([-+\d.eE]+|nan)\s*$")
KERNELS = ("linear", "poly", "rbf", "sigmoid")


class Notebook:
    """The saved outputs of one executed notebook in ``root``."""

    def __init__(self, root, name, files_dir=None):
        self.root, self.name, self.files_dir = Path(root), name, files_dir
        self._figures = None        # saved_figures(), once worked out
        self.path = self.root / name
        self.nb, self.error = None, None
        self.used = set()           # SUMMARY keys already shown in the answer
        if self.path.exists():
            try:
                self.nb = notebooks.read_notebook(self.path)
            except notebooks.NotebookFailed as failure:
                self.error = failure.reason
        self.cells = [c for c in self.nb.cells if c.cell_type == "code"] if self.nb else []

    @property
    def exists(self):
        return self.nb is not None

    def stdout(self, cell):
        return "".join(o.get("text", "") for o in cell.get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")

    def all_stdout_lines(self):
        return [line for _, line in lines.stdout_lines(self.nb)] if self.nb else []

    def summaries(self):
        """[(key, value)] from the 'SUMMARY key: value' lines, in order."""
        return lines.summaries(self.nb) if self.nb else []

    def summary(self, *words):
        """The first SUMMARY value whose key contains every one of ``words`` (case-insensitive), or None."""
        for key, value in self.summaries():
            if all(w.lower() in key.lower() for w in words):
                self.used.add(key)
                return value
        return None

    def data(self, words=("data",)):
        """'value' or 'key: value; ...' of the SUMMARY lines about the data (keys with one of ``words``)."""
        found = [(k, v) for k, v in self.summaries()
                 if any(re.search(rf"\b{w}\b", k, re.IGNORECASE) for w in words)]
        self.used.update(k for k, _ in found)
        short = [(re.sub(r"^(Q\d|rnn|svm)\s+", "", k, flags=re.IGNORECASE), v) for k, v in found]
        return "; ".join(v if k.lower() == "data" else f"{k}: {v}" for k, v in short) or None

    def run_time(self):
        """'YYYY-MM-DD HH:MM' of the run header, or None."""
        match = lines.RUN_HEADER.match(lines.run_header(self.nb) or "") if self.nb else None
        return match.group(2).replace("T", " ")[:16] if match else None

    def saved_figures(self):
        """{name: path} of the figures the run saved ('saved figure NAME' lines), in order: the file next to the
        notebook, else the image the saving cell displayed, written to files_dir (a fresh clone does not track
        the PNG files; the notebook shows every figure it saves). A figure found in neither place is left out.
        Worked out once per notebook (the answers ask for it several times)."""
        if self._figures is not None:
            return self._figures
        found = self._figures = {}
        for index, name in (lines.saved_figures(self.nb) if self.nb else []):
            name = Path(name).name
            if (self.root / name).exists():
                found[name] = self.root / name
            elif self.files_dir is not None and (image := self._displayed(index, name)) is not None:
                write_bytes_atomic(self.files_dir / name, image)
                found[name] = self.files_dir / name
        return found

    def _displayed(self, index, name):
        """The PNG bytes the cell ``index`` displayed for its saved figure ``name`` (its k-th saved figure is its
        k-th image), or None."""
        saved = [Path(n).name for i, n in lines.saved_figures(self.nb) if i == index]
        images = [o["data"]["image/png"] for o in self.nb.cells[index].get("outputs", [])
                  if "image/png" in o.get("data", {})]
        k = saved.index(name)
        return base64.b64decode(images[k]) if k < len(images) else None

    def cells_calling(self, pattern):
        return [c for c in self.cells if re.search(pattern, c.source)]

    def problems(self):
        """What `make submit` would say about this notebook's run (stale, smoke, unexecuted, errors)."""
        return submit.check_notebook(self.path, root=self.root, nb=self.nb) if self.exists else []


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
    table = ["| epoch | train loss | train acc | val loss | val acc |", "|---:|---:|---:|---:|---:|"]
    if before:
        table.append(f"| before training | | | {before[0]} | {before[1]} |")
    for row in rows:
        train, val = row.get("train", ("", "")), row.get("val", ("", ""))
        table.append(f"| {row['epoch']} | {train[0]} | {train[1]} | {val[0]} | {val[1]} |")
    return "\n".join(table)


def accuracy_tables(nb):
    """[(source of the cell, kind, text)] of svm.ipynb outputs that look like test-accuracy tables (they name at
    least three of the four kernels and mention accuracy); kind is 'markdown' or 'text'."""
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
