"""Routing benchmark (`make bench`): the lmos-router test set in three settings, German
vs English, off-topic abstention, per-query latency with 12 and 1,000 agents, model load
time and the RSS of a web process with the model loaded. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.german_dev import GERMAN_DEV, GERMAN_FIT, GERMAN_HELD_OUT
from benchmarks.german_test import GERMAN_TEST

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
ORIGINAL = {"llm (gpt-4o-mini, 2,000 rows)": 0.964, "vector, all train sentences": 0.9978}

# 66 queries written for this check, one German and one English version of each (not from
# the benchmark files), labelled with the lmos-router agent that should answer.
PARALLEL = [
    ("Ich möchte ein neues Kundenkonto anlegen", "I would like to create a new customer account", "account-agent"),
    (
        "Wie ändere ich die E-Mail-Adresse in meinem Profil?",
        "How do I change the email in my profile?",
        "account-agent",
    ),
    ("Ich habe mein Passwort vergessen", "I forgot my password", "account-agent"),
    ("Bitte löschen Sie mein Konto", "Please delete my account", "account-agent"),
    (
        "Bei der Registrierung bekomme ich eine Fehlermeldung",
        "I get an error message when registering",
        "account-agent",
    ),
    ("Wie wechsle ich zu meinem anderen Benutzerkonto?", "How do I switch to my other user account?", "account-agent"),
    ("Was kostet es, wenn ich vorzeitig kündige?", "What does it cost if I cancel early?", "cancel-agent"),
    ("Gibt es eine Stornogebühr?", "Is there a cancellation fee?", "cancel-agent"),
    (
        "Fällt eine Gebühr an, wenn ich vom Kauf zurücktrete?",
        "Is there a fee if I withdraw from the purchase?",
        "cancel-agent",
    ),
    ("Welche Kündigungsgebühren muss ich zahlen?", "Which termination fees do I have to pay?", "cancel-agent"),
    ("Wie hoch ist die Gebühr bei einer Stornierung?", "How high is the fee for a cancellation?", "cancel-agent"),
    ("Muss ich für die Kündigung etwas bezahlen?", "Do I have to pay anything for cancelling?", "cancel-agent"),
    ("Welche Versandarten bieten Sie an?", "Which shipping methods do you offer?", "delivery-agent"),
    ("Liefern Sie auch nach Österreich?", "Do you also deliver to Austria?", "delivery-agent"),
    ("Wann kommt meine Lieferung an?", "When will my delivery arrive?", "delivery-agent"),
    ("Wie lange dauert der Versand normalerweise?", "How long does shipping usually take?", "delivery-agent"),
    ("Gibt es eine Expresslieferung?", "Is there express delivery?", "delivery-agent"),
    ("An welchem Tag wird mein Paket zugestellt?", "On which day will my parcel be delivered?", "delivery-agent"),
    (
        "Ich möchte mich über den schlechten Service beschweren",
        "I want to complain about the bad service",
        "feedback-agent",
    ),
    (
        "Wo kann ich eine Bewertung für ein Produkt abgeben?",
        "Where can I leave a review for a product?",
        "feedback-agent",
    ),
    ("Ich will eine Reklamation einreichen", "I want to file a complaint", "feedback-agent"),
    (
        "Ich möchte Ihnen Feedback zu meinem Einkauf geben",
        "I would like to give feedback about my purchase",
        "feedback-agent",
    ),
    ("Wie schreibe ich eine Rezension?", "How do I write a review?", "feedback-agent"),
    ("Ich bin sehr unzufrieden und möchte mich beschweren", "I am very unhappy and want to complain", "feedback-agent"),
    ("Wo finde ich meine Rechnung?", "Where can I find my invoice?", "invoice-agent"),
    (
        "Können Sie mir die Rechnung für Bestellung 12345 schicken?",
        "Can you send me the invoice for order 12345?",
        "invoice-agent",
    ),
    ("Ich brauche eine Kopie meiner Rechnung", "I need a copy of my invoice", "invoice-agent"),
    ("Wie kann ich meine Rechnungen einsehen?", "How can I view my invoices?", "invoice-agent"),
    (
        "Ich möchte die Rechnung vom letzten Monat herunterladen",
        "I want to download last month's invoice",
        "invoice-agent",
    ),
    (
        "Die Rechnung enthält einen Fehler, bitte prüfen",
        "The invoice contains an error, please check it",
        "invoice-agent",
    ),
    ("Ich möchte den Newsletter abonnieren", "I would like to subscribe to the newsletter", "subscription-agent"),
    ("Wie melde ich mich vom Newsletter ab?", "How do I unsubscribe from the newsletter?", "subscription-agent"),
    ("Bitte tragen Sie mich aus dem Newsletter aus", "Please remove me from the newsletter", "subscription-agent"),
    ("Wie kann ich Werbe-E-Mails abbestellen?", "How can I unsubscribe from promotional emails?", "subscription-agent"),
    ("Kann ich mich für Ihren Newsletter anmelden?", "Can I sign up for your newsletter?", "subscription-agent"),
    ("Wie abonniere ich Ihre E-Mail-Neuigkeiten?", "How do I subscribe to your email news?", "subscription-agent"),
    ("Ich möchte etwas bestellen", "I would like to order something", "order-agent"),
    ("Ich möchte meine Bestellung stornieren", "I want to cancel my order", "order-agent"),
    ("Wo ist meine Bestellung gerade?", "Where is my order right now?", "order-agent"),
    (
        "Kann ich meiner Bestellung noch einen Artikel hinzufügen?",
        "Can I still add an item to my order?",
        "order-agent",
    ),
    ("Wie kann ich den Status meiner Bestellung verfolgen?", "How can I track the status of my order?", "order-agent"),
    ("Ich möchte die Bestellung 123456 ändern", "I want to change order 123456", "order-agent"),
    ("Welche Zahlungsmethoden akzeptieren Sie?", "Which payment methods do you accept?", "payment-agent"),
    ("Kann ich mit PayPal bezahlen?", "Can I pay with PayPal?", "payment-agent"),
    ("Meine Zahlung wurde abgelehnt", "My payment was declined", "payment-agent"),
    (
        "Ich habe ein Problem mit der Kreditkartenzahlung",
        "I have a problem with the credit card payment",
        "payment-agent",
    ),
    ("Kann ich per Überweisung bezahlen?", "Can I pay by bank transfer?", "payment-agent"),
    ("Die Zahlung ist fehlgeschlagen, was soll ich tun?", "The payment failed, what should I do?", "payment-agent"),
    ("Ich möchte mein Geld zurück", "I want my money back", "refund-agent"),
    ("Wie ist Ihre Rückerstattungsrichtlinie?", "What is your refund policy?", "refund-agent"),
    ("Wann bekomme ich meine Erstattung?", "When will I get my refund?", "refund-agent"),
    (
        "Wie kann ich den Status meiner Rückerstattung prüfen?",
        "How can I check the status of my refund?",
        "refund-agent",
    ),
    ("Ich möchte eine Rückerstattung beantragen", "I would like to request a refund", "refund-agent"),
    ("Habe ich Anspruch auf eine Rückzahlung?", "Am I entitled to a reimbursement?", "refund-agent"),
    ("Ich möchte meine Lieferadresse ändern", "I want to change my delivery address", "shipping-agent"),
    ("Wie füge ich eine neue Versandadresse hinzu?", "How do I add a new shipping address?", "shipping-agent"),
    ("Ich muss eine zweite Lieferadresse hinterlegen", "I need to add a second delivery address", "shipping-agent"),
    (
        "Meine Versandadresse ist falsch, wie korrigiere ich sie?",
        "My shipping address is wrong, how do I fix it?",
        "shipping-agent",
    ),
    ("Wie richte ich eine Lieferadresse ein?", "How do I set up a delivery address?", "shipping-agent"),
    (
        "Ich bin umgezogen und brauche eine neue Lieferanschrift",
        "I moved and need a new delivery address",
        "shipping-agent",
    ),
    ("Ich möchte mit einem Mitarbeiter sprechen", "I want to speak to an employee", "contact-agent"),
    ("Wie erreiche ich den Kundenservice?", "How do I reach customer service?", "contact-agent"),
    ("Wie lautet Ihre Telefonnummer?", "What is your phone number?", "contact-agent"),
    (
        "Zu welchen Zeiten ist der Kundendienst erreichbar?",
        "At what times is customer service available?",
        "contact-agent",
    ),
    ("Kann ich mit einem echten Menschen reden?", "Can I talk to a real person?", "contact-agent"),
    ("Wie kann ich den Support kontaktieren?", "How can I contact support?", "contact-agent"),
]

OFF_TOPIC = [
    "what's the weather like tomorrow in Berlin", "tell me a joke", "who won the football match yesterday",
    "how do I bake sourdough bread", "write a python function that sorts a list", "what is the capital of Australia",
    "recommend a good movie for tonight", "how tall is Mount Everest", "translate good morning into Spanish",
    "what time is it in Tokyo", "can you sing a song", "how many legs does a spider have",
    "explain quantum entanglement simply", "is it going to rain this weekend", "who is the president of France",
    "wie wird das Wetter morgen", "erzähl mir einen Witz", "wer hat das Spiel gestern gewonnen",
    "wie backe ich einen Kuchen", "play some music",
]  # fmt: skip
# The first 15 (the English ones) in German, written in session 9: off-topic German queries
# should be turned away as often as English ones.
OFF_TOPIC_GERMAN = [
    "Wie wird das Wetter morgen in Berlin?", "Erzähl mir einen Witz", "Wer hat gestern das Fußballspiel gewonnen?",
    "Wie backe ich Sauerteigbrot?", "Schreib eine Python-Funktion, die eine Liste sortiert",
    "Was ist die Hauptstadt von Australien?", "Empfiehl mir einen guten Film für heute Abend",
    "Wie hoch ist der Mount Everest?", "Übersetze guten Morgen ins Spanische", "Wie spät ist es in Tokio?",
    "Kannst du ein Lied singen?", "Wie viele Beine hat eine Spinne?", "Erkläre Quantenverschränkung einfach",
    "Regnet es dieses Wochenende?", "Wer ist der Präsident von Frankreich?",
]  # fmt: skip

RSS_PROBE = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
from lmos_runtime.asgi import application  # noqa: F401  (the web process's imports)
from routing.vector import get_embedder
from routing.evaluation import load_registry
from routing.vector import get_index
from routing.vector import rankings
from benchmarks.german_dev import GERMAN_DEV
index = get_index(load_registry(os.environ["REGISTRY"], tenant="lmos", channel="web"), get_embedder())
for query, _, _ in GERMAN_DEV:  # the glossary in use too, one turn at a time
    rankings(get_embedder(), index, [query])
print([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1])
"""


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _ensure_data() -> None:
    if not (DATA / "registry-5-examples.yaml").exists():
        sys.path.insert(0, str(ROOT / "scripts"))
        from convert_lmos_router import convert

        convert(ROOT.parent / "shared" / "benchmarks" / "lmos-router", DATA)


def _rankings(index, embedder, texts: list[str]):
    """The vector strategy's rankings of `texts`, in batches (deferred token vectors keep
    their inputs until used)."""
    from routing.vector import rankings

    for start in range(0, len(texts), 256):
        yield from rankings(embedder, index, texts[start : start + 256])


def _accuracy(registry, embedder, texts: list[str], gold: list[str]) -> tuple[float, float]:
    """(accuracy of the routed decision incl. threshold/margin, top-1 accuracy) — the same
    functions as the vector strategy, batched."""
    from routing.vector import Gate, get_index

    index = get_index(registry, embedder)
    gate = Gate.for_registry(registry)
    decided = top1 = 0
    for ranking, label in zip(_rankings(index, embedder, texts), gold, strict=True):
        decided += (gate.judge(ranking)[0] or "") == label
        top1 += ranking.best == label
    return decided / len(gold), top1 / len(gold)


def _german_and_english(registry, embedder, rows) -> tuple[float, float]:
    """Routed accuracy of the German and of the English texts of (German, English, agent)
    rows; agent "" for a query no agent should take."""
    gold = [row[2] for row in rows]
    german, _ = _accuracy(registry, embedder, [row[0] for row in rows], gold)
    english, _ = _accuracy(registry, embedder, [row[1] for row in rows], gold)
    return german, english


def _learned(registry, embedder, queries: list[str]):
    """`registry` plus what the learning task (routing/learning.py) would learn from
    `queries` arriving as traffic: routed by the vector strategy's own functions, labels
    never looked at."""
    from dataclasses import replace

    from django.conf import settings

    from routing.learning import Observation, select_examples
    from routing.vector import Gate, candidates, get_index

    index = get_index(registry, embedder)
    gate = Gate.for_registry(registry)
    observations = []
    for query, ranking in zip(queries, _rankings(index, embedder, queries), strict=True):
        agent, _ = gate.judge(ranking)
        if agent:
            # As the decision row stores them.
            stored = [c.as_dict() for c in candidates(ranking)]
            observations.append(Observation(text=query, agent=agent, candidates=stored))
    learned = select_examples(observations, max_per_agent=settings.ROUTER_LEARN_MAX_PER_AGENT)
    return replace(registry, learned=tuple((a, tuple(t)) for a, t in learned.items()), registry_version=-1)


def _latency(registry, queries: list[str]) -> tuple[float, float]:
    from routing.base import RouteRequest
    from routing.strategies.vector import VectorStrategy
    from routing.vector import channel_index

    async def run() -> list[float]:
        await channel_index(registry)
        strategy, times = VectorStrategy(), []
        for query in queries:
            started = time.perf_counter()
            await strategy.decide(RouteRequest(query=query, messages=[], registry=registry))
            times.append((time.perf_counter() - started) * 1000)
        return times

    times = sorted(asyncio.run(run()))
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def _synthetic(base, n: int):
    """`base` plus synthetic agents up to n agents (texts vary so no two embed alike)."""
    from dataclasses import replace

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


def main() -> None:
    _setup()
    _ensure_data()
    from django.conf import settings

    from routing.evaluation import load_registry, read_rows
    from routing.vector import get_embedder

    started = time.perf_counter()
    embedder = get_embedder()
    print(f"embedding: {settings.ROUTER_EMBEDDING} ({', '.join(e.name for e in embedder.encoders)}); "
          f"model load {time.perf_counter() - started:.2f} s")  # fmt: skip
    for encoder in embedder.encoders:
        if getattr(encoder, "model_path", None):
            print(f"  {encoder.name}: {encoder.model_path}")
    test = read_rows(DATA / "test.csv")
    texts, gold = [r.text for r in test], [r.agent for r in test]
    registries = {v: load_registry(DATA / f"registry-{v}.yaml", tenant="lmos", channel="web") for v in
                  ("descriptions", "5-examples", "all-train")}  # fmt: skip
    print(f"\nlmos-router test.csv ({len(test)} rows), vector router, threshold {settings.ROUTER_VECTOR_THRESHOLD}, "
          f"margin {settings.ROUTER_VECTOR_MARGIN}")  # fmt: skip
    print(f"{'setting':<34}{'accuracy':>10}{'top-1':>10}   original LMOS")
    original = {"descriptions": "-", "5-examples": "-", "all-train": f"{ORIGINAL['vector, all train sentences']}"}
    for variant, registry in registries.items():
        accuracy, top1 = _accuracy(registry, embedder, texts, gold)
        print(f"{variant:<34}{accuracy:>10.4f}{top1:>10.4f}   {original[variant]}")
    # The learning task's setting: descriptions only, plus examples learned from train.csv's
    # 3,000 queries taken as unlabeled traffic (ROUTER_LEARN_FROM_TRAFFIC).
    train = [r.text for r in read_rows(DATA / "train.csv")]
    registries["learned"] = _learned(registries["descriptions"], embedder, train)
    held = sum(len(t) for _, t in registries["learned"].learned)
    accuracy, top1 = _accuracy(registries["learned"], embedder, texts, gold)
    print(f"{'descriptions + learned (traffic)':<34}{accuracy:>10.4f}{top1:>10.4f}   -")
    print(f"  (learned {held} examples from {len(train)} unlabeled train.csv queries)")
    print(f"(LMOS LLM router, gpt-4o-mini, first 2,000 rows: {ORIGINAL['llm (gpt-4o-mini, 2,000 rows)']}; "
          "no LLM is reachable here, so none is measured)")  # fmt: skip

    from routing.vector import glossary_for

    glossed = "on" if glossary_for(embedder) is not None else f"off (no file at {settings.ROUTER_GLOSSARY!r})"
    print(f"\nGerman vs English (66 parallel queries written for this check); German glossary {glossed}")
    for variant in ("descriptions", "learned", "5-examples"):
        de, en = _german_and_english(registries[variant], embedder, PARALLEL)
        print(f"  {variant:<14} German {de:.4f}   English {en:.4f}")
    for title, rows in (
        ("German renderings of 66 train.csv queries vs their originals (benchmarks/german_dev.py; fitted on)",
         GERMAN_DEV),
        ("German renderings of 220 more train.csv queries vs their originals (GERMAN_FIT; fitted on)", GERMAN_FIT),
        ("German renderings of 66 other train.csv queries vs their originals (held out, never fitted on)",
         GERMAN_HELD_OUT),
        ("German renderings of 220 test.csv queries vs their originals (benchmarks/german_test.py; "
         "test split, never fitted on)", GERMAN_TEST),
    ):  # fmt: skip
        print(title)
        for variant in ("descriptions", "5-examples"):
            de, en = _german_and_english(registries[variant], embedder, rows)
            print(f"  {variant:<14} German {de:.4f}   English {en:.4f}")
    for variant in ("descriptions", "learned", "5-examples"):
        rejected, _ = _accuracy(registries[variant], embedder, OFF_TOPIC, [""] * len(OFF_TOPIC))
        print(f"  off-topic queries rejected ({variant}): {rejected:.2f} of {len(OFF_TOPIC)}")
    # OFF_TOPIC_GERMAN renders the first 15 of OFF_TOPIC.
    off_topic = [(german, english, "") for german, english in zip(OFF_TOPIC_GERMAN, OFF_TOPIC, strict=False)]
    for variant in ("descriptions", "5-examples"):
        de, en = _german_and_english(registries[variant], embedder, off_topic)
        print(f"  the 15 English off-topic queries rendered in German, rejected ({variant}): "
              f"German {de:.2f}   English {en:.2f}")  # fmt: skip

    print("\nper-query latency (route one query at a time; vector router)")
    sample = texts[:300]
    twelve = _synthetic(registries["5-examples"], 12)
    p50, p99 = _latency(twelve, sample)
    print(f"  12 agents (5 examples per capability): p50 {p50:.2f} ms  p99 {p99:.2f} ms")
    # German queries are glossed (when the glossary is built); the first time a word is
    # seen, its translations are embedded too.
    glossary = glossary_for(embedder)
    if glossary is not None:
        glossary.clear_cache()
    for seen in ("new words", "words seen before"):
        p50, p99 = _latency(twelve, [d[0] for d in GERMAN_DEV])
        print(f"  12 agents, German queries (train.csv renderings, {seen}): p50 {p50:.2f} ms  p99 {p99:.2f} ms")
    from routing.vector import get_index

    thousand = _synthetic(registries["descriptions"], 1000)
    started = time.perf_counter()
    index = get_index(thousand, embedder)
    build = time.perf_counter() - started
    p50, p99 = _latency(thousand, sample)
    print(f"  1,000 agents ({index.n_texts} texts, index built once in {build:.1f} s): "
          f"p50 {p50:.2f} ms  p99 {p99:.2f} ms")  # fmt: skip

    env = {**os.environ, "REGISTRY": str(DATA / "registry-5-examples.yaml"), "PYTHONPATH": str(ROOT)}
    probe = subprocess.run(
        [sys.executable, "-c", RSS_PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    rss = probe.stdout.strip().splitlines()[-1] if probe.returncode == 0 and probe.stdout.strip() else "?"
    print(f"\nRSS of a process with the web app imported, the model loaded, one index built and 66 German "
          "queries glossed: "
          f"{int(rss) / 1024:.0f} MB" if rss.isdigit() else f"\nRSS probe failed: {probe.stderr[-500:]}")  # fmt: skip
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
