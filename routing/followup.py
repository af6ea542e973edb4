"""Follow-ups: a reply that only makes sense in context ("yes please", "the second one", a
bare number or address, "still the same") stays with the conversation's current agent; a
message that states a new topic of its own moves to the agent that fits it.

Decided with what the agent last said (the last assistant message the client sent, else
the stored answer of the previous turn) and the conversation's current agent, by generic
rules on the vector scores, no word lists:
- nothing fits the message on its own → it continues the conversation: stay;
- the agent asked something (its last message has a question mark) and the reply is short
  (≤ `REPLY_WORDS` words) → it answers the question: stay;
- otherwise the message switches only when, read on its own, its best agent leads the
  current agent by at least `SWITCH_LEAD`; a weaker lead is a continuation: stay.

Measured by benchmarks/bench_followups.py on benchmarks/data/followups.jsonl (96 cases,
four registries): the numbers below are fitted there; RESULTS.md has the figures.
"""

from __future__ import annotations

from routing.base import Decision, RouteRequest
from routing.vector import rank

# A reply of at most this many words to a question of the agent answers it (the dev set's
# answers to questions have 1-5 words, its switches after a question 6 or more).
REPLY_WORDS = 4
# The lead (score of the message's best agent minus the current agent's, the message read
# alone) from which a message switches topic: the dev set's continuations lead by ≤ 0.12,
# 41 of its 48 switches by ≥ 0.19.
SWITCH_LEAD = 0.15
# The confidence a stay reports: the share of the dev set's stays that were right (0.92).
STAY_CONFIDENCE = 0.9


def _content(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("content") or "")
    return str(value or "")


def agent_last_message(request: RouteRequest) -> str:
    """What the agent said last: the last assistant message before the new one in the
    client's messages, else the stored answer of the previous turn ("" when unknown)."""
    earlier = request.messages[:-1]
    for message in reversed(earlier):
        if message.get("role") == "assistant" and message.get("content"):
            return str(message["content"])
        if message.get("role") == "user":
            break
    if not earlier and request.history:
        return _content(request.history[-1].get("answer"))
    return ""


def _stay(request: RouteRequest, decision: Decision, why: str) -> Decision:
    return Decision(
        strategy="follow-up",
        agent=request.current_agent,
        candidates=decision.candidates,
        reason=f"{why}: stays with {request.current_agent} ({decision.reason})",
        confidence=STAY_CONFIDENCE,
        relevance=decision.relevance,
    )


async def follow_up(request: RouteRequest, decision: Decision) -> Decision | None:
    """A "follow-up" decision that keeps the current agent, or None to keep `decision`."""
    current = request.current_agent
    if not current or request.registry.agent(current) is None or decision.agent == current:
        return None
    if decision.agent is None:
        return _stay(request, decision, "no agent fits the message on its own; it continues the conversation")
    words = len(request.query.split())
    asked = "?" in agent_last_message(request)
    if asked and words <= REPLY_WORDS:
        return _stay(request, decision, f"a {words}-word reply to the agent's question")
    (alone,) = await rank(request.registry, [request.query])
    lead = alone.top(1)[0][1] - (alone.score_of(current) or 0.0)
    if lead >= SWITCH_LEAD:
        return None
    return _stay(request, decision, f"{decision.agent} leads {current} by only {lead:.3f} (< {SWITCH_LEAD})")
