"""Routing benchmark (`make bench`, or alone: `python -m benchmarks routing [--suites DIR]`).

Every suite of benchmarks/suites.py (lmos-router, CLINC150, Banking77, the German sets and
their English originals), each registry variant, routed one query at a time through the
router's raw decision, as `route_eval` does. Scores are on the test split; test rows that
repeat a fitting row are scored apart. Then the budgets: per-query latency with 1,000 agents,
model load and the RSS of a web process. Prints numbers, asserts nothing; writes one table
to RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.evaluation import Outcome

ROOT = Path(__file__).resolve().parent.parent
ROUTER = "vector"

# A fresh process: the web app imported, the first decision (model load, one-agent index), then
# the lmos-router 5-example index and the German test queries routed one turn at a time.
PROBE = """
import os, sys, time, asyncio, dataclasses, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
django.setup()
from lmos_runtime.asgi import application  # noqa: F401  (the web process's imports)
from benchmarks.suites import load_suite
from routing.evaluation import route_rows
suite = load_suite("german")
registry = suite.registry("5-examples")
one = dataclasses.replace(registry, agents=registry.agents[:1], registry_version=-1)
started = time.perf_counter()
asyncio.run(route_rows(suite.test[:1], one))
load = time.perf_counter() - started
asyncio.run(route_rows(suite.test, registry))
rss = [line for line in open("/proc/self/status") if line.startswith("VmRSS")][0].split()[1]
print(f"{load:.3f} {rss}")
"""


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _synthetic(base, n: int):
    """`base` plus synthetic agents up to n agents (texts vary so no two embed alike)."""
    from agents.specs import AgentSpec, CapabilitySpec

    topics = ["garden tools", "insurance claims", "train tickets", "pet food", "tax forms", "concert seats",
              "car repairs", "mobile data plans", "hotel rooms", "school enrolment"]  # fmt: skip
    agents = list(base.agents)
    i = 0
    while len(agents) < n:
        topic = f"{topics[i % len(topics)]} in region {i}"
        agents.append(
            AgentSpec(
                name=f"synthetic-{i}",
                description=f"This agent answers questions about {topic}",
                address="h:1",
                capabilities=(CapabilitySpec(name=f"help_{i}", description=f"Helps customers with {topic}"),),
            )
        )
        i += 1
    return replace(base, agents=tuple(agents[:n]), registry_version=n)


def _row(suite: str, variant: str, test: dict, repeats: dict) -> list[object]:
    from routing.evaluation import shown

    abstention = (
        f"{shown(test['abstention_precision'])} / {shown(test['abstention_recall'])}"
        if test["abstention_recall"] is not None
        else "n/a"
    )
    repeated = f"{repeats['rows']}: {shown(repeats['accuracy'])}" if repeats["rows"] else "0"
    return [
        suite,
        variant,
        test["rows"],
        shown(test["accuracy"]),
        shown(test["macro_f1"]),
        shown(test["in_scope_accuracy"]),
        abstention,
        shown(test["auroc"]),
        shown(test["coverage_accuracy"]),
        f"{shown(test['p50_ms'], 1)} / {shown(test['p95_ms'], 1)}",
        repeated,
    ]


HEADERS = [
    "suite",
    "registry",
    "test rows",
    "accuracy",
    "macro-F1",
    "in-scope acc.",
    "abstention P / R",
    "AUROC",
    "acc. @80 %",
    "p50 / p95 ms",
    "repeats: rows, acc.",
]


def suite_table(names: list[str] | None = None, directory: str | None = None, router: str = ROUTER) -> tuple[str, str]:
    """Route every present suite's test split under each registry variant: (the table as
    markdown, then German against English on the rows that have both; the hybrid table)."""
    from benchmarks.results import table
    from benchmarks.suites import SUITES, load_suites
    from routing.evaluation import report, route_rows

    rows = []
    routed: dict[tuple[str, str], dict[str, Outcome]] = {}  # (suite, variant) -> text -> outcome
    tested: dict[tuple[str, str], list[Outcome]] = {}  # (suite, variant) -> test-split outcomes
    for suite in load_suites(names or SUITES, directory):
        for variant in suite.registry_files:
            texts = [*suite.test, *suite.repeats]
            outcomes, latencies = asyncio.run(route_rows(texts, suite.registry(variant), router=router))
            routed[suite.name, variant] = {row.text: outcome for row, outcome in zip(texts, outcomes, strict=True)}
            n = len(suite.test)
            tested[suite.name, variant] = outcomes[:n]
            rows.append(
                _row(suite.name, variant, report(outcomes[:n], latencies[:n]), report(outcomes[n:], latencies[n:]))
            )
            print(table(HEADERS, rows[-1:]).splitlines()[-1], flush=True)
    return table(HEADERS, rows) + _parallel(routed), hybrid_table(tested)


HYBRID_OTHER_SETTINGS = (0.8, 0.95)


def hybrid_table(tested: dict[tuple[str, str], list[Outcome]]) -> str:
    """From the same decisions: the share of each test split the hybrid router would send to
    the LLM (confidence below ROUTER_HYBRID_CONFIDENCE, and two other settings) and the vector
    router's accuracy on the rest. No LLM is called."""
    from django.conf import settings

    from benchmarks.results import table
    from routing.evaluation import accuracy, deferral, shown

    default = settings.ROUTER_HYBRID_CONFIDENCE
    thresholds = [default, *(t for t in HYBRID_OTHER_SETTINGS if t != default)]
    headers = ["suite", "registry", "test rows", "vector accuracy"]
    headers += [f"to LLM / acc. rest @ {t:.2f}{' (default)' if t == default else ''}" for t in thresholds]
    rows = []
    for (suite, variant), outcomes in tested.items():
        cells = []
        for threshold in thresholds:
            share, rest = deferral(outcomes, below=threshold)
            cells.append("n/a (no confidence)" if share is None else f"{share:.1%} / {shown(rest)}")
        rows.append([suite, variant, len(outcomes), shown(accuracy(outcomes)), *cells])
    return table(headers, rows)


def _parallel(routed: dict[tuple[str, str], dict[str, Outcome]]) -> str:
    """German against English accuracy on the test rows that have both texts (the same queries)."""
    from benchmarks.suites import DATA, read_parallel
    from routing.evaluation import accuracy, shown

    pairs = read_parallel(DATA / "german-test.csv")
    lines = []
    for variant in ("descriptions", "5-examples"):
        de_routed, en_routed = routed.get(("german", variant)), routed.get(("german-en", variant))
        if de_routed and en_routed:
            de = accuracy([de_routed[german.text] for german, _ in pairs])
            en = accuracy([en_routed[english.text] for _, english in pairs])
            gap = f"{(en - de) * 100:+.1f}" if de is not None and en is not None else "n/a"
            lines.append(f"- {variant}: German {shown(de)}, English {shown(en)} (English ahead by {gap} points)")
    if not lines:
        return ""
    return f"\n\nGerman against English on the {len(pairs)} test rows that have both texts:\n" + "\n".join(lines)


def budgets(directory: str | None = None) -> list[str]:
    """Latency with 1,000 agents, model load and RSS (lines of text)."""
    from benchmarks.suites import SuiteMissing, load_suite
    from routing.evaluation import percentile, route_rows

    try:
        lmos = load_suite("lmos-router", directory)
    except SuiteMissing as exc:
        return [f"budgets skipped: lmos-router: {exc}"]
    lines = []
    thousand = _synthetic(lmos.registry("descriptions"), 1000)
    _, latencies = asyncio.run(route_rows(lmos.test[:300], thousand))
    lines.append(
        f"- per-query latency with 1,000 agents (lmos-router descriptions + synthetic agents, 300 test queries): "
        f"p50 {percentile(latencies, 50):.2f} ms, p95 {percentile(latencies, 95):.2f} ms (budget: p50 under 10 ms)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if directory:
        env["LMOS_BENCHMARKS_DIR"] = str(directory)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )
    last = probe.stdout.strip().splitlines()[-1].split() if probe.returncode == 0 and probe.stdout.strip() else []
    if len(last) == 2:
        lines.append(
            "- model load (the first decision in a fresh process: the models, the off-topic calibration, "
            f"a one-agent index): {float(last[0]):.2f} s (budget: under 3 s)"
        )
        lines.append(
            f"- RSS of a web process with the model loaded, the lmos-router 5-example index built and the German "
            f"test queries routed: {int(last[1]) / 1024:.0f} MB (budget: under 400 MB)"
        )
    else:
        lines.append(f"- model load and RSS probe failed: {probe.stderr.strip()[-300:]}")
    lines.append(
        f"- load average at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(latencies grow with it: compare them within one run)"
    )
    return lines


def _environment() -> str:
    from django.conf import settings

    glossary = settings.ROUTER_GLOSSARY
    glossed = "on" if glossary and Path(glossary).exists() else "off (no glossary file; `make glossary`)"
    return f"router `{ROUTER}`, embedding `{settings.ROUTER_EMBEDDING}`, German glossary {glossed}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks routing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", help="the public suites' directory (default $LMOS_BENCHMARKS_DIR)")
    parser.add_argument("--suite", action="append", help="only this suite (repeatable)")
    args = parser.parse_args(argv if argv is not None else [])
    _setup()
    from benchmarks.results import write_section

    environment = _environment()
    print(environment)
    body, hybrid = suite_table(args.suite, args.suites)
    print(body)
    print(hybrid)
    lines = budgets(args.suites)
    print("\n".join(lines))
    write_section(
        "bench_routing",
        "## Routing: every suite, both registry variants\n\n"
        "Written by `benchmarks/bench_routing.py` (`python -m benchmarks routing`). Test split of each suite "
        "(benchmarks/suites.py), one query at a time through the router's raw decision, as `route_eval` routes. "
        "Test rows that repeat a fitting row are left out of the scores and scored apart in the last column. "
        "*In-scope acc.* and *abstention P / R* apply where the suite has no-agent rows; *AUROC* is the decision's "
        "relevance, no-agent rows against routed ones; *acc. @80 %* is the accuracy on the 80 % of rows with "
        "the highest confidence (relevance when the router gives no confidence); n/a: not applicable, or the "
        f"router gives no such score. {environment}.\n\n"
        f"{body}\n\n### Routing budgets\n\n" + "\n".join(lines),
    )
    write_section(
        "routing_hybrid",
        "## Hybrid: traffic sent to the LLM (bench_routing)\n\n"
        "From the same decisions as the routing table: the share of each test split the hybrid router would "
        "send to the LLM (vector confidence below the setting) and the vector router's accuracy on the rest it "
        f"keeps; {environment}.\n\n" + hybrid,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
