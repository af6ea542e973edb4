"""`python manage.py route_eval DATA.csv --registry FILE.yaml --tenant T --channel C
[--router vector|llm|hybrid] [--json]`: accuracy of a router on a labelled CSV.

Also `route_eval --suite NAME [--variant V] [--suites DIR]`: a benchmark suite's test split
(benchmarks/suites.py), every registry variant, test rows that repeat a fitting row apart.

Reads the registry file itself: no database, no sync, no decision rows. Exit code 0
whatever the score; logs go to stderr, and with --json stdout is one JSON object.
"""

from __future__ import annotations

import asyncio
import json

from django.core.management.base import BaseCommand, CommandError

from agents.sources import SourceError
from routing.evaluation import evaluate, load_registry, read_rows, report, route_rows, shown


class Command(BaseCommand):
    help = "Route every row of a text,agent CSV against a registry file and report accuracy."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "data", nargs="?", help="CSV with a header and columns text,agent (empty agent: none should fit)"
        )
        parser.add_argument("--registry", help="YAML file {channelRoutings: [...]}")
        parser.add_argument("--tenant")
        parser.add_argument("--channel")
        parser.add_argument("--subset", default="stable")
        parser.add_argument("--router", choices=["vector", "llm", "hybrid"], default="vector")
        parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        parser.add_argument("--suite", help="run a benchmark suite instead of DATA.csv (benchmarks/suites.py)")
        parser.add_argument("--variant", help="with --suite: one registry variant (descriptions, 5-examples)")
        parser.add_argument(
            "--suites", help="with --suite: the public suites' directory (default $LMOS_BENCHMARKS_DIR)"
        )

    def handle(self, *args, **options) -> None:
        if options["suite"]:
            return self._suite(options)
        missing = [f"--{name}" for name in ("registry", "tenant", "channel") if not options[name]]
        if not options["data"] or missing:
            raise CommandError(f"give DATA.csv and {', '.join(missing) or '--registry'} (or --suite NAME)")
        try:
            registry = load_registry(
                options["registry"], tenant=options["tenant"], channel=options["channel"], subset=options["subset"]
            )
            rows = read_rows(options["data"])
        except (SourceError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if not registry.agents:
            raise CommandError(f"{options['registry']}: the channel has no agents")
        result = asyncio.run(evaluate(rows, registry, router=options["router"]))
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self._print(result)
        for agent, recall in result["per_agent"].items():
            self.stdout.write(f"  {agent:<40} recall {recall:.4f}  ({result['support'][agent]} rows)")
        for confusion in result["confusions"][:10]:
            expected, predicted = confusion["expected"] or "(none)", confusion["predicted"] or "(none)"
            self.stdout.write(f"  {expected} → {predicted}: {confusion['count']}")

    def _print(self, result: dict, title: str = "") -> None:
        self.stdout.write(
            f"{title}router {result['router']}: {result['rows']} rows, accuracy {shown(result['accuracy'], 4)}, "
            f"macro-F1 {shown(result['macro_f1'], 4)}, p50 {shown(result['p50_ms'], 2)} ms, "
            f"p95 {shown(result['p95_ms'], 2)} ms"
        )
        if result["abstention_recall"] is not None:
            self.stdout.write(
                f"  in-scope accuracy {shown(result['in_scope_accuracy'], 4)}, abstention precision "
                f"{shown(result['abstention_precision'], 4)}, recall {shown(result['abstention_recall'], 4)}, "
                f"AUROC {shown(result['auroc'], 4)}"
            )
        self.stdout.write(
            f"  accuracy on the most confident {result['coverage']:.0%}: {shown(result['coverage_accuracy'], 4)}"
        )

    def _suite(self, options: dict) -> None:
        # The suites are a source checkout's tooling (benchmarks/), not part of the routing app.
        try:
            from benchmarks.suites import SuiteMissing, load_suite
        except ImportError as exc:
            raise CommandError(f"--suite needs the benchmarks/ package of a source checkout: {exc}") from None

        try:
            suite = load_suite(options["suite"], options["suites"])
        except (SuiteMissing, ValueError) as exc:
            raise CommandError(f"suite {options['suite']}: {exc}") from None
        variants = [options["variant"]] if options["variant"] else list(suite.registry_files)
        unknown = sorted(set(variants) - set(suite.registry_files))
        if unknown:
            raise CommandError(f"suite {suite.name} has no variant {unknown[0]!r}: {', '.join(suite.registry_files)}")
        results = {}
        for variant in variants:
            outcomes, latencies = asyncio.run(
                route_rows([*suite.test, *suite.repeats], suite.registry(variant), router=options["router"])
            )
            n = len(suite.test)
            results[variant] = {
                "test": {**report(outcomes[:n], latencies[:n]), "router": options["router"]},
                "repeats": {**report(outcomes[n:], latencies[n:]), "router": options["router"]},
            }
        if options["json"]:
            self.stdout.write(json.dumps({"suite": suite.name, "variants": results}))
            return
        for variant, result in results.items():
            self._print(result["test"], f"{suite.name} {variant}, test split: ")
            if result["repeats"]["rows"]:
                self._print(result["repeats"], f"{suite.name} {variant}, test rows repeating a fitting row: ")
