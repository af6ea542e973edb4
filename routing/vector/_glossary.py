"""A German query glossed into English word by word, for the vector router.

The English-only encoder (MiniLM) cannot read German, and the multilingual one (USE) ranks
German queries less well than English ones (docs/routing.md). A word-by-word gloss — "Ich
will eine Reklamation einreichen" -> "I want a complaint submit" — is bad English but
good enough for both encoders, and the router ranks the query by it (_router.py). The
words come from FreeDict's German-English dictionary, built into a SQLite file by
scripts/build_glossary.py (`make glossary`); without the file there is no gloss and German
queries are routed as they are. A query is taken for German when the dictionary knows
most of its words and some of them are no English words.

A dictionary lists many senses ("Rechnung": reckoning, account, bill, invoice, ...). The
multilingual encoder picks the one closest to the German word and to the query as a whole;
closed-class words ("ich", "um", "was") come from a fixed table instead.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from routing.vector._embeddings import MAX_CHARS, Encoder
from routing.vector.params import CONTEXT_WEIGHT, MIN_COVERAGE, MIN_GERMAN

log = logging.getLogger(__name__)

# Words (or hyphenated words) and the punctuation between them.
_TOKEN_RE = re.compile(r"\w+(?:-\w+)*|[^\w\s]")
# Parts of a compound word the dictionary lacks are looked up from this length on.
MIN_PART = 3
# German compounds join their parts with these letters ("Kunde-n-konto").
_LINKS = ("", "s", "n", "en", "es", "e")
# Words whose translations are embedded and kept per process (~9 KB each: ~9 MB in all).
CACHE_WORDS = 1_000
ENCODE_BATCH = 32
# German's closed-class words in English. A dictionary serves them badly: "ich" lists "I"
# and "me", "um" "about", "round", "at" (its "um ... zu" is "to"), "was" "what" last, and
# the encoder cannot tell these apart from the word alone. Fitted on nothing: the common
# pronouns, articles, prepositions, conjunctions, question words and auxiliaries. With
# them, the 66 `dev` renderings of benchmarks/data/german-fit.csv route 0.864 / 1.000 instead of 0.848 / 0.985
# (descriptions only / 5 examples).
FUNCTION_WORDS = {
    "ich": "I", "mich": "me", "mir": "me", "du": "you", "dich": "you", "dir": "you", "er": "he", "es": "it",
    "wir": "we", "uns": "us", "sie": "you", "ihr": "you", "man": "one",
    "mein": "my", "meine": "my", "meinen": "my", "meinem": "my", "meiner": "my", "meines": "my",
    "dein": "your", "deine": "your", "deinen": "your", "ihre": "your", "ihren": "your", "ihrem": "your",
    "ihrer": "your", "unser": "our", "unsere": "our", "unseren": "our",
    "nicht": "not", "kein": "no", "keine": "no", "keinen": "no",
    "was": "what", "wer": "who", "wie": "how", "wo": "where", "wann": "when", "warum": "why", "wohin": "where",
    "welche": "which", "welcher": "which", "welches": "which", "welchen": "which", "welchem": "which",
    "und": "and", "oder": "or", "aber": "but", "wenn": "if", "dass": "that", "weil": "because", "ob": "whether",
    "der": "the", "die": "the", "das": "the", "den": "the", "dem": "the", "des": "the",
    "ein": "a", "eine": "a", "einen": "a", "einem": "a", "einer": "a", "eines": "a",
    "mit": "with", "für": "for", "von": "from", "vom": "from the", "zu": "to", "zum": "to the", "zur": "to the",
    "um": "to", "auf": "on", "an": "at", "in": "in", "im": "in the", "aus": "from", "bei": "at", "nach": "after",
    "über": "about", "ohne": "without", "gegen": "against",
    "ist": "is", "sind": "are", "bin": "am", "bist": "are", "hat": "has", "habe": "have", "haben": "have",
    "hast": "have", "kann": "can", "können": "can", "kannst": "can", "muss": "must", "müssen": "must",
    "möchte": "would like", "will": "want", "wollen": "want", "soll": "should", "wird": "will", "wurde": "was",
    # The other persons of the modals and auxiliaries, and "wissen", conjugated like a modal: the
    # dictionary's "weiß" is "white" first, and USE kept it in "Ich weiß nicht, wie ..." ("I white
    # not, how ..."). With these, the 286 fitted German renderings (german-fit.csv, dev + fit)
    # route 0.941 instead of 0.927 with descriptions only, 0.990 instead of 0.993 with 5 examples;
    # all of it from "wissen", the rest changes no query.
    "weiß": "know", "weißt": "know", "wisst": "know", "wissen": "know",
    "darf": "may", "darfst": "may", "dürfen": "may", "dürft": "may", "möchtest": "would like",
    "möchten": "would like", "möchtet": "would like", "musst": "must", "müsst": "must", "sollst": "should",
    "sollen": "should", "sollt": "should", "willst": "want", "wollt": "want", "könnt": "can", "könnte": "could",
    "könnten": "could", "könntest": "could", "würde": "would", "würden": "would", "würdest": "would",
    "hätte": "would have", "hätten": "would have", "wäre": "would be", "wären": "would be", "habt": "have",
    "seid": "are", "war": "was",
    # Not "werden", "werde", "wirst": "become" as often as "will" ("Wie kann ich Kunde werden?"),
    # which the encoder tells apart; nor "waren", which is also "Waren" (goods).
}  # fmt: skip


# A word's translations, their vectors and the word's own vector.
Senses = tuple[list[str], np.ndarray, np.ndarray]


class Glossary:
    def __init__(self, path: Path, encode: Callable[[list[str]], np.ndarray]) -> None:
        # Read-only and shared by the threads of the process: sqlite serialises access.
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._encode = encode
        self.translations = lru_cache(maxsize=10 * CACHE_WORDS)(self._translations)
        self.parts = lru_cache(maxsize=10 * CACHE_WORDS)(self._parts)
        # Every query asks about each of its words (is_german): once per word, not per query.
        self.english = lru_cache(maxsize=10 * CACHE_WORDS)(self._is_english)
        # word -> (its translations, their vectors, its own vector), least recently used first.
        self._vectors: OrderedDict[str, Senses] = OrderedDict()

    def check(self) -> None:
        """Raise sqlite3.Error unless the file has the tables scripts/build_glossary.py writes."""
        with self._lock:
            for table in ("words", "forms", "english"):
                self._db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()

    def clear_cache(self) -> None:
        """Forget the embedded senses (benchmarks measure words seen for the first time)."""
        with self._lock:
            self._vectors.clear()

    def _lookup(self, word: str) -> list[str]:
        """Translations of the word and of its base form ("weiß": white, and of "wissen":
        know), the word's own first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT translations FROM words WHERE word = ? "
                "UNION ALL SELECT w.translations FROM forms f JOIN words w ON w.word = f.lemma WHERE f.form = ?",
                (word, word),
            ).fetchall()
        out: list[str] = []
        for (joined,) in rows:
            out.extend(t for t in joined.split("\t") if t not in out)
        return out

    def _translations(self, word: str) -> list[str]:
        """The dictionary's English for a German word or its base form."""
        lower = word.lower()
        found = self._lookup(lower)
        # The dictionary keeps some German words as their own translation ("Kuchen": cake,
        # cakes, kuchen), which the encoder then finds closest; only English ones count.
        others = [t for t in found if t.lower() != lower]
        if others and len(others) < len(found) and not self.english(lower):
            found = others
        return found

    def _parts(self, word: str) -> tuple[str, str] | None:
        """A compound the dictionary lacks, split at its longest known last part:
        "kreditkartenzahlung" -> ("kreditkarte", "zahlung"), "werbe-e-mails" -> ("werbe",
        "e-mails"); None for a word it has or cannot split."""
        lower = word.lower()
        if len(lower) < 2 * MIN_PART or self.translations(lower):
            return None
        for cut in range(MIN_PART, len(lower) - MIN_PART + 1):
            head, tail = lower[:cut].rstrip("-"), lower[cut:]
            if tail.startswith("-") or not self.translations(tail):
                continue
            for link in _LINKS:
                if link and not head.endswith(link):
                    continue
                stem = head[: len(head) - len(link)] if link else head
                if len(stem) >= MIN_PART and self.translations(stem):
                    return stem, tail
            return None
        return None

    def _senses(self, words: list[str]) -> dict[str, Senses]:
        """The senses of those of `words` that have several: their translations with
        their vectors and the word's own, from the cache or embedded in one run of the
        encoder for all that are not cached (then cached)."""
        out: dict[str, Senses] = {}
        missing: list[tuple[str, list[str]]] = []
        for word in dict.fromkeys(w for w in words if w not in FUNCTION_WORDS):
            with self._lock:
                cached = self._vectors.get(word)
                if cached is not None:
                    self._vectors.move_to_end(word)
            if cached is not None:
                out[word] = cached
            elif len(found := self.translations(word)) > 1:
                missing.append((word, found))
        if not missing:
            return out
        texts = [text for word, found in missing for text in (word, *found)]
        # In slices: one run over hundreds of short texts holds a large buffer at its peak.
        vectors = np.concatenate(
            [self._encode(texts[i : i + ENCODE_BATCH]).astype(np.float16) for i in range(0, len(texts), ENCODE_BATCH)]
        )
        start = 0
        for word, found in missing:
            out[word] = (found, vectors[start + 1 : start + 1 + len(found)], vectors[start])
            start += 1 + len(found)
        with self._lock:
            for word, _ in missing:
                self._vectors[word] = out[word]
            while len(self._vectors) > CACHE_WORDS:
                self._vectors.popitem(last=False)
        return out

    def _choose(self, word: str, context: np.ndarray | None, senses: dict[str, Senses]) -> str | None:
        word = word.lower()
        if word not in FUNCTION_WORDS and (parts := self.parts(word)):
            # Each part's sense on its own: "E-Mail-Rechnung" is "e-mail invoice", which the
            # first few senses of each, paired, would miss ("Rechnung": invoice is its 6th).
            return " ".join(self._choose_sense(part, context, senses) or part for part in parts)
        return self._choose_sense(word, context, senses)

    def _choose_sense(self, word: str, context: np.ndarray | None, senses: dict[str, Senses]) -> str | None:
        """The translation the multilingual encoder finds closest to the word itself and,
        with `context` (the query's vector), to what the whole query says: "weiß" is
        "know" in "ich weiß nicht", "white" in "weiß lackiert". `senses`: from _senses,
        which this looks the word up in (the cache may have let it go meanwhile)."""
        word = word.lower()
        if word in FUNCTION_WORDS:
            return FUNCTION_WORDS[word]
        found = self.translations(word)
        if len(found) <= 1:
            return found[0] if found else None
        entry = senses.get(word) or self._senses([word])[word]
        found, vectors, own = entry
        target = own.astype(np.float32)
        if context is not None:
            target = target + CONTEXT_WEIGHT * context
        return found[int(np.argmax(vectors.astype(np.float32) @ target))]

    def word(self, word: str, context: np.ndarray | None = None, senses: dict[str, Senses] | None = None) -> str | None:
        """A word's English (None if the dictionary lacks it); a hyphenated word's parts'."""
        senses = {} if senses is None else senses
        english = self._choose(word, context, senses)
        if english is None and "-" in word:
            parts = [p for p in word.split("-") if p]
            return " ".join(self._choose(p, context, senses) or p for p in parts)
        return english

    def gloss(self, text: str, context: np.ndarray | None = None) -> str | None:
        """`text` in English (`render`) if it is German (`is_german`), else None."""
        return self.render(text, context) if self.is_german(text) else None

    def senses(self, text: str) -> dict[str, Senses]:
        """The senses of the words of `text` that have several, embedding those not cached:
        the router computes them beside the multilingual encoder's reading of `text` and
        hands them to `render`."""
        words = [t.lower() for t in _TOKEN_RE.findall(text[:MAX_CHARS]) if t[0].isalpha()]
        pieces = [piece for word in words for piece in (word, *word.split("-")) if piece]
        return self._senses([part for piece in pieces for part in (piece, *(self.parts(piece) or ()))])

    def render(self, text: str, context: np.ndarray | None = None, senses: dict[str, Senses] | None = None) -> str:
        """`text` with every word the dictionary knows in English, the rest as it stands.
        `context`: the multilingual encoder's vector of `text`, if already computed;
        `senses`: `senses(text)`, if already computed."""
        tokens = _TOKEN_RE.findall(text[:MAX_CHARS])
        if senses is None:
            senses = self.senses(text)
        if context is None:
            context = self._encode([text])[0]
        out = []
        for token in tokens:
            english = self.word(token, context, senses) if token[0].isalpha() else None
            out.append(english if english is not None else token)
        return " ".join(out)

    def is_german(self, text: str) -> bool:
        """Whether the dictionary knows at least MIN_COVERAGE of the words of `text` and at
        least MIN_GERMAN of them are no English words (no encoder runs)."""
        # What the encoders read of a text, no more: a long message costs no more lookups.
        words = [t for t in _TOKEN_RE.findall(text[:MAX_CHARS]) if t[0].isalpha()]
        known = [word for word in words if self._known(word)]
        if not words or len(known) < MIN_COVERAGE * len(words):
            return False
        return sum(not self.english(word.lower()) for word in known) >= MIN_GERMAN * len(words)

    def _is_english(self, word: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM english WHERE word = ?", (word,)).fetchone() is not None

    def _known(self, word: str) -> bool:
        pieces = [word, *word.split("-")] if "-" in word else [word]
        return any(self.translations(piece.lower()) or self.parts(piece.lower()) for piece in pieces if piece)


_glossaries: dict[tuple[str, int], Glossary | None] = {}
_lock = threading.Lock()


def get_glossary(path: str, encoder: Encoder) -> Glossary | None:
    """The process's glossary at `path` (None when `path` is empty or missing), its sense
    choices made by `encoder` (a multilingual one)."""
    key = (path, id(encoder))
    if key in _glossaries:
        return _glossaries[key]
    with _lock:
        if key not in _glossaries:
            glossary = None
            if path and Path(path).is_file():
                try:
                    glossary = Glossary(Path(path), encoder.encode)
                    glossary.check()
                    log.info("German glossary loaded from %s", path)
                except sqlite3.Error as exc:
                    # A damaged or outdated file must not fail turns: route without it.
                    glossary = None
                    log.warning("German glossary %s unusable (%s; run make glossary): not glossing", path, exc)
            elif path:
                log.info("no German glossary at %s (make glossary): German queries are not glossed", path)
            _glossaries[key] = glossary
    return _glossaries[key]
