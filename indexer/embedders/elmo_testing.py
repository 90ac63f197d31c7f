"""Build SavedModels with the google/elmo/3 interface and random weights.

Used by the tests (a tiny model, well under 1 MB, built in seconds) and by the
benchmark (a model with the real ELMo sizes: char CNN with 2048 filters, 2-layer
biLSTM with 4096 cells and 512-d projections, ~93M parameters). The network is
ELMo's: byte-level character CNN + highway layers + projection (``word_emb``), a
two-layer bidirectional LSTM with projections and a residual connection
(``lstm_outputs1``, ``lstm_outputs2``), and a learned scalar mix of the three
layers (``elmo``; ``word_emb`` is doubled to match the LSTM width, as in bilm-tf).

Signatures, as in the TF Hub module:
- ``default``: input ``default`` (string sentences, split on spaces);
- ``tokens``: inputs ``tokens`` (string [batch, max_len], padded with "") and
  ``sequence_len`` (int32 [batch]);
both return ``elmo``, ``default`` (mean of ``elmo`` over real tokens),
``word_emb``, ``lstm_outputs1``, ``lstm_outputs2`` and ``sequence_len``.

Padding never reaches real tokens: the forward LSTM sees padding only after the
last real token and the backward LSTM runs on each sentence reversed within its
own length (``tf.reverse_sequence``); outputs at padded positions are zeroed.

Not a model anyone should search with: weights are random. TensorFlow is
imported inside the functions, so importing this module is free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_CHARS = 50  # bytes per token incl. begin/end-of-word marks, as in ELMo
CHAR_VOCAB = 262  # 0 = padding, 1..256 = bytes, 257 = begin of word, 258 = end of word


@dataclass(frozen=True)
class ElmoShape:
    """Sizes of an ELMo network."""

    char_dim: int
    filters: tuple[tuple[int, int], ...]  # (width, count) of each char CNN filter bank
    highway: int
    projection: int  # word_emb width and LSTM projection width
    cells: int  # LSTM cells per direction and layer

    @property
    def n_filters(self) -> int:
        return sum(n for _, n in self.filters)


TINY = ElmoShape(char_dim=4, filters=((1, 4), (2, 8), (3, 8)), highway=1, projection=8, cells=16)
# The published google/elmo sizes (bilm-tf's options.json for the 5.5B model).
REAL = ElmoShape(
    char_dim=16,
    filters=((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024)),
    highway=2,
    projection=512,
    cells=4096,
)


def _make_module(shape: ElmoShape, seed: int):
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def weight(*dims: int, fan_in: int | None = None) -> "tf.Variable":
        scale = 1.0 / np.sqrt(fan_in or dims[0])
        return tf.Variable(rng.normal(0.0, scale, dims).astype(np.float32))

    def zeros(*dims: int) -> "tf.Variable":
        return tf.Variable(np.zeros(dims, dtype=np.float32))

    class RandomElmo(tf.Module):
        def __init__(self):
            super().__init__(name="random_elmo")
            d, p, n = shape.char_dim, shape.projection, shape.cells
            f = shape.n_filters
            self.char_embedding = weight(CHAR_VOCAB, d, fan_in=1)
            self.conv = [(weight(w, d, c, fan_in=w * d), zeros(c)) for w, c in shape.filters]
            self.highway = [(weight(f, 2 * f), zeros(2 * f)) for _ in range(shape.highway)]
            self.projection = (weight(f, p), zeros(p))
            # (layer, direction) -> input kernel, recurrent kernel, bias, projection
            self.lstm = [
                [(weight(p, 4 * n, fan_in=2 * p), weight(p, 4 * n, fan_in=2 * p), zeros(4 * n), weight(n, p))
                 for _direction in range(2)]
                for _layer in range(2)
            ]
            self.mix = tf.Variable(rng.normal(0.0, 1.0, 3).astype(np.float32))
            self.gamma = tf.Variable(1.0)

        # -- pieces ---------------------------------------------------------------

        def char_ids(self, tokens):
            """[m] token strings -> [m, MAX_CHARS] byte ids with word marks."""
            clipped = tf.strings.substr(tokens, 0, MAX_CHARS - 2)
            chars = tf.strings.bytes_split(clipped)
            flat = tf.io.decode_raw(chars.flat_values, tf.uint8, fixed_length=1)
            ids = tf.RaggedTensor.from_row_splits(tf.cast(tf.reshape(flat, [-1]), tf.int32) + 1, chars.row_splits)
            m = tf.shape(tokens)[0]
            marked = tf.concat([tf.fill([m, 1], 257), ids, tf.fill([m, 1], 258)], axis=1)
            return marked.to_tensor(default_value=0, shape=[None, MAX_CHARS])

        def word_embedding(self, tokens):
            """[b, t] tokens -> [b, t, projection] via char CNN + highway + projection."""
            b, t = tf.shape(tokens)[0], tf.shape(tokens)[1]
            chars = tf.nn.embedding_lookup(self.char_embedding, self.char_ids(tf.reshape(tokens, [-1])))
            pooled = [tf.tanh(tf.reduce_max(tf.nn.conv1d(chars, w, 1, "VALID") + bias, axis=1))
                      for w, bias in self.conv]
            x = tf.concat(pooled, axis=1)
            for kernel, bias in self.highway:
                gate, carry = tf.split(tf.matmul(x, kernel) + bias, 2, axis=1)
                gate = tf.sigmoid(gate)
                x = gate * tf.nn.relu(carry) + (1.0 - gate) * x
            kernel, bias = self.projection
            return tf.reshape(tf.matmul(x, kernel) + bias, [b, t, shape.projection])

        def run_lstm(self, x, weights):
            """One direction of one layer over [b, t, p] inputs (padding after real tokens)."""
            w_in, w_rec, bias, w_proj = weights
            b, t = tf.shape(x)[0], tf.shape(x)[1]
            # All input projections in one matmul; only the recurrent part is per step.
            gates_in = tf.reshape(tf.matmul(tf.reshape(x, [-1, shape.projection]), w_in) + bias, [b, t, -1])
            gates_in = tf.transpose(gates_in, [1, 0, 2])

            def step(state, gates_t):
                c, h = state
                i, j, f, o = tf.split(gates_t + tf.matmul(h, w_rec), 4, axis=1)
                c = tf.clip_by_value(tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j), -3.0, 3.0)
                h = tf.clip_by_value(tf.matmul(tf.sigmoid(o) * tf.tanh(c), w_proj), -3.0, 3.0)
                return c, h

            init = (tf.zeros([b, shape.cells]), tf.zeros([b, shape.projection]))
            _, hs = tf.scan(step, gates_in, initializer=init)
            return tf.transpose(hs, [1, 0, 2])

        def direction(self, x, lengths, d):
            """Both layers of one direction; the backward one reads each sentence reversed."""
            if d == 1:
                x = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
            first = self.run_lstm(x, self.lstm[0][d])
            second = self.run_lstm(first, self.lstm[1][d]) + first  # residual, as in bilm-tf
            if d == 1:
                first = tf.reverse_sequence(first, lengths, seq_axis=1, batch_axis=0)
                second = tf.reverse_sequence(second, lengths, seq_axis=1, batch_axis=0)
            return first, second

        def run(self, tokens, lengths):
            lengths = tf.cast(lengths, tf.int32)
            mask = tf.expand_dims(tf.sequence_mask(lengths, tf.shape(tokens)[1], dtype=tf.float32), -1)
            word = self.word_embedding(tokens) * mask
            fw1, fw2 = self.direction(word, lengths, 0)
            bw1, bw2 = self.direction(word, lengths, 1)
            lstm1 = tf.concat([fw1, bw1], axis=2) * mask
            lstm2 = tf.concat([fw2, bw2], axis=2) * mask
            weights = tf.nn.softmax(self.mix)
            elmo = self.gamma * (weights[0] * tf.concat([word, word], axis=2) + weights[1] * lstm1
                                 + weights[2] * lstm2) * mask
            count = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
            return {
                "elmo": elmo,
                "default": tf.reduce_sum(elmo, axis=1) / count,
                "word_emb": word,
                "lstm_outputs1": lstm1,
                "lstm_outputs2": lstm2,
                "sequence_len": lengths,
            }

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="default")])
        def default_signature(self, default):
            words = tf.strings.split(default)
            return self.run(words.to_tensor(default_value=""), tf.cast(words.row_lengths(), tf.int32))

        @tf.function(input_signature=[
            tf.TensorSpec([None, None], tf.string, name="tokens"),
            tf.TensorSpec([None], tf.int32, name="sequence_len"),
        ])
        def tokens_signature(self, tokens, sequence_len):
            return self.run(tokens, sequence_len)

    return RandomElmo()


def build_elmo_savedmodel(path: str | os.PathLike[str], shape: ElmoShape = TINY, *, seed: int = 0,
                          signatures: tuple[str, ...] = ("default", "tokens"), hub_v1: bool = False) -> Path:
    """Write a SavedModel with the google/elmo/3 interface to ``path``; returns it.

    ``hub_v1=True`` writes it the way google/elmo/3 itself is published: a TF1
    graph SavedModel (empty tag set, signature defs) plus ``tfhub_module.pb``,
    which ``hub.load`` reads through TF2's v1 loader. Same weights either way.
    """
    import tensorflow as tf

    path = Path(path)
    if not hub_v1:
        module = _make_module(shape, seed)
        available = {"default": module.default_signature, "tokens": module.tokens_signature}
        tf.saved_model.save(module, str(path), signatures={name: available[name] for name in signatures})
        return path
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        module = _make_module(shape, seed)
        sentences = v1.placeholder(tf.string, [None], name="default")
        words = tf.strings.split(sentences)
        tokens = v1.placeholder(tf.string, [None, None], name="tokens")
        lengths = v1.placeholder(tf.int32, [None], name="sequence_len")
        io = {
            "default": ({"default": sentences},
                        module.run(words.to_tensor(default_value=""), tf.cast(words.row_lengths(), tf.int32))),
            "tokens": ({"tokens": tokens, "sequence_len": lengths}, module.run(tokens, lengths)),
        }
        info = v1.saved_model.utils.build_tensor_info
        signature_defs = {
            name: v1.saved_model.signature_def_utils.build_signature_def(
                {k: info(v) for k, v in io[name][0].items()}, {k: info(v) for k, v in io[name][1].items()})
            for name in signatures
        }
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(session, [], signature_def_map=signature_defs)
            builder.save()
    (path / "tfhub_module.pb").write_bytes(b"\x08\x01")  # ModuleDef{format: 1}: "a TF1 Hub module"
    return path
