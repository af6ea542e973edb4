"""The vector router's entry points: each text ranked against the channel's index, and the
gate that judges a ranking (the registry's calibrated threshold, or the configured one).

The embedder and each channel's index are built in a worker thread (never on the event
loop) and cached; a query costs one embedding (both models of the ensemble at once,
sentence and token vectors from one pass) and a few matrix products (_score.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings

from agents.specs import ChannelRegistry
from routing.base import Candidate
from routing.vector import _calibration as calibration
from routing.vector._batch import Encoded
from routing.vector._batch import encode as batched_encode
from routing.vector._embeddings import Embedder, _embedders, get_embedder, in_parallel
from routing.vector._glossary import Glossary, get_glossary
from routing.vector._index import AgentIndex, Ranking, cached_index, get_index

CANDIDATES_SHOWN = 5


@dataclass(frozen=True)
class Verdict:
    agent: str | None
    reason: str
    relevance: float  # the query's relevance, what the threshold compares
    confidence: float  # how likely `agent` (or "no agent") is right, 0-1


@dataclass(frozen=True)
class Gate:
    threshold: float | None  # None: the registry's own, calibrated at index build (Ranking.threshold)
    margin: float

    @classmethod
    def for_registry(cls, registry: ChannelRegistry) -> Gate:
        threshold, margin = registry.vector_threshold, registry.vector_margin
        return cls(
            threshold=settings.ROUTER_VECTOR_THRESHOLD if threshold is None else threshold,
            margin=settings.ROUTER_VECTOR_MARGIN if margin is None else margin,
        )

    def threshold_of(self, ranking: Ranking) -> float:
        return ranking.threshold if self.threshold is None else self.threshold

    def judge(self, ranking: Ranking) -> tuple[str | None, str]:
        """(agent, reason): the best agent when the query's relevance clears the threshold
        and the agent leads the runner-up by the margin, else (None, why not)."""
        verdict = self.verdict(ranking)
        return verdict.agent, verdict.reason

    def verdict(self, ranking: Ranking) -> Verdict:
        """`judge`, with the relevance and the calibrated confidence of the decision."""
        agent, reason = self._judge(ranking)
        threshold = self.threshold_of(ranking)
        confidence = calibration.confidence(
            relevance=ranking.relevance, lead=ranking.lead, threshold=threshold, abstained=agent is None
        )
        # The decision row and the admin's test page show how a German query was read.
        if ranking.gloss:
            reason = f'{reason}; read as German: "{ranking.gloss}"'
        return Verdict(agent, reason, ranking.relevance, round(confidence, 4))

    def _judge(self, ranking: Ranking) -> tuple[str | None, str]:
        ranked = ranking.top(2)
        if not ranked:
            return None, "the channel has no agents"
        best, score = ranked[0]
        lead = ranking.lead
        threshold = self.threshold_of(ranking)
        source = "calibrated for this registry" if self.threshold is None else "configured"
        if ranking.relevance < threshold:
            return None, (
                f"relevance {ranking.relevance:.3f} is below the threshold {threshold:.3f} ({source}); "
                f"best agent {best}"
            )
        if lead < self.margin:
            return None, (f"{best} leads {ranked[1][0]} by {lead:.3f}, less than the margin {self.margin:.3f}")
        return best, f"score {score:.3f}, {lead:.3f} ahead of the runner-up; relevance {ranking.relevance:.3f}"


def warm_up() -> Embedder:
    """Load the embedder and embed the off-topic messages every index build scores
    (_calibration.py): at start-up, so that the first turn waits for neither (blocking)."""
    embedder = get_embedder()
    calibration.offtopic_vectors(embedder)
    return embedder


async def _embedder() -> Embedder:
    embedder = _embedders.get(settings.ROUTER_EMBEDDING)
    if embedder is None:
        embedder = await sync_to_async(get_embedder, thread_sensitive=False)()
    return embedder


async def channel_index(registry: ChannelRegistry) -> tuple[Embedder, AgentIndex]:
    embedder = await _embedder()
    index = cached_index(registry, embedder)
    if index is None:
        index = await sync_to_async(get_index, thread_sensitive=False)(registry, embedder)
    return embedder, index


def german_texts(embedder: Embedder, texts: list[str]) -> list[int]:
    """Which of `texts` are German (read through the glossary, _rank_german)."""
    glossary = glossary_for(embedder)
    return [i for i, text in enumerate(texts) if glossary is not None and glossary.is_german(text)]


def rankings(embedder: Embedder, index: AgentIndex, texts: list[str], encoded: Encoded | None = None) -> list[Ranking]:
    """Embedding (USE's token vectors deferred) and scoring of `texts`; a German text is
    scored as its English gloss (_glossary.py). `encoded`: the non-German texts' encodings
    when the caller has them (rank)."""
    glossary = glossary_for(embedder)
    german = german_texts(embedder, texts)
    plain = sorted(set(range(len(texts))) - set(german))
    ranked: dict[int, Ranking] = {}
    if plain:
        if encoded is None:
            encoded = embedder.encode_with_tokens([texts[i] for i in plain], defer=True)
        for k, i in enumerate(plain):
            ranked[i] = index.ranking([(matrix[k], tokens[k]) for matrix, tokens in encoded])
    if german and glossary is not None:
        ranked.update(zip(german, _rank_german(embedder, index, glossary, [texts[i] for i in german]), strict=True))
    return [ranked[i] for i in range(len(texts))]


def _rank_german(embedder: Embedder, index: AgentIndex, glossary: Glossary, texts: list[str]) -> list[Ranking]:
    """German texts, glossed with the word senses the multilingual encoder's reading of the
    original suggests, and ranked by the gloss, which every encoder reads (the original's
    own ranking added nothing to the gloss's on any suite)."""
    # Words not seen before have their senses embedded on the other core meanwhile.
    senses = in_parallel(lambda: [glossary.senses(text) for text in texts])
    multilingual = next(encoder for encoder in embedder.encoders if encoder.multilingual)
    context = multilingual.encode(texts)
    found = senses.result()
    glosses = [glossary.render(text, context[k], found[k]) for k, text in enumerate(texts)]
    glossed = embedder.encode_with_tokens(glosses, defer=True)
    out = []
    for k, gloss in enumerate(glosses):
        ranking = index.ranking([(matrix[k], tokens[k]) for matrix, tokens in glossed])
        ranking.gloss = gloss
        out.append(ranking)
    return out


def glossary_for(embedder: Embedder) -> Glossary | None:
    """The German glossary (None when off, missing or the embedder has no multilingual encoder)."""
    multilingual = [encoder for encoder in embedder.encoders if encoder.multilingual]
    if not multilingual or not settings.ROUTER_GLOSSARY:
        return None
    return get_glossary(settings.ROUTER_GLOSSARY, multilingual[0])


async def rank(registry: ChannelRegistry, texts: list[str]) -> list[Ranking]:
    """Every agent with its score, best first, for each text."""
    embedder, index = await channel_index(registry)
    german = set(german_texts(embedder, texts))
    plain = [text for i, text in enumerate(texts) if i not in german]
    # The encoders run off the event loop, the queries of turns in flight together (_batch.py).
    encoded = await batched_encode(embedder, plain) if plain else None
    return rankings(embedder, index, texts, encoded)


def candidates(ranking: Ranking) -> list[Candidate]:
    return [Candidate(agent, score) for agent, score in ranking.top(CANDIDATES_SHOWN)]
