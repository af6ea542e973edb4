"""Follow-up benchmark (`make bench`): multi-turn cases from benchmarks/data/followups.jsonl,
each routed as the turn path routes it (route_query with the vector router, the
conversation's current agent, and the conversation so far), in two forms: the client sends
the whole conversation (the agent's last message among its messages), or only the new
message (the agent's last answer then comes from the stored turns). Prints stay, switch and
overall accuracy per domain and writes the table into RESULTS.md. Asserts nothing.

Each case names its registry: `telco` is benchmarks/data/followups-telco.yaml (written for
this set); `lmos-router`, `clinc150` and `banking77` are the public suites' registries,
descriptions only, loaded by benchmarks/suites.py (`--suites DIR`, $LMOS_BENCHMARKS_DIR,
else ../shared/benchmarks) and skipped with a message when absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
CASES = DATA / "followups.jsonl"
SHIPPED = {"telco": (DATA / "followups-telco.yaml", "telco")}


def load_cases(path: Path = CASES) -> list[dict]:
    """The cases: {id, registry, messages (the conversation so far), current_agent, query,
    expected, kind (stay | switch)}."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def registries(names: set[str]) -> dict:
    """name -> ChannelRegistry (descriptions only) for the named registries that are
    present; an absent public suite is left out with a message (benchmarks/suites.py)."""
    from benchmarks.suites import ENV_VAR, SuiteMissing, load_suite
    from routing.evaluation import load_registry

    found = {}
    for name in sorted(names):
        if name in SHIPPED:
            path, tenant = SHIPPED[name]
            found[name] = load_registry(path, tenant=tenant, channel="web")
            continue
        try:
            found[name] = load_suite(name).registry("descriptions")
        except SuiteMissing as exc:
            print(f"follow-up cases on {name} skipped: {exc} (set {ENV_VAR} or pass --suites DIR)", file=sys.stderr)
    return found


def request_for(case: dict, registry, *, stored: bool):
    """The RouteRequest of the case's new message: with the client's whole conversation, or
    (`stored`) with only the new message and the conversation as the turn store keeps it."""
    from routing.base import RouteRequest

    new = {"role": "user", "content": case["query"]}
    if not stored:
        return RouteRequest(
            query=case["query"],
            messages=[*case["messages"], new],
            registry=registry,
            current_agent=case["current_agent"],
        )
    history, pending = [], None
    for message in case["messages"]:
        if message["role"] == "user":
            pending = message["content"]
        elif pending is not None:
            history.append({"query": pending, "agent": case["current_agent"], "answer": message["content"]})
            pending = None
    return RouteRequest(
        query=case["query"], messages=[new], registry=registry, current_agent=case["current_agent"], history=history
    )


async def route_cases(cases: list[dict], regs: dict, *, stored: bool = False) -> list[tuple[dict, str]]:
    """(case, chosen agent or "") for every case whose registry is present."""
    from core.errors import AgentNotFound
    from routing.services import route_query

    out = []
    for case in cases:
        registry = regs.get(case["registry"])
        if registry is None:
            continue
        try:
            decision = await route_query(request=request_for(case, registry, stored=stored), router_type="vector")
            chosen = decision.agent or ""
        except AgentNotFound:
            chosen = ""
        out.append((case, chosen))
    return out


def accuracy(results: list[tuple[dict, str]]) -> dict[str, tuple[int, int]]:
    """kind ("stay", "switch", "all") -> (correct, cases)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case, chosen in results:
        for kind in (case["kind"], "all"):
            counts[kind][0] += chosen == case["expected"]
            counts[kind][1] += 1
    return {kind: (c, n) for kind, (c, n) in counts.items()}


def _cell(counts: dict[str, tuple[int, int]], kind: str) -> str:
    correct, total = counts.get(kind, (0, 0))
    return f"{correct / total:.3f} ({correct}/{total})" if total else "–"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks followups", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", help="the public suites' directory (default $LMOS_BENCHMARKS_DIR)")
    args = parser.parse_args(argv if argv is not None else [])
    if args.suites:
        os.environ["LMOS_BENCHMARKS_DIR"] = args.suites
    _setup()
    from django.conf import settings

    from benchmarks.results import table, write_section

    settings.CLARIFICATION_ENABLED = False
    cases = load_cases()
    regs = registries({case["registry"] for case in cases})
    rows, misses = [], []
    for stored in (False, True):
        results = asyncio.run(route_cases(cases, regs, stored=stored))
        form = "stored turns" if stored else "client messages"
        by_registry = defaultdict(list)
        for case, chosen in results:
            by_registry[case["registry"]].append((case, chosen))
            if chosen != case["expected"] and not stored:
                misses.append(
                    f"{case['id']}: {case['query']!r} -> {chosen or 'no agent'} (expected {case['expected']})"
                )
        for name in sorted(by_registry):
            counts = accuracy(by_registry[name])
            rows.append([form, name, _cell(counts, "stay"), _cell(counts, "switch"), _cell(counts, "all")])
        counts = accuracy(results)
        rows.append([form, "**all**", _cell(counts, "stay"), _cell(counts, "switch"), _cell(counts, "all")])
    text = table(["conversation from", "registry", "stay", "switch", "together"], rows)
    print(text)
    if misses:
        print("\nmissed (client messages):\n" + "\n".join(misses))
    body = (
        "## Follow-ups (bench_followups)\n\n"
        f"{len(cases)} multi-turn cases (benchmarks/data/followups.jsonl), vector router, descriptions only; "
        "stay = the reply belongs to the conversation's current agent, switch = it starts a new topic.\n\n" + text
    )
    write_section("bench_followups", body)


if __name__ == "__main__":
    main()
