"""The vector router: offline sentence embeddings of every agent's texts, a per-channel
index, and the gate that decides whether any agent fits (docs/routing.md).

Private modules behind this one face: _embeddings (the encoders), _vocab (USE's word
table), _glossary (German gloss), _index (the per-channel index), _score (the scoring
formula), _calibration (the registry's abstention threshold and the confidence), _router
(ranking texts, the gate). Tunable numbers: routing.vector.params.
"""

from routing.vector._embeddings import Embedder, get_embedder, limit_blas_threads, release_memory
from routing.vector._index import AgentIndex, Ranking, agent_texts, build_index, cached_index, clear_cache, get_index
from routing.vector._router import Gate, Verdict, candidates, channel_index, glossary_for, rank, rankings, warm_up

__all__ = [
    "AgentIndex",
    "Embedder",
    "Gate",
    "Ranking",
    "Verdict",
    "agent_texts",
    "build_index",
    "cached_index",
    "candidates",
    "channel_index",
    "clear_cache",
    "get_embedder",
    "get_index",
    "glossary_for",
    "limit_blas_threads",
    "rank",
    "rankings",
    "release_memory",
    "warm_up",
]
