"""`ROUTER_TYPE=explicit`: only `explicitAgent` chooses (route_query handles a named agent
before any strategy runs), so this strategy never picks an agent by itself."""

from __future__ import annotations

from routing.base import Candidate, Decision, RouteRequest


class ExplicitStrategy:
    name = "explicit"

    async def decide(self, request: RouteRequest) -> Decision:
        if request.explicit_agent and request.registry.agent(request.explicit_agent):
            return Decision(
                strategy=self.name,
                agent=request.explicit_agent,
                candidates=[Candidate(request.explicit_agent, 1.0)],
                reason="explicitAgent named in the request",
            )
        return Decision(strategy=self.name, agent=None, reason="ROUTER_TYPE=explicit and no explicitAgent given")
