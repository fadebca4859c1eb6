"""The grading kit: EECS 545 HW4's autograded parts judged as the course's autograder judges them.

`python autograder.py [cnn|rnn|svm|all] [--dir DIR]` (the entry point at the top of the repository) grades the
submitted modules cnn_layers.py, cnn.py, rnn_layers.py, rnn.py and svm.py beside course-style copies of the
helper files the course supplies. Its exit status is the course's verdict, from the course's contract only
(/work/shared/README.md, "The course's grading conventions", as summarised in each test module):

    0  every graded check passed;
    2  some answer differs from the reference (max |got - expected| >= 1e-6), and nothing else went wrong;
    1  anything else: a missing file, an import error, an exception, a wrong dtype or shape (compared before
       the values), a modified input, a time-out, a process that ended without a verdict.

Checks beyond that contract (non-square images, initial values, extreme scales, tie handling of the provided
max pooling, PyTorch / scikit-learn oracles, NumPy 2 removals, a second run of the models beside the kit's
reference layers) are advice: they print WARN with the same precise diagnosis and never change the exit
status.

Modules:
- test_cnn.py, test_rnn.py, test_svm.py: one per question, as the course's own files are built: reference
  functions, one TestCase, a runner;
- reference/: the kit's reference implementations of the course modules (the course's API and caches);
- case.py: the TestCase base (calling submitted code, the course's comparison, advice);
- verdicts.py: outcomes and exit codes; sandbox.py: the grading folders, imports, SciPy ban, NumPy 2;
- runner.py: child processes with time limits, the report; cli.py: the command line.
"""
