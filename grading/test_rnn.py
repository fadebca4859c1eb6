"""Q2, as the course grades it: rnn_layers.py and rnn.py (CaptioningRNN).

The course's contract (what decides the exit status): the RNN step and sequence layers and the word embedding,
each backward pass given the cache its own forward pass returned; temporal_fc_forward on x (7, 6, 7), w (7, 5),
b (5,) with its cache compared item by item with (x, w, b, out), and temporal_fc_backward called with the
course's own cache. CaptioningRNN(cell_type='rnn', input_dim=5, hidden_dim=4, wordvec_dim=5) with a vocabulary of
10 ids, the course's float32 params copied in, float64 features (2, 5), rnn.temporal_fc_forward /
rnn.temporal_fc_backward patched with the reference, the rest from the student's own files: the loss on captions
(2, 4) and every gradient compared; sample(max_length=15) compared (any integer dtype). temporal_softmax_loss is
provided code: not graded. Everything else here is advice (WARN).

    python -m grading.test_rnn [--dir DIR]      # this question only (same as python autograder.py rnn)
"""
import sys
from unittest import mock

import numpy as np

from grading.case import GradingCase, advice, check, held_in_cache, rng_for, shapes
from grading.sandbox import reference
from grading.verdicts import ContractError

REF, REF_LAYERS = reference("rnn_layers"), reference("layers")
TRIALS = 10
STEP_CASES = [(3, 4, 5), (1, 2, 3), (4, 6, 2)]                 # (N, D, H)
SEQ_CASES = [(4, 3, 5, 6), (1, 1, 2, 3), (6, 2, 3, 2)]          # (T, N, D, H), T != N in the first
EMBED_CASES = [(4, 3, 5, 6), (1, 1, 2, 3), (3, 7, 4, 2)]        # (N, T, V, D)
COURSE_MODEL = dict(input_dim=5, wordvec_dim=5, hidden_dim=4, cell_type="rnn")
HINT_STEP_BACKWARD = ("with a = x Wx + prev_h Wh + b and next_h = tanh(a): da = dnext_h * (1 - tanh(a)**2), "
                      "dx = da Wx^T, dprev_h = da Wh^T, dWx = x^T da, dWh = prev_h^T da, db = da summed over N")
HINT_NAMES = ("at the top of rnn.py: `from rnn_layers import temporal_fc_forward, temporal_fc_backward, ...` and "
              "call those names in CaptioningRNN.loss: the course replaces rnn.temporal_fc_forward / "
              "rnn.temporal_fc_backward with its reference")
HINT_LOSS = ("h0 = features W_proj + b_proj; the RNN reads captions[:, :-1] (embedded, then time-major) and "
             "predicts captions[:, 1:]; mask = targets != <NULL>; scores from temporal_fc_forward; backpropagate "
             "in reverse; do not cast features (float32 params with float64 features give float64 results)")
HINT_SAMPLE = ("start from <START> and h0 = features W_proj + b_proj; at each step embed the previous word, take one "
               "RNN step, and write the argmax word of the W_vocab scores into column t; generate all max_length "
               "words (the course does not stop at <END>)")
CAPTIONING_ORDER = (("W_embed", "randn(V, W) / 100"), ("W_proj", "randn(D, H) / sqrt(D)"), ("b_proj", "zeros(H)"),
                    ("Wx", "randn(W, H) / sqrt(W)"), ("Wh", "randn(H, H) / sqrt(H)"), ("b", "zeros(H)"),
                    ("W_vocab", "randn(H, V) / sqrt(H)"), ("b_vocab", "zeros(V)"))


# ---------------------------------------------------------------------------------------------------------
# Reference functions
# ---------------------------------------------------------------------------------------------------------
def vocabulary(V, special=("<NULL>", "<START>", "<END>")):
    word_to_idx = {word: i for i, word in enumerate(special)}
    word_to_idx.update({f"w{i}": i for i in range(len(special), V)})
    return word_to_idx


def course_params(random, V, D, W, H, dtype=np.float32):
    """Parameters as the course's CaptioningRNN draws them (``random``: a np.random.RandomState), cast to dtype."""
    params = {"W_embed": random.randn(V, W) / 100, "W_proj": random.randn(D, H) / np.sqrt(D), "b_proj": np.zeros(H),
              "Wx": random.randn(W, H) / np.sqrt(W), "Wh": random.randn(H, H) / np.sqrt(H), "b": np.zeros(H),
              "W_vocab": random.randn(H, V) / np.sqrt(H), "b_vocab": np.zeros(V)}
    return {k: v.astype(dtype) for k, v in params.items()}


def ref_captioning_loss(params, features, captions, null=0):
    """The reference CaptioningRNN.loss: (loss, grads), composed from the reference layers."""
    L = REF_LAYERS
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    h0, h0_cache = L.fc_forward(features, params["W_proj"], params["b_proj"])
    x, embed_cache = REF.word_embedding_forward(captions_in, params["W_embed"])
    h, rnn_cache = REF.rnn_forward(x.transpose(1, 0, 2), h0, params["Wx"], params["Wh"], params["b"])
    scores, fc_cache = REF.temporal_fc_forward(h.transpose(1, 0, 2), params["W_vocab"], params["b_vocab"])
    loss, dscores = REF.temporal_softmax_loss(scores, captions_out, captions_out != null)
    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = REF.temporal_fc_backward(dscores, fc_cache)
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = REF.rnn_backward(dh.transpose(1, 0, 2), rnn_cache)
    grads["W_embed"] = REF.word_embedding_backward(dx.transpose(1, 0, 2), embed_cache)
    _, grads["W_proj"], grads["b_proj"] = L.fc_backward(dh0, h0_cache)
    return loss, grads


def ref_sample(params, features, max_length, start=1):
    """Greedy captions (N, max_length): all max_length words, <END> or not."""
    h = features @ params["W_proj"] + params["b_proj"]
    word = np.full(len(features), start)
    captions = np.zeros((len(features), max_length), dtype=np.int32)
    for t in range(max_length):
        h, _ = REF.rnn_step_forward(params["W_embed"][word], h, params["Wx"], params["Wh"], params["b"])
        word = np.argmax(h @ params["W_vocab"] + params["b_vocab"], axis=1)
        captions[:, t] = word
    return captions


def stopped_at_end(captions, end=2):
    """``captions`` with every word after the first <END> replaced by <NULL> (a usual wrong answer)."""
    stopped = captions.copy()
    for row in stopped:
        ends = np.flatnonzero(row == end)
        if ends.size:
            row[ends[0] + 1:] = 0
    return stopped


def _weights(rng, D, H):
    return rng.standard_normal((D, H)) * 0.5, rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H)


# ---------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------
class TestRnn(GradingCase):
    """Q2: rnn_layers.py and rnn.py."""

    QUESTION = "rnn"

    # -- graded: the course's tests ----------------------------------------------------------------------
    @check("rnn_step_forward", "next_h = tanh(x Wx + prev_h Wh + b)",
           "next_h = tanh(x Wx + prev_h Wh + b) with x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,)")
    def test_rnn_step_forward(self):
        layers, rng = self.module("rnn_layers"), rng_for("rnn_step_forward")
        for N, D, H in STEP_CASES:
            x, prev_h, (Wx, Wh, b) = rng.standard_normal((N, D)), rng.standard_normal((N, H)), _weights(rng, D, H)
            self.now = shapes(x, prev_h, Wx, names=("x", "prev_h", "Wx"))
            next_h, _ = self.returns(layers, "rnn_step_forward", 2, "(next_h, cache)", x, prev_h, Wx, Wh, b)
            self.assert_close("rnn_step_forward next_h", next_h, REF.rnn_step_forward(x, prev_h, Wx, Wh, b)[0])

    @check("rnn_step_backward", "gradients of one step, from its own forward pass's cache", HINT_STEP_BACKWARD)
    def test_rnn_step_backward(self):
        layers, rng = self.module("rnn_layers"), rng_for("rnn_step_backward")
        for N, D, H in STEP_CASES:
            x, prev_h, (Wx, Wh, b) = rng.standard_normal((N, D)), rng.standard_normal((N, H)), _weights(rng, D, H)
            dnext = rng.standard_normal((N, H))
            self.now = shapes(x, prev_h, Wx, names=("x", "prev_h", "Wx"))
            _, cache = self.returns(layers, "rnn_step_forward", 2, "(next_h, cache)", x, prev_h, Wx, Wh, b)
            grads = self.returns(layers, "rnn_step_backward", 5, "(dx, dprev_h, dWx, dWh, db)", dnext, cache,
                                 watch=held_in_cache("rnn_step_forward", x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b))
            _, ref_cache = REF.rnn_step_forward(x, prev_h, Wx, Wh, b)
            expected = REF.rnn_step_backward(dnext, ref_cache)
            without = REF.rnn_step_backward(dnext / (1 - ref_cache[-1] ** 2), ref_cache)
            for k, name in enumerate(("dx", "dprev_h", "dWx", "dWh", "db")):
                self.assert_close(f"rnn_step_backward {name}", grads[k], expected[k], diagnose=[(
                    "the chain rule without tanh'", without[k],
                    "multiply the upstream gradient by tanh'(a) = 1 - next_h**2 first: da = dnext_h * (1 - next_h**2)")])

    @check("rnn_forward", "hidden states of every step (time-major)",
           "h[t] = tanh(x[t] Wx + h[t-1] Wh + b) with h[-1] = h0; x is (T, N, D) and h is (T, N, H): time-major")
    def test_rnn_forward(self):
        layers, rng = self.module("rnn_layers"), rng_for("rnn_forward")
        for T, N, D, H in SEQ_CASES:
            x, h0, (Wx, Wh, b) = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), _weights(rng, D, H)
            self.now = shapes(x, h0, names=("x", "h0")) + f", H={H}"
            h, _ = self.returns(layers, "rnn_forward", 2, "(h, cache)", x, h0, Wx, Wh, b)
            from_h0 = np.stack([REF.rnn_step_forward(x_t, h0, Wx, Wh, b)[0] for x_t in x])
            self.assert_close("rnn_forward h", h, REF.rnn_forward(x, h0, Wx, Wh, b)[0], diagnose=[(
                "every step started from h0", from_h0, "feed each step the previous step's hidden state")])

    @check("rnn_backward", "backpropagation through time, from its own forward pass's cache",
           "loop t = T-1 .. 0: (dx[t], dprev, ...) = rnn_step_backward(dh[t] + dprev, step cache t), adding the "
           "upstream dh[t] to the gradient flowing back from step t+1; sum dWx, dWh, db over t; dh0 = the last dprev")
    def test_rnn_backward(self):
        layers, rng = self.module("rnn_layers"), rng_for("rnn_backward")
        for T, N, D, H in SEQ_CASES:
            x, h0, (Wx, Wh, b) = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), _weights(rng, D, H)
            dh = rng.standard_normal((T, N, H))
            self.now = shapes(x, h0, dh, names=("x", "h0", "dh")) + f", H={H}"
            _, cache = self.returns(layers, "rnn_forward", 2, "(h, cache)", x, h0, Wx, Wh, b)
            grads = self.returns(layers, "rnn_backward", 5, "(dx, dh0, dWx, dWh, db)", dh, cache,
                                 watch=held_in_cache("rnn_forward", x=x, h0=h0, Wx=Wx, Wh=Wh, b=b))
            _, ref_cache = REF.rnn_forward(x, h0, Wx, Wh, b)
            expected = REF.rnn_backward(dh, ref_cache)
            steps = [REF.rnn_step_backward(dh[t], ref_cache[t]) for t in range(T)]     # no gradient from t + 1
            dropped = (np.stack([s[0] for s in steps]), steps[0][1], *(sum(s[k] for s in steps) for k in (2, 3, 4)))
            for k, name in enumerate(("dx", "dh0", "dWx", "dWh", "db")):
                self.assert_close(f"rnn_backward {name}", grads[k], expected[k], diagnose=[(
                    "the gradient without the part flowing back from step t+1", dropped[k],
                    "each step's upstream gradient is dh[t] plus the dprev_h that step t+1 sent back")])

    @check("word_embedding_forward", "out[n, t] = W[x[n, t]]", "out[n, t] = W[x[n, t]]: out (N, T, D)")
    def test_word_embedding_forward(self):
        layers, rng = self.module("rnn_layers"), rng_for("word_embedding_forward")
        for N, T, V, D in EMBED_CASES:
            x, W = rng.integers(0, V, (N, T)), rng.standard_normal((V, D))
            self.now = shapes(x, W, names=("x", "W"))
            out, _ = self.returns(layers, "word_embedding_forward", 2, "(out, cache)", x, W)
            self.assert_close("word_embedding_forward out", out, W[x])

    @check("word_embedding_backward", "dW with repeated words, from its own forward pass's cache",
           "dW[v] is the sum of dout[n, t] over every (n, t) with x[n, t] == v: repeated words must accumulate "
           "(np.add.at(dW, x, dout) or a loop with +=), not overwrite (dW[x] = dout or dW[x] += dout)")
    def test_word_embedding_backward(self):
        layers, rng = self.module("rnn_layers"), rng_for("word_embedding_backward")
        for N, T, V, D in EMBED_CASES:
            x, W, dout = rng.integers(0, V, (N, T)), rng.standard_normal((V, D)), rng.standard_normal((N, T, D))
            self.now = shapes(x, W, dout, names=("x", "W", "dout")) + " (words repeat)"
            _, cache = self.returns(layers, "word_embedding_forward", 2, "(out, cache)", x, W)
            dW = self.call("word_embedding_backward", layers.word_embedding_backward, dout, cache)
            overwrite = np.zeros((V, D))
            overwrite[x.reshape(-1)] = dout.reshape(-1, D)
            self.assert_close("word_embedding_backward dW", dW, REF.word_embedding_backward(dout, (x, W)), diagnose=[(
                "one gradient per word (later ones overwrite earlier ones)", overwrite, None)])

    @check("temporal_fc_forward", "the course's test: out and cache (x, w, b, out) for x (7, 6, 7), w (7, 5), b (5,)",
           "out[n, t] = x[n, t] w + b: out (N, T, M); cache (x, w, b, out), in this order")
    def test_temporal_fc_forward(self):
        layers, rng = self.module("rnn_layers"), rng_for("temporal_fc_forward")
        for trial in range(TRIALS):
            x, w, b = rng.standard_normal((7, 6, 7)), rng.standard_normal((7, 5)), rng.standard_normal(5)
            self.now = shapes(x, w, b, names=("x", "w", "b")) + f", trial {trial + 1}"
            out, cache = self.returns(layers, "temporal_fc_forward", 2, "(out, cache)", x, w, b)
            expected, _ = REF.temporal_fc_forward(x, w, b)
            self.assert_close("temporal_fc_forward out", out, expected, diagnose=[(
                "x w without the bias", expected - b, "add the bias b at every step")])
            self.assert_cache("temporal_fc_forward cache", cache, (x, w, b, expected), ("x", "w", "b", "out"))

    @check("temporal_fc_backward", "the course's test: dx, dw, db from the course's cache (x, w, b, out)",
           "dx[n, t] = dout[n, t] w^T; dw = sum over n and t of x[n, t]^T dout[n, t]; db = dout summed over n and t; "
           "the cache is (x, w, b, out)")
    def test_temporal_fc_backward(self):
        layers, rng = self.module("rnn_layers"), rng_for("temporal_fc_backward")
        for trial in range(TRIALS):
            x, w, b = rng.standard_normal((7, 6, 7)), rng.standard_normal((7, 5)), rng.standard_normal(5)
            dout = rng.standard_normal((7, 6, 5))
            cache = REF.temporal_fc_forward(x, w, b)[1]
            self.now = shapes(x, w, dout, names=("x", "w", "dout")) + f", trial {trial + 1}"
            dx, dw, db = self.returns(layers, "temporal_fc_backward", 3, "(dx, dw, db)", dout, cache,
                                      watch=held_in_cache("the course's cache", x=x, w=w, b=b, out=cache[3]))
            ref_dx, ref_dw, ref_db = REF.temporal_fc_backward(dout, cache)
            self.assert_close("temporal_fc_backward dx", dx, ref_dx)
            self.assert_close("temporal_fc_backward dw", dw, ref_dw, diagnose=[(
                "the average over N*T instead of the sum", ref_dw / 42, None)])
            self.assert_close("temporal_fc_backward db", db, ref_db)

    @check("CaptioningRNN.loss", "the course's test: float32 params, features float64 (2, 5), captions (2, 4), "
           "temporal_fc names patched, 10 trials", HINT_LOSS)
    def test_captioning_loss(self):
        self._course_loss_trials(self.module("rnn"), rng_for("captioning loss"), TRIALS)

    def _course_loss_trials(self, rnn, rng, trials):
        """The course's CaptioningRNN.loss test on ``rnn``; returns the patched names' mocks (for call counts)."""
        missing = [n for n in ("temporal_fc_forward", "temporal_fc_backward") if not callable(getattr(rnn, n, None))]
        if missing:
            raise ContractError(f"rnn.py has no module-level {', '.join(missing)}: the course patches "
                                f"rnn.{missing[0]} with its reference implementation, which fails with "
                                f"AttributeError", HINT_NAMES, "CaptioningRNN.loss")
        forward, backward = (mock.patch.object(rnn, n, side_effect=getattr(REF, n), autospec=True)
                             for n in ("temporal_fc_forward", "temporal_fc_backward"))
        with forward as forward, backward as backward:
            model = self.call("CaptioningRNN", rnn.CaptioningRNN, vocabulary(10, ("<NULL>",)), **COURSE_MODEL)
            for trial in range(trials):
                params = course_params(np.random.RandomState(rng.integers(2 ** 31)), 10, 5, 5, 4)
                features, captions = rng.standard_normal((2, 5)), rng.integers(0, 10, (2, 4))
                self.now = f"CaptioningRNN(vocabulary of 10 ids, input_dim=5, wordvec_dim=5, hidden_dim=4) with " \
                           f"float32 params, features float64 (2, 5), captions {captions.tolist()}, trial {trial + 1}"
                self._set_params(model, params)
                result = self.call("CaptioningRNN.loss", model.loss, features, captions)
                loss, grads = self.unpack("CaptioningRNN.loss", result, 2, "(loss, grads)")
                ref_loss, ref_grads = ref_captioning_loss(params, features, captions)
                self.assert_scalar("CaptioningRNN.loss loss", loss, ref_loss)
                self.expect_dict("CaptioningRNN.loss grads", grads, ref_grads)
                for name in ("W_vocab", "b_vocab", "Wx", "Wh", "b", "W_embed", "W_proj", "b_proj"):
                    self.assert_close(f"CaptioningRNN.loss grads[{name!r}]", grads[name], ref_grads[name])
        return forward, backward

    def _set_params(self, model, params):
        have = self.expect_dict("CaptioningRNN.params", getattr(model, "params", None), params)
        for name, value in params.items():
            have[name] = value.copy()

    @check("CaptioningRNN.sample", "the course's test: greedy captions, max_length=15, 10 trials", HINT_SAMPLE)
    def test_captioning_sample(self):
        self._course_sample_trials(self.module("rnn"), rng_for("captioning sample"), TRIALS)

    def _course_sample_trials(self, rnn, rng, trials):
        model = self.call("CaptioningRNN", rnn.CaptioningRNN, vocabulary(10), **COURSE_MODEL)
        for trial in range(trials):
            params = course_params(np.random.RandomState(rng.integers(2 ** 31)), 10, 5, 5, 4)
            features = rng.standard_normal((2, 5))
            self.now = f"CaptioningRNN(vocabulary of 10 ids, <START> = 1, <END> = 2, input_dim=5, wordvec_dim=5, " \
                       f"hidden_dim=4) with float32 params, features float64 (2, 5), max_length=15, trial {trial + 1}"
            self._set_params(model, params)
            captions = self.call("CaptioningRNN.sample", model.sample, features, max_length=15)
            expected = ref_sample(params, features, 15)
            self.assert_close("CaptioningRNN.sample captions", captions, expected, dtype="integer", diagnose=[(
                "greedy decoding that stops at <END>", stopped_at_end(expected),
                "generate all max_length words: the course's sample does not stop at <END> (the words after it are "
                "ignored when captions are decoded)")])

    # -- advice ----------------------------------------------------------------------------------------
    @check("temporal_softmax_loss", "provided code: the masked loss",
           "sum the masked cross-entropy over N and T and divide by N; dx masked and divided by N; the loss is a "
           "NumPy scalar")
    @advice("temporal_softmax_loss is provided code; if you changed it, the course's CaptioningRNN check runs "
            "your version")
    def test_temporal_softmax_loss(self):
        layers, rng = self.module("rnn_layers"), rng_for("temporal_softmax_loss")
        for N, T, V in [(3, 4, 5), (1, 1, 3), (6, 2, 7)]:
            x, y, mask = rng.standard_normal((N, T, V)), rng.integers(0, V, (N, T)), rng.random((N, T)) < 0.7
            self.now = shapes(x, y, mask, names=("x", "y", "mask"))
            loss, dx = self.returns(layers, "temporal_softmax_loss", 2, "(loss, dx)", x, y, mask)
            ref_loss, ref_dx = REF.temporal_softmax_loss(x, y, mask)
            self.assert_scalar("temporal_softmax_loss loss", loss, ref_loss)
            self.assert_close("temporal_softmax_loss dx", dx, ref_dx)

    @check("rnn_forward / rnn_backward / temporal_fc_*", "against PyTorch autograd on random shapes (optional oracle)",
           "the same computation in PyTorch disagrees on the failing shape")
    @advice("PyTorch's autograd is an independent oracle: a mismatch on any shape is a bug")
    def test_rnn_torch(self):
        torch, layers, rng = self.optional("torch", "the PyTorch RNN oracle"), self.module("rnn_layers"), \
            rng_for("rnn torch")
        for _ in range(6):
            T, N, D, H, M = (int(v) for v in rng.integers(1, 6, 5))
            x, h0, (Wx, Wh, b) = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), _weights(rng, D, H)
            Wv, bv = rng.standard_normal((H, M)), rng.standard_normal(M)
            t = {k: torch.tensor(v, requires_grad=True)
                 for k, v in dict(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b, Wv=Wv, bv=bv).items()}
            prev, states = t["h0"], []
            for step in range(T):
                prev = torch.tanh(t["x"][step] @ t["Wx"] + prev @ t["Wh"] + t["b"])
                states.append(prev)
            h_t = torch.stack(states)                                                  # (T, N, H)
            scores_t = h_t.transpose(0, 1) @ t["Wv"] + t["bv"]                         # (N, T, M)
            dscores = rng.standard_normal((N, T, M))
            scores_t.backward(torch.tensor(dscores))
            self.now = f"x ({T}, {N}, {D}), H={H}, M={M} (vs PyTorch)"
            h, rnn_cache = self.returns(layers, "rnn_forward", 2, "(h, cache)", x, h0, Wx, Wh, b)
            self.assert_close("rnn_forward h", h, h_t.detach().numpy())
            hb = np.ascontiguousarray(h_t.detach().numpy().transpose(1, 0, 2))
            scores, fc_cache = self.returns(layers, "temporal_fc_forward", 2, "(out, cache)", hb, Wv, bv)
            self.assert_close("temporal_fc_forward out", scores, scores_t.detach().numpy())
            _, dWv, dbv = self.returns(layers, "temporal_fc_backward", 3, "(dx, dw, db)", dscores, fc_cache)
            self.assert_close("temporal_fc_backward dw", dWv, t["Wv"].grad.numpy())
            self.assert_close("temporal_fc_backward db", dbv, t["bv"].grad.numpy())
            dh = np.ascontiguousarray(np.einsum("ntm,hm->tnh", dscores, Wv))
            grads = self.returns(layers, "rnn_backward", 5, "(dx, dh0, dWx, dWh, db)", dh, rnn_cache)
            for k, name in enumerate(("x", "h0", "Wx", "Wh", "b")):
                self.assert_close(f"rnn_backward d{name}", grads[k], t[name].grad.numpy())

    @check("CaptioningRNN.__init__", "seeded values in the documented draw order",
           "draw from the global np.random in this order: " + ", ".join(f"{k} = {v}" for k, v in CAPTIONING_ORDER) +
           "; then cast every parameter to dtype")
    @advice("the starter's initialization sets the scale the training in rnn.ipynb was tuned for")
    def test_captioning_init_values(self):
        rnn, (V, D, W, H) = self.module("rnn"), (7, 6, 5, 4)
        for dtype in (np.float64, np.float32):
            self.now = f"np.random.seed(231); CaptioningRNN(vocabulary of {V} words, input_dim={D}, " \
                       f"wordvec_dim={W}, hidden_dim={H}, dtype=np.{np.dtype(dtype)})"
            np.random.seed(231)
            model = self.call("CaptioningRNN", rnn.CaptioningRNN, vocabulary(V), input_dim=D, wordvec_dim=W,
                              hidden_dim=H, cell_type="rnn", dtype=dtype)
            expected = course_params(np.random.RandomState(231), V, D, W, H, dtype)
            params = self.expect_dict("CaptioningRNN.__init__ params", getattr(model, "params", None), expected)
            for name, value in expected.items():
                self.assert_close(f"CaptioningRNN.__init__ params[{name!r}]", params[name], value)

    @check("CaptioningRNN.loss / sample", "beside the kit's reference layers; the patched names are called",
           HINT_NAMES)
    @advice("the course runs your rnn.py beside your own rnn_layers.py; a model that imports private helpers, or "
            "scores words without the patched names, depends on your layer file's internals")
    def test_captioning_beside_reference(self):
        rnn = self.module("rnn", beside_reference=True)
        forward, backward = self._course_loss_trials(rnn, rng_for("captioning beside reference"), 1)
        for name, patched in (("temporal_fc_forward", forward), ("temporal_fc_backward", backward)):
            if patched.call_count == 0:
                raise ContractError(f"CaptioningRNN.loss never called rnn.{name}: the course's patched {name} is "
                                    f"bypassed", HINT_NAMES, "CaptioningRNN.loss")
        self._course_sample_trials(rnn, rng_for("captioning sample beside reference"), 1)


if __name__ == "__main__":
    from grading.runner import main
    sys.exit(main(["rnn", *sys.argv[1:]]))
