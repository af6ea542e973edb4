"""Follow-ups: a reply that only makes sense in context ("yes please", "the second one",
"how much is that?") stays with the conversation's current agent; a clear topic switch
moves to the new agent.

Generic rules on the vector scores, no word lists:
- nothing fits the query on its own → it continues the conversation: stay;
- a short query (≤ `SHORT_WORDS` words) whose best agent is not far ahead of the current
  agent (< `SWITCH_LEAD`) stays when the query read together with the previous user turn
  still goes to the current agent;
- anything else (a long query, or a strong lead for another agent) is a topic switch.
"""

from __future__ import annotations

from routing.base import Candidate, Decision, RouteRequest
from routing.vector import rank

SHORT_WORDS = 6
SWITCH_LEAD = 0.15


def previous_user_query(request: RouteRequest) -> str:
    earlier = [m for m in request.messages[:-1] if m.get("role") == "user" and m.get("content")]
    if earlier:
        return str(earlier[-1]["content"])
    for turn in reversed(request.history):
        text = turn.get("query") or turn.get("content")
        if text:
            return str(text)
    return ""


async def follow_up(request: RouteRequest, decision: Decision) -> Decision | None:
    """A "follow-up" decision that keeps the current agent, or None to keep `decision`."""
    current = request.current_agent
    if not current or request.registry.agent(current) is None or decision.agent == current:
        return None
    if decision.agent is None:
        return Decision(
            strategy="follow-up",
            agent=current,
            candidates=decision.candidates,
            reason=f"no agent fits the message on its own ({decision.reason}); it continues the conversation",
        )
    if len(request.query.split()) > SHORT_WORDS:
        return None
    previous = previous_user_query(request)
    if not previous:
        return None
    alone, together = await rank(request.registry, [request.query, f"{previous} {request.query}"])
    lead = alone.top(1)[0][1] - (alone.score_of(current) or 0.0)
    if lead >= SWITCH_LEAD or together.best != current:
        return None
    return Decision(
        strategy="follow-up",
        agent=current,
        candidates=[Candidate(name, score) for name, score in together.top(5)],
        reason=(
            f"short reply that reads as a follow-up: with the previous message it goes to {current} "
            f"({decision.agent} led by only {lead:.3f} alone)"
        ),
    )
