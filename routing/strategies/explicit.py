"""`ROUTER_TYPE=explicit`: only `explicitAgent` chooses. route_query answers a named agent
before any strategy runs, so this strategy never picks an agent itself."""

from __future__ import annotations

from routing.base import Decision, RouteRequest


class ExplicitStrategy:
    name = "explicit"

    async def decide(self, request: RouteRequest) -> Decision:
        return Decision(strategy=self.name, agent=None, reason="ROUTER_TYPE=explicit and no explicitAgent given")
