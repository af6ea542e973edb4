"""Every routing decision is stored, for the admin and for offline evaluation."""

from __future__ import annotations

from django.db import models

from agents.models import Tenant


class RoutingDecision(models.Model):
    # Served by the (tenant, created_at) index.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="routing_decisions", db_index=False)
    turn = models.ForeignKey(
        "conversations.Turn", null=True, blank=True, on_delete=models.CASCADE, related_name="routing_decisions"
    )
    conversation_id = models.CharField(max_length=128, blank=True)
    channel_id = models.CharField(max_length=128)
    subset = models.CharField(max_length=128, default="stable")
    strategy = models.CharField(max_length=32)
    chosen_agent = models.CharField(max_length=253, blank=True)
    # [{"agent": name, "score": float}, ...], best first
    candidates = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)
    fallback = models.BooleanField(default=False, help_text="A fallback path decided (LLM down, fallback agent)")
    latency_ms = models.FloatField(default=0.0)
    # How sure the router was (0-1; routing/services.py says what each strategy reports)
    # and how relevant the query was to the channel's agents at all (vector router).
    confidence = models.FloatField(null=True, blank=True)
    relevance = models.FloatField(null=True, blank=True)
    registry_version = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="decision_tenant_created_idx")]

    def __str__(self) -> str:
        return f"{self.strategy} → {self.chosen_agent or 'none'}"
