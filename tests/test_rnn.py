"""rnn.py (CaptioningRNN) and captioning_solver.py: PyTorch oracle, numerical gradients, the course's
seeded initialization, sampling, the grader's contract (layers called through rnn's module-level names,
NumPy-scalar loss, dtypes kept), bad input, no mutation, overfitting through CaptioningSolver.

Tests marked `course` check only the course's contract, so they pass on any implementation the course accepts:
values, shapes, unchanged inputs, NumPy-scalar loss (float64 with float64 features), rnn's temporal_fc names
patched, sampled ids of any integer dtype. Seeded values and draw order, float32 results, int32 samples and
error messages are our extras (unmarked)."""
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnn
from captioning_solver import CaptioningSolver
from conftest import imported_names, run_beside
from gradient_check import eval_numerical_gradient, rel_error
from rnn import CaptioningRNN
from solver import Solver

ROOT = Path(__file__).resolve().parents[1]
course = pytest.mark.course
PARAM_SHAPES = {'W_embed': ('V', 'W'), 'W_proj': ('D', 'H'), 'b_proj': ('H',), 'Wx': ('W', 'H'),
                'Wh': ('H', 'H'), 'b': ('H',), 'W_vocab': ('H', 'V'), 'b_vocab': ('V',)}


def vocab(V):
    word_to_idx = {'<NULL>': 0, '<START>': 1, '<END>': 2, '<UNK>': 3}
    word_to_idx.update({f'w{i}': i for i in range(4, V)})
    return word_to_idx


def rng_for(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def random_captions(rng, N, T, V, null=0, start=1):
    """(N, T+1) captions: <START>, random words, then <NULL> padding of random length."""
    captions = rng.integers(3, V, size=(N, T + 1)) if V > 3 else rng.integers(0, V, size=(N, T + 1))
    captions[:, 0] = start
    lengths = rng.integers(1, T + 2, size=N)
    for n, length in enumerate(lengths):
        captions[n, length:] = null
    return captions


def make_model(V, D, W, H, dtype=np.float64, seed=0, scale=1.0):
    np.random.seed(seed)
    model = CaptioningRNN(vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, dtype=dtype)
    if scale != 1.0:  # larger weights exercise the nonlinearity in gradient checks
        for k in model.params:
            model.params[k] = (model.params[k] * scale + np.random.randn(*model.params[k].shape) * 0.1).astype(dtype)
    return model


def torch_loss_and_grads(params, features, captions, null):
    """The model in PyTorch autograd: hand-written tanh RNN, F.embedding, masked F.cross_entropy."""
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    captions_in = torch.from_numpy(captions[:, :-1].astype(np.int64))
    captions_out = torch.from_numpy(captions[:, 1:].astype(np.int64))
    mask = (captions_out != null).to(torch.float64)
    h = torch.from_numpy(features.astype(np.float64)) @ p['W_proj'] + p['b_proj']
    x = F.embedding(captions_in, p['W_embed'])
    states = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ p['Wx'] + h @ p['Wh'] + p['b'])
        states.append(h)
    scores = torch.stack(states, dim=1) @ p['W_vocab'] + p['b_vocab']
    V = scores.shape[2]
    losses = F.cross_entropy(scores.reshape(-1, V), captions_out.reshape(-1), reduction='none')
    loss = (losses * mask.reshape(-1)).sum() / captions.shape[0]
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in p.items()}


def test_hello(capsys):
    rnn.hello()
    assert capsys.readouterr().out.strip() == 'Hello from rnn.py!'


def test_init_uses_the_global_stream_in_the_documented_order():
    V, D, W, H = 7, 5, 4, 3
    np.random.seed(231)
    model = CaptioningRNN(vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H)
    np.random.seed(231)
    expected = {'W_embed': np.random.randn(V, W) / 100,
                'W_proj': np.random.randn(D, H) / np.sqrt(D), 'b_proj': np.zeros(H),
                'Wx': np.random.randn(W, H) / np.sqrt(W),
                'Wh': np.random.randn(H, H) / np.sqrt(H), 'b': np.zeros(H),
                'W_vocab': np.random.randn(H, V) / np.sqrt(H), 'b_vocab': np.zeros(V)}
    assert list(model.params) == list(expected)
    for k, v in expected.items():
        assert model.params[k].dtype == np.float32
        np.testing.assert_array_equal(model.params[k], v.astype(np.float32))
    sizes = {'V': V, 'D': D, 'W': W, 'H': H}
    for k, dims in PARAM_SHAPES.items():
        assert model.params[k].shape == tuple(sizes[d] for d in dims)


def test_attributes_and_special_tokens():
    model = CaptioningRNN(vocab(9), input_dim=4, wordvec_dim=3, hidden_dim=2)
    assert model._null == 0 and model._start == 1 and model._end == 2
    assert model.idx_to_word[5] == 'w5' and model.word_to_idx['w5'] == 5


@course
def test_loss_accepts_the_courses_vocabulary():
    """The course's own check builds a vocabulary whose <END> id equals V: construction must accept it."""
    odd = {f'{i}': i for i in range(8)}
    odd['<NULL>'] = 8
    odd['<END>'] = 10
    assert len(odd) == 10
    model = CaptioningRNN(odd, input_dim=4, wordvec_dim=3, hidden_dim=2)
    assert model.params['W_vocab'].shape == (2, 10)
    loss, grads = model.loss(np.ones((2, 4)), np.array([[1, 2, 8], [3, 4, 9]]))
    assert np.isfinite(loss)


@course
@pytest.mark.parametrize('N,T,V,D,W,H', [(1, 1, 5, 3, 2, 4), (1, 4, 6, 2, 3, 5), (3, 1, 7, 4, 5, 2),
                                         (4, 6, 9, 6, 3, 7), (2, 9, 12, 5, 4, 3), (5, 3, 5, 1, 1, 1),
                                         (6, 7, 15, 8, 6, 9)])
def test_loss_and_gradients_match_torch(N, T, V, D, W, H):
    rng = rng_for('model', N, T, V, D, W, H)
    model = make_model(V, D, W, H, seed=N * 100 + T, scale=3.0)
    features = rng.standard_normal((N, D))
    captions = random_captions(rng, N, T, V)
    loss, grads = model.loss(features, captions)
    loss_t, grads_t = torch_loss_and_grads(model.params, features, captions, model._null)
    assert loss == pytest.approx(loss_t, rel=1e-11, abs=1e-12)
    assert set(grads) == set(model.params)
    for k in model.params:
        assert grads[k].shape == model.params[k].shape, k
        np.testing.assert_allclose(grads[k], grads_t[k], rtol=1e-9, atol=1e-11, err_msg=k)


@course
def test_loss_numerical_gradients():
    rng = np.random.default_rng(0)
    N, T, V, D, W, H = 3, 5, 8, 4, 3, 6
    model = make_model(V, D, W, H, scale=2.0)
    features = rng.standard_normal((N, D))
    captions = random_captions(rng, N, T, V)
    _, grads = model.loss(features, captions)
    for k, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(features, captions)[0], param, verbose=False)
        assert rel_error(grads[k], numeric) < 1e-6, k


@course
def test_null_targets_are_masked():
    """Changing the scores' targets behind <NULL> padding cannot change the loss or gradients."""
    rng = np.random.default_rng(1)
    model = make_model(8, 4, 3, 5)
    features = rng.standard_normal((2, 4))
    captions = np.array([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0]])
    loss, grads = model.loss(features, captions)
    only_words = np.array([[1, 5, 6, 2], [1, 7, 2, 0]])
    loss_short, _ = model.loss(features, only_words)
    assert loss == pytest.approx(loss_short, rel=1e-12)


@course
def test_float32_model_with_float64_features_follows_numpy_promotion():
    """The course check copies float32 parameters and feeds float64 features."""
    rng = np.random.default_rng(2)
    model = make_model(11, 5, 5, 4, dtype=np.float32)
    features = rng.standard_normal((2, 5))
    captions = rng.integers(0, 10, size=(2, 4))
    loss, grads = model.loss(features, captions)
    loss_t, grads_t = torch_loss_and_grads(model.params, features, captions, model._null)
    assert isinstance(loss, np.floating) and loss.dtype == np.float64      # the course's reference gives float64
    assert loss == pytest.approx(loss_t, rel=1e-6)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads_t[k], rtol=1e-4, atol=1e-6, err_msg=k)


def reference_temporal_fc_forward(x, w, b):
    """The course's layout: cache (x, w, b, out)."""
    out = x @ w + b
    return out, (x, w, b, out)


def reference_temporal_fc_backward(dout, cache):
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dx = dout.reshape(N * T, M) @ w.T
    return dx.reshape(N, T, D), x.reshape(N * T, D).T @ dout.reshape(N * T, M), dout.sum(axis=(0, 1))


@course
def test_the_courses_captioning_loss_check():
    """As the course grades CaptioningRNN.loss: rnn.temporal_fc_forward/backward replaced by reference versions,
    10 words + <NULL>, float32 params, float64 features (2, 5), captions (2, 4) with ids 0..9: the loss is a
    float64 NumPy scalar and it and every gradient match PyTorch (max abs < 1e-6)."""
    rng = np.random.default_rng(31)
    word_to_idx = {f'{i}': i for i in range(10)}
    word_to_idx['<NULL>'] = 10
    np.random.seed(31)
    model = CaptioningRNN(word_to_idx, input_dim=5, wordvec_dim=5, hidden_dim=4)
    features, captions = rng.standard_normal((2, 5)), rng.integers(0, 10, size=(2, 4))
    with mock.patch('rnn.temporal_fc_forward', reference_temporal_fc_forward), \
            mock.patch('rnn.temporal_fc_backward', reference_temporal_fc_backward):
        loss, grads = model.loss(features, captions)
    loss_t, grads_t = torch_loss_and_grads(model.params, features, captions, null=10)
    assert isinstance(loss, np.floating) and loss.dtype == np.float64 and abs(loss - loss_t) < 1e-6
    for k, param in model.params.items():
        assert grads[k].shape == param.shape and np.max(np.abs(grads[k] - grads_t[k])) < 1e-6, k


def test_autograder_patches_temporal_fc_through_the_rnn_module():
    """The course autograder replaces rnn.temporal_fc_forward/backward; loss should call those names (ours: the
    course's check only compares the results, so a model that bypasses them still passes there)."""
    rng = np.random.default_rng(3)
    model = make_model(7, 4, 3, 5)
    features, captions = rng.standard_normal((2, 4)), random_captions(rng, 2, 4, 7)
    expected = model.loss(features, captions)
    with mock.patch('rnn.temporal_fc_forward', side_effect=reference_temporal_fc_forward, autospec=True) as fwd, \
            mock.patch('rnn.temporal_fc_backward', side_effect=reference_temporal_fc_backward, autospec=True) as bwd:
        loss, grads = model.loss(features, captions)
    assert fwd.call_count == 1 and bwd.call_count == 1
    assert loss == pytest.approx(expected[0], rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], expected[1][k], rtol=1e-10, atol=1e-14)


def torch_greedy(params, features, start, max_length):
    p = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in params.items()}
    h = torch.from_numpy(features) @ p['W_proj'] + p['b_proj']
    words = torch.full((features.shape[0],), start, dtype=torch.long)
    out = []
    for _ in range(max_length):
        h = torch.tanh(p['W_embed'][words] @ p['Wx'] + h @ p['Wh'] + p['b'])
        words = (h @ p['W_vocab'] + p['b_vocab']).argmax(dim=1)
        out.append(words)
    return torch.stack(out, dim=1).numpy() if out else np.zeros((features.shape[0], 0), int)


@course
@pytest.mark.parametrize('N,max_length', [(1, 1), (3, 15), (4, 30), (2, 0)])
def test_sample_matches_a_torch_greedy_decoder(N, max_length):
    rng = rng_for('sample', N, max_length)
    word_to_idx = {f'{i}': i for i in range(10)}
    word_to_idx.update({'<NULL>': 10, '<START>': 11, '<END>': 12})
    np.random.seed(N)
    model = CaptioningRNN(word_to_idx, input_dim=5, wordvec_dim=5, hidden_dim=4, dtype=np.float64)
    for k in model.params:
        model.params[k] = rng.standard_normal(model.params[k].shape)
    features = rng.standard_normal((N, 5))
    captions = model.sample(features, max_length=max_length)
    assert captions.dtype.kind in 'iu' and captions.shape == (N, max_length)      # the course: any integer dtype
    np.testing.assert_array_equal(captions, torch_greedy(model.params, features, 11, max_length))


@course
def test_sample_first_column_is_the_first_generated_word():
    """Column 0 is the argmax after feeding <START>, and decoding never stops the array early."""
    model = make_model(6, 3, 2, 4)
    V = 6
    model.params['W_vocab'][:] = 0
    model.params['b_vocab'][:] = np.arange(V) == 2   # always <END>
    captions = model.sample(np.ones((2, 3)), max_length=5)
    np.testing.assert_array_equal(captions, 2)


def test_sample_returns_int32_captions():
    """Ours, as the course's starter allocates them (the course accepts any integer dtype)."""
    captions = make_model(6, 3, 2, 4).sample(np.ones((2, 3)), max_length=4)
    assert captions.dtype == np.int32 and captions.shape == (2, 4)


def test_constructor_and_loss_reject_bad_input():
    with pytest.raises(ValueError, match="'<NULL>'"):
        CaptioningRNN({'<START>': 0, 'a': 1})
    with pytest.raises(ValueError, match='cell_type'):
        CaptioningRNN(vocab(5), cell_type='lstm')
    with pytest.raises(ValueError, match='hidden_dim'):
        CaptioningRNN(vocab(5), hidden_dim=0)
    model = make_model(6, 4, 3, 5)
    features = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r'features must have shape \(N, D\) with N >= 1 and D = input_dim = 4'):
        model.loss(np.zeros((2, 3)), np.ones((2, 3), int))
    with pytest.raises(ValueError, match=r'N >= 1 .* got shape \(0, 4\)'):
        model.loss(np.zeros((0, 4)), np.ones((0, 3), int))
    with pytest.raises(ValueError, match=r"word_to_idx\['<NULL>'\] must be a word id in \[0, 3\)"):
        CaptioningRNN({'<NULL>': 5, 'a': 1, 'b': 2}, input_dim=4)
    with pytest.raises(ValueError, match='features must have shape'):
        model.loss(np.zeros(4), np.ones((1, 3), int))
    with pytest.raises(ValueError, match=r'outside the vocabulary \[0, 6\)'):
        model.loss(features, np.array([[1, 6, 0], [1, 2, 0]]))
    with pytest.raises(ValueError, match='outside the vocabulary'):
        model.loss(features, np.array([[1, -1, 0], [1, 2, 0]]))
    with pytest.raises(TypeError, match='integer word ids'):
        model.loss(features, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r'captions must have shape \(N, T \+ 1\)'):
        model.loss(features, np.ones((3, 3), int))
    with pytest.raises(ValueError, match=r'captions must have shape'):
        model.loss(features, np.ones((2, 1), int))
    with pytest.raises(ValueError, match='max_length'):
        model.sample(features, max_length=-1)
    no_start = CaptioningRNN({'<NULL>': 0, 'a': 1, 'b': 2}, input_dim=4)
    with pytest.raises(ValueError, match="'<START>'"):
        no_start.sample(features)
    bad_start = CaptioningRNN({'<NULL>': 0, 'a': 1, '<START>': 7}, input_dim=4)
    with pytest.raises(ValueError, match="'<START>'"):
        bad_start.sample(features)


@course
def test_loss_and_sample_do_not_mutate_inputs_or_params():
    rng = np.random.default_rng(4)
    model = make_model(7, 4, 3, 5)
    features = rng.standard_normal((3, 4))
    captions = random_captions(rng, 3, 5, 7)
    saved = (features.copy(), captions.copy(), {k: v.copy() for k, v in model.params.items()})
    model.loss(features, captions)
    model.sample(features, max_length=4)
    np.testing.assert_array_equal(features, saved[0])
    np.testing.assert_array_equal(captions, saved[1])
    for k, v in saved[2].items():
        np.testing.assert_array_equal(model.params[k], v)


@pytest.mark.parametrize('dtype', [pytest.param(np.float64, marks=course), np.float32])
def test_loss_is_a_numpy_scalar_and_dtypes_follow_the_params(dtype):
    """The course's grader compares dtypes before values: float64 params and features give float64 results.
    float32 in, float32 out is ours: the course's reference gives a float64 loss for float32 params."""
    rng = np.random.default_rng(5)
    model = make_model(7, 4, 3, 5, dtype=dtype)
    features = rng.standard_normal((3, 4)).astype(dtype)
    loss, grads = model.loss(features, random_captions(rng, 3, 4, 7))
    assert isinstance(loss, np.floating) and loss.dtype == dtype
    assert all(g.dtype == dtype for g in grads.values())


def test_rnn_imports_only_the_course_api():
    """rnn.py names only documented course functions from other modules (it must work beside any correct
    rnn_layers.py and the course's layers.py)."""
    course_api = {'layers': {'fc_forward', 'fc_backward'},
                  'rnn_layers': {'rnn_step_forward', 'rnn_step_backward', 'rnn_forward', 'rnn_backward',
                                 'word_embedding_forward', 'word_embedding_backward', 'temporal_fc_forward',
                                 'temporal_fc_backward', 'temporal_softmax_loss'}}
    for module, names in imported_names(ROOT / 'rnn.py').items():
        assert module == 'numpy' or (module in course_api and names <= course_api[module]), (module, names)


def test_rnn_beside_plain_loop_layers(tmp_path):
    """Our rnn.py next to deliberately naive rnn_layers.py and a course-style layers.py: gradients check."""
    script = """
import numpy as np
from rnn import CaptioningRNN
from gradient_check import eval_numerical_gradient, rel_error
np.random.seed(0)
word_to_idx = {'<NULL>': 0, '<START>': 1, '<END>': 2, 'a': 3, 'b': 4, 'c': 5}
model = CaptioningRNN(word_to_idx, input_dim=4, wordvec_dim=3, hidden_dim=5, dtype=np.float64)
features = np.random.randn(2, 4)
captions = np.array([[1, 3, 4, 2, 0], [1, 5, 5, 3, 2]])
loss, grads = model.loss(features, captions)
assert isinstance(loss, np.floating) and loss.dtype == np.float64, type(loss)
for name, param in model.params.items():
    num = eval_numerical_gradient(lambda _: model.loss(features, captions)[0], param, verbose=False)
    assert rel_error(num, grads[name]) < 1e-6, (name, rel_error(num, grads[name]))
sample = model.sample(features, max_length=6)
assert sample.shape == (2, 6) and sample.dtype == np.int32
print('ok')
"""
    out = run_beside(tmp_path, ['rnn_layers.py', 'layers.py'], ['rnn.py', 'gradient_check.py'], script)
    assert out.strip() == 'ok'


# ----------------------------------------------------------------------------------------------
# CaptioningSolver
# ----------------------------------------------------------------------------------------------

def tiny_data(num_captions, num_images, T, V, D, seed=0):
    rng = np.random.default_rng(seed)
    return {'train_captions': random_captions(rng, num_captions, T, V).astype(np.int32),
            'train_image_idxs': rng.integers(0, num_images, size=num_captions).astype(np.int32),
            'train_features': rng.standard_normal((num_images, D)).astype(np.float32),
            'train_urls': np.array([f'img{i}.png' for i in range(num_images)])}


def test_captioning_solver_is_a_solver_with_captioning_defaults():
    assert issubclass(CaptioningSolver, Solver)
    assert CaptioningSolver.default_kwargs['batch_size'] == 100
    assert CaptioningSolver.default_kwargs['print_every'] == 10
    assert CaptioningSolver.default_kwargs['update_rule'] == 'sgd'
    assert CaptioningSolver.default_kwargs['num_epochs'] == 10
    # The training loop itself is Solver's, not a copy.
    assert CaptioningSolver.train is Solver.train


def test_captioning_solver_steps_decay_and_errors():
    data = tiny_data(30, 10, 4, 8, 6)
    model = make_model(8, 6, 4, 5, dtype=np.float32)
    solver = CaptioningSolver(model, data, update_rule='adam', optim_config={'learning_rate': 1e-2},
                              lr_decay=0.5, batch_size=7, num_epochs=3, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 3 * (30 // 7)
    assert all(isinstance(v, float) for v in solver.loss_history)
    for config in solver.optim_configs.values():
        assert config['learning_rate'] == pytest.approx(1e-2 * 0.5 ** 3)
    assert all(v.dtype == np.float32 for v in model.params.values())

    small = CaptioningSolver(make_model(8, 6, 4, 5), data, batch_size=100, num_epochs=2, verbose=False)
    small.train()
    assert len(small.loss_history) == 2            # max(30 // 100, 1) steps per epoch

    with pytest.raises(ValueError, match='bogus'):
        CaptioningSolver(model, data, bogus=1)
    with pytest.raises(ValueError, match='train_features'):
        CaptioningSolver(model, {k: v for k, v in data.items() if k != 'train_features'})
    with pytest.raises(ValueError, match='update_rule'):
        CaptioningSolver(model, data, update_rule='nope')


def test_same_seed_same_training():
    def run():
        np.random.seed(5)
        model = make_model(8, 6, 4, 5, dtype=np.float32, seed=1)
        np.random.seed(5)
        solver = CaptioningSolver(model, tiny_data(30, 10, 4, 8, 6), update_rule='adam', batch_size=10,
                                  num_epochs=2, verbose=False)
        solver.train()
        return solver.loss_history
    assert run() == run()


@course
def test_overfits_50_captions():
    """A small model memorizes 50 captions: the loss over all of them drops below 0.1."""
    data = tiny_data(50, 50, 8, 20, 16, seed=1)
    data['train_image_idxs'] = np.arange(50, dtype=np.int32)       # one caption per image
    np.random.seed(0)
    model = CaptioningRNN(vocab(20), input_dim=16, wordvec_dim=32, hidden_dim=64)
    solver = CaptioningSolver(model, data, update_rule='adam', optim_config={'learning_rate': 1e-2},
                              lr_decay=0.98, batch_size=25, num_epochs=150, verbose=False)
    solver.train()
    full_loss, _ = model.loss(data['train_features'], data['train_captions'])
    assert solver.loss_history[0] > 5 * full_loss
    assert full_loss < 0.1


@course
def test_published_cs231n_loss_value():
    """CS231n's fixed-parameter check (its vocabulary has an id >= V: 'dog': 3 with V = 3)."""
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(-1.5, 0.3, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % len(word_to_idx)).reshape(N, T)
    loss, _ = model.loss(features, captions)
    assert loss == pytest.approx(9.83235591003, abs=1e-9)
