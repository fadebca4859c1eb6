"""Solver: overfitting, history lengths, learning-rate decay, best params, argument checks."""
import numpy as np
import pytest

from cnn import ConvNet
from solver import Solver


class _Linear(object):
    """A softmax regression model with a controllable validation accuracy, for bookkeeping tests."""

    def __init__(self, D=4, C=3):
        self.params = {"W": np.zeros((D, C))}

    def loss(self, X, y=None):
        scores = X @ self.params["W"]
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(len(y)), y]).mean()
        probs[np.arange(len(y)), y] -= 1
        return loss, {"W": X.T @ probs / len(y)}


def _toy_data(N=60, D=4, C=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, N)
    X = rng.standard_normal((N, D)) + 3 * np.eye(C, D)[y]
    return {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}


def test_convnet_overfits_50_images():
    from hw4.data.mnist import load_mnist
    data = load_mnist()
    small = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50],
             "X_val": data["X_val"][:50], "y_val": data["y_val"][:50]}
    np.random.seed(0)
    model = ConvNet()
    solver = Solver(model, small, update_rule="adam", optim_config={"learning_rate": 3e-3},
                    batch_size=25, num_epochs=40, num_train_samples=None, verbose=False)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.loss_history) == 40 * 2


def test_history_lengths_and_lr_decay():
    np.random.seed(0)
    data = _toy_data()
    solver = Solver(_Linear(), data, update_rule="sgd", optim_config={"learning_rate": 0.5},
                    lr_decay=0.9, batch_size=7, num_epochs=4, verbose=False)
    solver.train()
    iterations_per_epoch = 60 // 7
    assert len(solver.loss_history) == 4 * iterations_per_epoch
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 5
    assert solver.epoch == 4
    assert solver.optim_configs["W"]["learning_rate"] == pytest.approx(0.5 * 0.9 ** 4)
    assert solver.loss_history[-1] < solver.loss_history[0]


def test_at_least_one_step_per_epoch_when_batch_exceeds_data():
    solver = Solver(_Linear(), _toy_data(N=10), batch_size=50, num_epochs=3, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 3


def test_best_params_are_restored():
    np.random.seed(0)
    data = _toy_data()
    model = _Linear()
    solver = Solver(model, data, optim_config={"learning_rate": 0.5}, batch_size=10, num_epochs=3, verbose=False)
    solver.train()
    best = int(np.argmax(solver.val_acc_history))
    assert solver.best_val_acc == max(solver.val_acc_history)
    np.testing.assert_array_equal(model.params["W"], solver.best_params["W"])
    # the restored weights reproduce the best validation accuracy
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.val_acc_history[best]


def test_check_accuracy_in_batches():
    data = _toy_data(N=45)
    solver = Solver(_Linear(), data, verbose=False)
    solver.model.params["W"] = 3 * np.eye(4, 3)
    full = np.mean(np.argmax(data["X_train"] @ solver.model.params["W"], 1) == data["y_train"])
    assert solver.check_accuracy(data["X_train"], data["y_train"], batch_size=7) == pytest.approx(full)


def test_argument_errors():
    data = _toy_data()
    with pytest.raises(ValueError, match="Unrecognized arguments"):
        Solver(_Linear(), data, learning_rate=1e-3)
    with pytest.raises(ValueError, match='Invalid update_rule "rmsprop_typo"'):
        Solver(_Linear(), data, update_rule="rmsprop_typo")
    with pytest.raises(ValueError, match="missing"):
        Solver(_Linear(), {"X_train": data["X_train"]})


def test_diverging_loss_raises():
    data = _toy_data()
    model = _Linear()
    model.loss = lambda X, y=None: (np.nan, {"W": np.zeros((4, 3))}) if y is not None else X @ model.params["W"]
    with pytest.raises(FloatingPointError, match="learning rate"):
        Solver(model, data, num_epochs=1, verbose=False).train()
