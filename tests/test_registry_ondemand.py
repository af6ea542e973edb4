"""registry_for_turn: the on-demand sync of a (tenant, subset) never synced, shared by
concurrent requests, against a loopback operator."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from agents.models import SyncRun, Tenant
from agents.services import registry_for_turn, registry_note_traffic
from core.errors import AgentNotFound, RegistryUnavailable
from tests.factories import make_registry
from tests.support.registry_fakes import Behaviour, FakeOperator, routing_doc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator(settings):
    fake = FakeOperator()
    settings.REGISTRY_SOURCE = "operator"
    settings.AGENT_REGISTRY_URL = fake.url
    settings.AGENT_REGISTRY_TIMEOUT = 2.0
    yield fake
    fake.close()


async def traffic(tenant_id: str = "acme", subset: str = "stable") -> Tenant:
    return await sync_to_async(registry_note_traffic)(tenant_id=tenant_id, subset=subset)


async def test_concurrent_first_chats_share_one_fetch(operator):
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills", "contract-agent": "Contracts"}))
    operator.behaviours[operator.channels_path("acme")] = Behaviour(delay=0.3)
    tenant = await traffic()

    registries = await asyncio.gather(
        *(registry_for_turn(tenant=tenant, channel_id="web", subset="stable") for _ in range(25))
    )

    assert {tuple(a.name for a in r.agents) for r in registries} == {("billing-agent", "contract-agent")}
    assert operator.paths() == {
        operator.channels_path("acme"): 1,
        operator.routing_path("acme", "web"): 1,
    }
    assert await SyncRun.objects.acount() == 1
    assert tenant.registry_version == registries[0].registry_version == 1


async def test_known_registry_is_served_without_asking_the_source_again(operator):
    operator.put(routing_doc("acme", "web"))
    tenant = await traffic()
    await registry_for_turn(tenant=tenant, channel_id="web", subset="stable")
    operator.requests.clear()

    for _ in range(3):
        registry = await registry_for_turn(tenant=tenant, channel_id="web", subset="stable")

    assert registry.agents[0].name == "billing-agent"
    assert operator.requests == []


async def test_two_tenants_each_get_their_own_fetch(operator):
    operator.put(routing_doc("acme", "web"))
    operator.put(routing_doc("globex", "web", agents={"globex-agent": "G"}))
    acme, globex = await traffic("acme"), await traffic("globex")

    a, g = await asyncio.gather(
        registry_for_turn(tenant=acme, channel_id="web", subset="stable"),
        registry_for_turn(tenant=globex, channel_id="web", subset="stable"),
    )

    assert (a.agents[0].name, g.agents[0].name) == ("billing-agent", "globex-agent")
    assert operator.paths()[operator.channels_path("acme")] == operator.paths()[operator.channels_path("globex")] == 1


async def test_source_down_and_nothing_known_is_registry_unavailable(operator, settings):
    settings.AGENT_REGISTRY_TIMEOUT = 0.5
    operator.behaviours["*"] = Behaviour(status=500)
    tenant = await traffic()

    started = time.monotonic()
    results = await asyncio.gather(
        *(registry_for_turn(tenant=tenant, channel_id="web", subset="stable") for _ in range(5)),
        return_exceptions=True,
    )

    assert time.monotonic() - started < 2.0
    assert all(isinstance(r, RegistryUnavailable) for r in results)
    assert "HTTP 500" in results[0].message and results[0].status == 503
    calls = operator.paths()[operator.channels_path("acme")]
    # Right after a failure, chats do not hammer the source again.
    with pytest.raises(RegistryUnavailable):
        await registry_for_turn(tenant=tenant, channel_id="web", subset="stable")
    assert operator.paths()[operator.channels_path("acme")] == calls
    assert await SyncRun.objects.filter(status="failed").acount() == 1


async def test_synced_registry_without_the_channel_is_agent_not_found(operator):
    operator.put(routing_doc("acme", "web"))
    tenant = await traffic()

    with pytest.raises(AgentNotFound, match="'voice'"):
        await registry_for_turn(tenant=tenant, channel_id="voice", subset="stable")
    with pytest.raises(AgentNotFound):
        await registry_for_turn(tenant=tenant, channel_id="voice", subset="stable")

    assert operator.paths()[operator.channels_path("acme")] == 1  # synced once, then known


async def test_tenant_without_any_routing_at_the_source_is_agent_not_found(operator):
    tenant = await traffic("empty")

    with pytest.raises(AgentNotFound):
        await registry_for_turn(tenant=tenant, channel_id="web", subset="stable")


async def test_channel_whose_routing_has_no_agents_is_agent_not_found(operator):
    operator.put(routing_doc("acme", "web", agents={}))
    tenant = await traffic()

    with pytest.raises(AgentNotFound):
        await registry_for_turn(tenant=tenant, channel_id="web", subset="stable")


async def test_registry_stored_without_a_sync_is_used_and_the_source_is_not_asked(operator):
    tenant, _ = await sync_to_async(make_registry)("acme", "web", agents={"billing": "billing:8080"})

    registry = await registry_for_turn(tenant=tenant, channel_id="web", subset="stable")
    with pytest.raises(AgentNotFound):
        await registry_for_turn(tenant=tenant, channel_id="other", subset="stable")

    assert [a.name for a in registry.agents] == ["billing"]
    assert operator.requests == []


async def test_another_subset_of_a_known_tenant_is_fetched_on_demand(operator):
    operator.put(routing_doc("acme", "web"))
    operator.put(routing_doc("acme", "web", subset="canary", agents={"canary-agent": "C"}))
    tenant = await traffic()
    await registry_for_turn(tenant=tenant, channel_id="web", subset="stable")

    canary = await registry_for_turn(tenant=await traffic(subset="canary"), channel_id="web", subset="canary")

    assert [a.name for a in canary.agents] == ["canary-agent"]
    assert [headers["x-subset"] for _, headers in operator.requests] == ["stable", "stable", "canary", "canary"]
