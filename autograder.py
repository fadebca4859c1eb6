#!/usr/bin/env python
"""Local autograder for the autograded parts of EECS 545 HW4: the course's verdict before you spend one of your
five daily submissions.

    python autograder.py                      # grade cnn_layers.py, cnn.py, rnn_layers.py, rnn.py, svm.py here
    python autograder.py cnn svm              # some questions: cnn (Q1), rnn (Q2), svm (Q4), all
    python autograder.py --dir DIR            # grade the submitted modules found in DIR (nothing else from it)
    python autograder.py --no-optional        # skip the advisory PyTorch / scikit-learn oracles
    python autograder.py --json report.json   # also write every verdict as JSON
    pytest autograder.py -k conv              # the same checks in one process (HW4_AUTOGRADER_DIR=DIR grades DIR);
                                              # advice is reported as warnings there

Exit status, as the course's autograder: 0 every graded check passed; 2 some answer differs from the reference
(max |got - expected| >= 1e-6) and nothing else went wrong; 1 anything else (missing file, import error,
exception, wrong dtype or shape, modified input, time-out, no verdict; 1 wins over 2). Graded checks are the
course's tests; WARN lines are advice beyond them and never change the exit status. The kit lives in grading/.
"""
import sys

from grading.runner import main
from grading.inprocess import TestCnn, TestRnn, TestSvm  # noqa: F401  (collected by pytest / unittest)

if __name__ == "__main__":
    sys.exit(main())
