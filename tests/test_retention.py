from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents.models import Tenant
from conversations.models import Conversation, Turn
from routing.models import RoutingDecision

pytestmark = pytest.mark.django_db


def _conversation(tenant, conversation_id, age_days):
    conversation = Conversation.objects.create(tenant=tenant, conversation_id=conversation_id, channel_id="web")
    turn = Turn.objects.create(
        tenant=tenant, conversation=conversation, turn_id="t", request_hash="h", channel_id="web"
    )
    RoutingDecision.objects.create(tenant=tenant, turn=turn, channel_id="web", strategy="vector")
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now() - timedelta(days=age_days))
    return conversation


def test_purge_conversations_deletes_only_old_ones_with_their_turns(capsys):
    tenant = Tenant.objects.create(tenant_id="acme")
    other = Tenant.objects.create(tenant_id="other")
    _conversation(tenant, "old", 40)
    _conversation(tenant, "new", 1)
    _conversation(other, "old", 40)
    call_command("purge_conversations", "--older-than", "30", "--tenant", "acme")
    assert "Deleted 1 conversations and 1 turns" in capsys.readouterr().out
    assert set(Conversation.objects.values_list("tenant__tenant_id", "conversation_id")) == {
        ("acme", "new"),
        ("other", "old"),
    }
    call_command("purge_conversations", "--older-than", "30")
    assert Conversation.objects.count() == 1
    assert Turn.objects.count() == 1 and RoutingDecision.objects.count() == 1


def _aged_tenant(tenant_id, origin, age_days):
    tenant = Tenant.objects.create(tenant_id=tenant_id, origin=origin)
    Tenant.objects.filter(pk=tenant.pk).update(created_at=timezone.now() - timedelta(days=age_days))
    return tenant


def test_retention_prunes_old_traffic_tenants_that_left_nothing_behind(settings):
    from agents.models import ApiKey, Channel, RegistryTarget
    from conversations.tasks import purge_old_conversations

    settings.CONVERSATION_RETENTION_DAYS = 30
    settings.LMOS_TENANTS = ["configured"]
    traffic = Tenant.Origin.TRAFFIC
    gone = _aged_tenant("one-off", traffic, 40)
    RegistryTarget.objects.create(tenant=gone, subset="stable", origin=RegistryTarget.Origin.TRAFFIC)
    _conversation(_aged_tenant("old-chats", traffic, 40), "c", 40)  # its chats expire first, then it
    Channel.objects.create(tenant=_aged_tenant("has-channels", traffic, 40), channel_id="web")
    ApiKey.generate(tenant=_aged_tenant("has-key", traffic, 40))
    _conversation(_aged_tenant("recent-chats", traffic, 40), "c", 1)
    _aged_tenant("young", traffic, 1)
    _aged_tenant("configured", traffic, 40)
    _aged_tenant("made-in-admin", Tenant.Origin.ADMIN, 40)

    assert purge_old_conversations() == (1, 1, 2)
    assert not Tenant.objects.filter(tenant_id__in=["one-off", "old-chats"]).exists()
    assert not RegistryTarget.objects.filter(tenant__tenant_id="one-off").exists()
    assert set(Tenant.objects.values_list("tenant_id", flat=True)) == {
        "has-channels",
        "has-key",
        "recent-chats",
        "young",
        "configured",
        "made-in-admin",
    }


def test_retention_unset_deletes_nothing(settings):
    from conversations.tasks import purge_old_conversations

    settings.CONVERSATION_RETENTION_DAYS = None
    _conversation(_aged_tenant("one-off", Tenant.Origin.TRAFFIC, 400), "c", 400)
    assert purge_old_conversations() == (0, 0, 0)
    assert Tenant.objects.count() == 1 and Conversation.objects.count() == 1
