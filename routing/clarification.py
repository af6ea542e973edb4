"""A clarification question for a query no agent fits: asked by the LLM when one is
configured, else a template naming what the channel's agents do."""

from __future__ import annotations

import logging

from django.conf import settings

from agents.specs import AgentSpec, ChannelRegistry

log = logging.getLogger("routing.clarification")

MAX_LISTED = 8


def _what(agent: AgentSpec) -> str:
    if agent.description:
        return agent.description.rstrip(".")
    names = [c.name.replace("_", " ").replace("-", " ") for c in agent.capabilities[:4]]
    return ", ".join(names) or agent.name


def template_question(registry: ChannelRegistry) -> str:
    lines = [f"- {_what(agent)}" for agent in registry.agents[:MAX_LISTED]]
    intro = "I'm not sure what you need help with. I can help with:"
    return "\n".join([intro, *lines, "What would you like to do?"])


async def clarification_question(*, query: str, registry: ChannelRegistry, use_llm: bool) -> str:
    """A short question asking the user what they need (never raises)."""
    if use_llm:
        import openai

        from routing.strategies.llm import describe_agents

        prompt = (
            "A customer wrote a message that none of our agents clearly fits. Ask them, in one or two short "
            "sentences and in the language of their message, what they need, mentioning what we can help with.\n\n"
            f"What we can help with:\n{describe_agents(list(registry.agents[:MAX_LISTED]))}\n\n"
            f"Customer message: {query[:2000]}"
        )
        try:
            async with openai.AsyncOpenAI(
                base_url=settings.OPENAI_API_URL,
                api_key=settings.OPENAI_API_KEY or "not-needed",
                timeout=settings.OPENAI_API_TIMEOUT,
                max_retries=0,
            ) as client:
                response = await client.chat.completions.create(
                    model=settings.OPENAI_API_MODEL,
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=min(settings.OPENAI_API_MAX_TOKENS, 300),
                    temperature=settings.OPENAI_API_TEMP,
                )
            text = (response.choices[0].message.content or "").strip() if response.choices else ""
            if text:
                return text
        except openai.APIError as exc:
            log.warning("clarification by LLM failed, using the template: %s", exc)
    return template_question(registry)
