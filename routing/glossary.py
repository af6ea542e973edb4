"""A German query glossed into English word by word, for the vector router.

The English-only encoder (MiniLM) cannot read German, and the multilingual one (USE) ranks
German queries less well than English ones (docs/routing.md). A word-by-word gloss — "Ich
will eine Reklamation einreichen" -> "I want a complaint submit" — is bad English but
good enough for both encoders, and the router blends its ranking with that of the
original query (vector strategy). The words come from FreeDict's German-English
dictionary, built into a SQLite file by scripts/build_glossary.py (`make glossary`);
without the file there is no gloss and the router works as before.

A dictionary lists many senses ("Rechnung": reckoning, account, bill, invoice, ...). The
multilingual encoder picks the one closest to the German word itself, which is what a
bilingual reader would do without context.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from routing.embeddings import Encoder

log = logging.getLogger(__name__)

# Words (or hyphenated words) and the punctuation between them.
_TOKEN_RE = re.compile(r"\w+(?:-\w+)*|[^\w\s]")
# A query is glossed only when at least this share of its words is German the dictionary
# knows: another language (or English that looked foreign) is left alone.
MIN_COVERAGE = 0.6
# Parts of a compound word the dictionary lacks are looked up from this length on.
MIN_PART = 3
# German compounds join their parts with these letters ("Kunde-n-konto").
_LINKS = ("", "s", "n", "en", "es", "e")
# Words whose translations and their vectors are kept per process (~7 KB each).
CACHE_WORDS = 2_000
# Weight of the query's vector against the word's own when choosing a sense (fitted on
# benchmarks/german_dev.py: 0 -> 0.818, 0.5 -> 0.833, 1 -> 0.833 routed, descriptions only).
CONTEXT_WEIGHT = 0.5


class Glossary:
    def __init__(self, path: Path, encode: Callable[[list[str]], np.ndarray]) -> None:
        # Read-only and shared by the threads of the process: sqlite serialises access.
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._encode = encode
        self.senses = lru_cache(maxsize=CACHE_WORDS)(self._senses)

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

    def translations(self, word: str) -> list[str]:
        """The dictionary's English for a German word or its base form; for a compound it
        lacks, its parts' ("Kreditkartenzahlung" -> "credit card" + "payment")."""
        lower = word.lower()
        found = self._lookup(lower)
        if found or len(lower) < 2 * MIN_PART:
            return found
        # The longest known last part, then the rest.
        for cut in range(MIN_PART, len(lower) - MIN_PART + 1):
            head, tail = lower[:cut], lower[cut:]
            tail_words = self._lookup(tail)
            if not tail_words:
                continue
            for link in _LINKS:
                if link and not head.endswith(link):
                    continue
                stem = head[: len(head) - len(link)] if link else head
                head_words = self._lookup(stem) if len(stem) >= MIN_PART else []
                if head_words:
                    return [f"{self._choose(stem, None)} {self._choose(tail, None)}"]
            return []
        return []

    def _senses(self, word: str) -> tuple[list[str], np.ndarray, np.ndarray] | None:
        """The word's translations with their vectors and its own (cached per word)."""
        found = self.translations(word)
        if not found:
            return None
        vectors = self._encode([word, *found]).astype(np.float16)
        return found, vectors[1:], vectors[0]

    def _choose(self, word: str, context: np.ndarray | None) -> str | None:
        """The translation the multilingual encoder finds closest to the word itself and,
        with `context` (the query's vector), to what the whole query says: "weiß" is
        "know" in "ich weiß nicht", "white" in "weiß lackiert"."""
        senses = self.senses(word.lower())
        if senses is None:
            return None
        found, vectors, own = senses
        target = own.astype(np.float32) if context is None else own + CONTEXT_WEIGHT * context
        return found[int(np.argmax(vectors.astype(np.float32) @ target))]

    def word(self, word: str, context: np.ndarray | None = None) -> str | None:
        english = self._choose(word, context)
        if english is None and "-" in word:
            parts = [p for p in word.split("-") if p]
            return " ".join(self._choose(p, context) or p for p in parts)
        return english

    def gloss(self, text: str) -> str | None:
        """`text` with every German word the dictionary knows in English; None when too
        few of its words are known (not German, or not words)."""
        tokens = _TOKEN_RE.findall(text)
        words = [t for t in tokens if t[0].isalpha()]
        known = sum(self._known(word) for word in words)
        if not words or known < MIN_COVERAGE * len(words):
            return None
        context = self._encode([text])[0]
        out = []
        for token in tokens:
            english = self.word(token, context) if token[0].isalpha() else None
            out.append(english if english is not None else token)
        return " ".join(out)

    def _known(self, word: str) -> bool:
        if "-" in word:
            return any(self.senses(part.lower()) is not None for part in word.split("-") if part)
        return self.senses(word.lower()) is not None


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
                glossary = Glossary(Path(path), encoder.encode)
                log.info("German glossary loaded from %s", path)
            elif path:
                log.info("no German glossary at %s (make glossary): German queries are not glossed", path)
            _glossaries[key] = glossary
    return _glossaries[key]
