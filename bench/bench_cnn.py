"""Q1 speed: NumPy convolution and ConvNet training step against the same computation in PyTorch.

    .venv/bin/python bench/bench_cnn.py [--repeats 200]

Both sides run with one BLAS/OpenMP thread (threadpoolctl, torch.set_num_threads(1)), in float32,
warmed up, timed alternately and reported as medians. The conv timing is forward + backward through
the public conv_forward/conv_backward API; the training step is ConvNet.loss plus the SGD-momentum
update at batches 50 and 25 (the course's), against torch conv2d/max_pool2d/linear/cross_entropy + autograd +
optim.SGD. The training step is timed as Solver.train runs it: after one forward pass over 500 images, as its
first accuracy check does. That pass frees large arrays, after which glibc keeps the step's multi-megabyte
temporaries in its heap; in a fresh process without it, glibc maps new pages for every one of them and the
step takes about 1.9 times as long.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import optim  # noqa: E402
from cnn import ConvNet  # noqa: E402
from cnn_layers import conv_backward, conv_forward  # noqa: E402
from timing import median_times  # noqa: E402


def conv_pair(x_shape, w_shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    dout = rng.standard_normal((x_shape[0], w_shape[0], x_shape[2] - w_shape[2] + 1,
                                x_shape[3] - w_shape[3] + 1)).astype(np.float32)
    xt, wt, dt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True), torch.tensor(dout)

    def ours():
        _, cache = conv_forward(x, w)
        conv_backward(dout, cache)

    def theirs():
        torch.autograd.grad(F.conv2d(xt, wt), (xt, wt), dt)

    return ours, theirs


def training_pair(batch_size):
    np.random.seed(0)
    rng = np.random.default_rng(0)
    X = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    model = ConvNet()
    model.loss(rng.random((500, 1, 28, 28), dtype=np.float32))     # Solver.train's first accuracy check
    configs = {name: {"learning_rate": 1e-3, "momentum": 0.9} for name in model.params}
    params_t = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    opt = torch.optim.SGD(params_t.values(), lr=1e-3, momentum=0.9)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def ours():
        _, grads = model.loss(X, y)
        for name in model.params:
            model.params[name], configs[name] = optim.sgd(model.params[name], grads[name], configs[name])

    def theirs():
        p = params_t
        a = F.max_pool2d(F.relu(F.conv2d(Xt, p["W1"])), 2)
        a = F.max_pool2d(F.relu(F.conv2d(a, p["W2"])), 2)
        h = F.relu(a.reshape(batch_size, -1) @ p["W3"] + p["b3"])
        loss = F.cross_entropy(h @ p["W4"] + p["b4"], yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return ours, theirs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"NumPy {np.__version__}, PyTorch {torch.__version__}; 1 thread each; float32; "
          f"median of {args.repeats} runs (ms)")
    print(f"{'case':46s} {'NumPy':>8s} {'PyTorch':>8s} {'ratio':>6s}")
    with threadpool_limits(limits=1):
        rows = [(f"conv fwd+bwd x{xs} w{ws}", *conv_pair(xs, ws))
                for xs, ws in [((50, 6, 12, 12), (16, 6, 5, 5)), ((50, 1, 28, 28), (6, 1, 5, 5))]]
        rows += [(f"ConvNet training step, batch {b}", *training_pair(b)) for b in (50, 25)]
        step_25 = None
        for label, ours, theirs in rows:
            t_ours, t_theirs = median_times([ours, theirs], args.repeats)
            print(f"{label:46s} {t_ours * 1e3:8.3f} {t_theirs * 1e3:8.3f} {t_ours / t_theirs:6.2f}")
            if label.endswith("batch 25"):
                step_25 = t_ours
    steps = 3 * (55000 // 25)
    print(f"projected course run (full MNIST, 3 epochs, batch 25 = {steps} steps, excluding accuracy "
          f"checks): {steps * step_25:.0f} s")


if __name__ == "__main__":
    main()
