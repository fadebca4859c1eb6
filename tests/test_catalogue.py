"""The grading kit's catalogue (tests/grading_cases/catalogue.toml): its exit status must be the course's verdict.

Each entry is graded as the course grades a submission: the question's modules from tests/naive/ with the entry's
edits, beside the course's helper files. The exit status must be the catalogue's (the course's verdict), the
failing graded functions exactly the named ones, and the advice it lists must WARN; every correct alternative
exits 0. The measured counts are printed. The entries are graded through grading.runner.grade, many submissions
per child process (each with freshly imported modules); bugs without the optional PyTorch / scikit-learn oracles
(the kit's own checks must catch them), correct alternatives with them (they must pass those too).
"""
import collections
import os
import shutil
import tomllib
from pathlib import Path

import pytest

from grading import sandbox
from grading.runner import Report, grade

ROOT = Path(__file__).resolve().parents[1]
NAIVE = ROOT / "tests" / "naive"
CASES = ROOT / "tests" / "grading_cases"
CATALOGUE = tomllib.loads((CASES / "catalogue.toml").read_text())
BUGS, CORRECT = CATALOGUE["bug"], CATALOGUE["correct"]
HANG_TIMEOUT = 6          # seconds per check for the cases that never return
FAILING = ("FAIL", "ERROR")


# ----------------------------------------------------------------------------------------------------
# building and grading cases
# ----------------------------------------------------------------------------------------------------
def case_modules(case):
    """{module name: source text} of every module the case changes (its own module first)."""
    if case.get("source") == "repo":
        return {case["module"]: (ROOT / f"{case['module']}.py").read_text()}
    texts = {case["module"]: (CASES / case["file"] if "file" in case else NAIVE / f"{case['module']}.py").read_text()}
    for edit in case.get("edit", []):
        module = edit.get("module", case["module"])
        text = texts.setdefault(module, (NAIVE / f"{module}.py").read_text())
        if "append" in edit or "append_file" in edit:
            texts[module] = text + "\n\n" + (edit.get("append") or (CASES / edit["append_file"]).read_text())
            continue
        count = text.count(edit["find"])
        assert count == 1 or (edit.get("all") and count >= 1), \
            f"{case['id']}: the text to replace occurs {count} times in {module}.py: {edit['find']!r}"
        texts[module] = text.replace(edit["find"], edit["replace"])
    return texts


def question(case):
    return sandbox.question_of(case["module"])


def naive_copy(folder, modules=sandbox.SUBMITTED):
    """A new folder holding a copy of ``modules`` from tests/naive."""
    folder.mkdir(parents=True)
    for module in modules:
        shutil.copy2(NAIVE / f"{module}.py", folder / f"{module}.py")
    return folder


class NoOptional:
    """Within: the optional PyTorch / scikit-learn oracle checks are skipped (the children inherit it)."""

    def __init__(self, on):
        self.on = on

    def __enter__(self):
        self.saved = os.environ.get("HW4_AUTOGRADER_NO_OPTIONAL")
        if self.on:
            os.environ["HW4_AUTOGRADER_NO_OPTIONAL"] = "1"

    def __exit__(self, *exc):
        os.environ.pop("HW4_AUTOGRADER_NO_OPTIONAL", None)
        if self.saved is not None:
            os.environ["HW4_AUTOGRADER_NO_OPTIONAL"] = self.saved


def grade_cases(base, cases, optional):
    """{case id: Report of its question} for every case, each graded as a full submission of its question."""
    jobs = {False: [], True: []}                  # by hang
    for case in cases:
        folder = naive_copy(base / case["id"] / "submitted", sandbox.QUESTIONS[question(case)])
        for module, text in case_modules(case).items():
            (folder / f"{module}.py").write_text(text)
        folders = sandbox.build_folders(folder, base / case["id"], question(case))
        jobs[bool(case.get("hang"))].append(dict(question=question(case), source=str(folder), report=Report(),
                                                 folders={k: str(v) for k, v in folders.items()}, id=case["id"]))
    with NoOptional(not optional):
        grade(jobs[False], base, 60, jobs_per_child=len(jobs[False]))
        if jobs[True]:
            grade(jobs[True], base, HANG_TIMEOUT, jobs_per_child=len(jobs[True]))
    return {job["id"]: job["report"] for job in jobs[False] + jobs[True]}


@pytest.fixture(scope="module")
def bug_reports(tmp_path_factory):
    return grade_cases(tmp_path_factory.mktemp("bugs"), BUGS, optional=False)


@pytest.fixture(scope="module")
def correct_reports(tmp_path_factory):
    return grade_cases(tmp_path_factory.mktemp("correct"), CORRECT, optional=True)


def verdict_problems(case, report):
    """What is wrong with the kit's verdict on a case ([] when it is the catalogue's)."""
    q, problems = question(case), []
    results = report.questions[q]
    code = report.exit_code(q)
    if code != case.get("exit", 0):
        problems.append(f"exit {code}, expected {case.get('exit', 0)}")
    named = {r["function"] for r in report.graded(q) if r["status"] in FAILING}
    if case.get("names") and not named & set(case["names"]):
        problems.append(f"none of {case['names']} is reported failing (failing: {sorted(named)})")
    if named - set(case.get("names", [])):
        problems.append(f"also blames {sorted(named - set(case.get('names', [])))}")
    warned = {r["function"] for r in report.warnings(q)}
    if case.get("warns") and not set(case["warns"]) <= warned:
        problems.append(f"no WARN for {sorted(set(case['warns']) - warned)} (warned: {sorted(warned)})")
    flagged = [r for r in results if r["status"] in (*FAILING, "WARN")]
    if "message" in case and not any(case["message"].lower() in f"{r['message']} {r['hint']}".lower()
                                     for r in flagged):
        problems.append(f"no failing or warning check says {case['message']!r}")
    repeated = [line for line, n in collections.Counter(report.lines(q)).items() if n >= 10 and line.strip()]
    if repeated:
        problems.append(f"a line repeats 10 times or more: {repeated[0]!r}")
    return problems


def show(report, q):
    return "\n".join(report.lines(q, verbose=True))


# ----------------------------------------------------------------------------------------------------
# the catalogue
# ----------------------------------------------------------------------------------------------------
def test_catalogue_size_and_edits_apply():
    assert len(BUGS) >= 70 and len(CORRECT) >= 20
    assert len({c["id"] for c in BUGS + CORRECT}) == len(BUGS) + len(CORRECT)
    for case in BUGS + CORRECT:
        assert case["module"] in sandbox.SUBMITTED, case["id"]
        texts = case_modules(case)                          # every find occurs exactly once
        if case in BUGS:
            assert texts[case["module"]] != (NAIVE / f"{case['module']}.py").read_text(), case["id"]
            assert case["exit"] in (0, 1, 2), case["id"]
            assert case["names"] if case["exit"] else case["warns"], case["id"]   # caught by grade or by advice


@pytest.mark.parametrize("bug", BUGS, ids=[b["id"] for b in BUGS])
def test_bug_gets_the_courses_verdict(bug, bug_reports):
    problems = verdict_problems(bug, bug_reports[bug["id"]])
    assert not problems, "; ".join(problems) + "\n" + show(bug_reports[bug["id"]], question(bug))


@pytest.mark.parametrize("case", CORRECT, ids=[c["id"] for c in CORRECT])
def test_correct_alternative_exits_0(case, correct_reports):
    report = correct_reports[case["id"]]
    problems = verdict_problems(dict(case, exit=0), report)
    assert not problems, "; ".join(problems) + "\n" + show(report, question(case))


def test_catalogue_counts(bug_reports, correct_reports, capsys):
    right = [b["id"] for b in BUGS if not verdict_problems(b, bug_reports[b["id"]])]
    graded = [b for b in BUGS if b["exit"]]
    advised = [b for b in BUGS if not b["exit"]]
    accepted = [c["id"] for c in CORRECT if not verdict_problems(dict(c, exit=0), correct_reports[c["id"]])]
    with capsys.disabled():
        print(f"\nautograder catalogue: {len(right)}/{len(BUGS)} bugs get the course's verdict ({len(graded)} fail "
              f"the course's tests: exit {sum(b['exit'] == 1 for b in graded)} x 1, "
              f"{sum(b['exit'] == 2 for b in graded)} x 2; {len(advised)} pass them and are caught by advice); "
              f"{len(accepted)}/{len(CORRECT)} correct alternatives exit 0")
    assert len(right) == len(BUGS) and len(accepted) == len(CORRECT)


def test_hint_and_message_of_a_wrong_gradient(bug_reports):
    """A FAIL names the function, the input that exposed it, got against expected and a hint at the usual cause."""
    report = bug_reports["conv_backward_dx_kernel_flipped"]
    [check] = [r for r in report.graded("cnn") if r["status"] in FAILING]
    assert check["status"] == "FAIL" and check["function"] == "conv_backward"
    assert "x (7, 3, 19, 19), w (5, 3, 4, 4)" in check["message"] and "got" in check["message"] \
        and "expected" in check["message"] and "< 1e-06" in check["message"]
    assert "rotated 180 degrees" in check["hint"]
    assert "hint: the kernel must be flipped for dx" in "\n".join(report.lines("cnn"))


def test_a_float32_result_names_the_dtype_and_no_other_function(bug_reports):
    report = bug_reports["conv_forward_float32_result"]
    [check] = [r for r in report.graded("cnn") if r["status"] in FAILING]
    assert check["function"] == "conv_forward" and check["status"] == "ERROR"
    assert "dtype float32, expected float64" in check["message"]


def test_a_function_that_fails_because_another_does_gets_a_note(bug_reports):
    report = bug_reports["rnn_step_backward_missing_tanh_derivative"]
    assert "rnn_step_backward fails too, and rnn_backward usually relies on it" in " ".join(report.notes("rnn"))


def test_advice_says_why_and_never_changes_the_exit(bug_reports):
    report = bug_reports["max_pool_backward_divides_ties"]
    assert report.exit_code("cnn") == 0
    [warn] = report.warnings("cnn")
    lines = "\n".join(report.lines("cnn"))
    assert "WARN  max_pool_backward" in lines and "the course does not test this; still worth fixing because" in lines
    assert "divided among the tied maxima" in warn["message"]


def test_numpy2_removals_are_advice_naming_the_line_and_both_spellings(correct_reports):
    report = correct_reports["svm_np_float_in_supplied_code"]
    [warn] = report.warnings("svm")
    assert "svm.py:" in warn["message"] and "np.float_" in warn["message"] and "write np.float64" in warn["message"]
    assert "NumPy 1.x" in warn["message"]


def test_a_process_dying_while_importing_one_module_does_not_stop_the_others(bug_reports):
    report = bug_reports["rnn_os_exit_at_import"]
    graded = {r["function"]: r["status"] for r in report.graded("rnn")}
    assert graded["import rnn.py"] == "ERROR" and graded["temporal_fc_forward"] == "PASS", show(report, "rnn")
    assert "graded checks could not run" in next(r["message"] for r in report.graded("rnn")
                                                 if r["function"] == "import rnn.py")
