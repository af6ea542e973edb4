"""The hybrid router: the vector router decides when it is sure (its decision's calibrated
confidence is at least `ROUTER_HYBRID_CONFIDENCE`, whether it chose an agent or none);
below that, the LLM chooses among the vector router's best few agents. LLM down → the
vector decision, marked as a fallback with the reason."""

from __future__ import annotations

from django.conf import settings

from routing.base import Decision, RouteRequest
from routing.strategies import get_strategy
from routing.strategies.llm import LLM_CONFIDENCE, LlmUnavailable, ask


def vector_is_sure(confidence: float | None, threshold: float) -> bool:
    """Whether the hybrid router keeps a vector decision of this confidence without asking
    the LLM (a decision without one is never sure)."""
    return confidence is not None and confidence >= threshold


class HybridStrategy:
    name = "hybrid"

    async def decide(self, request: RouteRequest) -> Decision:
        registry = request.registry
        vector = await get_strategy("vector").decide(request)
        vector.strategy = self.name
        threshold = settings.ROUTER_HYBRID_CONFIDENCE
        shown = f"confidence {vector.confidence:.3f}" if vector.confidence is not None else "no confidence"
        if vector_is_sure(vector.confidence, threshold):
            vector.reason = f"vector ({shown}): {vector.reason}"
            return vector
        names = [c.agent for c in vector.candidates[: settings.ROUTER_HYBRID_CANDIDATES]]
        top = [agent for agent in (registry.agent(name) for name in names) if agent is not None]
        try:
            chosen, llm_reason = await ask(request, top)
        except LlmUnavailable as exc:
            vector.reason = f"LLM unavailable ({exc}); vector answer ({shown}): {vector.reason}"
            vector.fallback = True
            return vector
        return Decision(
            strategy=self.name,
            agent=chosen,
            candidates=vector.candidates,
            reason=f"vector unsure ({shown} < {threshold:.2f}: {vector.reason}); LLM chose among {names}: {llm_reason}",
            confidence=LLM_CONFIDENCE,
            relevance=vector.relevance,
        )
