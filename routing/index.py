"""The agent index of the vector router: embeddings of every agent's texts, built once per
(tenant, channel, subset, registry version) and kept in process memory.

An agent's texts are its description, and per capability its description, its name
written as words ("check_invoice" → "check invoice") and its examples; then the queries
learned from the channel's traffic, if any (routing/learning.py). An agent's score
for a query mixes the best-matching of its texts with the centroid of all of them
(`MAX_WEIGHT`, fitted on the lmos-router train.csv): the maximum catches a close
example, the centroid keeps one odd text from dominating. With several encoders the
agent scores are averaged, each encoder weighted by the square of its own best score:
a model that understands the query (USE on German) outweighs one that does not (MiniLM
on German), and on English both count about the same.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from agents.specs import AgentSpec, ChannelRegistry
from routing.embeddings import Embedder, release_memory

MAX_WEIGHT = 0.8
CONFIDENCE_POWER = 2.0
# Indexes kept per process; an index of 12 agents is ~100 KB, of 1,000 agents ~10 MB.
CACHE_SIZE = 64

_WORDS_RE = re.compile(r"[_\-.:/]+")


def _words(name: str) -> str:
    return _WORDS_RE.sub(" ", name).strip()


def agent_texts(agent: AgentSpec) -> list[str]:
    """What the router knows about an agent, as sentences to embed (deduplicated)."""
    texts: list[str] = []
    if agent.description:
        texts.append(agent.description)
    for cap in agent.capabilities:
        if cap.description:
            texts.append(cap.description)
        words = _words(cap.name)
        if words and words.lower() != cap.description.lower():
            texts.append(words)
        texts.extend(cap.examples)
    if not texts:
        texts.append(_words(agent.name))
    seen: set[str] = set()
    unique = []
    for text in texts:
        key = text.strip().lower()
        if key and key not in seen:
            seen.add(key)
            unique.append(text.strip())
    return unique


@dataclass
class _EncoderIndex:
    texts: np.ndarray  # (n_texts, dim), grouped by agent
    starts: np.ndarray  # (n_agents,) first row of each agent
    centroids: np.ndarray  # (n_agents, dim)


class AgentIndex:
    def __init__(self, *, agents: list[str], per_encoder: list[_EncoderIndex], n_texts: int, build_ms: float) -> None:
        self.agents = agents
        self.per_encoder = per_encoder
        self.n_texts = n_texts
        self.build_ms = build_ms

    def scores(self, query_vectors: list[np.ndarray]) -> np.ndarray:
        """Score of every agent (in `self.agents` order) for one embedded query."""
        total = np.zeros(len(self.agents), dtype=np.float32)
        weights = 0.0
        for index, vector in zip(self.per_encoder, query_vectors, strict=True):
            q = vector.reshape(-1)
            best = np.maximum.reduceat(index.texts @ q, index.starts)
            scores = MAX_WEIGHT * best + (1.0 - MAX_WEIGHT) * (index.centroids @ q)
            # An encoder that finds nothing close (MiniLM on a German query) gets less say.
            weight = max(float(scores.max()), 1e-3) ** CONFIDENCE_POWER
            total += weight * scores
            weights += weight
        return total / weights

    def ranked(self, query_vectors: list[np.ndarray], limit: int | None = None) -> list[tuple[str, float]]:
        scores = self.scores(query_vectors)
        order = np.argsort(-scores, kind="stable")
        if limit:
            order = order[:limit]
        return [(self.agents[i], float(scores[i])) for i in order]


def build_index(registry: ChannelRegistry, embedder: Embedder) -> AgentIndex:
    """Embed every agent text of `registry` (CPU-heavy: run it in a thread)."""
    started = time.perf_counter()
    names: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    for agent in registry.agents:
        names.append(agent.name)
        starts.append(len(texts))
        own = agent_texts(agent)
        seen = {t.lower() for t in own}
        texts.extend(own)
        texts.extend(t for t in registry.learned_for(agent.name) if t.lower() not in seen)
    per_encoder = []
    for matrix in embedder.encode(texts):
        centroids = (
            np.stack([matrix[s:e].mean(axis=0) for s, e in zip(starts, [*starts[1:], len(texts)], strict=True)])
            if names
            else np.zeros((0, matrix.shape[1] if matrix.ndim == 2 else 1), dtype=np.float32)
        )
        if len(centroids):
            centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        per_encoder.append(
            _EncoderIndex(texts=matrix, starts=np.array(starts, dtype=np.int64), centroids=centroids.astype(np.float32))
        )
    release_memory()
    return AgentIndex(
        agents=names, per_encoder=per_encoder, n_texts=len(texts), build_ms=(time.perf_counter() - started) * 1000
    )


_cache: OrderedDict[tuple, AgentIndex] = OrderedDict()
_cache_lock = threading.Lock()
_build_locks: dict[tuple, threading.Lock] = {}


def index_key(registry: ChannelRegistry, embedder: Embedder) -> tuple:
    # The registry version changes with every sync; the hash of the agents covers admin
    # edits and registries that never went through a sync (route_eval, the admin page).
    return (
        embedder.name,
        registry.tenant_id,
        registry.channel_id,
        registry.subset,
        registry.registry_version,
        registry.agents_hash,
    )


def cached_index(registry: ChannelRegistry, embedder: Embedder) -> AgentIndex | None:
    return _cache.get(index_key(registry, embedder))


def get_index(registry: ChannelRegistry, embedder: Embedder) -> AgentIndex:
    """The index of `registry`, built at most once per key even under concurrent turns."""
    key = index_key(registry, embedder)
    index = _cache.get(key)
    if index is not None:
        return index
    with _cache_lock:
        lock = _build_locks.setdefault(key, threading.Lock())
    with lock:
        index = _cache.get(key)
        if index is None:
            index = build_index(registry, embedder)
            with _cache_lock:
                _cache[key] = index
                # Older versions of the same channel are useless once a newer one exists.
                for other in [k for k in _cache if k[:4] == key[:4] and k != key]:
                    del _cache[other]
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
                _build_locks.pop(key, None)
    return index


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
