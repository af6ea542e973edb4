"""The dry run of a turn's routing (`POST .../{tenantId}/route`): where this chat request
would go, decided as a turn decides it, without calling the agent or storing anything of
the turn.

It takes the steps of the turn service in the same order: the API key (when required), the
tenant and subset noted for the sync, the stored conversation's current agent and history
(follow-ups), the registry (synced on demand when never seen, as for a turn), then
`routing.services.route_query` with the same RouteRequest. No Turn and no RoutingDecision
row is written, and no routing metrics are counted: they describe real traffic.
"""

from __future__ import annotations

from django.conf import settings

from agents.auth import api_key_authorize
from agents.models import Tenant
from agents.services import registry_for_turn, registry_note_traffic
from conversations.selectors import conversation_routing_context
from conversations.services import HISTORY_TURNS, TurnInput
from core.db import db
from core.errors import AgentNotFound
from routing.base import Decision, RouteRequest
from routing.services import route_query


def _context(turn_in: TurnInput) -> tuple[Tenant, str | None, list[dict[str, str]]]:
    if settings.REQUIRE_API_KEYS:
        api_key_authorize(tenant_id=turn_in.tenant_id, authorization=turn_in.authorization)
    tenant = registry_note_traffic(tenant_id=turn_in.tenant_id, subset=turn_in.subset)
    current_agent, history = None, []
    if turn_in.conversation_id:
        current_agent, history = conversation_routing_context(
            tenant=tenant, conversation_id=turn_in.conversation_id, history_turns=HISTORY_TURNS
        )
    return tenant, current_agent, history


async def conversation_route_dry_run(*, turn_in: TurnInput) -> Decision:
    """The decision a turn with `turn_in` would take now.

    A decision with no agent (and no clarification) is returned, not raised: the router ran
    and its reason and candidates say why nothing fits. Raises as the turn does when no
    routing can happen: AgentNotFound for an unknown explicit agent or a channel without
    agents, RegistryUnavailable, Unauthorized, Forbidden.
    """
    tenant, current_agent, history = await db(_context)(turn_in)
    registry = await registry_for_turn(tenant=tenant, channel_id=turn_in.channel_id, subset=turn_in.subset)
    request = RouteRequest(
        query=turn_in.query,
        messages=turn_in.messages,
        registry=registry,
        explicit_agent=turn_in.explicit_agent or None,
        current_agent=current_agent,
        history=history,
    )
    try:
        return await route_query(request=request)
    except AgentNotFound as exc:
        if turn_in.explicit_agent or exc.decision is None or not registry.agents:
            raise
        return exc.decision
