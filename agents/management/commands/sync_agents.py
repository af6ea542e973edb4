from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from agents.models import SyncRun
from agents.services import registry_sync_many, registry_sync_targets
from agents.sources import get_source

CHANGES_SHOWN = 50


class Command(BaseCommand):
    help = (
        "Sync the agent registry from the configured source now and print what changed. "
        "Exits non-zero when a sync failed (within AGENT_REGISTRY_TIMEOUT: tenants are fetched in parallel)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", action="append", help="Only this tenant (repeatable)")
        parser.add_argument("--subset", action="append", help="Only this subset (repeatable)")

    def handle(self, *args, tenant=None, subset=None, verbosity: int = 1, **options) -> None:
        source = get_source()
        targets = registry_sync_targets(source=source, tenants=tenant, subsets=subset)
        if not targets:
            self.stdout.write("Nothing to sync: set LMOS_TENANTS, create a tenant in the admin, or pass --tenant.")
            return
        runs = registry_sync_many(targets=targets, source=source)
        failed = 0
        for run in runs:
            ok = run.status == SyncRun.Status.OK
            if ok:
                what = "no change" if not (run.added or run.updated or run.removed) else "changed"
                self.stdout.write(
                    f"{run.source} {run.tenant.tenant_id}/{run.subset}: ok, {what}: channels={run.channels} "
                    f"added={run.added} updated={run.updated} removed={run.removed} "
                    f"version={run.registry_version} ({run.duration_ms:.0f} ms)"
                )
            else:
                failed += 1
                self.stdout.write(
                    f"{run.source} {run.tenant.tenant_id}/{run.subset}: FAILED, registry kept "
                    f"(version {run.registry_version}) ({run.duration_ms:.0f} ms)"
                )
                self.stderr.write(f"  error: {run.error}")
            shown = run.changes if verbosity > 1 else run.changes[:CHANGES_SHOWN]
            for line in shown:
                self.stdout.write(f"  {line}")
            if len(run.changes) > len(shown):
                self.stdout.write(f"  … {len(run.changes) - len(shown)} more (see the sync run in the admin)")
            for line in run.warnings:
                self.stdout.write(f"  warning: {line}")
        if failed:
            raise CommandError(
                f"{failed} of {len(runs)} syncs failed (source {source.name}); the last good registry is kept"
            )
