"""The checks in one process, for `pytest autograder.py -k conv` and `python -m unittest autograder`: the folders
are built on first use from HW4_AUTOGRADER_DIR (default: the repository) and removed at exit. Advice is
reported as GradingAdvice warnings there; a time limit needs the command line (python autograder.py)."""
import atexit
import os
import shutil
import tempfile
from pathlib import Path

from grading import sandbox
from grading.runner import Context
from grading.test_cnn import TestCnn
from grading.test_rnn import TestRnn
from grading.test_svm import TestSvm

__all__ = ["TestCnn", "TestRnn", "TestSvm"]


class LazyContext:
    """A question's Context, built the first time a check asks for a module."""

    def __init__(self, question):
        self.question, self.context = question, None

    def __getattr__(self, name):
        if self.context is None:
            source = Path(os.environ.get("HW4_AUTOGRADER_DIR", sandbox.ROOT))
            scratch = tempfile.mkdtemp(prefix="hw4-autograder-")
            atexit.register(shutil.rmtree, scratch, True)
            folders = sandbox.build_folders(source, scratch, self.question)
            files = [folders["submission"] / f"{m}.py" for m in sandbox.QUESTIONS[self.question]]
            sandbox.enter_course_environment(files)
            self.context = Context(self.question, folders, source)
        return getattr(self.context, name)


for _case in (TestCnn, TestRnn, TestSvm):
    _case.CONTEXT, _case.__test__ = LazyContext(_case.QUESTION), True
