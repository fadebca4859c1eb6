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

    def __init__(self, label, exc, inputs, folders=()):
        self.label, self.exc, self.inputs = label, exc, inputs
        self.function = label.split(" ")[0]
        super().__init__(describe_exception(label, exc, inputs, folders))


def describe_exception(label, exc, inputs=None, folders=()):
    """One line: what the submitted code raised, on which input, and where in the student's own files."""
    if isinstance(exc, SystemExit):
        what = f"{label} called sys.exit({exc.code!r}): graded code must return its result, never end the program"
    elif isinstance(exc, NotImplementedError):
        what = f"{label} is not implemented yet (raises NotImplementedError{': ' + str(exc) if str(exc) else ''})"
    else:
        what = f"{label} raised {type(exc).__name__}: {exc}"
    return "; ".join(part for part in (what, inputs and f"input: {inputs}", where_raised(exc, folders)) if part)


def where_raised(exc, folders, kit_files=()):
    """'at file.py:line in function: code' for the innermost frame of ``exc`` in a student's file under one of
    ``folders``; when the innermost frame is in one of ``kit_files`` (the kit's reference layers placed beside
    the student's file), say so and name the student's line that called it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if any(f.filename.startswith(str(folder)) for folder in folders)]
    if not frames:
        return ""
    kit = {str(Path(f)) for f in kit_files}
    own = [f for f in frames if f.filename not in kit]
    if not own:
        return ""
    text = f"at {Path(own[-1].filename).name}:{own[-1].lineno} in {own[-1].name}: {(own[-1].line or '').strip()}"
    if frames[-1].filename in kit:
        text = (f"inside the kit's reference {Path(frames[-1].filename).name} (which accepts what the course's "
                f"accepts), called {text}")
    return text


def exit_status(statuses):
    """The course's exit status for the statuses of the graded checks: 1 wins over 2."""
    statuses = set(statuses)
    return EXIT_ERROR if "ERROR" in statuses else EXIT_WRONG if "FAIL" in statuses else EXIT_PASS
