"""First-order update rules shared by Solver and CaptioningSolver.

Every rule has the signature ``rule(w, dw, config=None) -> (next_w, config)``:
- w: current weights (any shape); dw: gradient shaped like w;
- config: dict of hyperparameters and state (momentum velocity, Adam moments), created on first call.
Rules update ``w`` in place when it is a float array (it is the model's own parameter) and return it.
"""
import numpy as np


def sgd(w, dw, config=None):
    """Stochastic gradient descent with optional (heavy-ball) momentum.

    config keys: learning_rate (default 1e-2), momentum (default 0.0), g (velocity, shaped like w).
    Update: g = momentum * g + dw; w -= learning_rate * g.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.0)
    g = config.get("g")
    if g is None:
        g = np.zeros_like(w)
    g *= config["momentum"]
    g += dw
    config["g"] = g
    w -= config["learning_rate"] * g
    return w, config


def adam(x, dx, config=None):
    """Adam with bias-corrected moments.

    config keys: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    m and v (moment estimates shaped like x), t (step count, incremented before use).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(x))
    config.setdefault("v", np.zeros_like(x))
    config.setdefault("t", 0)
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    m, v = config["m"], config["v"]
    m *= beta1
    m += (1 - beta1) * dx
    v *= beta2
    v += (1 - beta2) * (dx * dx)
    m_hat = m / (1 - beta1 ** config["t"])
    v_hat = v / (1 - beta2 ** config["t"])
    x -= config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    return x, config
