"""The LLM router: any OpenAI-compatible chat-completions endpoint through `openai`.

The prompt lists the agents with their capabilities and the recent conversation; the
answer must be JSON `{"agentName": <a listed agent> | null, "reason": "..."}` (a fenced
```json block is accepted). A malformed answer or an unknown agent name gets one retry
with a correction, then the decision is "no agent". An unreachable endpoint, a timeout
or an HTTP error raises `LlmUnavailable`: route_query and the hybrid router decide what
that means for the turn.
"""

from __future__ import annotations

import json
import logging
import re

from django.conf import settings

from agents.specs import AgentSpec
from routing.base import Candidate, Decision, RouteRequest

log = logging.getLogger("routing.llm")

HISTORY_MESSAGES = 6
# The LLM gives no score: its measured accuracy stands in as the confidence of its decisions
# (gpt-4o-mini on the lmos-router test set, its published predictions: 0.964).
LLM_CONFIDENCE = 0.96
_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)

SYSTEM_PROMPT = """You route a customer's message to the one agent best able to answer it.

Agents:
{agents}

Reply with a JSON object only, no other text:
{{"agentName": "<one of: {names}>" or null if no agent fits, "reason": "<one short sentence>"}}"""


class LlmUnavailable(Exception):
    """The LLM endpoint could not be reached or failed (timeout, connection, HTTP error)."""


def llm_configured() -> bool:
    """An LLM is configured when a key is set or the URL points somewhere other than the
    default (local OpenAI-compatible servers often need no key)."""
    return bool(settings.OPENAI_API_KEY) or settings.OPENAI_API_URL.rstrip("/") != "https://api.openai.com/v1"


def describe_agents(agents: list[AgentSpec]) -> str:
    lines = []
    for agent in agents:
        lines.append(f"- {agent.name}: {agent.description or '(no description)'}")
        for cap in agent.capabilities:
            lines.append(f"    - {cap.name}: {cap.description}".rstrip(": "))
    return "\n".join(lines)


def conversation_lines(request: RouteRequest) -> list[str]:
    """The recent conversation before the new query, from the client's messages or, when
    the client sent only the new one, from the stored turns."""
    lines = []
    earlier = request.messages[:-1] if request.messages else []
    if earlier:
        for message in earlier[-HISTORY_MESSAGES:]:
            role, content = message.get("role", "user"), str(message.get("content", ""))[:500]
            lines.append(f"{role}: {content}")
    else:
        for turn in request.history[-HISTORY_MESSAGES:]:
            query = str(turn.get("query") or turn.get("content") or "")[:500]
            agent = turn.get("agent")
            lines.append(f"user: {query}" + (f"  (answered by {agent})" if agent else ""))
    return lines


def parse_answer(text: str, known: set[str]) -> tuple[str | None, str] | None:
    """(agent or None, reason) from the model's answer, or None when it is unusable."""
    text = (text or "").strip()
    fenced = _FENCE_RE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "agentName" not in data:
        return None
    name = data.get("agentName")
    reason = str(data.get("reason") or "")[:500]
    if name is None or (isinstance(name, str) and name.strip().lower() in ("", "null", "none")):
        return None, reason
    if isinstance(name, str) and name.strip() in known:
        return name.strip(), reason
    return None


async def ask(request: RouteRequest, agents: list[AgentSpec]) -> tuple[str | None, str]:
    """Ask the LLM to choose among `agents`: (agent or None, reason). Raises LlmUnavailable."""
    import openai

    known = {a.name for a in agents}
    system = SYSTEM_PROMPT.format(agents=describe_agents(agents), names=", ".join(sorted(known)))
    history = conversation_lines(request)
    user = ("Conversation so far:\n" + "\n".join(history) + "\n\n" if history else "") + (
        f"New customer message:\n{request.query[:4000]}"
    )
    messages: list[dict] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    extra = {} if settings.OPENAI_API_FORMAT == "text" else {"response_format": {"type": "json_object"}}
    client = openai.AsyncOpenAI(
        base_url=settings.OPENAI_API_URL,
        api_key=settings.OPENAI_API_KEY or "not-needed",
        timeout=settings.OPENAI_API_TIMEOUT,
        max_retries=0,
    )
    async with client:
        for attempt in (1, 2):
            try:
                response = await client.chat.completions.create(
                    model=settings.OPENAI_API_MODEL,
                    messages=messages,
                    max_tokens=settings.OPENAI_API_MAX_TOKENS,
                    temperature=settings.OPENAI_API_TEMP,
                    **extra,
                )
            except openai.APIError as exc:
                raise LlmUnavailable(f"{type(exc).__name__}: {exc}") from exc
            content = (response.choices[0].message.content if response.choices else None) or ""
            parsed = parse_answer(content, known)
            if parsed is not None:
                return parsed
            log.warning("LLM router: unusable answer (attempt %d): %r", attempt, content[:200])
            messages += [
                {"role": "assistant", "content": content[:2000]},
                {
                    "role": "user",
                    "content": "That was not valid. Answer with only a JSON object "
                    f'{{"agentName": ..., "reason": ...}} where agentName is one of {sorted(known)} or null.',
                },
            ]
    return None, "the LLM gave no valid answer twice"


class LlmStrategy:
    name = "llm"

    async def decide(self, request: RouteRequest) -> Decision:
        agent, reason = await ask(request, list(request.registry.agents))
        return Decision(
            strategy=self.name,
            agent=agent,
            candidates=[Candidate(agent, 1.0)] if agent else [],
            reason=f"LLM: {reason}" if reason else "LLM",
        )
