"""`pytest -m course` is the students' local check of the course's contract: every course-marked test must pass
on any implementation the course accepts. Run it here on the deliberately naive implementations in tests/naive/
(plain loops, the course's own cache layouts) and on a folder laid out as a student's: those modules beside the
course-style helper files the grading kit uses (the course's layers.py, solver.py, coco_utils.py, ...), where
nothing of this package but the tests is importable from the folder. A course test that only our code can pass,
or a test file that cannot even be collected there, fails the suite."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading import sandbox

TESTS = Path(__file__).resolve().parent
NAIVE = TESTS / "naive"


def course_suite(impl_dir):
    env = {**os.environ, "HW4_IMPL_DIR": str(impl_dir)}
    return subprocess.run([sys.executable, "-m", "pytest", "-m", "course", "-q", "-p", "no:cacheprovider", str(TESTS)],
                          cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=1800)


def student_folder(folder):
    """tests/naive's submitted modules beside the course-style helpers, as a student's folder holds them."""
    folder.mkdir()
    for module in sandbox.SUBMITTED:
        shutil.copy2(NAIVE / f"{module}.py", folder / f"{module}.py")
    for helper in sandbox.COURSE_HELPERS:
        if sandbox.helper_source(helper).is_file():
            shutil.copy2(sandbox.helper_source(helper), folder / helper)
    return folder


@pytest.mark.parametrize("where", ["tests/naive", "a student's folder with the course's helper files"])
def test_course_marked_tests_pass(where, tmp_path):
    result = course_suite(NAIVE if where == "tests/naive" else student_folder(tmp_path / "student"))
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    assert int(summary.split(" passed")[0].split()[-1]) >= 100, summary


def test_the_naive_modules_are_the_ones_under_test():
    """HW4_IMPL_DIR really shadows the repository's modules (else the test above proves nothing)."""
    env = {**os.environ, "HW4_IMPL_DIR": str(NAIVE)}
    probe = ("import sys; sys.path.insert(0, 'tests'); import conftest, cnn_layers, rnn_layers, svm, cnn, rnn; "
             "print('|'.join(m.__file__ for m in (cnn_layers, rnn_layers, svm, cnn, rnn)))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=TESTS.parent, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert all(Path(f).parent == NAIVE for f in result.stdout.strip().split("|")), result.stdout
