"""The agent index of the vector router: embeddings of every agent's texts, built once per
(tenant, channel, subset) and set of agents (with their learned examples) and kept in
process memory.

An agent's texts are its description, and per capability its description, its name
written as words ("check_invoice" → "check invoice") and its examples; then the queries
learned from the channel's traffic, if any (routing/learning.py).

Per agent the index keeps, per encoder, the vectors of its texts and the
tokens of its descriptions (not its examples) without punctuation and without tokens more
than `SHARED_TOKENS` of the agents share ("this capability is responsible for"). Scoring
a query against them is _score.py. At build the index also scores the shipped off-topic
messages and keeps the registry's own relevance threshold (_calibration.py).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from agents.specs import AgentSpec, ChannelRegistry
from routing.vector import _calibration as calibration
from routing.vector._embeddings import AnyTokens, Embedder, release_memory
from routing.vector._score import Scoring, score
from routing.vector.params import SHARED_TOKENS

# Indexes kept per process; an index of 12 agents is ~100 KB, of 1,000 agents ~10 MB.
CACHE_SIZE = 64

_WORDS_RE = re.compile(r"[_\-.:/]+")


def _words(name: str) -> str:
    return _WORDS_RE.sub(" ", name).strip()


def agent_texts(agent: AgentSpec, *, examples: bool = True) -> list[str]:
    """What the router knows about an agent, as sentences to embed (deduplicated);
    `examples=False`: only what describes it (descriptions and capability names)."""
    texts: list[str] = []
    if agent.description:
        texts.append(agent.description)
    for cap in agent.capabilities:
        if cap.description:
            texts.append(cap.description)
        words = _words(cap.name)
        if words and words.lower() != cap.description.lower():
            texts.append(words)
        if examples:
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


class Ranking:
    """Every agent with its score, best first, and the query's relevance: its best
    sentence score, which the threshold compares. Lists are built on demand: a turn needs
    the first few of maybe a thousand agents."""

    def __init__(
        self, agents: list[str], order: np.ndarray, values: np.ndarray, relevance: float, threshold: float = 0.0
    ) -> None:
        self._agents = agents
        self._order = order  # agent indices, best first
        self._values = values  # their scores, in that order
        self.relevance = relevance
        # The registry's own relevance threshold (_calibration.py), unless the channel sets one.
        self.threshold = threshold
        # The English the query was also read as, when it was German (_glossary.py).
        self.gloss: str | None = None

    def top(self, n: int) -> list[tuple[str, float]]:
        head = self._order[:n].tolist()
        return [(self._agents[i], score) for i, score in zip(head, self._values[:n].tolist(), strict=True)]

    @cached_property
    def scores(self) -> list[tuple[str, float]]:
        return self.top(len(self._order))

    @property
    def lead(self) -> float:
        """The best agent's score minus the runner-up's (the best's score with one agent)."""
        if len(self._values) == 0:
            return 0.0
        return float(self._values[0] - self._values[1]) if len(self._values) > 1 else float(self._values[0])

    @property
    def best(self) -> str | None:
        return self._agents[int(self._order[0])] if len(self._order) else None

    def score_of(self, agent: str) -> float | None:
        try:
            index = self._agents.index(agent)
        except ValueError:
            return None
        return float(self._values[int(np.flatnonzero(self._order == index)[0])])


@dataclass
class _EncoderIndex:
    texts: np.ndarray  # (n_texts, dim), grouped by agent
    starts: np.ndarray  # (n_agents,) first row of each agent
    tokens: np.ndarray  # (n_tokens, dim): the description tokens, grouped by agent
    token_bounds: np.ndarray  # (n_agents + 1,) agent i's tokens are rows bounds[i]:bounds[i + 1]


# What a query is for an encoder: its sentence vector and its tokens.
Query = tuple[np.ndarray, AnyTokens]


class AgentIndex:
    def __init__(
        self,
        *,
        agents: list[str],
        per_encoder: list[_EncoderIndex],
        n_texts: int,
        build_ms: float,
        scoring: Scoring,
    ) -> None:
        self.scoring = scoring
        # Set by build_index from the off-topic messages (_calibration.py).
        self.threshold = 0.0
        self.agents = agents
        self.per_encoder = per_encoder
        self.n_texts = n_texts
        self.build_ms = build_ms

    def ranking(self, query: list[Query]) -> Ranking:
        """Every agent scored for one embedded query (_score.py)."""
        if not self.agents:
            return Ranking(self.agents, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0)
        best = []
        for index, (vector, _) in zip(self.per_encoder, query, strict=True):
            q = vector.reshape(-1)
            best.append(np.maximum.reduceat(index.texts @ q, index.starts)[None, :])

        def tokens(e: int, rows: np.ndarray, top: np.ndarray) -> np.ndarray:
            found = _token_scores(self.per_encoder[e], query[e][1], top[0])
            return np.full(top.shape, np.nan, dtype=np.float32) if found is None else found[None, :]

        deferred = tuple(tokens.deferred for _, tokens in query)
        scored = score(self.scoring, best, tokens, deferred=deferred)
        return Ranking(self.agents, scored.order[0], scored.values[0], float(scored.relevance[0]), self.threshold)

    def relevance(self, vectors: list[np.ndarray]) -> np.ndarray:
        """The relevance of many texts at once, from their sentence vectors (per encoder)."""
        best = [
            np.maximum.reduceat(v @ part.texts.T, part.starts, axis=1)
            for v, part in zip(vectors, self.per_encoder, strict=True)
        ]
        return score(self.scoring, best, lambda e, rows, top: None).relevance


def _token_scores(index: _EncoderIndex, tokens: AnyTokens, agents: np.ndarray) -> np.ndarray | None:
    """Token score of each of `agents` (indices): the weighted mean, over the query's
    tokens, of the similarity of the closest description token of the agent."""
    weight_sum = float(tokens.weights.sum())
    if weight_sum <= 0 or len(tokens.vectors) == 0:
        return None
    out = np.zeros(len(agents), dtype=np.float32)
    for k, agent in enumerate(agents):
        rows = index.tokens[index.token_bounds[agent] : index.token_bounds[agent + 1]]
        if len(rows) == 0:
            return None
        closest = (tokens.vectors @ rows.T).max(axis=1)
        out[k] = float(closest @ tokens.weights) / weight_sum
    return out


def _description_tokens(per_agent: list[list[AnyTokens]], n_agents: int) -> tuple[np.ndarray, np.ndarray]:
    """The agents' description tokens as one matrix grouped by agent, without
    punctuation and without tokens found in more than `SHARED_TOKENS` of the agents (an
    agent left with none keeps all of its own)."""
    shared: dict = {}
    for texts in per_agent:
        for key in {key for tokens in texts for key in tokens.keys}:
            shared[key] = shared.get(key, 0) + 1
    limit = max(1.0, SHARED_TOKENS * n_agents)
    blocks, bounds = [], [0]
    for texts in per_agent:
        # Every agent has at least one text (agent_texts falls back to its name).
        block = np.concatenate(
            [t.vectors[[i for i, key in enumerate(t.keys) if t.weights[i] > 0 and shared[key] <= limit]] for t in texts]
        )
        if len(block) == 0:
            block = np.concatenate([t.vectors for t in texts])
        blocks.append(block)
        bounds.append(bounds[-1] + len(block))
    matrix = np.concatenate(blocks) if blocks else np.zeros((0, 1), dtype=np.float32)
    return matrix.astype(np.float32), np.array(bounds, dtype=np.int64)


def build_index(registry: ChannelRegistry, embedder: Embedder) -> AgentIndex:
    """Embed every agent text of `registry` (CPU-heavy: run it in a thread)."""
    started = time.perf_counter()
    names: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    described: list[list[str]] = []
    for agent in registry.agents:
        names.append(agent.name)
        starts.append(len(texts))
        own = agent_texts(agent)
        seen = {t.lower() for t in own}
        texts.extend(own)
        learned = [t for t in registry.learned_for(agent.name) if t.lower() not in seen]
        texts.extend(learned)
        described.append(agent_texts(agent, examples=False))
    flat = [t for texts_of_agent in described for t in texts_of_agent]
    # Description texts are embedded once, with their tokens; examples without.
    row_of = {text: i for i, text in enumerate(flat)}
    others = [t for t in dict.fromkeys(texts) if t not in row_of]
    row_of.update({text: len(flat) + i for i, text in enumerate(others)})
    rows = [row_of[t] for t in texts]
    token_sets = embedder.encode_with_tokens(flat)
    other_sets = embedder.encode(others) if others else [None] * len(embedder.encoders)
    per_encoder = []
    for (described_matrix, tokens), other_matrix in zip(token_sets, other_sets, strict=True):
        both = described_matrix if other_matrix is None else np.vstack([described_matrix, other_matrix])
        matrix = both[rows]
        per_agent, at = [], 0
        for texts_of_agent in described:
            per_agent.append(tokens[at : at + len(texts_of_agent)])
            at += len(texts_of_agent)
        token_matrix, token_bounds = _description_tokens(per_agent, len(names))
        per_encoder.append(
            _EncoderIndex(
                texts=matrix,
                starts=np.array(starts, dtype=np.int64),
                tokens=token_matrix,
                token_bounds=token_bounds,
            )
        )
    index = AgentIndex(
        agents=names,
        per_encoder=per_encoder,
        n_texts=len(texts),
        build_ms=(time.perf_counter() - started) * 1000,
        scoring=Scoring.for_index([e.name for e in embedder.encoders], has_examples=registry.has_examples),
    )
    if names:
        index.threshold = calibration.threshold(index.relevance(calibration.offtopic_vectors(embedder)))
    release_memory()
    return index


_cache: OrderedDict[tuple, AgentIndex] = OrderedDict()
_cache_lock = threading.Lock()
_build_locks: dict[tuple, threading.Lock] = {}


def index_key(registry: ChannelRegistry, embedder: Embedder) -> tuple:
    # What the index is built from (the agents and learned examples), not the registry
    # version: the version is the tenant's, and a sync or admin edit that changes one
    # channel bumps it for all of them, whose indexes would be rebuilt for nothing (up to a
    # second each, on the first turn that needs them).
    return (embedder.name, registry.tenant_id, registry.channel_id, registry.subset, registry.agents_hash)


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
                # The channel's earlier agents are useless once it has others.
                for other in [k for k in _cache if k[:4] == key[:4] and k != key]:
                    del _cache[other]
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
                _build_locks.pop(key, None)
    return index


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
