"""Small builders for test data."""

from __future__ import annotations

from agents.models import Agent, Capability, Channel, Tenant


def make_registry(
    tenant_id: str = "acme",
    channel_id: str = "web",
    subset: str = "stable",
    agents: dict[str, str] | None = None,
) -> tuple[Tenant, Channel]:
    """A tenant with one channel whose agents map name -> address."""
    tenant, _ = Tenant.objects.get_or_create(tenant_id=tenant_id)
    channel = Channel.objects.create(tenant=tenant, channel_id=channel_id, subset=subset, version="1.0.0")
    for name, address in (agents or {}).items():
        agent = Agent.objects.create(
            tenant=tenant, channel=channel, name=name, description=f"{name} description", address=address, subset=subset
        )
        Capability.objects.create(agent=agent, name=f"{name}-cap", description=f"{name} capability", host=address)
    tenant.bump_registry_version()
    return tenant, channel
