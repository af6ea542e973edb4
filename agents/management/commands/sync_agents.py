from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.models import SyncRun
from agents.services import registry_sync_tenant, sync_targets
from agents.sources import get_source


class Command(BaseCommand):
    help = "Sync the agent registry from the configured source now and print what changed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", action="append", help="Only this tenant (repeatable)")
        parser.add_argument("--subset", action="append", help="Only this subset (repeatable)")

    def handle(self, *args, tenant=None, subset=None, **options) -> None:
        source = get_source()
        targets = sync_targets(source=source, tenants=tenant, subsets=subset)
        if not targets:
            self.stdout.write("Nothing to sync: set LMOS_TENANTS, create a tenant in the admin, or pass --tenant.")
            return
        failed = 0
        for tenant_id, subset_name in targets:
            run = registry_sync_tenant(tenant_id=tenant_id, subset=subset_name, source=source)
            status = "ok" if run.status == SyncRun.Status.OK else "FAILED"
            self.stdout.write(
                f"{source.name} {tenant_id}/{subset_name}: {status} channels={run.channels} added={run.added} "
                f"updated={run.updated} removed={run.removed} version={run.registry_version} "
                f"({run.duration_ms:.0f} ms)"
            )
            for line in run.warnings:
                self.stdout.write(f"  {line}")
            if run.status != SyncRun.Status.OK:
                failed += 1
                self.stderr.write(f"  error: {run.error}")
        if failed:
            raise CommandError(f"{failed} of {len(targets)} syncs failed (source {settings.REGISTRY_SOURCE})")
