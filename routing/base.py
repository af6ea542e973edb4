"""The router interface: what the conversation service asks and what it gets back.

The conversation service only ever calls `routing.services.route_query`; strategies
live in `routing/strategies/`, one module each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agents.specs import ChannelRegistry


@dataclass(frozen=True)
class Candidate:
    agent: str
    score: float

    def as_dict(self) -> dict[str, object]:
        return {"agent": self.agent, "score": round(float(self.score), 4)}


@dataclass(frozen=True)
class RouteRequest:
    """Everything a router may look at for one turn."""

    query: str  # the user's new message (the last one of `messages`)
    messages: list[dict]  # the conversation as the client sent it: [{role, content, format}]
    registry: ChannelRegistry
    explicit_agent: str | None = None
    # From the stored conversation: the agent that answered the previous turn, and the
    # previous turns' (query, agent) pairs, oldest first.
    current_agent: str | None = None
    history: list[dict] = field(default_factory=list)


@dataclass
class Decision:
    strategy: str  # explicit | vector | llm | hybrid | fallback | clarification | follow-up
    agent: str | None
    candidates: list[Candidate] = field(default_factory=list)
    reason: str = ""
    latency_ms: float = 0.0
    fallback: bool = False
    # Set when the answer is a clarification question instead of an agent call.
    clarification: str | None = None
    # How sure the router is that `agent` (or "no agent") is right, 0-1, calibrated.
    confidence: float | None = None
    # How relevant the query is to the channel's registry at all (the abstention score).
    relevance: float | None = None


class Strategy(Protocol):
    name: str

    async def decide(self, request: RouteRequest) -> Decision: ...
