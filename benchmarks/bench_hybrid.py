"""Hybrid benchmark (`make bench`): per suite and registry variant, the share of the test
split's traffic the hybrid router would send to the LLM (vector decisions whose confidence
is below ROUTER_HYBRID_CONFIDENCE) and the vector router's accuracy on the rest, at the
default setting and two others. Routes with the vector strategy only; no LLM is called.
Writes its table into RESULTS.md. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OTHER_SETTINGS = (0.8, 0.95)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _cell(share: float | None, accuracy: float | None) -> str:
    if share is None:
        return "n/a (no confidence)"
    rest = "n/a" if accuracy is None else f"{accuracy:.3f}"
    return f"{share:.1%} / {rest}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks hybrid", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", help="the public suites' directory (default $LMOS_BENCHMARKS_DIR)")
    parser.add_argument("--suite", action="append", help="only this suite (repeatable)")
    args = parser.parse_args(argv if argv is not None else [])
    _setup()
    from django.conf import settings

    from benchmarks.bench_routing import _environment
    from benchmarks.results import table, write_section
    from benchmarks.suites import SUITES, load_suites
    from routing.evaluation import deferral, route_rows

    default = settings.ROUTER_HYBRID_CONFIDENCE
    thresholds = [default, *(t for t in OTHER_SETTINGS if t != default)]
    headers = ["suite", "registry", "test rows", "vector accuracy"]
    headers += [f"to LLM / acc. rest @ {t:.2f}{' (default)' if t == default else ''}" for t in thresholds]
    rows = []
    for suite in load_suites(args.suite or SUITES, args.suites):
        for variant in suite.registry_files:
            outcomes, _ = asyncio.run(route_rows(suite.test, suite.registry(variant), router="vector"))
            accuracy = sum(o.label == o.predicted for o in outcomes) / len(outcomes) if outcomes else 0.0
            cells = [_cell(*deferral(outcomes, below=t)) for t in thresholds]
            rows.append([suite.name, variant, len(outcomes), f"{accuracy:.3f}", *cells])
            print(table(headers, rows[-1:]).splitlines()[-1], flush=True)
    text = table(headers, rows)
    print(text)
    write_section(
        "bench_hybrid",
        "## Hybrid: traffic sent to the LLM (bench_hybrid)\n\n"
        "Share of each test split the hybrid router would send to the LLM (vector confidence below the "
        f"setting) and the vector router's accuracy on the rest it keeps; {_environment()}.\n\n" + text,
    )


if __name__ == "__main__":
    main()
