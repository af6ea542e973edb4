from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from agents.models import Agent, ApiKey, Capability, Channel, SyncRun, Tenant


class ReadOnlyMixin:
    """Synced data: the source is the truth, edits would be overwritten."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("name", "key_prefix", "revoked", "created_at", "last_used_at")
    readonly_fields = ("key_prefix", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        # New keys are made with the "create API key" action, which shows the key once.
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("tenant_id", "name", "origin", "registry_version", "last_synced_at", "created_at")
    list_filter = ("origin",)
    search_fields = ("tenant_id", "name")
    readonly_fields = ("registry_version", "last_synced_at", "created_at")
    inlines = [ApiKeyInline]
    actions = ["create_api_key"]

    @admin.action(description="Create an API key (shown once)")
    def create_api_key(self, request: HttpRequest, queryset) -> None:
        for tenant in queryset:
            _, raw = ApiKey.generate(tenant=tenant, name=f"admin:{request.user}")
            self.message_user(
                request,
                f"New API key for {tenant.tenant_id} (copy it now, it is not shown again): {raw}",
                messages.WARNING,
            )


class AgentInline(ReadOnlyMixin, admin.TabularInline):
    model = Agent
    extra = 0
    fields = ("name", "description", "address", "active", "last_seen_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("channel_id", "tenant", "subset", "version", "active", "fallback_agent", "last_synced_at")
    list_filter = ("tenant", "subset", "active")
    search_fields = ("channel_id", "tenant__tenant_id", "routing_name")
    readonly_fields = ("tenant", "channel_id", "subset", "version", "routing_name", "active", "last_synced_at")
    fields = (*readonly_fields, "fallback_agent", "vector_threshold", "vector_margin")
    inlines = [AgentInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Channel, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Routing caches key on the registry version: operator edits must reach them too.
        obj.tenant.bump_registry_version()


class CapabilityInline(ReadOnlyMixin, admin.StackedInline):
    model = Capability
    extra = 0
    fields = ("name", "capability_id", "provided_version", "required_version", "description", "host", "examples")
    readonly_fields = fields


@admin.register(Agent)
class AgentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "tenant", "channel", "subset", "address", "source", "active", "last_seen_at")
    list_filter = ("active", "tenant", "subset", "source", "channel__channel_id")
    search_fields = ("name", "description", "address", "agent_id")
    inlines = [CapabilityInline]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "source",
        "tenant",
        "subset",
        "status",
        "channels",
        "added",
        "updated",
        "removed",
        "duration_ms",
        "registry_version",
    )
    list_filter = ("status", "source", "tenant", ("started_at", admin.DateFieldListFilter))
    search_fields = ("tenant__tenant_id", "error")
    date_hierarchy = "started_at"
