"""The routing benchmark suites, loaded for bench_routing, `route_eval --suite` and the fitting script.

The public suites (lmos-router, CLINC150, Banking77) are read where they lie and never copied
into the repository: from the directory given with `--suites DIR`, else from the environment
variable LMOS_BENCHMARKS_DIR, else from `../shared/benchmarks` next to the project root. A suite
whose directory is absent is skipped with a message. The German sets (renderings of lmos-router
queries with their English originals) are committed under benchmarks/data/ and routed against
the lmos-router registry.

Every suite has two registry variants, "descriptions" (descriptions only) and "5-examples"
(plus 5 examples per capability, taken from the fitting split), a fitting split (fit
everything on it) and a test split (measure on it). Test rows that repeat a fitting row
(case-insensitive, trimmed) are kept apart in `Suite.repeats`, so they can be reported apart.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from agents.specs import ChannelRegistry
from routing.evaluation import Row, load_registry, read_rows

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
ENV_VAR = "LMOS_BENCHMARKS_DIR"
DEFAULT_DIR = ROOT.parent / "shared" / "benchmarks"
# Registry files and CSVs generated from the lmos-router source files (not committed).
CACHE = ROOT / "var" / "benchmarks"
VARIANTS = ("descriptions", "5-examples")
SUITES = ("lmos-router", "clinc150", "banking77", "german", "german-en")
SOURCES = {
    "lmos-router": "eclipse-lmos/lmos-router, folder benchmarks/ (Apache-2.0)",
    "clinc150": "clinc/oos-eval, data_full.json (CC BY 3.0), 150 intents grouped into 10 agents",
    "banking77": "PolyAI-LDN/task-specific-datasets, banking_data (CC BY 4.0), 77 categories grouped into 9 agents",
    "german": "benchmarks/data/german-*.csv: German renderings of lmos-router queries",
    "german-en": "benchmarks/data/german-*.csv: the English originals of the German renderings",
}


class SuiteMissing(Exception):
    """The suite's files are not there; the message says where they were looked for."""


@dataclass(frozen=True)
class Suite:
    name: str
    source: str
    tenant: str
    channel: str
    registry_files: dict[str, Path]  # variant -> ChannelRouting YAML (route_eval --registry)
    fit: list[Row]
    test: list[Row]  # the test rows that repeat no fitting row
    repeats: list[Row] = field(default_factory=list)  # test rows equal to a fitting row

    def registry(self, variant: str) -> ChannelRegistry:
        return self._registries[variant]

    @cached_property
    def _registries(self) -> dict[str, ChannelRegistry]:
        return {
            variant: load_registry(path, tenant=self.tenant, channel=self.channel)
            for variant, path in self.registry_files.items()
        }


def benchmarks_dir(directory: str | Path | None = None) -> Path:
    """Where the public suites are: `directory`, else $LMOS_BENCHMARKS_DIR, else ../shared/benchmarks."""
    if directory:
        return Path(directory)
    return Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else DEFAULT_DIR


def _key(text: str) -> str:
    return text.strip().casefold()


def split_repeats(fit: Iterable[Row], test: Iterable[Row]) -> tuple[list[Row], list[Row]]:
    """(test rows whose text is not a fitting row's, those whose text is), case-insensitive, trimmed."""
    seen = {_key(row.text) for row in fit}
    fresh, repeats = [], []
    for row in test:
        (repeats if _key(row.text) in seen else fresh).append(row)
    return fresh, repeats


def _require(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            raise SuiteMissing(f"{path} not found")


def _public(name: str, root: Path, tenant: str) -> Suite:
    base = root / name
    files = {"descriptions": base / "registry-desc.yaml", "5-examples": base / "registry-5ex.yaml"}
    _require(base, *files.values(), base / "dev.csv", base / "test.csv")
    fit = read_rows(base / "dev.csv")
    test, repeats = split_repeats(fit, read_rows(base / "test.csv"))
    return Suite(name, SOURCES[name], tenant, "web", files, fit, test, repeats)


def _lmos_router(root: Path) -> Suite:
    base = root / "lmos-router"
    _require(base / "agentRoutingSpecs.json", base / "train.csv", base / "test.csv")
    out = lmos_router_files(base)
    files = {variant: out / f"registry-{variant}.yaml" for variant in VARIANTS}
    fit = read_rows(out / "train.csv")
    test, repeats = split_repeats(fit, read_rows(out / "test.csv"))
    return Suite("lmos-router", SOURCES["lmos-router"], "lmos", "web", files, fit, test, repeats)


def read_german(path: Path, *, english: bool = False, sets: Iterable[str] | None = None) -> list[Row]:
    """Rows of a benchmarks/data/german-*.csv (`text,agent,english,set`): the German text, or with
    `english` its English original (rows without one are left out); `sets` picks sets by name."""
    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    wanted = set(sets) if sets is not None else None
    column = "english" if english else "text"
    return [
        Row(text=r[column].strip(), agent=r["agent"].strip())
        for r in records
        if r[column].strip() and (wanted is None or r["set"] in wanted)
    ]


def read_parallel(path: Path) -> list[tuple[Row, Row]]:
    """(German row, English row) for each row of a benchmarks/data/german-*.csv that has both texts."""
    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    return [
        (Row(r["text"].strip(), r["agent"].strip()), Row(r["english"].strip(), r["agent"].strip()))
        for r in records
        if r["text"].strip() and r["english"].strip()
    ]


def _german(root: Path, *, english: bool) -> Suite:
    try:
        lmos = _lmos_router(root)
    except SuiteMissing as exc:
        raise SuiteMissing(f"its registry is lmos-router's: {exc}") from None
    name = "german-en" if english else "german"
    fit = read_german(DATA / "german-fit.csv", english=english)
    test, repeats = split_repeats(fit, read_german(DATA / "german-test.csv", english=english))
    return Suite(name, SOURCES[name], lmos.tenant, lmos.channel, lmos.registry_files, fit, test, repeats)


def load_suite(name: str, directory: str | Path | None = None) -> Suite:
    """One suite by name; SuiteMissing when its files are not there."""
    root = benchmarks_dir(directory)
    match name:
        case "lmos-router":
            return _lmos_router(root)
        case "clinc150":
            return _public(name, root, "clinc")
        case "banking77":
            return _public(name, root, "banking")
        case "german" | "german-en":
            return _german(root, english=name == "german-en")
    raise ValueError(f"unknown suite {name!r}; the suites are {', '.join(SUITES)}")


def load_suites(
    names: Iterable[str] = SUITES,
    directory: str | Path | None = None,
    *,
    say: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> list[Suite]:
    """The named suites that are present; each absent one is skipped with a message."""
    suites = []
    for name in names:
        try:
            suites.append(load_suite(name, directory))
        except SuiteMissing as exc:
            say(f"suite {name} skipped: {exc} (set {ENV_VAR} or pass --suites DIR)")
    return suites


# lmos-router ships its agents as agentRoutingSpecs.json and its rows as
# `instruction,agent,intent`: these build the registry files and `text,agent` CSVs from them
# (scripts/convert_lmos_router.py is the command line for the same).

INTENT_ALIASES = {"change_shipping_address": "check_shipping_address"}  # the CSV's name for the spec's capability
EXAMPLES_PER_INTENT = 5
_FORMAT = 1  # bump when the generated files change shape


def lmos_read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {"text": r["instruction"], "agent": r["agent"], "intent": INTENT_ALIASES.get(r["intent"], r["intent"])}
            for r in csv.DictReader(handle)
        ]


def medoids(texts: list[str], k: int) -> list[str]:
    """k representative sentences: the medoids of a k-means clustering of their MiniLM
    embeddings. They cover the ways people phrase an intent better than the first or a random
    five (lmos-router train.csv, 5 examples: 0.996 against 0.991 / 0.986)."""
    import numpy as np

    from routing.vector._embeddings import MiniLMEncoder

    if len(texts) <= k:
        return list(texts)
    if not hasattr(medoids, "encoder"):
        medoids.encoder = MiniLMEncoder()  # type: ignore[attr-defined]
    vectors = medoids.encoder.encode(texts)  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    centres = vectors[rng.choice(len(texts), k, replace=False)]
    for _ in range(20):
        assign = (vectors @ centres.T).argmax(axis=1)
        centres = np.stack([vectors[assign == j].mean(axis=0) if (assign == j).any() else centres[j] for j in range(k)])
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    assign = (vectors @ centres.T).argmax(axis=1)
    chosen = []
    for j in range(k):
        members = np.flatnonzero(assign == j)
        if len(members):
            chosen.append(texts[int(members[np.argmax(vectors[members] @ centres[j])])])
    return chosen


def lmos_registry(specs: list[dict], examples: dict[str, list[str]], *, tenant: str, channel: str) -> dict:
    """A ChannelRouting YAML document for the agents of agentRoutingSpecs.json."""
    groups = []
    for spec in specs:
        capabilities = []
        for cap in spec.get("capabilities", []):
            entry = {
                "id": cap["name"],
                "name": cap["name"],
                "providedVersion": str(cap.get("version", "1.0.0")),
                "description": cap.get("description", ""),
                "host": f"{spec['name']}.default.svc.cluster.local:8080",
            }
            if examples.get(cap["name"]):
                entry["examples"] = examples[cap["name"]]
            capabilities.append(entry)
        groups.append(
            {
                "id": spec["name"],
                "name": spec["name"],
                "description": spec.get("description", ""),
                "capabilities": capabilities,
            }
        )
    labels = {"tenant": tenant, "channel": channel, "subset": "stable", "version": "1.0.0"}
    return {
        "channelRoutings": [
            {"metadata": {"name": f"{tenant}-{channel}-stable", "labels": labels}, "spec": {"capabilityGroups": groups}}
        ]
    }


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "agent", "intent"])
        writer.writeheader()
        writer.writerows(rows)


def convert_lmos_router(
    source: Path, out: Path, *, tenant: str = "lmos", channel: str = "web", all_train: bool = False
) -> dict[str, Path]:
    """Write registry-descriptions.yaml, registry-5-examples.yaml (and with `all_train`
    registry-all-train.yaml), train.csv and test.csv (`text,agent,intent`) under `out`."""
    specs = json.loads((source / "agentRoutingSpecs.json").read_text(encoding="utf-8"))
    train = lmos_read_rows(source / "train.csv")
    test = lmos_read_rows(source / "test.csv")
    by_intent: dict[str, list[str]] = defaultdict(list)
    for row in train:
        by_intent[row["intent"]].append(row["text"])
    known = {cap["name"] for spec in specs for cap in spec.get("capabilities", [])}
    missing = sorted(set(by_intent) - known)
    if missing:
        raise ValueError(f"train.csv intents without a capability in the spec: {missing}")
    out.mkdir(parents=True, exist_ok=True)
    variants: dict[str, dict[str, list[str]]] = {
        "descriptions": {},
        "5-examples": {intent: medoids(texts, EXAMPLES_PER_INTENT) for intent, texts in sorted(by_intent.items())},
    }
    if all_train:
        variants["all-train"] = dict(by_intent)
    paths = {}
    for variant, examples in variants.items():
        path = out / f"registry-{variant}.yaml"
        document = lmos_registry(specs, examples, tenant=tenant, channel=channel)
        path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths[variant] = path
    _write_csv(out / "train.csv", train)
    _write_csv(out / "test.csv", test)
    paths["train"], paths["test"] = out / "train.csv", out / "test.csv"
    return paths


def lmos_router_files(source: Path, cache: Path = CACHE) -> Path:
    """The directory of lmos-router's generated files, (re)built when the source files changed."""
    digest = hashlib.sha256(str(_FORMAT).encode())
    for name in ("agentRoutingSpecs.json", "train.csv", "test.csv"):
        digest.update((source / name).read_bytes())
    out = cache / "lmos-router"
    stamp = out / "source.sha256"
    if not (stamp.exists() and stamp.read_text().strip() == digest.hexdigest()):
        print(f"building the lmos-router registry files under {out} (once)", file=sys.stderr)
        convert_lmos_router(source, out)
        stamp.write_text(digest.hexdigest() + "\n")
    return out
