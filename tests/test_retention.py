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
