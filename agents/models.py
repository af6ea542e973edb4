"""The agent registry: tenants, channels, agents and their capabilities, as synced from
the configured registry source, plus tenant API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F
from django.utils import timezone

from core.ids import ID_PATTERN, ID_RULE

id_validator = RegexValidator(ID_PATTERN, ID_RULE)


class Tenant(models.Model):
    class Origin(models.TextChoices):
        CONFIG = "config", "LMOS_TENANTS"
        ADMIN = "admin", "Admin"
        TRAFFIC = "traffic", "Seen in traffic"
        SYNC = "sync", "Registry sync"

    tenant_id = models.CharField(max_length=128, unique=True, validators=[id_validator])
    name = models.CharField(max_length=200, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.ADMIN)
    # Bumped by every sync that changes this tenant's registry; process caches key on it.
    registry_version = models.PositiveBigIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self) -> str:
        return self.tenant_id

    def bump_registry_version(self) -> None:
        Tenant.objects.filter(pk=self.pk).update(registry_version=F("registry_version") + 1)
        self.refresh_from_db(fields=["registry_version"])


class Channel(models.Model):
    """One ChannelRouting: the agents installed for (tenant, channel, subset)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="channels")
    channel_id = models.CharField(max_length=128, validators=[id_validator])
    subset = models.CharField(max_length=128, default="stable", validators=[id_validator])
    version = models.CharField(max_length=64, blank=True)
    routing_name = models.CharField(max_length=253, blank=True, help_text="metadata.name of the ChannelRouting")
    active = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Operator-set; a sync never overwrites these.
    fallback_agent = models.CharField(
        max_length=253, blank=True, help_text="Agent name to use when no agent fits the query"
    )
    vector_threshold = models.FloatField(null=True, blank=True, help_text="Minimum similarity (blank: default)")
    vector_margin = models.FloatField(null=True, blank=True, help_text="Minimum lead over runner-up (blank: default)")
    # Written by the learning task (ROUTER_LEARN_FROM_TRAFFIC), never by a sync; an
    # operator may prune it. {agent name: [query, ...]}
    learned_examples = models.JSONField(
        default=dict, blank=True, help_text="Queries the vector router learned from traffic, per agent"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__tenant_id", "channel_id", "subset"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "channel_id", "subset"], name="uniq_channel_per_tenant_subset"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.tenant_id}/{self.channel_id}/{self.subset}"

    def clean(self) -> None:
        learned = self.learned_examples
        if not isinstance(learned, dict) or not all(
            isinstance(texts, list) and all(isinstance(t, str) for t in texts) for texts in learned.values()
        ):
            raise ValidationError({"learned_examples": 'Expected {"agent-name": ["query", ...], ...}'})


class Agent(models.Model):
    """An agent installed in a channel. Its name is its identity everywhere."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=253)
    agent_id = models.CharField(max_length=253, blank=True)
    description = models.TextField(blank=True)
    address = models.CharField(max_length=500, blank=True)
    subset = models.CharField(max_length=128, default="stable")
    source = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["channel_id", "name"]
        constraints = [models.UniqueConstraint(fields=["channel", "name"], name="uniq_agent_name_per_channel")]
        indexes = [models.Index(fields=["tenant", "name"], name="agent_tenant_name_idx")]

    def __str__(self) -> str:
        return self.name


class Capability(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="capabilities")
    name = models.CharField(max_length=253)
    capability_id = models.CharField(max_length=253, blank=True)
    provided_version = models.CharField(max_length=64, blank=True)
    required_version = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    host = models.CharField(max_length=500, blank=True)
    examples = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "capabilities"
        constraints = [models.UniqueConstraint(fields=["agent", "name"], name="uniq_capability_per_agent")]

    def __str__(self) -> str:
        return self.name


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        FAILED = "failed"

    source = models.CharField(max_length=32)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_runs")
    subset = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # Set by the sync to the moment the fetch began (the row is written after the fetch).
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    channels = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    registry_version = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    changes = models.JSONField(default=list, blank=True, help_text="What this run added, updated or removed")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "-started_at"], name="syncrun_tenant_started_idx")]

    def __str__(self) -> str:
        return f"{self.source} {self.tenant_id or '-'} {self.status}"


class RegistryTarget(models.Model):
    """A (tenant, subset) the sync keeps up to date, and how its last sync went.

    Rows come from LMOS_SUBSETS, from subsets seen in traffic and from syncs. `last_synced_at`
    is the last *successful* sync: while it is empty the registry of the pair is unknown and a
    chat triggers an on-demand fetch.
    """

    class Origin(models.TextChoices):
        CONFIG = "config", "LMOS_SUBSETS"
        TRAFFIC = "traffic", "Seen in traffic"
        SYNC = "sync", "Registry sync"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="registry_targets")
    subset = models.CharField(max_length=128, default="stable", validators=[id_validator])
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.SYNC)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__tenant_id", "subset"]
        constraints = [models.UniqueConstraint(fields=["tenant", "subset"], name="uniq_registry_target")]

    def __str__(self) -> str:
        return f"{self.tenant.tenant_id}/{self.subset}"


class ApiKey(models.Model):
    """A tenant's API key. Only its SHA-256 is stored; the key is shown once."""

    PREFIX = "lmos_"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    key_prefix = models.CharField(max_length=16, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant__tenant_id", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.tenant.tenant_id})"

    @staticmethod
    def hash_key(raw: str) -> str:
        # Keys are 256-bit random tokens, so a fast hash is enough (no brute-forcing).
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def generate(cls, *, tenant: Tenant, name: str = "") -> tuple[ApiKey, str]:
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(tenant=tenant, name=name, key_prefix=raw[:12], key_hash=cls.hash_key(raw))
        return key, raw
