"""The registry as plain data: what a source delivers and what the router sees.

`parse_channel_routing` reads one ChannelRouting (operator JSON, Kubernetes object or YAML
entry) leniently, as LMOS does: missing ids and examples, extra fields and numeric
versions are fine; what cannot be used raises `SpecError` with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from core.ids import ID_PATTERN

_ID_RE = re.compile(ID_PATTERN)


class SpecError(ValueError):
    """A ChannelRouting that cannot be used."""


@dataclass(frozen=True)
class CapabilitySpec:
    name: str
    id: str = ""
    provided_version: str = ""
    required_version: str = ""
    description: str = ""
    host: str = ""
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentSpec:
    name: str
    id: str = ""
    description: str = ""
    address: str = ""
    capabilities: tuple[CapabilitySpec, ...] = ()


@dataclass(frozen=True)
class ChannelRoutingSpec:
    tenant_id: str
    channel_id: str
    subset: str
    version: str = ""
    name: str = ""
    agents: tuple[AgentSpec, ...] = ()


@dataclass(frozen=True)
class ChannelRegistry:
    """The agents of one (tenant, channel, subset), as the turn path and routers see them."""

    tenant_id: str
    channel_id: str
    subset: str
    registry_version: int
    agents: tuple[AgentSpec, ...]
    fallback_agent: str = ""
    vector_threshold: float | None = None
    vector_margin: float | None = None
    # Queries the vector router learned from this channel's traffic: ((agent, (text, ...)), ...).
    # Only the vector index reads them; agents not installed are left out.
    learned: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @cached_property
    def agents_hash(self) -> int:
        """Hash of the agents (and learned examples), computed once: a thousand agents take a
        millisecond to hash, too much to repeat per routed query."""
        return hash((self.agents, self.learned))

    @cached_property
    def has_examples(self) -> bool:
        """Whether any agent has example queries, declared or learned: the vector router
        scores such a channel differently (routing/vector/_index.py) and needs a higher threshold."""
        return any(texts for _, texts in self.learned) or any(
            cap.examples for agent in self.agents for cap in agent.capabilities
        )

    def learned_for(self, name: str) -> tuple[str, ...]:
        for agent, texts in self.learned:
            if agent == name:
                return texts
        return ()

    def agent(self, name: str) -> AgentSpec | None:
        for agent in self.agents:
            if agent.name == name:
                return agent
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def _examples(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list):
        return tuple(_text(v) for v in value if _text(v))
    raise SpecError(f"examples must be a list of strings, got {type(value).__name__}")


def parse_channel_routing(
    obj: Any, *, tenant_id: str | None = None, subset: str | None = None, channel_id: str | None = None
) -> ChannelRoutingSpec:
    if not isinstance(obj, dict):
        raise SpecError(f"a ChannelRouting must be an object, got {type(obj).__name__}")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise SpecError("metadata must be an object")
    labels = metadata.get("labels") or {}
    if not isinstance(labels, dict):
        raise SpecError("metadata.labels must be an object")
    name = _text(metadata.get("name"))
    where = f"ChannelRouting {name!r}" if name else "ChannelRouting"

    tenant = _text(labels.get("tenant")) or _text(tenant_id)
    channel = _text(labels.get("channel")) or _text(channel_id)
    sub = _text(labels.get("subset")) or _text(subset) or "stable"
    for label, value in (("tenant", tenant), ("channel", channel), ("subset", sub)):
        if not value:
            raise SpecError(f"{where}: metadata.labels.{label} is missing")
        if not _ID_RE.match(value):
            raise SpecError(f"{where}: metadata.labels.{label}={value!r} is not a valid id")

    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        raise SpecError(f"{where}: spec must be an object")
    groups = spec.get("capabilityGroups") or []
    if not isinstance(groups, list):
        raise SpecError(f"{where}: spec.capabilityGroups must be a list")

    agents: list[AgentSpec] = []
    seen: set[str] = set()
    for index, group in enumerate(groups):
        if not isinstance(group, dict):
            raise SpecError(f"{where}: capabilityGroups[{index}] must be an object")
        agent_name = _text(group.get("name"))
        if not agent_name:
            raise SpecError(f"{where}: capabilityGroups[{index}] has no name")
        if agent_name in seen:
            raise SpecError(f"{where}: agent {agent_name!r} is listed twice")
        seen.add(agent_name)
        raw_caps = group.get("capabilities") or []
        if not isinstance(raw_caps, list):
            raise SpecError(f"{where}: capabilities of {agent_name!r} must be a list")
        capabilities = []
        cap_names: set[str] = set()
        for cap_index, cap in enumerate(raw_caps):
            if not isinstance(cap, dict):
                raise SpecError(f"{where}: {agent_name}.capabilities[{cap_index}] must be an object")
            cap_name = _text(cap.get("name")) or _text(cap.get("id"))
            if not cap_name:
                raise SpecError(f"{where}: {agent_name}.capabilities[{cap_index}] has no name")
            if cap_name in cap_names:
                continue
            cap_names.add(cap_name)
            try:
                examples = _examples(cap.get("examples"))
            except SpecError as exc:
                raise SpecError(f"{where}: {agent_name}.{cap_name}: {exc}") from None
            capabilities.append(
                CapabilitySpec(
                    name=cap_name,
                    id=_text(cap.get("id")),
                    provided_version=_text(cap.get("providedVersion") or cap.get("version")),
                    required_version=_text(cap.get("requiredVersion")),
                    description=_text(cap.get("description")),
                    host=_text(cap.get("host")),
                    examples=examples,
                )
            )
        address = next((c.host for c in capabilities if c.host), "") or _text(group.get("host"))
        if not address:
            raise SpecError(f"{where}: agent {agent_name!r} has no capability with a host")
        agents.append(
            AgentSpec(
                name=agent_name,
                id=_text(group.get("id")),
                description=_text(group.get("description")),
                address=address,
                capabilities=tuple(capabilities),
            )
        )
    return ChannelRoutingSpec(
        tenant_id=tenant,
        channel_id=channel,
        subset=sub,
        version=_text(labels.get("version")),
        name=name,
        agents=tuple(agents),
    )
