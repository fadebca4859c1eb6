"""Benchmark: one CaptioningRNN loss + gradient step in NumPy vs the same computation in PyTorch.

    .venv/bin/python bench/bench_rnn.py [--repeats 30]

Shapes of the course model on COCO: N=25 captions of T+1=17 words, D=512 image features, W=256
word vectors, H=512 hidden units, V=1004 words; float32 on both sides, 1 BLAS thread each.
PyTorch runs the same model written with autograd (embedding, input projection batched over time,
a tanh recurrence, a linear vocabulary layer, masked cross-entropy summed over time / N); the
torch.nn.RNN version is timed as well for reference. The three take turns in every repeat (so a
busy machine slows all of them alike); prints the median of the repeats and the ratios.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rnn import CaptioningRNN  # noqa: E402
from timing import median_times  # noqa: E402

N, T, D, W, H, V = 25, 16, 512, 256, 512, 1004


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    word_to_idx = {'<NULL>': 0, '<START>': 1, '<END>': 2, '<UNK>': 3}
    word_to_idx.update({f'w{i}': i for i in range(4, V)})
    np.random.seed(seed)
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H)
    features = rng.standard_normal((N, D)).astype(np.float32)
    captions = rng.integers(4, V, size=(N, T + 1)).astype(np.int32)
    captions[:, 0] = 1
    lengths = rng.integers(5, T + 1, size=N)      # realistic padding: 4..15 words then <END>, <NULL>s
    for n, length in enumerate(lengths):
        captions[n, length] = 2
        captions[n, length + 1:] = 0
    return model, features, captions


def torch_step(params, features, captions_in, captions_out, mask):
    """Forward + backward of the same model in PyTorch; returns the loss (grads land in .grad)."""
    for p in params.values():
        p.grad = None
    h = features @ params['W_proj'] + params['b_proj']
    x_proj = F.embedding(captions_in, params['W_embed']) @ params['Wx'] + params['b']   # (N, T, H)
    hs = []
    for t in range(captions_in.shape[1]):
        h = torch.tanh(x_proj[:, t] + h @ params['Wh'])
        hs.append(h)
    scores = torch.stack(hs, dim=1) @ params['W_vocab'] + params['b_vocab']
    losses = F.cross_entropy(scores.reshape(-1, V), captions_out.reshape(-1), reduction='none')
    loss = (losses * mask.reshape(-1)).sum() / captions_in.shape[0]
    loss.backward()
    return loss


def torch_nn_rnn_step(modules, features, captions_in, captions_out, mask):
    """The same model with torch.nn.Embedding / nn.RNN / nn.Linear (PyTorch's own RNN kernel)."""
    embed, proj, rnn, vocab = modules
    for m in modules:
        m.zero_grad(set_to_none=True)
    h0 = proj(features)[None]
    hs, _ = rnn(embed(captions_in), h0)
    scores = vocab(hs)
    losses = F.cross_entropy(scores.reshape(-1, V), captions_out.reshape(-1), reduction='none')
    loss = (losses * mask.reshape(-1)).sum() / captions_in.shape[0]
    loss.backward()
    return loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeats', type=int, default=30)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    model, features, captions = make_problem()
    params_t = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    features_t = torch.from_numpy(features)
    captions_in_t = torch.from_numpy(captions[:, :-1].astype(np.int64))
    captions_out_t = torch.from_numpy(captions[:, 1:].astype(np.int64))
    mask_t = (captions_out_t != 0).to(torch.float32)

    embed = torch.nn.Embedding(V, W)
    proj = torch.nn.Linear(D, H)
    rnn = torch.nn.RNN(W, H, nonlinearity='tanh', batch_first=True)
    vocab = torch.nn.Linear(H, V)

    with threadpool_limits(1):
        # Same numbers first: the benchmark compares equal work.
        loss_np, grads_np = model.loss(features, captions)
        loss_t = torch_step(params_t, features_t, captions_in_t, captions_out_t, mask_t).item()
        worst = max(float(np.max(np.abs(grads_np[k] - params_t[k].grad.numpy())) /
                          (np.max(np.abs(grads_np[k])) + 1e-12)) for k in grads_np)
        print(f'check: loss NumPy {loss_np:.6f} vs PyTorch {loss_t:.6f}; '
              f'worst max-abs gradient difference / max |grad| = {worst:.1e} (float32)')

        t_np, t_torch, t_nn = median_times([
            lambda: model.loss(features, captions),
            lambda: torch_step(params_t, features_t, captions_in_t, captions_out_t, mask_t),
            lambda: torch_nn_rnn_step((embed, proj, rnn, vocab), features_t, captions_in_t, captions_out_t, mask_t),
        ], args.repeats)

    print(f'one loss+grad step, N={N} T={T} D={D} W={W} H={H} V={V}, float32, 1 thread, '
          f'median of {args.repeats}:')
    print(f'  NumPy CaptioningRNN.loss          {t_np * 1e3:8.2f} ms')
    print(f'  PyTorch (same model, autograd)    {t_torch * 1e3:8.2f} ms   ratio NumPy/PyTorch {t_np / t_torch:.2f}x '
          f'(target <= 1.5x)')
    print(f'  PyTorch (nn.Embedding/RNN/Linear) {t_nn * 1e3:8.2f} ms   ratio NumPy/PyTorch {t_np / t_nn:.2f}x')


if __name__ == '__main__':
    main()
