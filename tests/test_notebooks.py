"""Notebooks: every notebook runs top to bottom in smoke mode (HW4_SMOKE=1), offline, on a temporary copy; the
runner survives failing notebooks and writes atomically; the committed notebooks show every figure they make
and print no absolute path of the machine they ran on."""
import ast
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from hw4 import nbtools
from hw4 import notebooks as run_notebooks
from test_data_utils import disk_full, leftovers


@pytest.mark.parametrize("name", run_notebooks.NOTEBOOKS)
def test_notebook_runs_in_smoke_mode(name):
    if not (run_notebooks.ROOT / name).exists():
        pytest.fail(f"{name} is missing")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            nb = run_notebooks.execute_notebook(run_notebooks.ROOT / name, run_notebooks.smoke_workdir(tmp),
                                                run_notebooks.SMOKE_ENV, timeout=600)
        except run_notebooks.NotebookFailed as failure:
            pytest.fail(f"{name}: {failure.reason}\n{failure.details}")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


# ----------------------------------------------------------------------------------------------------
# The runner under failures: timeouts, dead kernels, exceptions, a full disk
# ----------------------------------------------------------------------------------------------------
def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# throwaway")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


FAILING = {
    "sleeps": ("import time\ntime.sleep(120)", "timed out after 5 s"),
    "dies": ("import os\nos._exit(1)", "the kernel died"),
    "raises": ("1 / 0", "raised ZeroDivisionError: division by zero"),
}


def test_failing_notebooks_are_reported_and_the_run_goes_on(tmp_path, capsys):
    paths = [write_notebook(tmp_path / f"{name}.ipynb", "print('before')", body, "print('after')")
             for name, (body, _) in FAILING.items()]
    ok = write_notebook(tmp_path / "ok.ipynb", "print('SUMMARY answer: 42')")
    originals = {p: p.read_bytes() for p in paths}

    code = run_notebooks.main([*map(str, paths), str(ok), "--timeout", "5"])

    out = capsys.readouterr().out
    assert code == 1
    summary = out[out.index("== Summary"):]
    for name, (_, reason) in FAILING.items():
        line = next(l for l in summary.splitlines() if f"{name}.ipynb: " in l)
        assert "FAILED" in line and reason in line and "cell 2" in line and f"{name}.failed.ipynb" in line, line
        assert (tmp_path / f"{name}.ipynb").read_bytes() == originals[tmp_path / f"{name}.ipynb"]  # not overwritten
        partial = nbformat.read(tmp_path / f"{name}.failed.ipynb", as_version=4)
        before, failing, after = partial.cells[1:]
        assert before.execution_count == 1 and before.outputs[0]["text"] == "before\n"   # the partial run
        assert after.execution_count is None and after.outputs == []
        if name == "raises":
            assert failing.outputs[-1]["ename"] == "ZeroDivisionError"
    assert "/ok.ipynb: ok" in summary and "    answer: 42" in summary               # later notebooks still ran
    assert nbformat.read(ok, as_version=4).cells[1].execution_count == 1
    assert "3 of 4 notebook(s) FAILED" in out


def test_an_invalid_notebook_is_reported(tmp_path, capsys):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    assert run_notebooks.main([str(broken)]) == 1
    out = capsys.readouterr().out
    assert "broken.ipynb: FAILED" in out and "not a valid notebook" in out and "git checkout -- broken.ipynb" in out


def executed_copy(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].execution_count = 1
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="fresh output " * 50)]
    return nb


def test_in_place_write_on_a_full_disk_keeps_the_notebook(tmp_path, monkeypatch, capsys):
    path = write_notebook(tmp_path / "x.ipynb", "print('x')")
    original = path.read_bytes()
    monkeypatch.setattr(run_notebooks, "execute_notebook", lambda p, *args, **kwargs: executed_copy(p))
    disk_full(monkeypatch, tmp_path)
    assert run_notebooks.main([str(path)]) == 1
    out = capsys.readouterr().out
    monkeypatch.undo()
    assert path.read_bytes() == original and nbformat.read(path, as_version=4)        # intact, valid
    assert "x.ipynb: FAILED" in out and "could not be saved" in out
    assert leftovers(tmp_path) == [] and not (tmp_path / "x.failed.ipynb").exists()

    monkeypatch.setattr(run_notebooks, "execute_notebook", lambda p, *args, **kwargs: executed_copy(p))
    assert run_notebooks.main([str(path)]) == 0                                       # with room: replaced
    assert nbformat.read(path, as_version=4).cells[1].outputs[0]["text"].startswith("fresh output")


def test_savefig_on_a_full_disk_keeps_the_previous_figure(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 0])
    target = tmp_path / "figure.png"
    nbtools.savefig(fig, target, dpi=50)
    previous = target.read_bytes()
    assert previous.startswith(b"\x89PNG")
    ax.plot([1, 0, 1])
    disk_full(monkeypatch, tmp_path, room=100)
    with pytest.raises(OSError, match="No space left"):
        nbtools.savefig(fig, target, dpi=50)
    monkeypatch.undo()
    plt.close(fig)
    assert target.read_bytes() == previous and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------------------------
# The committed notebooks: every figure shown inline, no absolute machine path in any output
# ----------------------------------------------------------------------------------------------------
# When does a code cell create a figure? When its top-level code (not the bodies of functions, classes or
# lambdas it defines, which run only when called) calls
#   (a) a pyplot function that creates a figure or draws on the current one (PYPLOT_FIGURE_FUNCTIONS), called
#       as plt.NAME / pyplot.NAME / matplotlib.pyplot.NAME;
#   (b) savefig, in any form (fig.savefig, plt.savefig, nbtools.savefig): a saved figure must be shown;
#   (c) a function whose name starts with "plot_" (helpers such as transfer_learning.plot_history return a
#       figure);
#   (d) a function defined in the notebook whose body does (a)-(d).
# Drawing on axes made in an earlier cell (ax.plot) does not count: that figure was made, and is checked, there.
# Such a cell must have an output holding an image/png: with MPLBACKEND=Agg (make run) plt.show() displays
# nothing, so the figure has to be displayed explicitly (display(fig), or `%matplotlib inline`).
PYPLOT_FIGURE_FUNCTIONS = {
    "figure", "subplots", "subplot", "subplot_mosaic", "axes", "plot", "imshow", "matshow", "scatter", "hist",
    "hist2d", "bar", "barh", "errorbar", "fill_between", "contour", "contourf", "pcolor", "pcolormesh",
    "semilogx", "semilogy", "loglog", "stem", "step", "pie", "boxplot", "violinplot", "hexbin", "quiver",
    "streamplot", "spy", "stackplot", "polar",
}
PYPLOT_NAMES = {"plt", "pyplot"}


def _python_source(cell_source):
    """The cell as plain Python (IPython magics such as %matplotlib become function calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _top_level_calls(tree):
    """Call nodes of ``tree`` outside the bodies of the functions, classes and lambdas it defines."""
    calls, stack = [], [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.extend(child.decorator_list if hasattr(child, "decorator_list") else [])
                continue
            if isinstance(child, ast.Call):
                calls.append(child)
            stack.append(child)
    return calls


def _call_creates_figure(call, figure_helpers):
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        name = func.attr
        if owner_name in PYPLOT_NAMES and name in PYPLOT_FIGURE_FUNCTIONS:
            return True
    elif isinstance(func, ast.Name):
        name = func.id
        if name in figure_helpers:
            return True
    else:
        return False
    return name == "savefig" or name.startswith("plot_")


def figure_cells(nb):
    """Indices (in nb.cells) of the code cells that create a figure, by the rule above."""
    trees = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            trees[index] = ast.parse(_python_source(cell.source))
    # (d): functions defined in the notebook that make figures, to a fixed point (helpers calling helpers)
    definitions = {node.name: node for tree in trees.values() for node in tree.body
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    helpers, changed = set(), True
    while changed:
        changed = False
        for name, node in definitions.items():
            body_calls = [n for statement in node.body for n in ast.walk(statement) if isinstance(n, ast.Call)]
            if name not in helpers and any(_call_creates_figure(c, helpers) for c in body_calls):
                helpers.add(name)
                changed = True
    return [index for index, tree in trees.items()
            if any(_call_creates_figure(c, helpers) for c in _top_level_calls(tree))]


def has_image(cell):
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


# Top-level folders of POSIX machines (and those of this one): an absolute path starting with one of them is a
# path of the machine the notebook ran on, wherever the notebooks were executed and wherever the tests run.
SYSTEM_TOP_FOLDERS = {"bin", "boot", "content", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt", "private",
                      "proc", "root", "run", "sbin", "scratch", "srv", "sys", "tmp", "Users", "usr", "var", "Volumes",
                      "work", "workspace"}


def _machine_prefixes():
    top = SYSTEM_TOP_FOLDERS | {name for name in os.listdir("/") if not name.startswith(".")}
    prefixes = {str(run_notebooks.ROOT), str(Path.home()), sys.prefix, tempfile.gettempdir()}
    prefixes |= {"/" + name for name in top}
    return sorted((p.rstrip("/") for p in prefixes if p.strip("/")), key=len, reverse=True)


# An absolute path of a machine: a prefix above, not inside a URL or a longer path ("https://x.org/tmp/...",
# "~/..." and "data/..." do not match), then a separator and the rest of the path; or a Windows drive path.
MACHINE_PATH = re.compile(r"(?<![\w.~:/\\-])(?:(?:" + "|".join(map(re.escape, _machine_prefixes()))
                          + r")/[^\s'\"]*|[A-Za-z]:\\[^\s'\"]+)")


def output_texts(cell):
    """Every text an output of ``cell`` shows (streams, text/* data, error names, values and tracebacks)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            yield output.get("text", "")
        elif output.get("output_type") == "error":
            yield "\n".join([output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])])
        else:
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") or mime.endswith("json"):
                    yield value if isinstance(value, str) else str(value)


def machine_paths(cell):
    return sorted({match.group(0) for text in output_texts(cell) for match in MACHINE_PATH.finditer(text)})


def test_the_figure_rule_and_the_path_rule_catch_what_they_should():
    nb = nbformat.v4.new_notebook()
    sources = [
        "%matplotlib inline\nimport matplotlib.pyplot as plt",                 # 1: no figure
        "def draw(data):\n    fig, ax = plt.subplots()\n    return fig",     # 2: defines, does not call
        "fig = draw([1, 2])",                                                   # 3: (d)
        "for k in range(2):\n    fig = plt.figure()",                          # 4: (a), inside a loop
        "ax.plot([1, 2])",                                                      # 5: draws on an earlier axes
        "nbtools.savefig(fig, 'x.png')",                                 # 6: (b)
        "fig = tl.plot_history(history, 'title')\ndisplay(fig)",               # 7: (c)
        "cb = lambda: plt.subplots()",                                          # 8: not called
    ]
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    assert figure_cells(nb) == [2, 3, 5, 6]
    image = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    nb.cells[2].outputs = [image]
    assert [i for i in figure_cells(nb) if not has_image(nb.cells[i])] == [3, 5, 6]

    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        f"saved to {run_notebooks.ROOT}/data/mnist.npz\nfile '/root/.cache/torch/x.pth'\n"
        f"/tmp/ipykernel_1/2.py:1: UserWarning\nC:\\Users\\me\\hw4\\data\n/work/other/clone/x.png\n"
        f"fine: https://host.org/home/x ~/.cache/y data/mnist.npz url: /tensorflow/tf-keras-datasets/mnist.npz\n"))]
    found = machine_paths(cell)
    assert len(found) == 5 and any("/data/mnist.npz" in f for f in found), found
    assert any(f.startswith("/root") for f in found) and any(f.startswith("/tmp") for f in found)


@pytest.mark.parametrize("name", run_notebooks.NOTEBOOKS)
def test_committed_notebook_shows_every_figure_it_makes(name):
    nb = nbformat.read(run_notebooks.ROOT / name, as_version=4)
    cells = figure_cells(nb)
    assert cells, f"{name}: no cell makes a figure (the rule above found none)"
    missing = [i for i in cells if not has_image(nb.cells[i])]
    assert not missing, (f"{name}: cells {missing} make a figure but have no image/png output (make run uses "
                         f"MPLBACKEND=Agg: display the figure, e.g. display(fig)); first lines: "
                         + "; ".join(repr(nb.cells[i].source.splitlines()[0]) for i in missing))


@pytest.mark.parametrize("name", run_notebooks.NOTEBOOKS)
def test_committed_notebook_outputs_name_no_machine_path(name):
    nb = nbformat.read(run_notebooks.ROOT / name, as_version=4)
    found = {i: machine_paths(cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    found = {i: paths for i, paths in found.items() if paths}
    assert not found, f"{name}: absolute paths of this machine in the outputs of cells {found}"
