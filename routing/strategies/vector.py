"""The vector router as a strategy: the channel's agents ranked by routing.vector, judged
by the channel's gate."""

from __future__ import annotations

from routing.base import Decision, RouteRequest
from routing.vector import Gate, candidates, rank


class VectorStrategy:
    name = "vector"

    async def decide(self, request: RouteRequest) -> Decision:
        (ranking,) = await rank(request.registry, [request.query])
        verdict = Gate.for_registry(request.registry).verdict(ranking)
        return Decision(
            strategy=self.name,
            agent=verdict.agent,
            candidates=candidates(ranking),
            reason=verdict.reason,
            confidence=verdict.confidence,
            relevance=round(verdict.relevance, 4),
        )
