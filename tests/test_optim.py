"""Update rules against torch.optim (same formulas, independent implementation)."""
import numpy as np
import pytest
import torch

import optim


def _run_ours(rule, config, w0, grads):
    w, cfg = w0.copy(), dict(config)
    for g in grads:
        w, cfg = getattr(optim, rule)(w, g, cfg)
    return w


def _run_torch(opt_class, kwargs, w0, grads):
    w = torch.tensor(w0, requires_grad=True)
    opt = opt_class([w], **kwargs)
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    return w.detach().numpy()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(momentum):
    rng = np.random.default_rng(0)
    w0, grads = rng.standard_normal((4, 3)), [rng.standard_normal((4, 3)) for _ in range(5)]
    ours = _run_ours("sgd", {"learning_rate": 0.1, "momentum": momentum}, w0, grads)
    ref = _run_torch(torch.optim.SGD, {"lr": 0.1, "momentum": momentum}, w0, grads)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_adam_matches_torch():
    rng = np.random.default_rng(1)
    w0, grads = rng.standard_normal(7), [rng.standard_normal(7) for _ in range(6)]
    ours = _run_ours("adam", {"learning_rate": 1e-2}, w0, grads)
    ref = _run_torch(torch.optim.Adam, {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8}, w0, grads)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_defaults_and_state():
    w, cfg = optim.sgd(np.ones(2), np.ones(2))
    assert cfg["learning_rate"] == 1e-2 and cfg["momentum"] == 0.0
    np.testing.assert_allclose(w, 0.99)
    _, cfg = optim.adam(np.ones(2), np.ones(2))
    assert cfg["t"] == 1 and cfg["learning_rate"] == 1e-3 and cfg["beta1"] == 0.9 and cfg["epsilon"] == 1e-8
