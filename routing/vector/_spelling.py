"""Typo repair for the vector router: a query word that no dictionary knows and that is one
or two edits away from exactly one word of the channel's agent texts becomes that word
("acount" → "account", "pamyent" → "payment", "newsleter" → "newsletter").

Embedding models split an unknown word into pieces that mean something else ("acount"
→ "ac" + "##ount"), so one typo in the word that names the topic loses the query. Only
words of the registry are targets: a German word or a name is never turned into some other
English word, and a word either encoder knows is never touched. Fitted on the lmos-router
train.csv: +0.7 points of accuracy (the dataset has typos in ~8 % of its queries).

Lookup is by deletions (a word and its candidates share a string with at most `edits`
letters deleted), so a query costs a few dictionary lookups whatever the registry's size.
"""

from __future__ import annotations

import re

from routing.vector._vocab import known_words
from routing.vector.params import MIN_WORD, TWO_EDITS_FROM

WORD_RE = re.compile(r"[^\W\d_]+")
_SUFFIXES = ("s", "es", "ed", "d", "ing", "ly")


def _is_known(word: str, known: frozenset[str], targets: set[str]) -> bool:
    if word in known or word in targets:
        return True
    for suffix in _SUFFIXES:
        stem = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem) < MIN_WORD:
            continue
        # "invoices", "refunded", "resetting" (a doubled consonant before -ing/-ed).
        if stem in known or (stem[-1] == stem[-2] and stem[:-1] in known):
            return True
    return False


def _deletes(word: str, edits: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(edits):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a swap of two neighbours is one edit)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


class Speller:
    def __init__(self, texts: list[str]) -> None:
        self.targets = {w for text in texts for w in WORD_RE.findall(text.lower()) if len(w) >= MIN_WORD}
        self.by_delete: dict[str, set[str]] = {}
        for word in self.targets:
            for key in _deletes(word, _edits(word)):
                self.by_delete.setdefault(key, set()).add(word)

    def correct(self, text: str) -> str:
        if not self.targets:
            return text
        known = known_words()

        def fix(match: re.Match) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < MIN_WORD or _is_known(lower, known, self.targets):
                return word
            edits = _edits(lower)
            candidates = set()
            for key in _deletes(lower, edits):
                candidates |= self.by_delete.get(key, set())
            scored = sorted((distance(lower, c), c) for c in candidates)
            scored = [(d, c) for d, c in scored if d <= edits]
            # Only an unambiguous repair: two targets equally close could mean either.
            if not scored or (len(scored) > 1 and scored[1][0] == scored[0][0]):
                return word
            return scored[0][1]

        return WORD_RE.sub(fix, text)


def _edits(word: str) -> int:
    return 2 if len(word) >= TWO_EDITS_FROM else 1
