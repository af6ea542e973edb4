"""Offline evaluation of a router on labelled rows (`route_eval`, `make bench`, the fitting script).

Routes every row with the strategy's raw decision (no follow-up, fallback agent or
clarification) against a registry read from a YAML file, with no database. The metric
functions are plain functions over lists of `Outcome` (label, predicted, relevance,
confidence), so a fitting script can score decisions it made itself. A metric that does not
apply (no no-agent rows, no scores on the decisions) is `None`, printed as "n/a".
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from agents.sources import SourceError
from agents.specs import ChannelRegistry
from routing.base import RouteRequest
from routing.strategies import get_strategy

log = logging.getLogger("routing.evaluation")

COVERAGE = 0.8  # accuracy is also reported on this most confident share of the rows


@dataclass(frozen=True)
class Row:
    text: str
    agent: str  # "" = no agent should be chosen


class Outcome(NamedTuple):
    """One routed row: the expected agent, the chosen one ("" = none) and the decision's scores."""

    label: str
    predicted: str
    relevance: float | None = None
    confidence: float | None = None


def load_registry(path: str | Path, *, tenant: str, channel: str, subset: str = "stable") -> ChannelRegistry:
    """The (tenant, channel, subset) ChannelRouting of a YAML registry file."""
    from agents.sources.file import FileSource

    result = FileSource(path).load_all()
    for warning in result.warnings:
        log.warning("%s: %s", path, warning)
    for routing in result.routings:
        if (routing.tenant_id, routing.channel_id, routing.subset) == (tenant, channel, subset):
            return ChannelRegistry(
                tenant_id=tenant,
                channel_id=channel,
                subset=subset,
                registry_version=0,
                agents=routing.agents,
            )
    raise SourceError(f"{path} has no ChannelRouting for tenant {tenant!r}, channel {channel!r}, subset {subset!r}")


def read_rows(path: str | Path, *, text: str = "text", agent: str = "agent") -> list[Row]:
    """Rows of a CSV with a header and columns `text,agent` (extra columns ignored)."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = set(reader.fieldnames or ())
        if not {text, agent} <= fields:
            raise ValueError(f"{path}: the header must name the columns {text} and {agent}, got {sorted(fields)}")
        return [Row(text=(r[text] or "").strip(), agent=(r[agent] or "").strip()) for r in reader]


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def accuracy(outcomes: Sequence[Outcome]) -> float | None:
    """Share of rows routed right; an abstention is right only on a no-agent row."""
    return _ratio(sum(o.label == o.predicted for o in outcomes), len(outcomes))


def macro_f1(outcomes: Sequence[Outcome]) -> float | None:
    """Mean F1 over the agents that are expected or chosen ("no agent" is not a class of its own:
    abstention has its own precision and recall)."""
    labels = sorted({label for o in outcomes for label in (o.label, o.predicted) if label})
    if not labels:
        return None
    scores = []
    for label in labels:
        tp = sum(o.label == o.predicted == label for o in outcomes)
        fp = sum(o.predicted == label != o.label for o in outcomes)
        fn = sum(o.label == label != o.predicted for o in outcomes)
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def in_scope_accuracy(outcomes: Sequence[Outcome]) -> float | None:
    """Accuracy over the rows that have an agent, where the set also has no-agent rows."""
    if all(o.label for o in outcomes):
        return None
    return accuracy([o for o in outcomes if o.label])


def abstention_precision(outcomes: Sequence[Outcome]) -> float | None:
    """Of the rows the router turned away, the share that no agent should take (0 when it
    turned none away); None when no row is a no-agent row."""
    if all(o.label for o in outcomes):
        return None
    abstained = [o for o in outcomes if not o.predicted]
    if not abstained:
        return 0.0
    return sum(not o.label for o in abstained) / len(abstained)


def abstention_recall(outcomes: Sequence[Outcome]) -> float | None:
    """Of the no-agent rows, the share the router turned away; None when there are none."""
    empty = [o for o in outcomes if not o.label]
    return _ratio(sum(not o.predicted for o in empty), len(empty))


def auroc(outcomes: Sequence[Outcome]) -> float | None:
    """Probability that a row with an agent gets a higher relevance than a no-agent row (ties
    count half): how well relevance separates in-scope from off-topic traffic. None without
    both kinds of row or when a decision carries no relevance."""
    if any(o.relevance is None for o in outcomes):
        return None
    positives = [o.relevance for o in outcomes if o.label]
    negatives = [o.relevance for o in outcomes if not o.label]
    if not positives or not negatives:
        return None
    # Mann-Whitney U from ranks, average ranks for ties: O(n log n).
    ordered = sorted([(score, 1) for score in positives] + [(score, 0) for score in negatives])
    rank_sum, i = 0.0, 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2  # ranks are 1-based
        rank_sum += average_rank * sum(label for _, label in ordered[i:j])
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _certainty(outcomes: Sequence[Outcome]) -> list[float] | None:
    """Per row, the decision's confidence, or its relevance when any confidence is missing."""
    if all(o.confidence is not None for o in outcomes):
        return [o.confidence for o in outcomes]  # type: ignore[misc]
    if all(o.relevance is not None for o in outcomes):
        return [o.relevance for o in outcomes]  # type: ignore[misc]
    return None


def coverage_accuracy(outcomes: Sequence[Outcome], coverage: float = COVERAGE) -> float | None:
    """Accuracy on the `coverage` share of rows the router is most sure of (by confidence,
    else relevance; file order breaks ties). None when the decisions carry neither."""
    scores = _certainty(outcomes)
    if not outcomes or scores is None:
        return None
    keep = max(1, math.ceil(coverage * len(outcomes) - 1e-9))
    order = sorted(range(len(outcomes)), key=lambda i: -scores[i])[:keep]
    return accuracy([outcomes[i] for i in order])


def deferral(outcomes: Sequence[Outcome], below: float) -> tuple[float | None, float | None]:
    """Hybrid's split at a confidence threshold: (the share of rows with confidence below
    `below`, which would go to the LLM; the accuracy on the rows the vector router keeps).
    (None, None) when a decision carries no confidence."""
    if not outcomes or any(o.confidence is None for o in outcomes):
        return None, None
    kept = [o for o in outcomes if o.confidence >= below]  # type: ignore[operator]
    return 1 - len(kept) / len(outcomes), accuracy(kept)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (0-100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def report(outcomes: Sequence[Outcome], latencies_ms: Sequence[float] = ()) -> dict:
    """The route_eval report (docs/operations.md) for routed rows; metrics that do not apply are None."""
    support = Counter(o.label for o in outcomes)
    per_agent = {
        label: round(sum(o.predicted == label for o in outcomes if o.label == label) / support[label], 4)
        for label in sorted(support)
        if label
    }
    confusions = Counter((o.label, o.predicted) for o in outcomes if o.label != o.predicted)
    return {
        "rows": len(outcomes),
        "accuracy": _round(accuracy(outcomes)),
        "macro_f1": _round(macro_f1(outcomes)),
        "in_scope_accuracy": _round(in_scope_accuracy(outcomes)),
        "abstention_precision": _round(abstention_precision(outcomes)),
        "abstention_recall": _round(abstention_recall(outcomes)),
        "abstentions": sum(not o.predicted for o in outcomes),
        "no_agent_rows": support[""],
        "auroc": _round(auroc(outcomes)),
        "coverage": COVERAGE,
        "coverage_accuracy": _round(coverage_accuracy(outcomes)),
        "p50_ms": _round(percentile(latencies_ms, 50), 2),
        "p95_ms": _round(percentile(latencies_ms, 95), 2),
        "per_agent": per_agent,
        "support": {label: support[label] for label in sorted(support) if label},
        "confusions": [
            {"expected": g, "predicted": p, "count": n}
            for (g, p), n in sorted(confusions.items(), key=lambda item: (-item[1], item[0]))
        ],
    }


def metrics(gold: list[str], predicted: list[str], latencies_ms: list[float]) -> dict:
    """`report` for parallel lists of expected and chosen agents ("" = none), without scores."""
    return report([Outcome(g, p) for g, p in zip(gold, predicted, strict=True)], latencies_ms)


async def route_rows(
    rows: Sequence[Row], registry: ChannelRegistry, *, router: str = "vector"
) -> tuple[list[Outcome], list[float]]:
    """Route every row one at a time, as turns arrive: (outcomes, latency in ms per row).

    One warm-up decision comes first, so model load and index build are not per-query latency.
    A row the LLM could not answer counts as an abstention.
    """
    from routing.strategies.llm import LlmUnavailable

    strategy = get_strategy(router)
    if rows and router != "llm":
        with contextlib.suppress(LlmUnavailable):
            await strategy.decide(RouteRequest(query=rows[0].text, messages=[], registry=registry))
    outcomes, latencies = [], []
    errors = 0
    for row in rows:
        started = time.perf_counter()
        try:
            decision = await strategy.decide(RouteRequest(query=row.text, messages=[], registry=registry))
            outcome = Outcome(row.agent, decision.agent or "", decision.relevance, decision.confidence)
        except LlmUnavailable as exc:
            errors += 1
            if errors <= 3:
                log.warning("LLM unavailable for %r: %s", row.text[:60], exc)
            outcome = Outcome(row.agent, "")
        latencies.append((time.perf_counter() - started) * 1000)
        outcomes.append(outcome)
    if errors:
        log.warning("LLM unavailable for %d of %d rows (counted as abstentions)", errors, len(rows))
    return outcomes, latencies


async def evaluate(rows: Sequence[Row], registry: ChannelRegistry, *, router: str = "vector") -> dict:
    """Route every row and report the metrics."""
    outcomes, latencies = await route_rows(rows, registry, router=router)
    result = report(outcomes, latencies)
    result["router"] = router
    return result


def shown(value: float | None, digits: int = 3) -> str:
    """A metric as printed: fixed digits, or "n/a" when it does not apply."""
    return "n/a" if value is None else f"{value:.{digits}f}"
