"""The tools around the HW4 solution; the course receives none of this (the notebooks import it behind a guard).

- data/:       every dataset, from the official source (one pooch registry with the hashes) or a real offline
               default; ``python -m hw4.data`` is ``make data``
- notebooks.py: runs the notebooks top to bottom (``make run``); lines.py: the lines they print for the tools
               (run header, FINGERPRINT, SUMMARY) and what the course receives; nbtools.py: what they call
- figures/:    figures per question
- svm_qp.py:   the structured QP solver svm.py uses for large problems when this package is importable
- submit.py:   ``make submit``; writeup.py: ``make writeup``
- files.py:    atomic writes and the messages about files
"""
