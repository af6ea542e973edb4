"""The hybrid router: the vector router decides when it is sure; when it is not (best
score below the threshold, or a lead under `UNSURE_LEAD` over the runner-up) the LLM
chooses among the vector router's best few agents. LLM down → the vector answer,
marked as a fallback with the reason."""

from __future__ import annotations

from django.conf import settings

from routing.base import Decision, RouteRequest
from routing.strategies.llm import LlmUnavailable, ask
from routing.vector import Gate, candidates, rank

# Below this lead a vector decision is a near tie worth a second opinion.
UNSURE_LEAD = 0.03


class HybridStrategy:
    name = "hybrid"

    async def decide(self, request: RouteRequest) -> Decision:
        registry = request.registry
        (ranking,) = await rank(registry, [request.query])
        ranked = ranking.top(max(2, settings.ROUTER_HYBRID_CANDIDATES))
        gate = Gate.for_registry(registry)
        agent, reason = gate.judge(ranking)
        shown = candidates(ranking)
        lead = ranked[0][1] - ranked[1][1] if len(ranked) > 1 else 1.0
        if agent is not None and lead >= UNSURE_LEAD:
            return Decision(strategy=self.name, agent=agent, candidates=shown, reason=f"vector: {reason}")
        top = [registry.agent(name) for name, _ in ranked[: settings.ROUTER_HYBRID_CANDIDATES]]
        try:
            chosen, llm_reason = await ask(request, [a for a in top if a is not None])
        except LlmUnavailable as exc:
            # The vector router's best guess, provided anything fits at all.
            best = ranking.best if ranking.relevance >= gate.threshold_of(ranking) else None
            return Decision(
                strategy=self.name,
                agent=best,
                candidates=shown,
                reason=f"LLM unavailable ({exc}); vector answer: {reason}",
                fallback=True,
            )
        return Decision(
            strategy=self.name,
            agent=chosen,
            candidates=shown,
            reason=f"vector unsure ({reason}); LLM chose among {[a.name for a in top if a]}: {llm_reason}",
        )
