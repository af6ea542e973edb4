"""Convert the public lmos-router benchmark into this runtime's evaluation form.

Writes, under OUT (default benchmarks/data/):
- registry-descriptions.yaml  agents and capabilities with their descriptions only
                              (what the LMOS Operator's ChannelRouting carries);
- registry-5-examples.yaml    plus 5 examples per capability, chosen from train.csv;
- registry-all-train.yaml     plus every train.csv sentence of the capability;
- test.csv, train.csv         `text,agent` (plus `intent`, which route_eval ignores).

The 5 examples per intent are the medoids of a 5-means clustering of the intent's
train.csv sentences (MiniLM embeddings): they cover the ways people phrase the intent
better than the first or random five (measured on train.csv: 0.996 vs 0.991 / 0.986).
The CSV intent `change_shipping_address` is the spec's capability `check_shipping_address`.

    python scripts/convert_lmos_router.py [--source DIR] [--out DIR] [--tenant T] [--channel C]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "benchmarks" / "lmos-router"
DEFAULT_OUT = ROOT / "benchmarks" / "data"
INTENT_ALIASES = {"change_shipping_address": "check_shipping_address"}
EXAMPLES_PER_INTENT = 5


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {"text": r["instruction"], "agent": r["agent"], "intent": INTENT_ALIASES.get(r["intent"], r["intent"])}
            for r in csv.DictReader(handle)
        ]


def medoids(texts: list[str], k: int) -> list[str]:
    """k representative sentences: medoids of a k-means clustering of their embeddings."""
    import numpy as np

    if len(texts) <= k:
        return list(texts)
    sys.path.insert(0, str(ROOT))
    from routing.vector._embeddings import MiniLMEncoder

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


def registry(specs: list[dict], examples: dict[str, list[str]], *, tenant: str, channel: str) -> dict:
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
    return {
        "channelRoutings": [
            {
                "metadata": {
                    "name": f"{tenant}-{channel}-stable",
                    "labels": {"tenant": tenant, "channel": channel, "subset": "stable", "version": "1.0.0"},
                },
                "spec": {"capabilityGroups": groups},
            }
        ]
    }


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "agent", "intent"])
        writer.writeheader()
        writer.writerows(rows)


def convert(source: Path, out: Path, *, tenant: str = "lmos", channel: str = "web") -> dict[str, Path]:
    specs = json.loads((source / "agentRoutingSpecs.json").read_text(encoding="utf-8"))
    train = read_rows(source / "train.csv")
    test = read_rows(source / "test.csv")
    by_intent: dict[str, list[str]] = defaultdict(list)
    for row in train:
        by_intent[row["intent"]].append(row["text"])
    known = {cap["name"] for spec in specs for cap in spec.get("capabilities", [])}
    missing = sorted(set(by_intent) - known)
    if missing:
        raise SystemExit(f"train.csv intents without a capability in the spec: {missing}")
    out.mkdir(parents=True, exist_ok=True)
    variants = {
        "descriptions": {},
        "5-examples": {intent: medoids(texts, EXAMPLES_PER_INTENT) for intent, texts in sorted(by_intent.items())},
        "all-train": dict(by_intent),
    }
    paths = {}
    for variant, examples in variants.items():
        path = out / f"registry-{variant}.yaml"
        document = registry(specs, examples, tenant=tenant, channel=channel)
        path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths[variant] = path
    write_csv(out / "train.csv", train)
    write_csv(out / "test.csv", test)
    paths["train"], paths["test"] = out / "train.csv", out / "test.csv"
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tenant", default="lmos")
    parser.add_argument("--channel", default="web")
    args = parser.parse_args(argv)
    for name, path in convert(args.source, args.out, tenant=args.tenant, channel=args.channel).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
