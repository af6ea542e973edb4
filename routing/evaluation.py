"""Offline evaluation of a router on a labelled CSV (`route_eval`, `make bench`).

Routes every row with the strategy's raw decision (no follow-up, fallback agent or
clarification) against a registry read from a YAML file, with no database.
"""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agents.sources import SourceError
from agents.specs import ChannelRegistry
from routing.base import RouteRequest
from routing.strategies import get_strategy

log = logging.getLogger("routing.evaluation")


@dataclass(frozen=True)
class Row:
    text: str
    agent: str  # "" = no agent should be chosen


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


def read_rows(path: str | Path) -> list[Row]:
    """Rows of a CSV with a header and columns `text,agent` (extra columns ignored)."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = set(reader.fieldnames or ())
        if not {"text", "agent"} <= fields:
            raise ValueError(f"{path}: the header must name the columns text and agent, got {sorted(fields)}")
        return [Row(text=(r["text"] or "").strip(), agent=(r["agent"] or "").strip()) for r in reader]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def metrics(gold: list[str], predicted: list[str], latencies_ms: list[float]) -> dict:
    """The route_eval report for parallel lists of expected and chosen agents ("" = none)."""
    rows = len(gold)
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    labels = sorted({label for label in (*gold, *predicted) if label})
    f1s = []
    per_agent = {}
    support = Counter(gold)
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label and g != label for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        if support[label]:
            per_agent[label] = round(tp / support[label], 4)
    empty_gold = sum(1 for g in gold if not g)
    abstained = sum(1 for p in predicted if not p)
    both = sum(1 for g, p in zip(gold, predicted, strict=True) if not g and not p)
    confusions = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    return {
        "rows": rows,
        "accuracy": round(correct / rows, 4) if rows else 0.0,
        "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        "abstention_precision": (round(both / abstained, 4) if abstained else 0.0) if empty_gold else None,
        "abstention_recall": round(both / empty_gold, 4) if empty_gold else None,
        "abstentions": abstained,
        "p50_ms": round(_percentile(latencies_ms, 50), 2),
        "p95_ms": round(_percentile(latencies_ms, 95), 2),
        "per_agent": per_agent,
        "support": {label: support[label] for label in sorted(support) if label},
        "confusions": [
            {"expected": g, "predicted": p, "count": n}
            for (g, p), n in sorted(confusions.items(), key=lambda item: (-item[1], item[0]))
        ],
    }


async def evaluate(rows: list[Row], registry: ChannelRegistry, *, router: str = "vector") -> dict:
    """Route every row (one at a time, as turns arrive) and report the metrics."""
    from routing.strategies.llm import LlmUnavailable
    from routing.vector import channel_index

    strategy = get_strategy(router)
    if router in ("vector", "hybrid"):
        await channel_index(registry)  # model load and index build are not per-query latency
    predicted, latencies = [], []
    errors = 0
    for row in rows:
        started = time.perf_counter()
        try:
            decision = await strategy.decide(RouteRequest(query=row.text, messages=[], registry=registry))
            agent = decision.agent or ""
        except LlmUnavailable as exc:
            errors += 1
            if errors <= 3:
                log.warning("LLM unavailable for %r: %s", row.text[:60], exc)
            agent = ""
        latencies.append((time.perf_counter() - started) * 1000)
        predicted.append(agent)
    report = metrics([r.agent for r in rows], predicted, latencies)
    report["router"] = router
    if errors:
        report["llm_errors"] = errors
    return report
