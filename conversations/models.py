"""Conversations and their turns. Every row carries its tenant: no query without one."""

from __future__ import annotations

from django.db import models

from agents.models import Tenant


class Conversation(models.Model):
    # No single-column index: the unique (tenant, conversation_id) index serves tenant
    # lookups, and a second index on tenant alone is what the planner picked, without
    # table statistics, to find one conversation by scanning all of the tenant's.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="conversations", db_index=False)
    conversation_id = models.CharField(max_length=128)
    channel_id = models.CharField(max_length=128)
    subset = models.CharField(max_length=128, default="stable")
    user_id = models.CharField(max_length=256, blank=True)
    current_agent = models.CharField(max_length=253, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "conversation_id"], name="uniq_conversation_per_tenant"),
        ]
        indexes = [
            models.Index(fields=["tenant", "user_id"], name="conv_tenant_user_idx"),
            models.Index(fields=["updated_at"], name="conv_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.tenant_id}/{self.conversation_id}"


class Turn(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    # Served by the (tenant, status, created_at) and unique (conversation, turn_id) indexes.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="turns", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns", db_index=False)
    turn_id = models.CharField(max_length=128)
    # SHA-256 of the canonical JSON body: a retry with another body is a conflict.
    request_hash = models.CharField(max_length=64)
    channel_id = models.CharField(max_length=128)
    subset = models.CharField(max_length=128, default="stable")
    messages = models.JSONField(default=list)
    request = models.JSONField(default=dict, help_text="systemContext, userContext, explicitAgent")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    agent_name = models.CharField(max_length=253, blank=True)
    routing_strategy = models.CharField(max_length=32, blank=True)
    answer = models.JSONField(null=True, blank=True, help_text="{content, anonymizationEntities}")
    agent_messages = models.JSONField(
        default=list, blank=True, help_text="Every message the agent sent, with its Arc type"
    )
    agent_events = models.JSONField(
        default=list, blank=True, help_text="The agent's EVENT results (bounded; never shown as text)"
    )
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    # The web process (Instance.instance_id) running the current attempt: a pending turn
    # whose owner's lease expired was abandoned by a dead process and may be taken over.
    owner = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the current attempt started.
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "turn_id"], name="uniq_turn_per_conversation"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "created_at"], name="turn_tenant_status_idx"),
            models.Index(fields=["created_at"], name="turn_created_idx"),
        ]

    def __str__(self) -> str:
        return self.turn_id


class Instance(models.Model):
    """A web process that may own pending turns: alive while it keeps renewing its lease
    (one statement per process every TURN_LEASE_RENEW_SECONDS)."""

    instance_id = models.CharField(max_length=64, unique=True)
    lease_until = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.instance_id
