"""Micro-batching of the queries' encodings, off the event loop.

Routed turns that arrive together are embedded together: one encoder run over several
queries costs less than one run each (USE: 2.6 ms for one query, 0.9 ms a query in a batch
of 8; MiniLM's cost grows with the tokens either way), and the encoders run in the
batcher's thread, so the event loop serves the other turns meanwhile (onnxruntime and
numpy release the GIL while they compute).

No timer: a query that finds the batcher idle is encoded at once, alone; queries that
arrive while a batch runs wait for it to end and then go together, up to
ROUTER_BATCH_SIZE texts. The wait is the batch in progress, bounded by that size.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from routing.vector._embeddings import AnyTokens, Embedder

log = logging.getLogger("routing.vector")

Encoded = list[tuple[np.ndarray, list[AnyTokens]]]  # per encoder: sentence vectors, tokens


@dataclass
class _Request:
    embedder: Embedder
    texts: list[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Encoded]


def _settle(settled: list[tuple[asyncio.Future[Encoded], Encoded | None]], error: BaseException | None) -> None:
    for future, result in settled:
        if future.done():  # the caller gave up (client gone, timeout)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class Batcher:
    """One worker thread; `encode` from any event loop. Texts of one batch share an
    embedder: requests for another one wait for a batch of their own."""

    def __init__(self, max_texts: int) -> None:
        self.max_texts = max_texts
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # texts per batch, the latest ones
        self._pending: deque[_Request] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    async def encode(self, embedder: Embedder, texts: list[str]) -> Encoded:
        """`embedder.encode_with_tokens(texts, defer=True)`, batched with other callers'."""
        loop = asyncio.get_running_loop()
        request = _Request(embedder, list(texts), loop, loop.create_future())
        with self._ready:
            self._pending.append(request)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="embed-batch", daemon=True)
                self._thread.start()
            self._ready.notify()
        return await request.future

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._pending:
                    self._ready.wait()
                batch = self._take()
            self._run(batch)

    def _take(self) -> list[_Request]:
        """The oldest request and the next ones for the same embedder that fit."""
        first = self._pending.popleft()
        batch, size, left = [first], len(first.texts), deque()
        while self._pending and size < self.max_texts:
            request = self._pending.popleft()
            if request.embedder is first.embedder and size + len(request.texts) <= self.max_texts:
                batch.append(request)
                size += len(request.texts)
            else:
                left.append(request)
        self._pending.extendleft(reversed(left))
        return batch

    def _run(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.texts]
        self.batch_sizes.append(len(texts))
        try:
            encoded = batch[0].embedder.encode_with_tokens(texts, defer=True)
        except Exception as exc:  # every caller of the batch gets the encoder's error
            log.exception("encoding a batch of %d texts failed", len(texts))
            self._deliver(batch, None, exc)
            return
        at, results = 0, []
        for request in batch:
            n = len(request.texts)
            results.append([(matrix[at : at + n], tokens[at : at + n]) for matrix, tokens in encoded])
            at += n
        self._deliver(batch, results, None)

    @staticmethod
    def _deliver(batch: list[_Request], results: list[Encoded] | None, error: BaseException | None) -> None:
        """Settle the batch's futures, one wake-up per event loop for the whole batch."""
        per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Encoded], Encoded | None]]] = {}
        for k, request in enumerate(batch):
            per_loop.setdefault(request.loop, []).append((request.future, None if results is None else results[k]))
        for loop, settled in per_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled, error)
            except RuntimeError:  # its loop has closed: nobody is waiting
                pass


_batcher: Batcher | None = None
_lock = threading.Lock()


def get_batcher() -> Batcher:
    global _batcher
    if _batcher is None:
        from django.conf import settings

        with _lock:
            if _batcher is None:
                _batcher = Batcher(settings.ROUTER_BATCH_SIZE)
    return _batcher


def _forget_after_fork() -> None:
    # A forked child (a Celery prefork worker) has the parent's queue but not its thread.
    global _batcher, _lock
    _batcher, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


async def encode(embedder: Embedder, texts: list[str]) -> Encoded:
    """The texts' sentence vectors and (deferred) tokens per encoder, batched with the
    queries of other turns in flight."""
    return await get_batcher().encode(embedder, texts)
