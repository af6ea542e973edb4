"""The vector router's scoring formula on arrays: one row per query, one column per agent.

The router calls it with one row per turn (_index.py); benchmarks/fit_routing.py calls it with
thousands of rows and token scores computed beforehand, so what is fitted is what runs.

Per encoder e, from the query's cosine to each agent's best-matching text (`best`):
- then for the RERANK_TOP agents by that score, mixed with the token score t_e:
                  m_e = (1 - tw_e) * best_e + tw_e * t_e
The agent score is the mean of m_e over the encoders that read the query (a German query's
original is read by the multilingual encoder alone: the others give a zero vector); the
query's relevance (what abstention judges) is the highest mean of best_e.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from routing.vector import params

# (encoder, rows, their top agents (len(rows), k)) -> token scores (len(rows), k), a row of
# NaN where the query has no tokens to match; None: the encoder has no tokens at all.
TokenScores = Callable[[int, np.ndarray, np.ndarray], np.ndarray | None]


@dataclass(frozen=True)
class Scoring:
    """The numbers of one registry's scoring (params.py, chosen by whether it has examples)."""

    token_weight: tuple[float, ...]  # per encoder
    rerank_top: int = params.RERANK_TOP
    sure_lead: float = params.SURE_LEAD

    @classmethod
    def for_index(cls, encoders: list[str], *, has_examples: bool) -> Scoring:
        weights = params.TOKEN_WEIGHT_WITH_EXAMPLES if has_examples else params.TOKEN_WEIGHT
        return cls(token_weight=tuple(weights.get(name, 0.0) for name in encoders))


@dataclass
class Scored:
    order: np.ndarray  # (Q, A) agent indices, best first
    values: np.ndarray  # (Q, A) their scores, in that order
    relevance: np.ndarray  # (Q,)


def score(
    scoring: Scoring,
    best: list[np.ndarray],
    tokens: TokenScores,
    *,
    deferred: tuple[bool, ...] = (),
) -> Scored:
    """Every agent scored for every row (see the module docstring). `deferred`: per encoder,
    whether its token scores are costly, and asked for only for rows whose best agent leads
    by less than SURE_LEAD without them."""
    n_rows = best[0].shape[0]
    sentence = best
    # An encoder that did not read the query (all its cosines 0) has no say.
    say = [(np.abs(b).max(axis=1) > 0).astype(np.float32) for b in best]
    total = np.maximum(np.sum(say, axis=0), 1.0)
    combined = sum(c[:, None] * s for c, s in zip(say, sentence, strict=True)) / total[:, None]
    relevance = combined.max(axis=1)
    by_sentence = np.argsort(-combined, axis=1, kind="stable")
    top = by_sentence[:, : scoring.rerank_top]
    rest = by_sentence[:, scoring.rerank_top :]
    rows = np.arange(n_rows)
    deferred = deferred or (False,) * len(best)

    def mix(encoders_with_tokens: list[bool], which: np.ndarray) -> np.ndarray:
        picked = top[which]
        mixed = np.zeros(picked.shape, dtype=np.float32)
        for e, (s, c) in enumerate(zip(sentence, say, strict=True)):
            own = np.take_along_axis(s[which], picked, axis=1)
            found = tokens(e, which, picked) if encoders_with_tokens[e] else None
            if found is not None:
                weight = scoring.token_weight[e]
                own = np.where(np.isnan(found), own, (1.0 - weight) * own + weight * np.nan_to_num(found))
            mixed += c[which, None] * own
        return mixed / total[which, None]

    with_tokens = [tw > 0 for tw in scoring.token_weight]
    mixed = mix([t and not d for t, d in zip(with_tokens, deferred, strict=True)], rows)
    if any(d and t for t, d in zip(with_tokens, deferred, strict=True)) and top.shape[1] > 1:
        ordered = np.sort(mixed, axis=1)
        close = rows[ordered[:, -1] - ordered[:, -2] < scoring.sure_lead]
        if len(close):
            mixed[close] = mix(with_tokens, close)
    order = np.argsort(-mixed, axis=1, kind="stable")
    return Scored(
        order=np.concatenate([np.take_along_axis(top, order, axis=1), rest], axis=1),
        values=np.concatenate(
            [np.take_along_axis(mixed, order, axis=1), np.take_along_axis(combined, rest, axis=1)], axis=1
        ).astype(np.float32),
        relevance=relevance.astype(np.float32),
    )
