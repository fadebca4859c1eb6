"""`make data`: ``python -m hw4.data`` prepares every dataset (real data when present or downloadable, else the
offline default) and the Q3 weights; exit status 1 when a step could not be done (its message says what to do)."""
import sys

from hw4.data import backbone, coco, hymenoptera, mnist


def main():
    steps = (mnist.make_data_step, coco.make_data_step, hymenoptera.make_data_step, backbone.make_data_step)
    failed = [step for step in steps if step() != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
