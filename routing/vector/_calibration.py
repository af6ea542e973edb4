"""Abstention relative to the channel's own registry.

A fixed cosine threshold does not transfer: how close an off-topic message comes to some
agent depends on how many agents there are and how broadly they are described. So at index
build the router scores a few hundred off-topic messages that ship with the project
(offtopic.txt: general knowledge, chit-chat, homework, creative tasks; written for this,
from no benchmark) against the registry, and judges a query's relevance against where
those fall.
"""

from __future__ import annotations

import math
import threading
from functools import cache
from pathlib import Path

import numpy as np

from routing.vector import params
from routing.vector._embeddings import Embedder

OFFTOPIC = Path(__file__).with_name("offtopic.txt")


@cache
def offtopic_sentences() -> tuple[str, ...]:
    lines = OFFTOPIC.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


_vectors: dict[str, list[np.ndarray]] = {}
_lock = threading.Lock()


def offtopic_vectors(embedder: Embedder) -> list[np.ndarray]:
    """Per encoder, the sentence vectors of the off-topic messages (embedded once per process)."""
    vectors = _vectors.get(embedder.name)
    if vectors is None:
        with _lock:
            vectors = _vectors.get(embedder.name)
            if vectors is None:
                vectors = _vectors[embedder.name] = embedder.encode(list(offtopic_sentences()))
    return vectors


def threshold(offtopic: np.ndarray) -> float:
    """The registry's relevance threshold, from its off-topic messages' relevance: a query
    must come closer to some agent than all but the closest few of them."""
    return float(np.quantile(offtopic, params.OFFTOPIC_QUANTILE)) + params.ABSTAIN_SHIFT


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def confidence(*, relevance: float, lead: float, threshold: float, abstained: bool) -> float:
    """How likely the decision is right, 0-1: a logistic map of the relevance's distance to
    the threshold and (for a chosen agent) its lead over the runner-up."""
    if abstained:
        b0, b_relevance = params.CONFIDENCE_ABSTAINED
        return _logistic(b0 + b_relevance * (relevance - threshold))
    b0, b_relevance, b_lead = params.CONFIDENCE_ROUTED
    return _logistic(b0 + b_relevance * (relevance - threshold) + b_lead * lead)
