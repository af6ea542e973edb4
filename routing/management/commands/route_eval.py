"""`python manage.py route_eval DATA.csv --registry FILE.yaml --tenant T --channel C
[--router vector|llm|hybrid] [--json]`: accuracy of a router on a labelled CSV.

Reads the registry file itself: no database, no sync, no decision rows. Exit code 0
whatever the score; logs go to stderr, and with --json stdout is one JSON object.
"""

from __future__ import annotations

import asyncio
import json

from django.core.management.base import BaseCommand, CommandError

from agents.sources import SourceError
from routing.evaluation import evaluate, load_registry, read_rows


class Command(BaseCommand):
    help = "Route every row of a text,agent CSV against a registry file and report accuracy."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("data", help="CSV with a header and columns text,agent (empty agent: none should fit)")
        parser.add_argument("--registry", required=True, help="YAML file {channelRoutings: [...]}")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--channel", required=True)
        parser.add_argument("--subset", default="stable")
        parser.add_argument("--router", choices=["vector", "llm", "hybrid"], default="vector")
        parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    def handle(self, *args, **options) -> None:
        try:
            registry = load_registry(
                options["registry"], tenant=options["tenant"], channel=options["channel"], subset=options["subset"]
            )
            rows = read_rows(options["data"])
        except (SourceError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if not registry.agents:
            raise CommandError(f"{options['registry']}: the channel has no agents")
        report = asyncio.run(evaluate(rows, registry, router=options["router"]))
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        self.stdout.write(
            f"router {report['router']}: {report['rows']} rows, accuracy {report['accuracy']:.4f}, "
            f"macro-F1 {report['macro_f1']:.4f}, p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms"
        )
        if report["abstention_recall"] is not None:
            self.stdout.write(
                f"abstention precision {report['abstention_precision']}, recall {report['abstention_recall']}"
            )
        for agent, recall in report["per_agent"].items():
            self.stdout.write(f"  {agent:<40} recall {recall:.4f}  ({report['support'][agent]} rows)")
        for confusion in report["confusions"][:10]:
            expected, predicted = confusion["expected"] or "(none)", confusion["predicted"] or "(none)"
            self.stdout.write(f"  {expected} → {predicted}: {confusion['count']}")
