"""Running the checks: each question in a child process (this module with --child) with a time limit per check
and for the imports, the events it reports, and the report the parent prints.

A child that ends without a verdict (sys.exit or os._exit at import or inside a function, an endless loop, a
crash) is an ERROR that says what happened; the remaining checks run in a fresh child. One child may grade
several jobs (a job: one question from one folder) one after the other, each with freshly imported modules:
the kit's own tests use that to grade many submissions quickly.
"""
import collections
import json
import os
import signal
import subprocess
import sys
import time
import traceback
import unittest
from pathlib import Path

import numpy as np

from grading import sandbox
from grading.case import GradingCase
from grading.verdicts import (EXIT_ERROR, EXIT_PASS, EXIT_WRONG, GRADED_FAILURES, ContractError, StudentError,
                              describe_exception, exit_status)

# A failing check whose function usually calls another failing one gets a note.
DEPENDS = {"rnn_forward": ("rnn_step_forward",), "rnn_backward": ("rnn_step_backward", "rnn_forward"),
           "word_embedding_backward": ("word_embedding_forward",), "ConvNet.loss": ("conv_forward", "conv_backward"),
           "CaptioningRNN.loss": ("rnn_forward", "rnn_backward", "word_embedding_forward", "word_embedding_backward",
                                  "temporal_fc_forward", "temporal_fc_backward"),
           "CaptioningRNN.sample": ("rnn_step_forward", "word_embedding_forward"),
           "get_qp_params": ("kernel_matrix", "kernel_dot"), "fit_bias": ("kernel_matrix", "kernel_dot"),
           "decision_function": ("kernel_matrix", "kernel_dot"),
           "CVXOPTSVC": ("get_qp_params", "fit_bias", "decision_function", "kernel_matrix", "kernel_dot")}


def test_class(question):
    """The TestCase of a question (grading.test_cnn.TestCnn, ...)."""
    import importlib

    module = importlib.import_module(f"grading.test_{question}")
    return next(v for v in vars(module).values() if isinstance(v, type) and issubclass(v, GradingCase)
                and v.QUESTION == question)


def _test_methods(cls):
    """{name: method} of a TestCase's checks: its own in definition order, then those it inherits."""
    members = {}
    for klass in cls.__mro__:
        members.update({n: m for n, m in vars(klass).items() if n.startswith("test") and callable(m)
                        and n not in members})
    return members


def checks_of(question):
    """[(test id, function, title, advice or None)] of a question's checks, in definition order."""
    cls = test_class(question)
    return [(f"{cls.__name__}.{name}", member.function, member.title, getattr(member, "advice", None))
            for name, member in _test_methods(cls).items()]


# ---------------------------------------------------------------------------------------------------------
# The submitted modules, as the checks see them
# ---------------------------------------------------------------------------------------------------------
class ModuleUnavailable(ContractError):
    """A submitted module is missing or did not import: its checks cannot run (reported once)."""


class Context:
    """The submitted modules of one question: imported from its 'submission' folder (beside the course's
    helpers) or, for the advisory second run of a model, from its 'models' folder (beside the reference layers)."""

    def __init__(self, question, folders, source=None):
        self.question, self.folders, self.source = question, folders, source
        self.modules, self.problems = {}, {}

    def student_folders(self):
        return list(self.folders.values())

    def student_files(self):
        """The resolved paths of the student's own files in the grading folders (the rest is the course's or
        the kit's)."""
        names = sandbox.QUESTIONS[self.question]
        files = [self.folders["submission"] / f"{n}.py" for n in names]
        files += [self.folders["models"] / f"{n}.py" for n in names if n in sandbox.MODELS]
        return {str(f.resolve()) for f in files}

    def path(self, name):
        path = self.folders["submission"] / f"{name}.py"
        return path if path.is_file() else None

    def import_all(self, known=None, before_import=None):
        """Import the question's modules; {module: problem} for those that are missing or fail. ``known``:
        problems found earlier (a module whose import ended the process is not imported again);
        ``before_import(name)`` is called before each import."""
        self.problems.update(known or {})
        for name in sandbox.QUESTIONS[self.question]:
            if name in self.problems or (name, False) in self.modules:
                continue
            if self.path(name) is None:
                self.problems[name] = f"{name}.py is missing from {self.source or 'the graded folder'}"
                continue
            if before_import:
                before_import(name)
            try:
                self.modules[name, False] = sandbox.import_isolated(self.folders["submission"], name)
            except BaseException as exc:  # SystemExit included
                self.problems[name] = (f"importing {name}.py called sys.exit({exc.code!r}): a module must not end the "
                                       f"program" if isinstance(exc, SystemExit) else
                                       describe_exception(f"importing {name}.py", exc, None, self))
        return self.problems

    def module(self, name, beside_reference=False):
        if name in self.problems:
            raise ModuleUnavailable(self.problems[name])
        if (name, beside_reference) not in self.modules:
            if not beside_reference:
                self.import_all()
                return self.module(name)
            try:
                self.modules[name, True] = sandbox.import_isolated(self.folders["models"], name)
            except Exception as exc:
                raise ContractError(describe_exception(f"importing {name}.py beside the kit's reference layers",
                                                       exc, None, self),
                                    f"{name}.py should import only the course's public layer functions (conv_forward, "
                                    f"..., fc_forward, ...), never a private helper of your layer file", name) from exc
        return self.modules[name, beside_reference]


# ---------------------------------------------------------------------------------------------------------
# Child process: grade jobs, report events as JSON lines
# ---------------------------------------------------------------------------------------------------------
class _EventResult(unittest.TestResult):
    """Writes each check's start and verdict to the events file as it happens."""

    def __init__(self, write, job):
        super().__init__()
        self.write, self.job = write, job

    def startTest(self, test):
        super().startTest(test)
        self.write(event="start", job=self.job, test=_test_id(test))

    def _verdict(self, test, status, message="", hint=None, detail="", function=None):
        self.write(event="result", job=self.job, test=_test_id(test), status=status, message=message, hint=hint,
                   detail=detail, function=function)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._verdict(test, "PASS")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._verdict(test, "SKIP", reason)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report(test, "FAIL", err)

    def addError(self, test, err):
        super().addError(test, err)
        self._report(test, "ERROR", err)

    def _report(self, test, status, err):
        exc = err[1]
        if isinstance(exc, ModuleUnavailable):
            self._verdict(test, "NOT RUN", str(exc))
        elif isinstance(exc, (ContractError, StudentError, AssertionError)) and hasattr(exc, "function"):
            hint = getattr(exc, "hint", None)
            if isinstance(exc, StudentError):
                hint = ("the function is still a stub: implement it" if isinstance(exc.exc, NotImplementedError)
                        else "a graded function must return its result: remove sys.exit / exit() calls"
                        if isinstance(exc.exc, SystemExit) else None)
            self._verdict(test, status, str(exc), hint or _hint_for(test, exc.function), function=exc.function)
        else:
            text = "".join(traceback.format_exception(*err))
            self._verdict(test, "ERROR", f"the check itself crashed ({type(exc).__name__}: {exc}); this may be a "
                          f"result of an unexpected return value", None, text[-2000:])


def _hint_for(test, function):
    """The hint of the check of ``function`` (a forward pass that failed inside a backward check gets the
    forward check's hint), else the test's own."""
    if function and function != getattr(test, "function", None):
        for member in _test_methods(type(test)).values():
            if getattr(member, "function", None) == function:
                return member.hint
    return getattr(test, "hint", None)


def _test_id(test):
    return f"{type(test).__name__}.{test._testMethodName}"


def child_main(jobs_path, events_path):
    """Grade the jobs listed in ``jobs_path`` (JSON: [{question, folders, source, tests, problems}]); report
    events."""
    jobs = json.loads(Path(jobs_path).read_text())
    events = open(events_path, "a", encoding="utf-8")

    def write(**event):
        events.write(json.dumps(event) + "\n")
        events.flush()

    environment = None
    GradingCase.ADVICE_RAISES = True
    np.seterr(all="ignore")
    for index, job in enumerate(jobs):
        folders = {k: Path(v) for k, v in job["folders"].items()}
        files = [folders["submission"] / f"{m}.py" for m in sandbox.QUESTIONS[job["question"]]]
        if environment is None:
            environment = sandbox.enter_course_environment(files)
        environment.student_files = {str(f.resolve()) for f in files}
        cls = test_class(job["question"])
        cls.CONTEXT = context = Context(job["question"], folders, job.get("source"))
        problems = context.import_all(job.get("problems"),
                                      lambda name: write(event="import", job=index, module=name))
        write(event="imported", job=index, problems=problems)
        unittest.TestSuite(cls(t.split(".", 1)[1]) for t in job["tests"]).run(_EventResult(write, index))
    write(event="done")
    return 0


# ---------------------------------------------------------------------------------------------------------
# Parent: children, time limits, the report
# ---------------------------------------------------------------------------------------------------------
def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def run_child(jobs, scratch, timeout):
    """Run one child on ``jobs``; return (events, how it ended: None when it reported 'done', else a sentence,
    the child's last output)."""
    stem = Path(scratch) / f"child-{time.time_ns()}"
    jobs_path, events_path, out_path = (stem.with_suffix(s) for s in (".jobs.json", ".events.jsonl", ".out"))
    jobs_path.write_text(json.dumps(jobs))
    command = [sys.executable, "-m", "grading.runner", "--child", str(jobs_path), str(events_path)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(sandbox.ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")        # small problems: one BLAS thread avoids stalls on busy machines
    events, pending, offset, started, ended = [], b"", 0, time.time(), None
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(command, cwd=scratch, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        while True:
            finished = proc.poll() is not None
            if events_path.exists():
                with open(events_path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    events.append(json.loads(line))
                    if events[-1]["event"] in ("start", "import"):
                        started = time.time()        # the time limit applies to each check and to the imports
            if events and events[-1]["event"] == "done":
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:   # e.g. a thread the module started keeps it alive
                    _kill(proc)
                break
            if finished:
                ended = f"the process exited with status {proc.returncode}"
                break
            if time.time() - started > timeout:
                _kill(proc)
                ended = f"killed after {timeout:g} s"
                break
            time.sleep(0.01)
    return events, ended, "\n".join(out_path.read_text(errors="replace").strip().splitlines()[-8:])


class Report:
    """Every verdict, by question."""

    def __init__(self):
        self.questions = {}                  # question -> list of result dicts

    def add(self, question, status, function, title, message="", hint=None, detail="", test=None, advice=None,
            always=False):
        if advice and status in GRADED_FAILURES:
            status = "WARN"
        self.questions.setdefault(question, []).append(dict(
            test=test, function=function, title=title, status=status, message=message, hint=hint, advice=advice,
            detail=detail, always=always))

    def lines(self, question, verbose=False):
        """The printed report of one question: graded checks first, then the advice."""
        results = self.questions.get(question, [])
        out = []
        for heading, group in ((None, self.graded(question)),
                               ("-- advice (the course does not test these; they never change the exit status)",
                                [r for r in results if r["advice"]])):
            if heading and group:
                out.append(heading)
            for r in group:
                out.append(f"{r['status']:5s} {r['function']}: {r['title']}")
                if r["status"] == "WARN":
                    out.append(f"      the course does not test this; still worth fixing because {r['advice']}")
                if r["status"] in ("FAIL", "ERROR", "WARN", "SKIP") and r["message"]:
                    out.append(f"      {r['message']}")
                if r["status"] in ("FAIL", "ERROR", "WARN") and r["hint"]:
                    out.append(f"      hint: {r['hint']}")
                if (verbose or r["always"]) and str(r["detail"]).strip():
                    out.append("      the last output lines:")
                    out += [f"      {text}" for text in str(r["detail"]).splitlines()]
        return out

    def graded(self, question):
        return [r for r in self.questions.get(question, []) if not r["advice"]]

    def warnings(self, question):
        return [r for r in self.questions.get(question, []) if r["status"] == "WARN"]

    def exit_code(self, question=None):
        if question is not None:
            return exit_status(r["status"] for r in self.graded(question))
        return exit_status({EXIT_ERROR: "ERROR", EXIT_WRONG: "FAIL", EXIT_PASS: "PASS"}[self.exit_code(q)]
                           for q in self.questions)

    def notes(self, question):
        """Notes for failing graded checks whose function usually relies on another failing one."""
        failing = [r["function"] for r in self.graded(question) if r["status"] in GRADED_FAILURES]
        notes = []
        for function in dict.fromkeys(failing):
            causes = [d for d in DEPENDS.get(function, ()) if d in failing]
            if causes:
                notes.append(f"{' and '.join(causes)} fail{'s' if len(causes) == 1 else ''} too, and {function} "
                             f"usually relies on {'it' if len(causes) == 1 else 'them'}: fix {causes[0]} first")
        return notes


def _record(report, job, events, info):
    """Add the verdicts of one job's events to ``report``; drop the checks that got one from job['tests']."""
    question = job["question"]
    for event in events:
        if event["event"] == "imported":
            for module, problem in event["problems"].items():
                if module not in job.setdefault("problems", {}):
                    job["problems"][module] = problem
                    _import_verdict(report, job, module, problem)
        elif event["event"] == "result":
            test_id = event["test"]
            job["tests"].remove(test_id)
            function, title, advice = info[test_id]
            if event["status"] == "NOT RUN":       # its module is missing or did not import: count it there
                module = next((m for m, problem in job["problems"].items() if problem == event["message"]), None)
                job.setdefault("not_run", collections.Counter())[module] += not advice
                continue
            about = event.get("function")
            if about and about != function and (" / " in function or about in DEPENDS.get(function, ())
                                                or function in DEPENDS.get(about, ())):
                title = title if " / " in function else f"called by the {function} check ({title})"
                function = about
            report.add(question, event["status"], function, title, event.get("message", ""), event.get("hint"),
                       event.get("detail", ""), test=test_id, advice=advice)


def _import_verdict(report, job, module, problem, detail=""):
    missing = "is missing" in problem
    report.add(job["question"], "ERROR", f"{module}.py" if missing else f"import {module}.py",
               "the file is there" if missing else "the module imports", problem, _import_hint(module, problem),
               detail=detail, always=bool(detail))
    job.setdefault("imports", {})[module] = report.questions[job["question"]][-1]


def _finish(job):
    """Say on each import verdict how many graded checks could not run because of it."""
    for module, count in job.get("not_run", {}).items():
        if count and module in job.get("imports", {}):
            job["imports"][module]["message"] += f" ({count} graded checks could not run)"


def grade(jobs, scratch, timeout, jobs_per_child=1):
    """Grade ``jobs`` ([{question, folders, source, report}]) into each job's Report; a child that ends without
    a verdict is replaced by a fresh one for the remaining checks."""
    info = {q: {t: (f, title, adv) for t, f, title, adv in checks_of(q)} for q in {j["question"] for j in jobs}}
    pending = [dict(job, tests=list(info[job["question"]])) for job in jobs]
    order = list(range(len(pending)))
    while order:
        batch = order[:jobs_per_child]
        events, ended, output = run_child([{k: pending[i].get(k) for k in ("question", "folders", "source", "tests",
                                                                          "problems")} for i in batch],
                                          scratch, timeout)
        by_job = {}
        for event in events:
            if "job" in event:
                by_job.setdefault(batch[event["job"]], []).append(event)
        for position, index in enumerate(batch):
            job, job_events = pending[index], by_job.get(index, [])
            if not job_events and ended is not None and position > 0:
                break                         # the child ended before this job: a fresh child takes it
            _record(job["report"], job, job_events, info[job["question"]])
            unfinished = bool(job["tests"])
            if unfinished:                    # the child ended during this job: say where, then a fresh child
                _no_verdict(job["report"], job, job_events, ended or "the checks ended without a verdict", output,
                            info[job["question"]])
            if not job["tests"]:
                _finish(job)
                order.remove(index)
            if unfinished:
                break


def _no_verdict(report, job, events, ended, output, info):
    """Report the check (or import) during which the child ended without a verdict; drop it from the job."""
    question = job["question"]
    imported = any(e["event"] == "imported" for e in events)
    running = next((e["test"] for e in reversed(events) if e["event"] in ("start", "result")), None)
    last = events[-1]["event"] if events else None
    if not imported:
        module = next((e["module"] for e in reversed(events) if e["event"] == "import"), None)
        why = ("it hung while being imported (an endless loop at import?)" if ended.startswith("killed")
               else "importing it ended the program (sys.exit or os._exit at import?)")
        if module is None:                    # the process ended before it could import anything
            report.add(question, "ERROR", question, "the grading process starts", f"no verdict: {ended}",
                       detail=output, always=True)
            job["tests"] = []
            return
        problem = (f"no verdict: {ended} while importing {module}.py: {why}; a module must only define functions "
                   f"and classes at import: no endless loops, no exit()")
        job.setdefault("problems", {})[module] = problem
        _import_verdict(report, job, module, problem, output)
        return
    if last != "start":
        report.add(question, "ERROR", question, "the checks ran to the end", f"no verdict: {ended} between checks",
                   detail=output, always=True)
        job["tests"] = []
        return
    function, title, advice = info[running]
    why = ("an endless loop, or an exception swallowed inside a loop?" if ended.startswith("killed")
           else "did the code call os._exit() or crash the interpreter?")
    report.add(question, "ERROR", function, title, f"no verdict: {ended} while checking {function} ({why})",
               "a graded function must return its result in reasonable time and never end the program",
               detail=output, test=running, advice=advice, always=True)
    job["tests"] = [t for t in job["tests"] if t != running]


def _import_hint(module, message):
    if "is missing" in message:
        return f"put your {module}.py there (the course expects exactly this file name)"
    if "No module named" in message:
        return (f"{module}.py may import only NumPy, Matplotlib and cvxopt, its own course modules and the course's "
                f"helper files (layers.py, solver.py, ...): nothing else exists in the course's environment")
    return f"`python -c 'import {module}'` must work from a folder holding only the submission and the course's files"


def main(argv=None):
    from grading.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2], sys.argv[3]))
    sys.exit(main())
