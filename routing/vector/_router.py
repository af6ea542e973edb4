"""The vector router's entry points: cosine similarity between the query and each agent's texts.

The embedder and each channel's index are built in a worker thread (never on the event
loop) and cached; a query costs one embedding (both models of the ensemble at once, sentence and token
vectors from one pass) and a few matrix products (_index.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from asgiref.sync import sync_to_async
from django.conf import settings

from agents.specs import ChannelRegistry
from routing.base import Candidate
from routing.vector._embeddings import Embedder, Tokens, _embedders, get_embedder, in_parallel
from routing.vector._glossary import Glossary, get_glossary
from routing.vector._index import AgentIndex, Ranking, cached_index, get_index
from routing.vector.params import GLOSS_WEIGHT

CANDIDATES_SHOWN = 5


@dataclass(frozen=True)
class Gate:
    threshold: float
    margin: float

    @classmethod
    def for_registry(cls, registry: ChannelRegistry) -> Gate:
        threshold = registry.vector_threshold
        margin = registry.vector_margin
        if threshold is None:
            # Examples lift every score, off-topic ones included (fitted on train.csv: at 0.30,
            # 95 % of the off-topic queries are rejected with 5 examples per capability
            # instead of 30 %, 85 % with learned ones, accuracy unchanged).
            threshold = (
                settings.ROUTER_VECTOR_THRESHOLD_EXAMPLES if registry.has_examples else settings.ROUTER_VECTOR_THRESHOLD
            )
        return cls(
            threshold=threshold,
            margin=settings.ROUTER_VECTOR_MARGIN if margin is None else margin,
        )

    def judge(self, ranking: Ranking) -> tuple[str | None, str]:
        """(agent, reason): the best agent when the query's relevance (its best sentence
        score) clears the threshold and the agent leads the runner-up by the margin, else
        (None, why not)."""
        agent, reason = self._judge(ranking)
        # The decision row and the admin's test page show how a German query was read.
        return agent, f'{reason}; read as German: "{ranking.gloss}"' if ranking.gloss else reason

    def _judge(self, ranking: Ranking) -> tuple[str | None, str]:
        ranked = ranking.top(2)
        if not ranked:
            return None, "the channel has no agents"
        best, score = ranked[0]
        lead = score - ranked[1][1] if len(ranked) > 1 else score
        if ranking.relevance < self.threshold:
            return None, (
                f"relevance {ranking.relevance:.3f} (best sentence score) is below the threshold "
                f"{self.threshold:.3f}; best agent {best}"
            )
        if lead < self.margin:
            return None, (f"{best} leads {ranked[1][0]} by {lead:.3f}, less than the margin {self.margin:.3f}")
        return best, f"score {score:.3f}, {lead:.3f} ahead of the runner-up; relevance {ranking.relevance:.3f}"


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


def rankings(embedder: Embedder, index: AgentIndex, texts: list[str]) -> list[Ranking]:
    """Typo repair, embedding (USE's token vectors deferred) and scoring of `texts`; a
    German text is scored as itself and as its English gloss, blended (_glossary.py)."""
    glossary = glossary_for(embedder)
    german = [i for i, text in enumerate(texts) if glossary is not None and glossary.is_german(text)]
    plain = sorted(set(range(len(texts))) - set(german))
    ranked: dict[int, Ranking] = {}
    if plain:
        encoded = embedder.encode_with_tokens([index.speller.correct(texts[i]) for i in plain], defer=True)
        for k, i in enumerate(plain):
            ranked[i] = index.ranking([(matrix[k], tokens[k]) for matrix, tokens in encoded])
    if german and glossary is not None:
        ranked.update(zip(german, _rank_german(embedder, index, glossary, [texts[i] for i in german]), strict=True))
    return [ranked[i] for i in range(len(texts))]


def _rank_german(embedder: Embedder, index: AgentIndex, glossary: Glossary, texts: list[str]) -> list[Ranking]:
    """German texts, read by the multilingual encoder alone (the English-only one finds
    nothing in German, and index.py gives it no say then: not running it saves a third of
    the time), glossed with the word senses that reading suggests; the gloss read by every
    encoder; the two rankings blended."""
    originals = [index.speller.correct(text) for text in texts]
    # Words not seen before have their senses embedded on the other core meanwhile.
    senses = in_parallel(lambda: [glossary.senses(text) for text in texts])
    encoded = []
    context = None
    # Beside an English-only encoder, which finds nothing in German, the original's tokens
    # never count (index.py turns token matching off for a query in another language):
    # its sentence vectors alone are cheaper.
    sentences_only = any(not encoder.multilingual for encoder in embedder.encoders)
    for encoder, part in zip(embedder.encoders, index.per_encoder, strict=True):
        if encoder.multilingual:
            if sentences_only:
                matrix = encoder.encode(originals)
                tokens = [_no_tokens(matrix.shape[1]) for _ in originals]
            else:
                matrix, tokens = encoder.encode_with_tokens(originals, defer=True)
            context = matrix
        else:
            dim = part.texts.shape[1]
            matrix = np.zeros((len(originals), dim), dtype=np.float32)
            tokens = [_no_tokens(dim) for _ in originals]
        encoded.append((matrix, tokens))
    glosses = [
        glossary.render(text, None if context is None else context[k], found)
        for k, (text, found) in enumerate(zip(texts, senses.result(), strict=True))
    ]
    glossed = embedder.encode_with_tokens(glosses, defer=True)
    out = []
    for k, gloss in enumerate(glosses):
        original = index.ranking([(matrix[k], tokens[k]) for matrix, tokens in encoded])
        read = index.ranking([(matrix[k], tokens[k]) for matrix, tokens in glossed])
        out.append(original.blend(read, GLOSS_WEIGHT, gloss=gloss))
    return out


def _no_tokens(dim: int) -> Tokens:
    """An encoder's reading of a text it was not run on: no tokens, nothing to match."""
    return Tokens(vectors=np.zeros((0, dim), dtype=np.float32), keys=(), weights=np.zeros(0, dtype=np.float32))


def glossary_for(embedder: Embedder) -> Glossary | None:
    """The German glossary (None when off, missing or the embedder has no multilingual encoder)."""
    multilingual = [encoder for encoder in embedder.encoders if encoder.multilingual]
    if not multilingual or not settings.ROUTER_GLOSSARY:
        return None
    return get_glossary(settings.ROUTER_GLOSSARY, multilingual[0])


async def rank(registry: ChannelRegistry, texts: list[str]) -> list[Ranking]:
    """Every agent with its score, best first, for each text."""
    embedder, index = await channel_index(registry)
    # A query embeds in a few milliseconds: inline is cheaper than a thread hop.
    return rankings(embedder, index, texts)


def candidates(ranking: Ranking) -> list[Candidate]:
    return [Candidate(agent, score) for agent, score in ranking.top(CANDIDATES_SHOWN)]
