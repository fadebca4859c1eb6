#!/usr/bin/env python
"""`make submit`: check exactly the files the course asks for, then pack them into submission/ and submission.zip.

    python -m hw4.submit            # check everything, then pack (what `make submit` runs)
    python -m hw4.submit --check    # check only, pack nothing

Checks (each failure prints what to fix; the exit status is then 1 and nothing is packed):
1. every file of the submission is present and not empty;
2. each submitted module imports in a folder that holds only the submission and the helper files the course
   supplies itself (layers.py, solver.py, optim.py, gradient_check.py, captioning_solver.py, coco_utils.py;
   our copies stand in for the course's), so a module that needs a file we do not submit is caught;
3. each notebook is a valid notebook, was executed top to bottom (code cells numbered 1..N in order), holds
   outputs and no error output, was not a smoke run (HW4_SMOKE=1), and was executed after the last change
   of its .py files: the run header of its first cell prints ``FINGERPRINT <file> <sha256 prefix>`` for the
   modules it used (hw4.lines.header), and every one of those must equal the file's current hash;
4. ``python autograder.py`` passes (exit 0) on the submitted modules.
Packing writes submission/ (or --out) and submission.zip (or --zip), each atomically. An existing --out folder is
replaced only when submit.py created it (its MARKER file lists what it wrote) and nothing was added or edited
there since; an existing --zip only when it is an earlier submission zip. Anything else is refused before the
checks run, and nothing is deleted.
Notes (not failures): notebook imports of repository-only modules that the course's copy of the notebook would
not find (the hw4 package is imported behind a guard, so it is not one).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from hw4 import lines
from hw4.files import atomic_dir, atomic_path, display_path, error_summary, sha256sum
from hw4.lines import COURSE_HELPERS, FILES, SUBMISSION, fingerprint

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------------
# 1. files
# ----------------------------------------------------------------------------------------------------
def check_files(root):
    """Problems with the presence of the submitted files (a list of 'what: fix' strings)."""
    problems = []
    for name in FILES:
        path = Path(root) / name
        if not path.exists():
            problems.append(f"{name} is missing: create it (the course expects exactly this file name)")
        elif path.stat().st_size == 0:
            problems.append(f"{name} is empty")
    return problems


# ----------------------------------------------------------------------------------------------------
# 2. imports, from a folder with the submission only
# ----------------------------------------------------------------------------------------------------
def staging_folder(root, folder):
    """Copy the submitted files and the course-supplied helpers (our stand-ins) from root into folder."""
    folder = Path(folder)
    for name in (*FILES, *COURSE_HELPERS):
        if (Path(root) / name).exists():
            shutil.copy2(Path(root) / name, folder / name)
    return folder


_IMPORT_PROBE = r"""
import importlib, json, sys, traceback
sys.path.insert(0, ".")
results = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        results[name] = None
    except BaseException as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
        where = f" ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
        results[name] = f"{type(exc).__name__}: {exc}{where}"
print("IMPORT-RESULTS " + json.dumps(results))
"""


def check_imports(root):
    """Import each submitted module in an isolated interpreter whose only local files are the submission
    and the course helpers; return problems."""
    modules = [Path(f).stem for f in FILES if f.endswith(".py") and (Path(root) / f).exists()]
    if not modules:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        staging_folder(root, tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["MPLBACKEND"] = "Agg"
        result = subprocess.run([sys.executable, "-I", "-c", _IMPORT_PROBE, *modules], cwd=tmp, env=env,
                                capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("IMPORT-RESULTS ")]
    if not lines:
        return [f"the import check itself failed (exit {result.returncode}): {result.stderr.strip()[-500:]}"]
    problems = []
    local = {Path(p).stem for p in Path(root).glob("*.py")} - {Path(f).stem for f in (*FILES, *COURSE_HELPERS)}
    for name, error in json.loads(lines[-1][len("IMPORT-RESULTS "):]).items():
        if error is None:
            continue
        missing = re.search(r"No module named '([^'.]+)", error)
        if missing and missing.group(1) in local:
            problems.append(f"{name}.py does not import without {missing.group(1)}.py, which is not submitted and "
                            f"not supplied by the course ({error}): import it inside the function that needs it "
                            f"(with a fallback), or move what you need into {name}.py")
        else:
            problems.append(f"{name}.py does not import from the submission folder: {error}")
    return problems


# ----------------------------------------------------------------------------------------------------
# 3. notebooks
# ----------------------------------------------------------------------------------------------------
def check_notebook(path, modules=None, root=None, nb=None):
    """Problems with one executed notebook (a list of 'what: fix' strings; empty when it is fine).

    modules: the .py files (relative to root) that must appear among its FINGERPRINT lines; defaults to the
    notebook's entry in SUBMISSION. root: where the modules live (defaults to the notebook's folder). nb: the
    notebook at ``path`` when the caller has already read it (hw4.notebooks.read_notebook), else it is read."""
    import nbformat

    from hw4 import notebooks

    path = Path(path)
    root = Path(root) if root is not None else path.parent
    modules = SUBMISSION.get(path.name, ()) if modules is None else modules
    name = path.name
    rerun = f"run it again top to bottom: {notebooks.RUN_ONE} {name} (or make run)"
    try:
        nb = notebooks.read_notebook(path) if nb is None else nb
        nbformat.validate(nb)
    except notebooks.NotebookFailed as failure:
        return [failure.reason]
    except Exception as exc:  # nbformat.ValidationError: JSON that is not a valid notebook
        return [f"{name} is not a valid notebook ({error_summary(exc)}): {rerun}"]

    problems = []
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.get("execution_count") for c in code]
    if not code:
        return [f"{name} has no code cells"]
    if any(n is None for n in counts):
        first = next(i for i, c in enumerate(nb.cells) if c in code and c.get("execution_count") is None)
        problems.append(f"{name}: code cell {first} was never executed: {rerun}")
    elif counts != list(range(1, len(code) + 1)):
        problems.append(f"{name}: execution counts are {_short(counts)}, not 1..{len(code)} in order (cells were "
                        f"run out of order or the kernel was not restarted): {rerun}")
    if not any(c.get("outputs") for c in code):
        problems.append(f"{name} holds no outputs (they were cleared): {rerun}")
    errors = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    for index, output in errors:
        problems.append(f"{name}: cell {index} has an error output ({output.get('ename')}: "
                        f"{str(output.get('evalue'))[:120]}): fix it and {rerun}")
    if lines.is_smoke_run(nb):
        problems.append(f"{name} holds the outputs of a smoke run (HW4_SMOKE=1, tiny data): {rerun}")

    printed = lines.fingerprints(nb)
    if not printed:
        problems.append(f"{name} printed no FINGERPRINT lines, so its run cannot be matched with the modules: its "
                        f"first code cell must call hw4.nbtools.header({name!r}, {list(modules)}), then {rerun}")
        return problems
    for module in modules:
        if module not in printed:
            problems.append(f"{name} did not fingerprint {module}: add it to the hw4.nbtools.header(...) call, "
                            f"then {rerun}")
    for module, recorded in printed.items():
        current_path = root / module
        if not current_path.exists():
            problems.append(f"{name} was run with {module}, which no longer exists in {display_path(root)}")
        elif fingerprint(current_path) != recorded:
            problems.append(f"{name} was executed before the last change of {module} (recorded {recorded}, now "
                            f"{fingerprint(current_path)}): {rerun}")
    return problems


def _short(values, limit=12):
    values = ["None" if v is None else str(v) for v in values]
    return "[" + ", ".join(values[:limit]) + (", ..." if len(values) > limit else "") + "]"


def notebook_notes(path, root):
    """Local modules a notebook imports that are neither submitted nor course helpers (a note, not a failure)."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return []
    local = {p.stem for p in Path(root).glob("*.py")}
    shipped = {Path(f).stem for f in (*FILES, *COURSE_HELPERS)}
    imported = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for match in re.finditer(r"^\s*(?:from\s+(\w+)[\w.]*\s+import|import\s+([\w, ]+))", cell.source, re.M):
                names = [match.group(1)] if match.group(1) else [n.strip() for n in match.group(2).split(",")]
                imported |= {n.split(" ")[0] for n in names if n}
    extra = sorted((imported & local) - shipped)
    if not extra:
        return []
    return [f"{Path(path).name} imports {', '.join(m + '.py' for m in extra)} from this repository; the course's "
            f"copy of the notebook keeps its outputs, but re-running it there would need those files"]


# ----------------------------------------------------------------------------------------------------
# 4. autograder
# ----------------------------------------------------------------------------------------------------
def check_autograder(root):
    """Run autograder.py on the submitted modules (staged with the helper stand-ins); return problems."""
    script = Path(root) / "autograder.py"
    if not script.exists():
        script = ROOT / "autograder.py"
    with tempfile.TemporaryDirectory() as tmp:
        staging_folder(root, tmp)
        result = subprocess.run([sys.executable, str(script), "--dir", tmp], cwd=tmp, capture_output=True,
                                text=True, timeout=1800)
    if result.returncode == 0:
        return []
    bad = [line for line in result.stdout.splitlines() if line.startswith(("FAIL", "ERROR"))]
    meaning = {2: "an answer differs from the correct one", 1: "an error"}.get(result.returncode, "it crashed")
    detail = "; ".join(bad[:5]) or result.stderr.strip()[-300:]
    return [f"python autograder.py exits {result.returncode} ({meaning}): {detail} -- run "
            f"`.venv/bin/python autograder.py` for the details and hints"]


# ----------------------------------------------------------------------------------------------------
# packing
# ----------------------------------------------------------------------------------------------------
MARKER = ".made-by-submit.json"    # inside out_dir: the files submit.py wrote there, with their sha256


class OutputRefused(RuntimeError):
    """The output folder or zip is not one submit.py wrote: it is never replaced."""


def own_folder_problem(out_dir):
    """None when ``out_dir`` is a folder submit.py wrote and nobody changed since; else why it is not."""
    folder = Path(out_dir)
    shown = display_path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return f"{shown} exists and is not a folder"
    try:
        written = json.loads((folder / MARKER).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return (f"{shown} exists and was not created by submit.py (it has no readable {MARKER}); submit.py only "
                f"replaces a folder it created itself")
    foreign = sorted(p.name for p in folder.iterdir() if p.name != MARKER and p.name not in written)
    if foreign:
        return f"{shown} holds files submit.py did not write there ({', '.join(foreign)})"
    changed = sorted(name for name, digest in written.items()
                     if not (folder / name).is_file() or sha256sum(folder / name) != digest)
    if changed:
        return (f"{shown} was changed after submit.py wrote it ({', '.join(changed)} edited or removed); copy any "
                f"edits you want to keep into the repository's own files")
    return None


def output_problems(root, out_dir, zip_path):
    """Why packing into ``out_dir`` and ``zip_path`` would replace something submit.py did not write (a list)."""
    root, out_dir, zip_path = Path(root).resolve(), Path(out_dir).resolve(), Path(zip_path).resolve()
    problems = []
    if out_dir == root or out_dir in root.parents:
        problems.append(f"--out {display_path(out_dir)} is the repository or a folder holding it: choose a new "
                        f"folder")
    elif out_dir.exists() or out_dir.is_symlink():
        problem = own_folder_problem(out_dir)
        if problem:
            problems.append(f"{problem}: choose another --out, or move that folder away yourself")
    if out_dir in zip_path.parents:
        problems.append(f"--zip {display_path(zip_path)} is inside --out {display_path(out_dir)}: put the zip "
                        f"outside the folder")
    elif zip_path.exists() or zip_path.is_symlink():
        try:
            with zipfile.ZipFile(zip_path) as archive:
                names = set(archive.namelist())
        except (OSError, zipfile.BadZipFile):
            names = set()
        if not names or not names <= set(FILES):
            problems.append(f"{display_path(zip_path)} exists and is not a submission zip written by submit.py: "
                            f"choose another --zip, or move that file away yourself")
    return problems


def pack(root, out_dir, zip_path):
    """Copy FILES from root into out_dir and write zip_path with the files at its top level.

    out_dir is created, or replaced only when submit.py wrote it (MARKER inside, nothing added or edited since);
    zip_path is written only when absent or an earlier submission zip. Otherwise OutputRefused, and nothing
    is written. Both are written atomically (a temporary name, then a rename)."""
    out_dir, zip_path = Path(out_dir), Path(zip_path)
    problems = output_problems(root, out_dir, zip_path)
    if problems:
        raise OutputRefused("; ".join(problems))
    with atomic_dir(out_dir, replaceable=lambda path: own_folder_problem(path) is None) as tmp:
        for name in FILES:
            shutil.copy2(Path(root) / name, tmp / name)
        (tmp / MARKER).write_text(json.dumps({"written_by": "submit.py (make submit)",
                                              "files": {name: sha256sum(tmp / name) for name in FILES}}, indent=1))
    with atomic_path(zip_path) as tmp_zip:
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in FILES:
                archive.write(out_dir / name, arcname=name)
    return zip_path


def run_checks(root, with_autograder=True, say=print):
    """Run every check, printing progress; return (problems, notes)."""
    root = Path(root)
    problems, notes = [], []

    def stage(title, found):
        say(f"{'ok  ' if not found else 'FAIL'} {title}")
        for problem in found:
            say(f"     - {problem}")
        problems.extend(found)

    stage("files present: " + " ".join(FILES), check_files(root))
    stage("modules import from the submission folder (with the course's helper files only)", check_imports(root))
    for notebook in SUBMISSION:
        path = root / notebook
        if path.exists():
            stage(f"{notebook}: run top to bottom, outputs, no errors, run after its modules last changed",
                  check_notebook(path, root=root))
            notes += notebook_notes(path, root)
    if with_autograder:
        say("...  python autograder.py (a few seconds)")
        stage("python autograder.py passes", check_autograder(root))
    return problems, notes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hw4.submit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="check only; do not pack")
    parser.add_argument("--root", default=str(ROOT), help="folder holding the files (default: this repository)")
    parser.add_argument("--out", default=None, help="output folder (default: ROOT/submission)")
    parser.add_argument("--zip", default=None, help="zip file (default: ROOT/submission.zip)")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    out_dir = Path(args.out) if args.out else root / "submission"
    zip_path = Path(args.zip) if args.zip else root / "submission.zip"
    refused = [] if args.check else output_problems(root, out_dir, zip_path)
    if refused:
        for problem in refused:
            print(f"refused: {problem}")
        print("Nothing was checked or packed: submit.py never replaces a folder or file it did not create.")
        return 1
    problems, notes = run_checks(root)
    for note in notes:
        print(f"note: {note}")
    if problems:
        print(f"\n{len(problems)} problem(s): fix them, then run `make submit` again. Nothing was packed.")
        return 1
    if args.check:
        print("\nall checks passed (--check: nothing packed)")
        return 0
    try:
        zip_path = pack(root, out_dir, zip_path)
    except OutputRefused as exc:
        print(f"refused: {exc}\nNothing was packed.")
        return 1
    size = zip_path.stat().st_size
    print(f"\nall checks passed: {out_dir}/ and {zip_path} ({len(FILES)} files, {size / 1024:.0f} KiB) are ready to "
          f"upload to autograder.io (the writeup goes to Gradescope: make writeup)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
