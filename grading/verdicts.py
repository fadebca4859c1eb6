"""Outcomes of a check and the exit status they give, as the course's autograder gives them."""
import traceback
from pathlib import Path

EXIT_PASS, EXIT_ERROR, EXIT_WRONG = 0, 1, 2
GRADED_FAILURES = ("FAIL", "ERROR")      # the statuses that decide the exit status
ADVICE_PREFIX = "the course does not test this; still worth fixing because "


class Verdict(Exception):
    """A check's negative outcome with its ``hint`` and ``function`` (the graded function it is about)."""

    def __init__(self, message, hint=None, function=None):
        super().__init__(message)
        self.hint, self.function = hint, function


class CheckFailure(Verdict, AssertionError):
    """A value comparison failed: FAIL, exit 2."""


class ContractError(Verdict):
    """Wrong type, dtype or shape, a modified input, a name the course patches that is missing: ERROR, exit 1."""


class StudentError(Exception):
    """The submitted code raised (or called sys.exit): ERROR, exit 1."""

    def __init__(self, label, exc, inputs, context=None):
        self.label, self.exc, self.inputs = label, exc, inputs
        self.function = label.split(" ")[0]
        super().__init__(describe_exception(label, exc, inputs, context))


def describe_exception(label, exc, inputs=None, context=None):
    """One line: what the submitted code raised, on which input, and where in the student's own files
    (``context``: the grading Context, which knows them)."""
    if isinstance(exc, SystemExit):
        what = f"{label} called sys.exit({exc.code!r}): graded code must return its result, never end the program"
    elif isinstance(exc, NotImplementedError):
        what = f"{label} is not implemented yet (raises NotImplementedError{': ' + str(exc) if str(exc) else ''})"
    else:
        what = f"{label} raised {type(exc).__name__}: {exc}"
    where = where_raised(exc, context.student_files(), context.student_folders()) if context else ""
    return "; ".join(part for part in (what, inputs and f"input: {inputs}", where) if part)


def where_raised(exc, student_files, folders):
    """'at file.py:line in function: code' for the innermost frame of ``exc`` in one of ``student_files``; when
    the innermost frame of all is in another file of the grading ``folders`` (a course helper such as layers.py,
    or a kit reference layer), say so: the line to look at is the student's line that called it."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if str(Path(f.filename).resolve()) in student_files]
    if not own:
        return ""
    f = own[-1]
    text = f"at {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}"
    last = frames[-1]
    if last is not f and any(last.filename.startswith(str(folder)) for folder in folders):
        text = (f"inside {Path(last.filename).name}, a file the course supplies (or the kit's reference, which "
                f"accepts what the course's accepts), called {text}")
    return text


def exit_status(statuses):
    """The course's exit status for the statuses of the graded checks: 1 wins over 2."""
    statuses = set(statuses)
    return EXIT_ERROR if "ERROR" in statuses else EXIT_WRONG if "FAIL" in statuses else EXIT_PASS
