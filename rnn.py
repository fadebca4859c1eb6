"""CaptioningRNN: image features -> initial hidden state -> vanilla RNN over word vectors -> word scores.

The layers are imported by name and called through these module-level names, so the model works beside
any correct rnn_layers.py and the course's layers.py (the course's grader replaces rnn.temporal_fc_forward
and rnn.temporal_fc_backward with its reference implementations).
"""
import numpy as np

from layers import fc_backward, fc_forward
from rnn_layers import (rnn_backward, rnn_forward, rnn_step_forward, temporal_fc_backward, temporal_fc_forward,
                        temporal_softmax_loss, word_embedding_backward, word_embedding_forward)


def hello():
    print('Hello from rnn.py!')


def _is_int_in(value, low, high):
    """True if value is an integer (not a bool) with low <= value < high."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and low <= value < high


class CaptioningRNN(object):
    """Generate captions from image features with a vanilla recurrent neural network.

    The RNN reads input vectors of size W (wordvec_dim), has hidden size H (hidden_dim), works on a
    vocabulary of V = len(word_to_idx) words and minibatches of N images with features of size D
    (input_dim); captions have T + 1 word ids (T inputs, T targets).

    Parameters (self.params, all of dtype ``dtype``):
    - W_embed (V, W): word vectors.
    - W_proj (D, H), b_proj (H,): image features -> initial hidden state.
    - Wx (W, H), Wh (H, H), b (H,): the RNN.
    - W_vocab (H, V), b_vocab (V,): hidden state -> word scores.

    There is no regularization.
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type='rnn',
                 dtype=np.float32):
        """Construct a new CaptioningRNN.

        Inputs:
        - word_to_idx: dict word (str) -> id (int) with V entries; must contain '<NULL>' (the padding,
          an id in [0, V)). '<START>' is needed by sample(); '<END>' is optional.
        - input_dim: D, size of the image features.
        - wordvec_dim: W, size of the word vectors.
        - hidden_dim: H, size of the RNN hidden state.
        - cell_type: 'rnn' (the only cell implemented).
        - dtype: NumPy float type of the parameters (float32 to train, float64 for gradient checks).
        """
        if cell_type != 'rnn':
            raise ValueError(f"cell_type must be 'rnn', got {cell_type!r}")
        if not hasattr(word_to_idx, 'items') or '<NULL>' not in word_to_idx:
            raise ValueError("word_to_idx must be a dict (word -> id) containing the padding token '<NULL>'")
        for name, size in (('input_dim', input_dim), ('wordvec_dim', wordvec_dim), ('hidden_dim', hidden_dim)):
            if not _is_int_in(size, 1, np.inf):
                raise ValueError(f'{name} must be a positive integer, got {size!r}')
        vocab_size = len(word_to_idx)
        if not _is_int_in(word_to_idx['<NULL>'], 0, vocab_size):   # else the padding would never be masked out
            raise ValueError(f"word_to_idx['<NULL>'] must be a word id in [0, {vocab_size}) (the padding that "
                             f"the loss masks out), got {word_to_idx['<NULL>']!r}")

        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx['<NULL>']
        self._start = word_to_idx.get('<START>', None)
        self._end = word_to_idx.get('<END>', None)

        # The global np.random stream, in the course's order.
        self.params = {'W_embed': np.random.randn(vocab_size, wordvec_dim) / 100}
        self.params['W_proj'] = np.random.randn(input_dim, hidden_dim) / np.sqrt(input_dim)
        self.params['b_proj'] = np.zeros(hidden_dim)
        self.params['Wx'] = np.random.randn(wordvec_dim, hidden_dim) / np.sqrt(wordvec_dim)
        self.params['Wh'] = np.random.randn(hidden_dim, hidden_dim) / np.sqrt(hidden_dim)
        self.params['b'] = np.zeros(hidden_dim)
        self.params['W_vocab'] = np.random.randn(hidden_dim, vocab_size) / np.sqrt(hidden_dim)
        self.params['b_vocab'] = np.zeros(vocab_size)
        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def _check_features(self, func, features):
        """features as a real (N, D) array matching W_proj: checked once at the model's entry."""
        features = np.asarray(features)
        input_dim = self.params['W_proj'].shape[0]
        if features.dtype.kind not in 'fiu':
            raise TypeError(f'{func}: features must hold real numbers, got dtype {features.dtype}')
        if features.ndim != 2 or features.shape[1] != input_dim or features.shape[0] == 0:
            raise ValueError(f'{func}: features must have shape (N, D) with N >= 1 and D = input_dim = '
                             f'{input_dim}, got shape {features.shape}')
        return features

    def loss(self, features, captions):
        """Training loss and gradients of every parameter.

        The RNN reads captions[:, :-1] and is trained to predict captions[:, 1:] at every step; targets
        equal to '<NULL>' are masked out.

        Inputs:
        - features: image features, shape (N, D) with N >= 1 (not cast: results follow NumPy's promotion).
        - captions: integer word ids, shape (N, T + 1) with T >= 1, each in [0, V).

        Returns a tuple of:
        - loss: NumPy scalar, the masked cross-entropy summed over time steps and averaged over N.
        - grads: dict with the keys of self.params, each gradient shaped like its parameter.
        """
        features = self._check_features('CaptioningRNN.loss', features)
        captions = np.asarray(captions)
        if captions.ndim != 2 or captions.shape[0] != features.shape[0] or captions.shape[1] < 2:
            raise ValueError(f'CaptioningRNN.loss: captions must have shape (N, T + 1) = ({features.shape[0]}, '
                             f'>= 2) to match features {features.shape}, got shape {captions.shape}')
        captions_in = captions[:, :-1]
        captions_out = captions[:, 1:]
        mask = captions_out != self._null

        W_proj, b_proj = self.params['W_proj'], self.params['b_proj']
        W_embed = self.params['W_embed']
        Wx, Wh, b = self.params['Wx'], self.params['Wh'], self.params['b']
        W_vocab, b_vocab = self.params['W_vocab'], self.params['b_vocab']

        h0, proj_cache = fc_forward(features, W_proj, b_proj)                        # (N, H)
        word_vectors, embed_cache = word_embedding_forward(captions_in, W_embed)     # (N, T, W)
        h, rnn_cache = rnn_forward(word_vectors.transpose(1, 0, 2), h0, Wx, Wh, b)  # (T, N, H)
        scores, vocab_cache = temporal_fc_forward(h.transpose(1, 0, 2), W_vocab, b_vocab)  # (N, T, V)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads['W_vocab'], grads['b_vocab'] = temporal_fc_backward(dscores, vocab_cache)
        dword_vectors, dh0, grads['Wx'], grads['Wh'], grads['b'] = rnn_backward(dh.transpose(1, 0, 2), rnn_cache)
        grads['W_embed'] = word_embedding_backward(dword_vectors.transpose(1, 0, 2), embed_cache)
        _, grads['W_proj'], grads['b_proj'] = fc_backward(dh0, proj_cache)
        return loss, {k: grads[k] for k in self.params}

    def sample(self, features, max_length=30):
        """Greedy captions: at each step feed the previous word and take the highest-scoring next word.

        The first input is '<START>' and the initial hidden state is features W_proj + b_proj. All
        max_length words are generated, as in the course's code; reading a caption stops at '<END>' (see
        coco_utils.decode_captions), the array does not.

        Inputs:
        - features: image features, shape (N, D).
        - max_length: number of words to generate (int >= 0).

        Returns:
        - captions: int32 array (N, max_length); column 0 holds the first generated word (not <START>).
        """
        features = self._check_features('CaptioningRNN.sample', features)
        if not _is_int_in(max_length, 0, np.inf):
            raise ValueError(f'CaptioningRNN.sample: max_length must be a non-negative integer, got {max_length!r}')
        W_proj, b_proj = self.params['W_proj'], self.params['b_proj']
        W_embed = self.params['W_embed']
        Wx, Wh, b = self.params['Wx'], self.params['Wh'], self.params['b']
        W_vocab, b_vocab = self.params['W_vocab'], self.params['b_vocab']
        if not _is_int_in(self._start, 0, len(W_embed)):
            raise ValueError(f"CaptioningRNN.sample: needs a '<START>' word id in [0, {len(W_embed)}), "
                             f"word_to_idx gives {self._start!r}")

        N = features.shape[0]
        captions = np.full((N, max_length), self._null, dtype=np.int32)
        h, _ = fc_forward(features, W_proj, b_proj)
        words = np.full((N, 1), self._start)
        for t in range(max_length):
            word_vectors, _ = word_embedding_forward(words, W_embed)                # (N, 1, W)
            h, _ = rnn_step_forward(word_vectors[:, 0], h, Wx, Wh, b)
            scores, _ = fc_forward(h, W_vocab, b_vocab)                             # (N, V)
            words = np.argmax(scores, axis=1)[:, None]
            captions[:, t] = words[:, 0]
        return captions
