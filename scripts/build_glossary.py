"""Build the router's German-English glossary (routing/vector/_glossary.py) from FreeDict's
German-English dictionary in dictd format (Debian package dict-freedict-deu-eng: the Ding
dictionary, GPL) and simplemma's German word forms (so that "möchte" finds "mögen").

    python scripts/build_glossary.py [--source DIR | --fetch] [--out FILE]

DIR holds freedict-deu-eng.index and freedict-deu-eng.dict.dz (default /usr/share/dictd,
where the Debian package installs them); --fetch downloads the package with apt-get
instead (no root needed) when it is not installed.

The result is a SQLite file of three tables: words (German word -> English translations,
in the dictionary's order), forms (inflected form -> base form) and english (English words
and word forms, which tell an English query from a German one). `make glossary` runs this
with --fetch; without the file the router works without its German path.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "var" / "glossary" / "de-en.sqlite"
NAME = "freedict-deu-eng"
PACKAGE = "dict-freedict-deu-eng"
# Translations kept per word: enough for the senses in common use.
MAX_TRANSLATIONS = 12
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Lines of an entry that are not its translations.
_NOT_TRANSLATION = ('"', "Synonym", "see:", "Note:")
# Senses a customer would not mean.
_UNUSUAL = re.compile(r"\[(archaic|obs\.|dated|rare|slang|vulg\.|pej\.|humor\.|poet\.|Br\. dialect)\]")
# "order sth. from sb." -> "order from"
_OBJECTS = re.compile(r"(?<!\w)(sb|sth|sb\.'s|sth\.'s|one's)(\.|\b)")
# Objects and reflexives before a German verb: "etw. abbestellen", "sich anmelden".
_GERMAN_OBJECTS = re.compile(r"^((etw|jdn|jdm|jds)\.?\s+|\(?sich\)?\s+|\(etw\.?\)\s+)+")
_IPA = re.compile("[ˈˌːəɪʊɛɔæʃʒθðŋɑɒʌɜɡɾʁɐ]")
_MARKUP = re.compile(r"\[[^\]]*\]|<[^>]*>|/[^/]*/|\([^)]*\)|\{[^}]*\}")
# An abbreviation's pronunciation, after the abbreviation and a comma. The conversion to dictd
# glued the abbreviation to the sense it stands for: "people <n>ppl.,  /pˌeːpˌeːˈɛl/",
# "peopleppl,  /…/", "United States of AmericaUSA,  /ˈuːzɑː/" (4,300 entries).
_SPOKEN = re.compile(r",\s+/([^/]*)/")
_LABELS = re.compile(r"\s*(\[[^\]]*\]\s*)*")
# Longest abbreviation cut off a sense it is glued to without a tag ("peopleppl").
MAX_ABBREVIATION = 5


def _number(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + _B64.index(char)
    return value


def _unabbreviated(sense: str, english: frozenset[str]) -> str:
    """`sense` without the abbreviation glued to its end ("" if it is one)."""
    labels = _LABELS.match(sense).group(0)
    body = sense[len(labels) :].rstrip(" .")
    tagged = re.match(r"(.*\S\s*[>\]])\s*\S+$", body)
    if tagged:
        # "people <n>ppl", "motorway <n> [Br.] M"
        return labels + tagged.group(1)
    head, _, last = body.rpartition(" ")
    if boundary := re.search(r"[a-z][A-Z]", last):
        # "AmericaUSA"
        return labels + f"{head} {last[: boundary.start() + 1]}".strip()
    for cut in range(len(last) - 1, max(3, len(last) - MAX_ABBREVIATION - 1), -1):
        if last[:cut].lower() in english:
            # "peopleppl"
            return labels + f"{head} {last[:cut]}".strip()
    # An abbreviation alone ("retd." after "retiredret.") or one that cannot be told apart.
    return ""


def _without_abbreviations(line: str, english: frozenset[str]) -> str:
    out, start = [], 0
    for spoken in _SPOKEN.finditer(line):
        if not _IPA.search(spoken.group(1)):
            continue
        text = line[start : spoken.start()]
        cut = max(text.rfind(","), text.rfind(";")) + 1
        out.append(text[:cut] + _unabbreviated(text[cut:], english) + ",")
        start = spoken.end()
    out.append(line[start:])
    return "".join(out)


def translations(entry: str, english: frozenset[str] = frozenset()) -> list[str]:
    """The translations on an entry's first translation line (its first line is the
    headword with pronunciation and part of speech). `english`: English words, which tell
    where an abbreviation glued to a sense starts."""
    for line in entry.split("\n")[1:]:
        line = line.strip()
        if not line or line.startswith(_NOT_TRANSLATION):
            continue
        line = _without_abbreviations(line, english)
        out = []
        for part in re.split(r"[,;]", _MARKUP.sub(" ", _UNUSUAL.sub(" \x00 ", line))):
            # Pronunciations the markup pattern missed ("Wi-Fi/WiFi /vˈiː fˈiː/" pairs the wrong slashes).
            words = " ".join(w for w in _OBJECTS.sub(" ", part).split() if not _IPA.search(w)).strip(" .…/")
            if words and "\x00" not in part and len(words) < 40:
                out.append(words)
        return out
    return []


def headword(entry: str) -> str:
    """The entry's headword as written ("E-Mail"; the index keeps "email"), without the
    objects before a verb ("etw. abbestellen") or a trailing ellipsis ("Abfall…")."""
    first = entry.split("\n", 1)[0]
    return _GERMAN_OBJECTS.sub("", re.split(r"\s+[/<]", first, maxsplit=1)[0].strip()).strip(" …")


def read_dictd(source: Path, english: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    data = gzip.open(source / f"{NAME}.dict.dz").read()
    words: dict[str, list[str]] = {}
    with open(source / f"{NAME}.index", encoding="utf-8") as index:
        for line in index:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[0].startswith("00-"):
                continue
            start, length = _number(parts[1]), _number(parts[2])
            entry = data[start : start + length].decode("utf-8", "replace")
            # The index keys an entry by its headword without hyphens or dots ("email"), and
            # by abbreviations of it ("abb" for "Abbildung", "a" for "Ampere"): the headword
            # is the key, and the index's too where it is the same word run together.
            head = headword(entry).lower()
            keys = [head]
            if parts[0] != head and parts[0] == re.sub(r"[^\w ]", "", head):
                keys.append(parts[0])
            texts = translations(entry, english)
            # Only single words: a query is glossed word by word.
            for key in (k for k in keys if k and " " not in k):
                found = words.setdefault(key, [])
                found.extend(t for t in texts if t not in found)
                del found[MAX_TRANSLATIONS:]
    return {word: found for word, found in words.items() if found}


def read_forms(known: dict[str, list[str]]) -> dict[str, str]:
    """Inflected form -> base form (that the dictionary has): "weiß" -> "wissen" as well as
    the adjective "weiß"."""
    from simplemma.strategies.dictionaries.dictionary_factory import DefaultDictionaryFactory

    forms: dict[str, str] = {}
    for form, lemma in DefaultDictionaryFactory().get_dictionary("de").items():
        form, lemma = str(form).lower(), str(lemma).lower()
        if form != lemma and lemma in known:
            forms[form] = lemma
    return forms


def read_english() -> frozenset[str]:
    """English words and word forms (simplemma's English table): a query made of them is
    English, however many of them German has too ("so", "was", "will", "problem")."""
    from simplemma.strategies.dictionaries.dictionary_factory import DefaultDictionaryFactory

    table = DefaultDictionaryFactory().get_dictionary("en")
    return frozenset(str(word).lower() for pair in table.items() for word in pair)


def build(source: Path, out: Path) -> tuple[int, int]:
    english = read_english()
    words = read_dictd(source, english)
    forms = read_forms(words)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, translations TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE forms (form TEXT PRIMARY KEY, lemma TEXT NOT NULL) WITHOUT ROWID")
    db.executemany("INSERT INTO words VALUES (?, ?)", ((w, "\t".join(t)) for w, t in words.items()))
    db.executemany("INSERT INTO forms VALUES (?, ?)", forms.items())
    db.execute("CREATE TABLE english (word TEXT PRIMARY KEY) WITHOUT ROWID")
    db.executemany("INSERT INTO english VALUES (?)", ((word,) for word in english))
    db.commit()
    db.execute("VACUUM")
    db.close()
    # Readers never see a half-written file.
    partial.replace(out)
    return len(words), len(forms)


def fetch(into: Path) -> Path:
    """Download and unpack Debian's dict-freedict-deu-eng into `into`; the dictd folder."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise RuntimeError("apt-get and dpkg-deb are needed to fetch the dictionary (Debian or Ubuntu)")
    subprocess.run(["apt-get", "download", "-q", PACKAGE], cwd=into, check=True, capture_output=True)
    (deb,) = into.glob(f"{PACKAGE}_*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into / "root")], check=True)
    return into / "root" / "usr" / "share" / "dictd"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=Path("/usr/share/dictd"))
    parser.add_argument("--fetch", action="store_true", help=f"download {PACKAGE} if it is not installed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        source = args.source
        if not (source / f"{NAME}.index").exists() and args.fetch:
            try:
                source = fetch(Path(scratch))
            except (RuntimeError, subprocess.CalledProcessError, ValueError) as exc:
                detail = getattr(exc, "stderr", b"") or b""
                print(f"could not fetch {PACKAGE}: {exc} {detail.decode(errors='replace').strip()}", file=sys.stderr)
                return 1
        if not (source / f"{NAME}.index").exists():
            print(f"no {NAME} dictionary in {source}", file=sys.stderr)
            return 1
        n_words, n_forms = build(source, args.out)
    print(f"glossary: {n_words} words, {n_forms} word forms -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
