"""Fit the vector router's numbers (routing/vector/params.py) on every suite's fitting split,
and report what they give on the test splits and leave-one-suite-out.

    python -m benchmarks.fit_routing [--suites DIR] [--refresh]

Fitting splits: lmos-router train.csv, CLINC150 dev.csv, Banking77 dev.csv, the German dev
renderings; the test splits are only measured. Every text is embedded once (the per-agent
scores are cached under var/fit_routing/, keyed by the models, the code of the scores and
the texts); the parameters are then swept in numpy over those scores with the router's own
formula (routing/vector/_score.py). Leave-one-suite-out: fitted on the other suites, the one
left out measured on its test split. Prints tables; writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "fit_routing"
VARIANTS = ("descriptions", "5-examples")
FIT_SUITES = ("lmos-router", "clinc150", "banking77", "german")
# Measured, never fitted on: the English originals of the German renderings.
MEASURED_SUITES = ("german-en",)
CHUNK = 256


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- per-agent scores of every text, computed once ---------------------------------------


def _token_matrix(index_part, tokens) -> np.ndarray:
    """Token score of every agent (NaN where the query or the agent has no tokens)."""
    n_agents = len(index_part.token_bounds) - 1
    weights = tokens.weights
    if float(weights.sum()) <= 0 or len(tokens.vectors) == 0 or len(index_part.tokens) == 0:
        return np.full(n_agents, np.nan, dtype=np.float32)
    sims = tokens.vectors @ index_part.tokens.T
    bounds = index_part.token_bounds
    out = np.full(n_agents, np.nan, dtype=np.float32)
    filled = np.flatnonzero(bounds[1:] > bounds[:-1])
    closest = np.maximum.reduceat(sims, bounds[:-1][filled], axis=1)
    out[filled] = (weights @ closest) / float(weights.sum())
    return out


@dataclass
class Scores:
    """Per encoder (Q, A) arrays for Q texts against one registry's index."""

    best: list[np.ndarray]
    tokens: list[np.ndarray]


def _scores(index, embedded: list[tuple[np.ndarray, list]], *, no_tokens: tuple[bool, ...] = ()) -> Scores:
    best, tokens = [], []
    for e, (part, (vectors, toks)) in enumerate(zip(index.per_encoder, embedded, strict=True)):
        sims = vectors @ part.texts.T
        best.append(np.maximum.reduceat(sims, part.starts, axis=1).astype(np.float32))
        if no_tokens and no_tokens[e]:
            tokens.append(np.full(best[-1].shape, np.nan, dtype=np.float32))
        else:
            tokens.append(np.stack([_token_matrix(part, t) for t in toks]) if toks else np.zeros(best[-1].shape))
    return Scores(best, tokens)


@dataclass
class Block:
    """One suite split against one registry variant: labels and every score the sweep needs."""

    labels: np.ndarray  # agent index, -1 for "no agent"
    query: Scores  # the text as sent
    german: np.ndarray  # bool: the glossary takes the text for German
    gloss: Scores  # German rows: the English gloss
    offtopic: Scores  # the shipped off-topic sentences
    has_examples: bool
    agents: list[str] = field(default_factory=list)


def _embed(embedder, texts: list[str]) -> dict[str, tuple[list[np.ndarray], list]]:
    out = {}
    unique = list(dict.fromkeys(texts))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        encoded = embedder.encode_with_tokens(chunk)
        for k, text in enumerate(chunk):
            out[text] = ([m[k] for m, _ in encoded], [t[k] for _, t in encoded])
    return out


def _stack(embedded: dict, texts: list[str], n_encoders: int) -> list[tuple[np.ndarray, list]]:
    return [
        (np.stack([embedded[t][0][e] for t in texts]), [embedded[t][1][e] for t in texts]) for e in range(n_encoders)
    ]


def build_blocks(embedder, registries: dict, rows, offtopic: list[str]) -> dict[str, Block]:
    """One Block per registry variant, every text embedded once for all of them."""
    from routing.vector import build_index, glossary_for

    glossary = glossary_for(embedder)
    texts = [r.text for r in rows]
    german = np.array([glossary is not None and glossary.is_german(t) for t in texts], dtype=bool)
    n = len(embedder.encoders)
    multilingual = [e.multilingual for e in embedder.encoders]
    prepared = {}
    for variant, registry in registries.items():
        index = build_index(registry, embedder)
        glosses = []
        if german.any():
            use = multilingual.index(True)
            context = embedder.encoders[use].encode([texts[i] for i in np.flatnonzero(german)])
            for k, i in enumerate(np.flatnonzero(german)):
                glosses.append(glossary.render(texts[i], context[k], glossary.senses(texts[i])))
        prepared[variant] = (registry, index, glosses)
    every = [t for _, _, glosses in prepared.values() for t in glosses]
    embedded = _embed(embedder, [*texts, *every, *offtopic])
    out = {}
    for variant, (registry, index, glosses) in prepared.items():
        agents = index.agents
        labels = np.array([agents.index(r.agent) if r.agent else -1 for r in rows], dtype=np.int64)
        query = _scores(index, _stack(embedded, texts, n))
        if glosses:
            gloss = _scores(index, _stack(embedded, glosses, n))
        else:
            empty = np.zeros((0, len(agents)), dtype=np.float32)
            gloss = Scores([empty] * n, [empty] * n)
        off = _scores(index, _stack(embedded, offtopic, n), no_tokens=(True,) * n)
        out[variant] = Block(labels, query, german, gloss, off, registry.has_examples, agents)
    return out


def _save(path: Path, block: Block) -> None:
    arrays = {"labels": block.labels, "german": block.german, "has_examples": np.array(block.has_examples)}
    for name in ("query", "gloss", "offtopic"):
        scores: Scores = getattr(block, name)
        for kind in ("best", "tokens"):
            for e, a in enumerate(getattr(scores, kind)):
                arrays[f"{name}.{kind}.{e}"] = a
    np.savez_compressed(path, agents=np.array(block.agents), **arrays)


def _load(path: Path, n_encoders: int) -> Block:
    data = np.load(path)

    def scores(name: str) -> Scores:
        return Scores(*[[data[f"{name}.{kind}.{e}"] for e in range(n_encoders)] for kind in ("best", "tokens")])

    return Block(
        data["labels"], scores("query"), data["german"], scores("gloss"),
        scores("offtopic"), bool(data["has_examples"]), [str(a) for a in data["agents"]],
    )  # fmt: skip


def blocks(suites, embedder, *, refresh: bool) -> dict[tuple[str, str, str], Block]:
    """(suite, variant, split) -> Block, from the cache where its inputs have not changed."""
    from routing.vector import params
    from routing.vector._calibration import offtopic_sentences

    offtopic = offtopic_sentences()
    # What the scores depend on (edit the scoring code itself: run with --refresh).
    code = hashlib.sha256()
    feature_params = ("SHARED_TOKENS", "COMMON_LOGPROB", "RARE_LOGPROB", "MIN_COVERAGE", "MIN_GERMAN", "CONTEXT_WEIGHT")
    code.update(repr([getattr(params, name) for name in feature_params]).encode())
    code.update("\n".join(offtopic).encode())
    code.update(embedder.name.encode())
    CACHE.mkdir(parents=True, exist_ok=True)
    out = {}
    # Every fitting split first: the sweep can start on them while the test splits are scored.
    for split, suite in [(split, suite) for split in ("fit", "test") for suite in suites]:
        registries = {variant: suite.registry(variant) for variant in VARIANTS}
        rows = suite.fit if split == "fit" else suite.test
        digest = code.copy()
        digest.update(repr(([r.agents for r in registries.values()], [(r.text, r.agent) for r in rows])).encode())
        path = {v: CACHE / f"{suite.name}-{v}-{split}-{digest.hexdigest()[:16]}.npz" for v in VARIANTS}
        if all(p.exists() for p in path.values()) and not refresh:
            out.update({(suite.name, v, split): _load(p, len(embedder.encoders)) for v, p in path.items()})
            continue
        started = time.perf_counter()
        for variant, block in build_blocks(embedder, registries, rows, offtopic).items():
            _save(path[variant], block)
            out[suite.name, variant, split] = block
        took = time.perf_counter() - started
        print(f"  scored {suite.name} {split}: {len(rows)} rows in {took:.0f} s", file=sys.stderr)
    return out


# --- the router's decision over a block, for one set of numbers ------------------------


@dataclass(frozen=True)
class Config:
    """The numbers swept (params.py names them); `gloss`, `tokens`: a mechanism on or off."""

    token_weight: tuple[float, float]
    token_weight_with_examples: tuple[float, float]
    gloss: bool = True
    tokens: bool = True

    @classmethod
    def current(cls) -> Config:
        from routing.vector import params as p

        return cls(
            token_weight=(p.TOKEN_WEIGHT["minilm"], p.TOKEN_WEIGHT["use"]),
            token_weight_with_examples=(p.TOKEN_WEIGHT_WITH_EXAMPLES["minilm"], p.TOKEN_WEIGHT_WITH_EXAMPLES["use"]),
        )

    def scoring(self, has_examples: bool):
        from routing.vector._score import Scoring

        weights = self.token_weight_with_examples if has_examples else self.token_weight
        return Scoring(
            token_weight=weights if self.tokens else (0.0, 0.0),
        )


@dataclass
class Ranked:
    """Per row: every agent's score (by agent index) and the relevance; the off-topic
    sentences' relevance against the same registry."""

    values: np.ndarray
    relevance: np.ndarray
    offtopic: np.ndarray
    labels: np.ndarray

    @property
    def best(self) -> np.ndarray:
        return self.values.argmax(axis=1)

    @property
    def lead(self) -> np.ndarray:
        top2 = np.sort(self.values, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]


def _by_agent(scored) -> np.ndarray:
    values = np.empty_like(scored.values)
    np.put_along_axis(values, scored.order, scored.values, axis=1)
    return values


def _run(scoring, scores: Scores):
    from routing.vector._score import score

    def tokens(e: int, rows: np.ndarray, top: np.ndarray) -> np.ndarray:
        return np.take_along_axis(scores.tokens[e][rows], top, axis=1)

    return score(scoring, scores.best, tokens, deferred=(False, True))


def rank_block(block: Block, config: Config) -> Ranked:
    scoring = config.scoring(block.has_examples)
    plain = _run(scoring, block.query)
    values, relevance = _by_agent(plain), plain.relevance.copy()
    if config.gloss and block.german.any():
        gloss = _run(scoring, block.gloss)
        values[block.german] = _by_agent(gloss)
        relevance[block.german] = gloss.relevance
    offtopic = _run(scoring, block.offtopic).relevance
    return Ranked(values, relevance, offtopic, block.labels)


# --- decisions, metrics and the sweep ---------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """Abstention and confidence numbers (params.py: OFFTOPIC_QUANTILE ... CONFIDENCE_*)."""

    quantile: float
    shift: float
    margin: float = 0.0
    routed: tuple[float, float, float] = (0.0, 10.0, 20.0)
    abstained: tuple[float, float] = (0.0, -10.0)

    @classmethod
    def current(cls) -> Gate:
        from routing.vector import params as p

        return cls(p.OFFTOPIC_QUANTILE, p.ABSTAIN_SHIFT, 0.0, p.CONFIDENCE_ROUTED, p.CONFIDENCE_ABSTAINED)

    def threshold(self, offtopic: np.ndarray) -> float:
        return float(np.quantile(offtopic, self.quantile)) + self.shift


@dataclass
class Decided:
    labels: np.ndarray
    predicted: np.ndarray  # -1: no agent
    best: np.ndarray
    relevance: np.ndarray  # minus the registry's threshold
    lead: np.ndarray
    confidence: np.ndarray
    offtopic_kept: float  # share of the off-topic messages not turned away, two-fold


def _features(relevance: np.ndarray, lead: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(relevance), relevance, lead], axis=1)


def decide(ranked: Ranked, gate: Gate) -> Decided:
    threshold = gate.threshold(ranked.offtopic)
    relevance = ranked.relevance - threshold
    lead = ranked.lead
    best = ranked.best
    predicted = np.where((relevance >= 0) & (lead >= gate.margin), best, -1)
    routed = _features(relevance, lead) @ np.array(gate.routed)
    abstained = _features(relevance, lead)[:, :2] @ np.array(gate.abstained)
    confidence = 1 / (1 + np.exp(-np.where(predicted >= 0, routed, abstained)))
    # Each half of the off-topic messages judged by the threshold the other half gives.
    halves = ranked.offtopic[::2], ranked.offtopic[1::2]
    kept = [float((h >= gate.threshold(o)).mean()) for h, o in ((halves[0], halves[1]), (halves[1], halves[0]))]
    return Decided(ranked.labels, predicted, best, relevance, lead, confidence, float(np.mean(kept)))


def summary(d: Decided) -> dict[str, float]:
    ins = d.labels >= 0
    out = {
        "top1": float((d.best[ins] == d.labels[ins]).mean()),
        "accuracy": float((d.predicted == d.labels).mean()),
        "in_scope": float((d.predicted[ins] == d.labels[ins]).mean()),
        "offtopic_kept": d.offtopic_kept,
    }
    if (~ins).any():
        turned = d.predicted < 0
        out["recall"] = float(turned[~ins].mean())
        out["precision"] = float((~ins)[turned].mean()) if turned.any() else 0.0
    order = np.argsort(-d.confidence, kind="stable")[: int(np.ceil(0.8 * len(d.labels)))]
    out["at_80"] = float((d.predicted[order] == d.labels[order]).mean())
    return out


# The share of traffic taken to be off-topic when abstention is fitted: routing accuracy on
# traffic of which one message in five no agent should take.
OFFTOPIC_SHARE = 0.2


def objective(results: list[dict[str, float]]) -> float:
    """What the gate's fit maximises, averaged over blocks: the accuracy on traffic that is
    OFFTOPIC_SHARE off-topic (turned away: the shipped messages, two-fold, and a suite's own
    no-agent rows where it has them), the rest with an agent."""
    scores = []
    for r in results:
        rejected = 1 - r["offtopic_kept"] if "recall" not in r else (1 - r["offtopic_kept"] + r["recall"]) / 2
        scores.append((1 - OFFTOPIC_SHARE) * r["in_scope"] + OFFTOPIC_SHARE * rejected)
    return float(np.mean(scores))


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coefficients b of P(y=1 | x) = 1 / (1 + exp(-x b)), rows weighted by w, by Newton's
    method with a little ridge (x has the intercept column)."""
    w = w / w.mean()
    b = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ b, -30, 30)))
        gradient = x.T @ (w * (y - p)) - 1e-3 * b
        hessian = -(x.T * (w * p * (1 - p))) @ x - 1e-3 * np.eye(len(b))
        step = np.linalg.solve(hessian, gradient)
        b -= step
        if np.abs(step).max() < 1e-8:
            break
    return b


def fit_confidence(decided: list[Decided]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Logistic maps from (relevance above the threshold, lead) to "the decision is right",
    one for chosen agents and one for no-agent decisions; every block weighs the same."""
    parts: dict[bool, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {True: [], False: []}
    for d in decided:
        right = (d.predicted == d.labels).astype(float)
        features = _features(d.relevance, d.lead)
        for routed in (True, False):
            rows = (d.predicted >= 0) == routed
            x = features[rows] if routed else features[rows][:, :2]
            parts[routed].append((x, right[rows], np.full(rows.sum(), 1 / len(d.labels))))

    def fit(routed: bool) -> tuple[float, ...]:
        x, y, w = (np.concatenate([p[k] for p in parts[routed]]) for k in range(3))
        return tuple(round(float(v), 3) for v in logistic(x, y, w))

    abstentions = sum(len(p[1]) for p in parts[False])
    return fit(True), fit(False) if abstentions >= 20 else (0.0, -10.0)


Key = tuple[str, str]  # (suite, variant)

RANKING_GRID: dict[str, list] = {
    "token_weight": [(m, u) for m in (0.0, 0.3, 0.5, 0.7, 0.9) for u in (0.0, 0.25, 0.5, 0.75)],
    "token_weight_with_examples": [(m, u) for m in (0.0, 0.15, 0.3, 0.5) for u in (0.0, 0.1, 0.2, 0.4)],
}
GATE_GRID = [
    (q, shift) for q in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95) for shift in np.arange(-0.1, 0.051, 0.0125)
]
# Mechanisms switched off one at a time, to see what each is worth.
MECHANISMS = {
    "token matching": {"tokens": False},
    "German gloss": {"gloss": False},
}


def top1(ranked: dict[Key, Ranked]) -> float:
    """Mean over blocks of top-1 accuracy on rows with an agent."""
    scores = []
    for r in ranked.values():
        rows = r.labels >= 0
        scores.append(float((r.best[rows] == r.labels[rows]).mean()))
    return float(np.mean(scores))


def rank_all(data: dict[Key, Block], config: Config) -> dict[Key, Ranked]:
    return {key: rank_block(block, config) for key, block in data.items()}


def fit_ranking(data: dict[Key, Block], config: Config, *, rounds: int = 2) -> Config:
    """Coordinate ascent over RANKING_GRID on the mean top-1 accuracy of the blocks."""
    best = top1(rank_all(data, config))
    for _ in range(rounds):
        changed = False
        for name, values in RANKING_GRID.items():
            for value in values:
                trial = replace(config, **{name: value})
                if trial == config:
                    continue
                score = top1(rank_all(data, trial))
                if score > best + 1e-6:
                    best, config, changed = score, trial, True
        if not changed:
            break
    return config


def fit_gate(ranked: dict[Key, Ranked]) -> Gate:
    """The abstention numbers that maximise `objective`, then the confidence maps."""
    best, chosen = -1.0, Gate(0.9, 0.0)
    for q, shift in GATE_GRID:
        gate = Gate(q, round(float(shift), 4))
        score = objective([summary(decide(r, gate)) for r in ranked.values()])
        if score > best:
            best, chosen = score, gate
    routed, abstained = fit_confidence([decide(r, chosen) for r in ranked.values()])
    return replace(chosen, routed=routed, abstained=abstained)


def fit(data: dict[Key, Block]) -> tuple[Config, Gate]:
    config = fit_ranking(data, Config.current())
    return config, fit_gate(rank_all(data, config))


def _split(data: dict, split: str, suites: tuple[str, ...] | None = None) -> dict[Key, Block]:
    return {(s, v): b for (s, v, sp), b in data.items() if sp == split and (suites is None or s in suites)}


def _row(name: str, r: dict[str, float]) -> str:
    abstention = f"{r['recall']:>7.3f}{r['precision']:>7.3f}" if "recall" in r else f"{'-':>7}{'-':>7}"
    return (
        f"{name:<28}{r['top1']:>7.3f}{r['accuracy']:>7.3f}{r['in_scope']:>7.3f}{abstention}"
        f"{r['at_80']:>7.3f}{1 - r['offtopic_kept']:>7.2f}"
    )


HEADER = f"{'suite / registry':<28}{'top-1':>7}{'acc':>7}{'in-sc':>7}{'oos R':>7}{'oos P':>7}{'@80%':>7}{'off':>7}"


def report(title: str, data: dict[Key, Block], config: Config, gate: Gate) -> None:
    print(f"\n{title}\n{HEADER}")
    for key, block in data.items():
        print(_row(" / ".join(key), summary(decide(rank_block(block, config), gate))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", help="directory of the public suites (default: see benchmarks/suites.py)")
    parser.add_argument("--refresh", action="store_true", help="recompute the cached scores")
    args = parser.parse_args()
    _setup()
    from benchmarks.suites import load_suites
    from routing.vector import get_embedder

    suites = load_suites(FIT_SUITES + MEASURED_SUITES, args.suites)
    embedder = get_embedder()
    data = blocks(suites, embedder, refresh=args.refresh)
    fitting, test = _split(data, "fit", FIT_SUITES), _split(data, "test")
    names = tuple(dict.fromkeys(s for s, _ in fitting))
    current = Config.current(), Gate.current()
    report("Current numbers (params.py), test splits", test, *current)
    started = time.perf_counter()
    config, gate = fit(fitting)
    print(f"\nFitted on {', '.join(names)} ({time.perf_counter() - started:.0f} s):\n  {config}\n  {gate}")
    report("Fitted numbers, fitting splits", fitting, config, gate)
    report("Fitted numbers, test splits", test, config, gate)
    for split, group in (("fitting", fitting), ("test", test)):
        print(f"\nWhat each mechanism is worth ({split} splits, fitted numbers; off minus on, points of top-1, "
              "and of routed accuracy and the gate's objective averaged, the gate fitted again)")  # fmt: skip
        on = {key: summary(decide(rank_block(b, config), gate)) for key, b in group.items()}
        for mechanism, change in MECHANISMS.items():
            # Without the mechanism, its gate fitted again (what abstention would be without it).
            off_config = replace(config, **change)
            off_gate = fit_gate(rank_all(fitting, off_config))
            off = {key: summary(decide(rank_block(b, off_config), off_gate)) for key, b in group.items()}
            deltas = {key: 100 * (off[key]["top1"] - on[key]["top1"]) for key in group}
            routed = np.mean([100 * (off[key]["accuracy"] - on[key]["accuracy"]) for key in group])
            fitted = 100 * (objective(list(off.values())) - objective(list(on.values())))
            shown = "  ".join(f"{s}/{v[:4]} {d:+.1f}" for (s, v), d in deltas.items())
            print(f"  {mechanism:<32} mean {np.mean(list(deltas.values())):+.2f} (routed {routed:+.2f}, "
                  f"objective {fitted:+.2f})   {shown}")  # fmt: skip
    print("\nLeave one suite out: fitted on the others, measured on the one left out (test split)")
    print(HEADER)
    for left_out in names:
        others = {k: b for k, b in fitting.items() if k[0] != left_out}
        config_loso, gate_loso = fit(others)
        for key, block in test.items():
            if key[0] == left_out:
                print(_row(" / ".join(key), summary(decide(rank_block(block, config_loso), gate_loso))))


if __name__ == "__main__":
    main()
