import pytest
from django.db import IntegrityError, transaction

from agents.models import Agent, ApiKey, Channel, Tenant
from conversations.models import Conversation, Turn
from tests.factories import make_registry

pytestmark = pytest.mark.django_db


def test_channel_is_unique_per_tenant_channel_and_subset():
    tenant, _ = make_registry("acme", "web", "stable")
    Channel.objects.create(tenant=tenant, channel_id="web", subset="canary")
    with pytest.raises(IntegrityError), transaction.atomic():
        Channel.objects.create(tenant=tenant, channel_id="web", subset="stable")


def test_agent_name_is_unique_within_a_channel():
    _, channel = make_registry(agents={"billing": "h:1"})
    with pytest.raises(IntegrityError), transaction.atomic():
        Agent.objects.create(tenant=channel.tenant, channel=channel, name="billing")


def test_conversation_id_is_unique_per_tenant_but_may_repeat_across_tenants():
    a = Tenant.objects.create(tenant_id="a")
    b = Tenant.objects.create(tenant_id="b")
    Conversation.objects.create(tenant=a, conversation_id="c1", channel_id="web")
    Conversation.objects.create(tenant=b, conversation_id="c1", channel_id="web")
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.create(tenant=a, conversation_id="c1", channel_id="web")


def test_turn_id_is_unique_per_conversation():
    tenant = Tenant.objects.create(tenant_id="a")
    conv = Conversation.objects.create(tenant=tenant, conversation_id="c1", channel_id="web")
    other = Conversation.objects.create(tenant=tenant, conversation_id="c2", channel_id="web")
    Turn.objects.create(tenant=tenant, conversation=conv, turn_id="t1", request_hash="h", channel_id="web")
    Turn.objects.create(tenant=tenant, conversation=other, turn_id="t1", request_hash="h", channel_id="web")
    with pytest.raises(IntegrityError), transaction.atomic():
        Turn.objects.create(tenant=tenant, conversation=conv, turn_id="t1", request_hash="h", channel_id="web")


def test_conversations_of_two_tenants_never_mix():
    a = Tenant.objects.create(tenant_id="a")
    b = Tenant.objects.create(tenant_id="b")
    ca = Conversation.objects.create(tenant=a, conversation_id="same", channel_id="web", user_id="ua")
    cb = Conversation.objects.create(tenant=b, conversation_id="same", channel_id="web", user_id="ub")
    Turn.objects.create(tenant=a, conversation=ca, turn_id="t", request_hash="x", channel_id="web")
    assert list(Conversation.objects.filter(tenant=b, conversation_id="same")) == [cb]
    assert Turn.objects.filter(tenant=b).count() == 0
    assert Turn.objects.filter(tenant=a, conversation__conversation_id="same").count() == 1


def test_registry_version_bumps_atomically():
    tenant = Tenant.objects.create(tenant_id="a")
    tenant.bump_registry_version()
    tenant.bump_registry_version()
    assert Tenant.objects.get(pk=tenant.pk).registry_version == 2


def test_api_key_is_stored_hashed_and_shown_once():
    tenant = Tenant.objects.create(tenant_id="a")
    key, raw = ApiKey.generate(tenant=tenant)
    assert raw.startswith("lmos_")
    assert raw not in (key.key_hash, key.key_prefix)
    assert ApiKey.objects.get(key_hash=ApiKey.hash_key(raw)) == key
