"""`pytest -m course` is the students' local gradient check: every course-marked test must pass on any
correct implementation of the course's API. Run it here on the deliberately naive implementations in
tests/naive/ (plain loops, the course's own cache layouts), so a course test that only our code can pass
fails the suite."""
import os
import subprocess
import sys
from pathlib import Path

NAIVE = Path(__file__).resolve().parent / "naive"


def test_course_marked_tests_pass_on_the_naive_implementations():
    env = {**os.environ, "HW4_IMPL_DIR": str(NAIVE)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-m", "course", "-q", "-p", "no:cacheprovider",
                             str(Path(__file__).resolve().parent)],
                            cwd=NAIVE.parents[1], env=env, capture_output=True, text=True, timeout=1800)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary


def test_the_naive_modules_are_the_ones_under_test():
    """HW4_IMPL_DIR really shadows the repository's modules (else the test above proves nothing)."""
    env = {**os.environ, "HW4_IMPL_DIR": str(NAIVE)}
    probe = ("import sys; sys.path.insert(0, 'tests'); import conftest, cnn_layers, rnn_layers, svm, cnn, rnn; "
             "print('|'.join(m.__file__ for m in (cnn_layers, rnn_layers, svm, cnn, rnn)))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=NAIVE.parents[1], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert all(Path(f).parent == NAIVE for f in result.stdout.strip().split("|")), result.stdout
