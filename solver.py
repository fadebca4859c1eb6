"""Solver: the one minibatch training loop shared by the CNN (Q1) and the captioning RNN (Q2).

A model exposes ``params`` (dict name -> array) and ``loss(*batch)``, which returns ``(loss, grads)``
with grads keyed like params (and class scores of shape (N, classes) when called with inputs only,
for accuracy checks). Subclasses change what a batch is and what is recorded through the hooks
``_num_train``, ``_sample_batch``, ``_check_accuracies`` and ``_finish``.

Example:
    data = {"X_train": ..., "y_train": ..., "X_val": ..., "y_val": ...}   # e.g. MNIST, as cnn.ipynb loads it
    solver = Solver(model, data, update_rule='sgd',
                    optim_config={'learning_rate': 1e-3, 'momentum': 0.9},
                    lr_decay=0.95, num_epochs=3, batch_size=25)
    solver.train()
"""
import contextlib
import os

import numpy as np

import optim


class _NoBar:
    """What Solver uses of a tqdm progress bar, showing nothing but the lines it is asked to write."""

    def __init__(self, **kwargs):
        self.update = self.set_postfix = self.close = lambda *args, **kwargs: None

    write = staticmethod(print)


class Solver(object):
    """Trains a classification model with minibatch gradient descent.

    Inputs:
    - model: object with ``params`` and ``loss(X, y=None)``.
    - data: dict with X_train (N, ...), y_train (N,) int, X_val (N_val, ...), y_val (N_val,) int;
      other keys are ignored.
    - kwargs (all optional): update_rule (name of a function in optim.py), optim_config (dict copied
      for every parameter), lr_decay (learning-rate factor applied at each epoch end), batch_size,
      num_epochs, print_every (iterations between progress-bar loss updates), verbose,
      num_train_samples (1000: training images used for the train accuracy after every epoch),
      num_val_samples (None: the whole validation set), blas_threads (1: BLAS threads while training;
      None leaves the setting alone).

    Attributes after train(): epoch, loss_history (one float per iteration), train_acc_history and
    val_acc_history (num_epochs + 1 floats: before training and after every epoch), best_val_acc,
    best_params (the parameters with the best validation accuracy, copied into the model at the end),
    optim_configs (dict name -> config of the update rule).
    """

    default_kwargs = {"update_rule": "sgd", "optim_config": {}, "lr_decay": 1.0, "batch_size": 500,
                      "num_epochs": 10, "print_every": 1, "verbose": True,
                      "num_train_samples": 1000, "num_val_samples": None, "blas_threads": 1}
    required_data_keys = ("X_train", "y_train", "X_val", "y_val")

    def __init__(self, model, data, **kwargs):
        unknown = sorted(set(kwargs) - set(self.default_kwargs))
        if unknown:
            raise ValueError(f"Unrecognized arguments {unknown}; allowed: {sorted(self.default_kwargs)}")
        missing = [key for key in self.required_data_keys if key not in data]
        if missing:
            raise ValueError(f"data is missing {missing}; expected keys {list(self.required_data_keys)}")
        settings = {**self.default_kwargs, **kwargs}
        self.model = model
        self.data = data
        self.update_rule_name = settings["update_rule"]
        rule = getattr(optim, self.update_rule_name, None) if isinstance(self.update_rule_name, str) else None
        if rule is None or self.update_rule_name.startswith("_") or not callable(rule):
            raise ValueError(f'Invalid update_rule "{self.update_rule_name}"; use a function of optim.py '
                             f'such as "sgd" or "adam"')
        self.update_rule = rule
        self.optim_config = dict(settings["optim_config"])
        self.lr_decay = float(settings["lr_decay"])
        self.batch_size = int(settings["batch_size"])
        self.num_epochs = int(settings["num_epochs"])
        self.print_every = max(int(settings["print_every"]), 1)
        self.verbose = bool(settings["verbose"])
        # Accuracy settings exist only for subclasses that keep Solver's accuracy checks.
        self.num_train_samples = settings.get("num_train_samples")
        self.num_val_samples = settings.get("num_val_samples")
        self.blas_threads = settings["blas_threads"]
        if self.batch_size <= 0 or self.num_epochs < 0:
            raise ValueError(f"batch_size must be positive and num_epochs non-negative, got "
                             f"{self.batch_size} and {self.num_epochs}")
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    # ----- hooks a subclass may override ---------------------------------------------------------
    def _num_train(self):
        """Number of training examples (the unit of an epoch)."""
        return self.data["X_train"].shape[0]

    def _sample_batch(self):
        """Positional arguments of ``model.loss`` for one random minibatch: (X_batch, y_batch)."""
        idx = np.random.choice(self._num_train(), self.batch_size)
        return self.data["X_train"][idx], self.data["y_train"][idx]

    def _check_accuracies(self):
        """Record train/val accuracy and keep a copy of the best parameters so far."""
        train_acc = self.check_accuracy(self.data["X_train"], self.data["y_train"],
                                        num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.data["X_val"], self.data["y_val"],
                                      num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        return f"train acc {train_acc:.3f}, val acc {val_acc:.3f}"

    def _finish(self):
        """Put the best-validation parameters into the model."""
        if self.best_params:
            for name, value in self.best_params.items():
                self.model.params[name][...] = value

    # ----- the loop --------------------------------------------------------------------------------
    def _step(self):
        """One update of every parameter on one minibatch; returns the minibatch loss."""
        loss, grads = self.model.loss(*self._sample_batch())
        if not np.isfinite(loss):
            raise FloatingPointError(f"loss became {loss} at iteration {len(self.loss_history)}; "
                                     f"lower the learning rate")
        for name, param in self.model.params.items():
            next_param, self.optim_configs[name] = self.update_rule(param, grads[name], self.optim_configs[name])
            self.model.params[name] = next_param
        return float(loss)

    def _blas_limit(self):
        """Context limiting BLAS threads: these small products run fastest on one thread, and on
        small shared machines multi-threaded BLAS calls sometimes stall for milliseconds."""
        if self.blas_threads is None:
            return contextlib.nullcontext()
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return contextlib.nullcontext()
        return threadpool_limits(limits=self.blas_threads, user_api="blas")

    def train(self):
        """Run num_epochs * max(num_train // batch_size, 1) minibatch steps."""
        with self._blas_limit():
            return self._train()

    def _train(self):
        try:
            from tqdm.auto import tqdm
        except ImportError:  # an environment without tqdm: the per-epoch lines alone report progress
            tqdm = _NoBar

        iterations_per_epoch = max(self._num_train() // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        log = self._check_accuracies()
        if self.verbose and log:
            print(f"(Epoch 0 / {self.num_epochs}) {log}")
        # A notebook executed headlessly (hw4.notebooks sets HW4_PROGRESS_BAR=0) can only save a
        # progress bar's first frame, so there the per-epoch lines alone report progress.
        show_bar = self.verbose and os.environ.get("HW4_PROGRESS_BAR", "1") != "0"
        bar = tqdm(total=num_iterations, disable=not show_bar, desc="training", leave=True)
        for t in range(num_iterations):
            self.loss_history.append(self._step())
            bar.update(1)
            if (t + 1) % self.print_every == 0:
                bar.set_postfix(loss=f"{self.loss_history[-1]:.4f}", epoch=self.epoch + 1)
            if (t + 1) % iterations_per_epoch == 0:
                self.epoch += 1
                for config in self.optim_configs.values():
                    # Every rule stores its learning_rate in the config on its first call.
                    config["learning_rate"] *= self.lr_decay
                log = self._check_accuracies()
                if self.verbose:
                    epoch_loss = np.mean(self.loss_history[-iterations_per_epoch:])
                    details = f", {log}" if log else ""
                    bar.write(f"(Epoch {self.epoch} / {self.num_epochs}) mean loss {epoch_loss:.4f}{details}")
        bar.close()
        self._finish()
        return self

    def check_accuracy(self, X, y, num_samples=None, batch_size=500):
        """Fraction of the examples in X (N, ...) whose argmax score equals y (N,).

        num_samples: when set and smaller than N, a random subset of that size is used.
        Predicts in batches of batch_size to bound memory.
        """
        N = X.shape[0]
        if N == 0:
            return 0.0
        if num_samples is not None and N > num_samples:
            idx = np.random.choice(N, num_samples)
            X, y = X[idx], y[idx]
            N = num_samples
        with self._blas_limit():
            y_pred = np.concatenate([np.argmax(self.model.loss(X[i:i + batch_size]), axis=1)
                                     for i in range(0, N, batch_size)])
        return float(np.mean(y_pred == y))
