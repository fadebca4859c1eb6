"""A deliberately naive rnn.py (Q2): CaptioningRNN composed from the course's public layer functions, imported
by name at module level (the course's grader patches rnn.temporal_fc_forward and rnn.temporal_fc_backward).

Used by the autograder tests and `HW4_IMPL_DIR=tests/naive pytest -m course`, and as the base copy of the bug
catalogue (tests/grading_cases/). Needs only NumPy.
"""
import numpy as np

from layers import fc_backward, fc_forward
from rnn_layers import (rnn_backward, rnn_forward, rnn_step_forward, temporal_fc_backward, temporal_fc_forward,
                        temporal_softmax_loss, word_embedding_backward, word_embedding_forward)


class CaptioningRNN(object):
    """Image features -> initial hidden state -> vanilla RNN over word vectors -> word scores.

    Parameters (self.params): W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, H), Wh (H, H), b (H,),
    W_vocab (H, V), b_vocab (V,), drawn from np.random in this order and cast to dtype.
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type='rnn',
                 dtype=np.float32):
        if cell_type not in {'rnn'}:
            raise ValueError('Invalid cell_type "%s"' % cell_type)
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.params = {}

        vocab_size = len(word_to_idx)
        self._null = word_to_idx['<NULL>']
        self._start = word_to_idx.get('<START>', None)
        self._end = word_to_idx.get('<END>', None)

        self.params['W_embed'] = np.random.randn(vocab_size, wordvec_dim) / 100
        self.params['W_proj'] = np.random.randn(input_dim, hidden_dim) / np.sqrt(input_dim)
        self.params['b_proj'] = np.zeros(hidden_dim)
        self.params['Wx'] = np.random.randn(wordvec_dim, hidden_dim) / np.sqrt(wordvec_dim)
        self.params['Wh'] = np.random.randn(hidden_dim, hidden_dim) / np.sqrt(hidden_dim)
        self.params['b'] = np.zeros(hidden_dim)
        self.params['W_vocab'] = np.random.randn(hidden_dim, vocab_size) / np.sqrt(hidden_dim)
        self.params['b_vocab'] = np.zeros(vocab_size)

        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def loss(self, features, captions):
        """Training loss and gradients.

        Inputs: features (N, D); captions (N, T + 1) integer ids: the RNN reads captions[:, :-1] and learns to
        predict captions[:, 1:]; targets equal to <NULL> do not count.
        Returns (loss, grads): loss a NumPy scalar, grads keyed like self.params.
        """
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = (captions_out != self._null)

        W_proj, b_proj = self.params['W_proj'], self.params['b_proj']
        W_embed = self.params['W_embed']
        Wx, Wh, b = self.params['Wx'], self.params['Wh'], self.params['b']
        W_vocab, b_vocab = self.params['W_vocab'], self.params['b_vocab']

        h0, h0_cache = fc_forward(features, W_proj, b_proj)                        # (N, H)
        x, embed_cache = word_embedding_forward(captions_in, W_embed)               # (N, T, W)
        h, rnn_cache = rnn_forward(x.transpose(1, 0, 2), h0, Wx, Wh, b)             # (T, N, H)
        scores, fc_cache = temporal_fc_forward(h.transpose(1, 0, 2), W_vocab, b_vocab)  # (N, T, V)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads['W_vocab'], grads['b_vocab'] = temporal_fc_backward(dscores, fc_cache)
        dx, dh0, grads['Wx'], grads['Wh'], grads['b'] = rnn_backward(dh.transpose(1, 0, 2), rnn_cache)
        grads['W_embed'] = word_embedding_backward(dx.transpose(1, 0, 2), embed_cache)
        _, grads['W_proj'], grads['b_proj'] = fc_backward(dh0, h0_cache)
        return loss, grads

    def sample(self, features, max_length=30):
        """Greedy captions: start from <START>, feed back the highest-scoring word, max_length words in all.

        Inputs: features (N, D). Returns captions (N, max_length) int32.
        """
        N = features.shape[0]
        captions = self._null * np.ones((N, max_length), dtype=np.int32)

        W_proj, b_proj = self.params['W_proj'], self.params['b_proj']
        W_embed = self.params['W_embed']
        Wx, Wh, b = self.params['Wx'], self.params['Wh'], self.params['b']
        W_vocab, b_vocab = self.params['W_vocab'], self.params['b_vocab']

        h, _ = fc_forward(features, W_proj, b_proj)
        words = self._start * np.ones(N, dtype=np.int32)
        for t in range(max_length):
            x, _ = word_embedding_forward(words[:, None], W_embed)
            h, _ = rnn_step_forward(x[:, 0, :], h, Wx, Wh, b)
            scores, _ = fc_forward(h, W_vocab, b_vocab)
            words = np.argmax(scores, axis=1)
            captions[:, t] = words
        return captions
