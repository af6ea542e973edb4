from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.html import format_html_join

from agents.models import Agent, ApiKey, Capability, Channel, RegistryTarget, SyncRun, Tenant
from agents.services import registry_sync_many, registry_sync_targets
from agents.sources import get_source


def _sync_now(model_admin: admin.ModelAdmin, request: HttpRequest, targets: list[tuple[str, str]]) -> None:
    """Run the syncs in the request (each bounded by AGENT_REGISTRY_TIMEOUT) and report."""
    if not targets:
        model_admin.message_user(request, "Nothing to sync.", messages.WARNING)
        return
    for run in registry_sync_many(targets=targets, source=get_source()):
        where = f"{run.tenant.tenant_id}/{run.subset}"
        if run.status == SyncRun.Status.OK:
            model_admin.message_user(
                request,
                f"Synced {where} from {run.source}: +{run.added} ~{run.updated} -{run.removed}, "
                f"registry version {run.registry_version}",
                messages.SUCCESS,
            )
        else:
            model_admin.message_user(request, f"Sync of {where} failed, registry kept: {run.error}", messages.ERROR)


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


class RegistryTargetInline(ReadOnlyMixin, admin.TabularInline):
    model = RegistryTarget
    extra = 0
    fields = ("subset", "origin", "last_synced_at", "last_attempt_at", "last_error")
    readonly_fields = fields
    verbose_name = "synced subset"


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("tenant_id", "name", "origin", "registry_version", "last_synced_at", "created_at")
    list_filter = ("origin",)
    search_fields = ("tenant_id", "name")
    readonly_fields = ("registry_version", "last_synced_at", "created_at")
    inlines = [RegistryTargetInline, ApiKeyInline]
    actions = ["sync_now", "create_api_key"]

    @admin.action(description="Sync the registry of the selected tenants now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        tenant_ids = list(queryset.values_list("tenant_id", flat=True))
        _sync_now(self, request, registry_sync_targets(tenants=tenant_ids))

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
    fields = (*readonly_fields, "fallback_agent", "vector_threshold", "vector_margin", "learned_examples")
    inlines = [AgentInline]
    # The routing app adds its learning actions here (routing/channel_actions.py).
    actions: list = []

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
    list_display = ("name", "tenant", "channel", "subset", "address", "source", "active", "last_seen")
    list_filter = ("active", "tenant", "subset", "source", "channel__channel_id")
    search_fields = ("name", "description", "address", "agent_id")
    readonly_fields = ("last_seen",)
    inlines = [CapabilityInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        last_sync = RegistryTarget.objects.filter(tenant=OuterRef("tenant"), subset=OuterRef("channel__subset"))
        return (
            super()
            .get_queryset(request)
            .select_related("tenant", "channel")
            .annotate(target_synced_at=Subquery(last_sync.values("last_synced_at")[:1]))
        )

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, agent: Agent):
        # An active agent is seen by every successful sync of its (tenant, subset); the
        # stored value is when a sync last wrote it (or, once removed, last listed it).
        synced = getattr(agent, "target_synced_at", None)
        if agent.active and synced and (agent.last_seen_at is None or synced > agent.last_seen_at):
            return synced
        return agent.last_seen_at


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
    list_select_related = ("tenant",)
    exclude = ("changes", "warnings")
    readonly_fields = ("changes_list", "warnings_list")

    @admin.display(description="changes")
    def changes_list(self, run: SyncRun):
        return format_html_join("\n", "<div>{}</div>", ((line,) for line in run.changes)) or "-"

    @admin.display(description="warnings")
    def warnings_list(self, run: SyncRun):
        return format_html_join("\n", "<div>{}</div>", ((line,) for line in run.warnings)) or "-"


@admin.register(RegistryTarget)
class RegistryTargetAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("tenant", "subset", "origin", "last_synced_at", "last_attempt_at", "last_error")
    list_filter = ("origin", "subset", "tenant")
    search_fields = ("tenant__tenant_id", "subset", "last_error")
    list_select_related = ("tenant",)
    actions = ["sync_now"]

    @admin.action(description="Sync the selected tenant subsets now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[RegistryTarget]) -> None:
        _sync_now(self, request, sorted(set(queryset.values_list("tenant__tenant_id", "subset"))))
