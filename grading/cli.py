"""The command line of the grading kit: `python autograder.py [cnn|rnn|svm|all] [--dir DIR]`."""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from grading import sandbox
from grading.runner import Report, grade
from grading.verdicts import EXIT_ERROR, EXIT_PASS, EXIT_WRONG

DEFAULT_TIMEOUT = 60.0                        # seconds per check (and for the imports)
MEANING = {EXIT_PASS: "every graded check passed", EXIT_WRONG: "some answers differ from the reference",
           EXIT_ERROR: "errors (missing file, import, exception, wrong type, dtype or shape, modified input, "
                       "time-out or no verdict)"}
USAGE = """Grade the submitted modules as the course's autograder does; the exit status is the course's verdict:
0 every graded check passed, 2 some answer differs (max |got - expected| >= 1e-6), 1 anything else (missing
file, import error, exception, wrong dtype or shape, modified input, time-out). WARN lines are advice beyond the
course's tests and never change the exit status."""


def parse(argv):
    parser = argparse.ArgumentParser(prog="autograder.py", description=USAGE)
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help="cnn (Q1), rnn (Q2), svm (Q4) or all (default); a module name grades its question")
    parser.add_argument("--dir", help="folder holding the submitted modules (default: the repository)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the output of crashed checks in full")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds allowed per check and for the imports (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--no-optional", action="store_true",
                        help="skip the advisory checks against PyTorch and scikit-learn")
    parser.add_argument("--json", metavar="PATH", help="also write every verdict to PATH as JSON")
    return parser.parse_args(argv)


def questions_of(parts):
    """The questions named by ``parts`` (in the course's order), or None for an unknown part."""
    chosen = set()
    for part in parts or ["all"]:
        if part == "all":
            chosen |= set(sandbox.QUESTIONS)
        elif part in sandbox.QUESTIONS or part in sandbox.SUBMITTED:
            chosen.add(part if part in sandbox.QUESTIONS else sandbox.question_of(part))
        else:
            return None
    return [q for q in sandbox.QUESTIONS if q in chosen]


def write_json(path, data):
    """Write ``data`` to ``path`` as JSON, atomically (a temporary file renamed into place)."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent or ".", prefix=f".{path.name}.", delete=False) as tmp:
        json.dump(data, tmp, indent=1)
    os.replace(tmp.name, path)


def main(argv=None):
    try:
        args = parse(argv)
    except SystemExit as exc:        # usage errors exit 1: 2 means a wrong answer here
        return EXIT_ERROR if exc.code else EXIT_PASS
    questions = questions_of(args.parts)
    if questions is None:
        print(f"autograder.py: unknown part in {args.parts}: choose from cnn, rnn, svm, all (or a module name: "
              f"{', '.join(sandbox.SUBMITTED)})", file=sys.stderr)
        return EXIT_ERROR
    source = Path(args.dir) if args.dir else sandbox.ROOT
    if not source.is_dir():
        print(f"autograder.py: --dir {args.dir}: no such folder", file=sys.stderr)
        return EXIT_ERROR
    if args.no_optional:
        os.environ["HW4_AUTOGRADER_NO_OPTIONAL"] = "1"
    started, report = time.time(), Report()
    print(f"Grading {', '.join(m + '.py' for q in questions for m in sandbox.QUESTIONS[q])} from {source.resolve()}",
          flush=True)
    print("(beside the course's helper files; the models' patched layer names as at the course)", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="hw4-autograder-"))
    try:
        for question in questions:
            modules = ", ".join(f"{m}.py" for m in sandbox.QUESTIONS[question])
            print(f"\n== {question}: {modules}", flush=True)
            folders = sandbox.build_folders(source, scratch, question)
            grade([dict(question=question, folders={k: str(v) for k, v in folders.items()}, source=str(source),
                        report=report)], scratch, args.timeout)
            print("\n".join(report.lines(question, args.verbose)), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    code = report.exit_code()
    print("\n== summary")
    for question in questions:
        failing = dict.fromkeys(r["function"] for r in report.graded(question) if r["status"] in ("FAIL", "ERROR"))
        warned = dict.fromkeys(r["function"] for r in report.warnings(question))
        verdict = {EXIT_PASS: "PASS", EXIT_WRONG: "FAIL", EXIT_ERROR: "ERROR"}[report.exit_code(question)]
        line = f"{question:4s} {verdict}{': ' + ', '.join(failing) if failing else ''}"
        print(line + (f"  ({len(warned)} advice: {', '.join(warned)})" if warned else ""))
        for note in report.notes(question):
            print(f"      note: {note}")
    results = [r for q in questions for r in report.questions.get(q, [])]
    count = lambda status, graded: sum(r["status"] == status and (not r["advice"]) == graded for r in results)
    print(f"graded: {count('PASS', True)} passed, {count('FAIL', True)} failed, {count('ERROR', True)} errors; "
          f"advice: {count('PASS', False)} passed, {count('WARN', False)} warnings, {count('SKIP', False)} skipped; "
          f"{time.time() - started:.1f} s -> exit {code} ({MEANING[code]})")
    if args.json:
        write_json(args.json, {"exit": code, "dir": str(source.resolve()), "questions": {
            q: {"exit": report.exit_code(q), "checks": [{k: v for k, v in r.items() if k != "always"}
                                                      for r in report.questions.get(q, [])]} for q in questions}})
    return code
