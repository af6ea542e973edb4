"""Examples the vector router learns from a channel's own traffic (ROUTER_LEARN_FROM_TRAFFIC).

An agent known only by its descriptions is matched against queries phrased nothing like
them ("where's my stuff?" vs "order tracking related queries"). Real traffic fills that
gap: the queries the vector router was most sure about are, almost always, routed right
(measured on the lmos-router train.csv: 99.9 % of the most confident half), and as
examples they teach the index how users actually phrase each agent's topics, so the
less obvious queries that follow route better (descriptions only: 0.88 → 0.95 on the
held-out half of train.csv, no labels used).

Only turns the router decided on its own count: the vector (or hybrid) strategy chose the
top-scored agent, no fallback, and the agent answered. Follow-ups, explicit agents, LLM
choices and failed turns never become examples. Of those, the most confident
`LEARN_FRACTION` by lead over the runner-up are kept, at most ROUTER_LEARN_MAX_PER_AGENT
per agent, newest decisions first. The set replaces the channel's previous one and bumps
the tenant's registry version, so every replica rebuilds its index once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from agents.models import Channel, Tenant

log = logging.getLogger("routing.learning")

# Fitted on train.csv (learn from one half, measure on the other): 0.5 → 0.951; 0.3 →
# 0.897 (too few examples); 1.0 → 0.939 (the unsure half brings wrong labels).
LEARN_FRACTION = 0.5
# Decisions looked at per channel and run, newest first.
LEARN_SCAN = 5000
LEARN_STRATEGIES = ("vector", "hybrid")
# One-word replies carry no topic; long messages are mostly context, not a phrasing.
MIN_WORDS = 2
MAX_CHARS = 300


@dataclass(frozen=True)
class Observation:
    """One routed query: the text, the agent chosen, and the scores of the candidates."""

    text: str
    agent: str
    candidates: list[dict]


def lead_of(observation: Observation) -> float | None:
    """The chosen agent's lead over the runner-up, or None when it was not the top-scored
    agent (so the router did not decide on its scores alone)."""
    scores = [c for c in observation.candidates if isinstance(c, dict) and "agent" in c and "score" in c]
    if not scores or scores[0]["agent"] != observation.agent:
        return None
    try:
        best = float(scores[0]["score"])
        second = float(scores[1]["score"]) if len(scores) > 1 else 0.0
    except (TypeError, ValueError):
        return None
    return best - second


def select_examples(
    observations: Iterable[Observation], *, fraction: float = LEARN_FRACTION, max_per_agent: int
) -> dict[str, list[str]]:
    """The most confident `fraction` of the observations, as {agent: [text, ...]}.

    Observations come newest first; among equal leads the newer wins, and each agent keeps
    at most `max_per_agent`. A text is kept once (case-insensitively), under its first agent.
    """
    scored: list[tuple[float, int, Observation]] = []
    for position, observation in enumerate(observations):
        text = " ".join(observation.text.split())
        if len(text.split()) < MIN_WORDS or len(text) > MAX_CHARS:
            continue
        lead = lead_of(observation)
        if lead is None:
            continue
        scored.append((lead, position, Observation(text, observation.agent, observation.candidates)))
    if not scored:
        return {}
    keep = max(1, round(len(scored) * fraction))
    scored.sort(key=lambda item: (-item[0], item[1]))
    learned: dict[str, list[str]] = {}
    seen: set[str] = set()
    for _, _, observation in scored[:keep]:
        key = observation.text.lower()
        texts = learned.setdefault(observation.agent, [])
        if key in seen or len(texts) >= max_per_agent:
            continue
        seen.add(key)
        texts.append(observation.text)
    return {agent: texts for agent, texts in sorted(learned.items()) if texts}


ObservationReader = Callable[[Channel, int], list[Observation]]
_observation_reader: ObservationReader | None = None


def read_observations_with(reader: ObservationReader) -> None:
    """Set where the routed queries come from: `reader(channel, limit)` returns the channel's
    recent decisions of LEARN_STRATEGIES, without fallback, whose turn the agent answered,
    newest first. The conversations app, which stores the turns, sets it in its
    AppConfig.ready (routing does not import conversations)."""
    global _observation_reader
    _observation_reader = reader


def channel_observations(channel: Channel) -> list[Observation]:
    """The channel's recent routing decisions that may teach (newest first), with their query;
    none when no app supplies them."""
    if _observation_reader is None:
        return []
    return _observation_reader(channel, LEARN_SCAN)


def learn_channel(channel: Channel) -> int:
    """Replace the channel's learned examples with what its traffic teaches now; bumps the
    tenant's registry version when they changed. Returns how many examples it holds."""
    installed = set(channel.agents.filter(active=True).values_list("name", flat=True))
    observations = [o for o in channel_observations(channel) if o.agent in installed]
    learned = select_examples(observations, max_per_agent=settings.ROUTER_LEARN_MAX_PER_AGENT)
    count = sum(len(texts) for texts in learned.values())
    if _store(channel, learned):
        log.info("channel %s learned %d examples from %d decisions", channel, count, len(observations))
    return count


def learn_all() -> dict[str, int]:
    """Learn on every active channel; {"tenant/channel/subset": examples held}."""
    channels = Channel.objects.filter(active=True).select_related("tenant")
    return {str(channel): learn_channel(channel) for channel in channels}


def forget(channel: Channel) -> None:
    """Drop the channel's learned examples (the admin's "forget" action)."""
    _store(channel, {})


def _store(channel: Channel, learned: dict[str, list[str]]) -> bool:
    """Write `learned` unless it is what the channel holds already; True when written."""
    with transaction.atomic():
        row = Channel.objects.select_for_update().filter(pk=channel.pk).first()
        if row is None or (row.learned_examples or {}) == learned:
            return False
        row.learned_examples = learned
        row.save(update_fields=["learned_examples"])
        # Registry and index caches key on this version: every replica picks the set up.
        Tenant.objects.get(pk=row.tenant_id).bump_registry_version()
    return True
