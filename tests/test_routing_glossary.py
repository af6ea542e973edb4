"""The German glossary of the vector router (scripts/build_glossary.py, routing/vector/_glossary.py)
on a small dictionary in FreeDict's dictd format, with the real models."""

from __future__ import annotations

import gzip
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from routing.vector import Gate, build_index, get_embedder, rankings
from routing.vector._glossary import Glossary
from tests.test_routing_tokens import registry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import build_glossary

# Headword -> entry body, as FreeDict's Ding dictionary writes them (first line: the
# headword, pronunciation and part of speech; then the translations; then notes).
ENTRIES = {
    "Ich": "Ich /ɪç/ <pron>\nI <pron, pers>, me <pron>\n",
    "mögen": 'mögen /ˈmøːɡn̩/ <v>\nlike <v>, want <v>, may\n      "Ich mag das."  - I like it.\n',
    "ein": "ein /aɪn/ <art>\na, an, one\n",
    "neu": "neu /nɔʏ/ <adj>\nnew <adj>, fresh, recent\n   Synonym: {frisch}\n",
    "Kunde": "Kunde /ˈkʊndə/ <masc, n, sg>\n [econ.] customer <n>, client <n>\n",
    "Konto": "Konto /ˈkɔnto/ <neut, n, sg>\n [fin.] account <n>\n see: {Konten}\n",
    "anlegen": "anlegen /ˈanleːɡn̩/ <v>\ncreate sth. <v>, set up sth., invest [fin.]\n",
    "Rechnung": "Rechnung /ˈʁɛçnʊŋ/ <fem, n, sg>\n [econ.] reckoning <n> [archaic], bill, invoice\n",
    "etw abbestellen": "etw. abbestellen /ˈapbəʃtɛlən/ <v>\ncancel sth. <v>\n",
    "Kuchen": "Kuchen /ˈkuːxn̩/ <masc, n, sg>\n [cook.] cake <n>, cakes, kuchen <n>\n",
    # A slash in the translation that pairs with the pronunciation's.
    "WLAN": "WLAN /veːlaːn/ <neut, n, sg>\n wireless LAN <n>, Wi-Fi/WiFi /vˈiː fˈiː/\n",
    # Abbreviations glued to the sense they abbreviate, followed by their pronunciation.
    "Leute": "Leute /ˈlɔɪ̯tə/ <pl>\n [soc.] peopleppl,  /pˌeːpˌeːˈɛl/ , folk [Am.]\n",
    "USA": "USA /uːʔɛsˈʔaː/ <pl>\n [geogr.] United States of AmericaUSA,  /ˈuːzɑː/\n",
    "Konto2": "Konto2 /ˈkɔnto/ <neut, n, sg>\n [econ.] account <n>acc.,  /ˈak/ acct.,  /ˈakt/, bill\n",
    # The index keys an entry by its headword run together ("email" for "E-Mail"), and by
    # abbreviations of it ("abb" for "Abbildung").
    "email": "E-Mail /ˈeːmeːl/ <fem, n, sg>\nelectronic mail <n>, e-mail <n>\n",
    "abb": "Abbildung /ˈapbɪldʊŋ/ <fem, n, sg>\nfigure <n>, illustration <n>\n",
    "werben": "werben /ˈvɛʁbn̩/ <v>\nadvertise <v>, recruit <v>\n",
    # German words that are English words too.
    "Problem": "Problem /pʁoˈbleːm/ <neut, n, sg>\nproblem <n>, issue\n",
    "so": "so /zoː/ <adv>\nso, thus, like this\n",
    "was": "was /vas/ <pron>\nwhat <pron>\n",
    # "weiß" is the adjective and a form of "wissen".
    "weiß": "weiß /vaɪ̯s/ <adj>\nwhite <adj>\n",
    "wissen": "wissen /ˈvɪsn̩/ <v>\nknow <v>\n",
}


def write_dictd(folder: Path, entries: dict[str, str]) -> Path:
    """A dictd dictionary (index + gzip data) as the Debian package installs it."""

    def b64(n: int) -> str:
        digits = ""
        while True:
            digits = build_glossary._B64[n % 64] + digits
            n //= 64
            if not n:
                return digits

    data, index = b"", []
    for head, body in [("00-database-info", "about this dictionary\n"), *entries.items()]:
        raw = body.encode()
        index.append(f"{head.lower()}\t{b64(len(data))}\t{b64(len(raw))}")
        data += raw
    (folder / f"{build_glossary.NAME}.index").write_text("\n".join(index) + "\n", encoding="utf-8")
    with gzip.open(folder / f"{build_glossary.NAME}.dict.dz", "wb") as out:
        out.write(data)
    return folder


@pytest.fixture(scope="module")
def glossary_file(tmp_path_factory) -> Path:
    folder = write_dictd(tmp_path_factory.mktemp("dictd"), ENTRIES)
    out = folder / "de-en.sqlite"
    assert build_glossary.main(["--source", str(folder), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture(scope="module")
def glossary(glossary_file, embedder) -> Glossary:
    (use,) = [encoder for encoder in embedder.encoders if encoder.multilingual]
    return Glossary(glossary_file, use.encode)


def test_build_keeps_translations_and_word_forms(glossary_file):
    db = sqlite3.connect(glossary_file)
    words = dict(db.execute("SELECT word, translations FROM words"))
    # Markup, notes, examples and archaic senses are dropped; "etw." before a verb too.
    assert words["rechnung"].split("\t") == ["bill", "invoice"]
    assert words["anlegen"].split("\t") == ["create", "set up", "invest"]
    assert words["abbestellen"] == "cancel"
    assert words["ich"].split("\t") == ["I", "me"]
    assert words["wlan"].split("\t") == ["wireless LAN", "Wi-Fi"]
    assert words["leute"].split("\t") == ["people", "folk"]
    assert words["usa"] == "United States of America"
    assert words["konto2"].split("\t") == ["account", "bill"]
    # Keyed by the headword as written, and run together; not by an abbreviation.
    assert words["e-mail"] == words["email"] == "electronic mail\te-mail"
    assert words["abbildung"] == "figure\tillustration" and "abb" not in words
    assert "00-database-info" not in words
    # Inflected forms point at base forms the dictionary has (simplemma's German forms).
    forms = dict(db.execute("SELECT form, lemma FROM forms"))
    assert forms["möchte"] == "mögen"
    assert forms["neues"] == "neu"


def test_missing_dictionary_is_a_clear_error(tmp_path, capsys):
    assert build_glossary.main(["--source", str(tmp_path), "--out", str(tmp_path / "x.sqlite")]) == 1
    assert "no freedict-deu-eng dictionary" in capsys.readouterr().err
    assert not (tmp_path / "x.sqlite").exists()


def test_gloss_translates_words_forms_and_compounds(glossary):
    gloss = glossary.gloss("Ich möchte ein neues Kundenkonto anlegen")
    assert gloss is not None
    words = gloss.split()
    # Every word is English now: closed-class words from the fixed table ("ich": "I", not
    # the encoder's pick of "I" or "me"), "neues" through its base form "neu", and the
    # compound the dictionary lacks from its parts.
    assert words[:4] == ["I", "would", "like", "a"]
    assert "customer account" in gloss or "client account" in gloss
    assert "new" in words and "create" in words
    assert not {"Ich", "möchte", "neues", "Kundenkonto", "anlegen"} & set(words)
    # A compound splits at a hyphen too ("Werbe" + "E-Mails", a form of "E-Mail"), and each
    # part is glossed on its own, from all its senses.
    assert glossary.parts("werbe-e-mails") == ("werbe", "e-mails") and glossary.translations("werbe-e-mails") == []
    assert glossary.parts("kundenkonto") == ("kunden", "konto") and glossary.parts("konto") is None
    gloss = glossary.gloss("Ich möchte Werbe-E-Mails abbestellen")
    assert gloss is not None and "mail" in gloss and ("advertise" in gloss or "recruit" in gloss)
    english = glossary.render("E-Mail-Rechnung")
    assert "mail" in english and english.split()[-1] in ("bill", "invoice")
    # The multilingual encoder picks the sense; the dictionary's archaic one is gone.
    assert glossary.gloss("Rechnung") in ("bill", "invoice")
    # A German word kept as its own "translation" is no English (the encoder would pick it).
    assert glossary.gloss("Kuchen") in ("cake", "cakes")
    assert glossary.gloss("Problem Konto") == "problem account"


def test_wissen_is_glossed_like_a_modal_verb(glossary):
    # "Ich weiß nicht, wie ..." opens many requests; the encoder, choosing between the
    # adjective's "white" and the verb's "know", took "white".
    assert set(glossary.translations("weiß")) == {"white", "know"}
    assert glossary.gloss("Ich weiß nicht") == "I know not"
    assert glossary.render("Weißt du das?") == "know you the ?"


def test_threads_glossing_at_once_with_a_tiny_cache_agree(glossary_file, embedder, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from routing.vector import _glossary as glossary_module

    # Words are evicted while other threads read them: no deadlock, the same glosses.
    monkeypatch.setattr(glossary_module, "CACHE_WORDS", 2)
    (use,) = [encoder for encoder in embedder.encoders if encoder.multilingual]
    shared = Glossary(glossary_file, use.encode)
    texts = ["Ich möchte ein neues Kundenkonto anlegen", "Rechnung", "Kuchen", "so was Problem Konto"] * 10
    expected = [Glossary(glossary_file, use.encode).gloss(text) for text in texts]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(shared.gloss, text) for text in texts]
        assert [future.result(timeout=60) for future in futures] == expected
    assert len(shared._vectors) <= 2


def test_a_long_message_is_glossed_as_far_as_the_encoders_read(glossary):
    gloss = glossary.gloss("Ich möchte ein neues Kundenkonto anlegen. " * 500)
    assert gloss is not None and len(gloss) < 1500


def test_text_the_dictionary_does_not_cover_or_that_is_english_is_not_glossed(glossary):
    assert glossary.gloss("Where can I find my invoice?") is None
    # The dictionary knows every word, but they are English words too: English.
    assert glossary.gloss("so was Problem") is None
    # One in four that English lacks makes it German.
    assert glossary.gloss("so was Problem Konto") == "so what problem account"
    assert glossary.gloss("12345 ?!") is None
    assert glossary.gloss("") is None


def test_glossed_german_query_is_routed_more_surely_and_english_ones_are_untouched(glossary_file, embedder, settings):
    index = build_index(registry(), embedder)
    german, english = "Ich möchte ein neues Kundenkonto anlegen", "I would like to create a new customer account"

    def lead(ranking) -> float:
        (_, first), (_, second) = ranking.top(2)
        return first - second

    settings.ROUTER_GLOSSARY = ""
    plain_de, plain_en = rankings(embedder, index, [german, english])
    settings.ROUTER_GLOSSARY = str(glossary_file)
    glossed_de, glossed_en = rankings(embedder, index, [german, english])
    # The German query is glossed: the right agent, ahead of the runner-up by more than
    # without the gloss, and more relevant.
    assert glossed_de.best == "account-agent"
    plain_lead = plain_de.score_of("account-agent") - max(s for a, s in plain_de.scores if a != "account-agent")
    assert lead(glossed_de) > plain_lead + 0.03
    assert glossed_de.relevance > plain_de.relevance + 0.05
    # The decision's reason says how the query was read.
    agent, reason = Gate(threshold=0.2, margin=0.0).judge(glossed_de)
    assert agent == "account-agent"
    assert f'read as German: "{glossed_de.gloss}"' in reason and "account" in glossed_de.gloss
    assert plain_de.gloss is None and "German" not in Gate(threshold=0.2, margin=0.0).judge(plain_de)[1]
    # An English query is not glossed at all. (Its scores are the same up to what the batch
    # beside it changes: MiniLM's int8 products quantize activations, which makes a text's
    # vector depend on its batch in the 4th digit.)
    assert glossed_en.gloss is None
    assert dict(glossed_en.scores) == pytest.approx(dict(plain_en.scores), abs=2e-3)
    assert glossed_en.relevance == pytest.approx(plain_en.relevance, abs=2e-3)


def test_the_english_only_encoder_reads_the_gloss_not_the_german(glossary_file, embedder, settings, monkeypatch):
    (minilm,) = [encoder for encoder in embedder.encoders if not encoder.multilingual]
    seen: list[str] = []
    original = minilm.encode_with_tokens

    def spy(texts, **kwargs):
        seen.extend(texts)
        return original(texts, **kwargs)

    index = build_index(registry(), embedder)
    monkeypatch.setattr(minilm, "encode_with_tokens", spy)
    settings.ROUTER_GLOSSARY = str(glossary_file)
    german, english = "Ich möchte ein neues Kundenkonto anlegen", "I forgot my password"
    glossed, plain = rankings(embedder, index, [german, english])
    # It would find nothing in German (and get no say): it runs on the gloss and on English.
    assert german not in seen and glossed.gloss in seen and english in seen
    assert glossed.best == "account-agent" and plain.best == "account-agent"


def test_the_german_original_is_read_for_its_sentence_vector_only(glossary_file, embedder, settings, monkeypatch):
    """Beside MiniLM its tokens would never count (token matching is off for a query in
    another language than the descriptions), so USE computes no token features for it."""
    (use,) = [encoder for encoder in embedder.encoders if encoder.multilingual]
    sentences: list[str] = []
    with_tokens: list[str] = []
    encode, encode_with_tokens = use.encode, use.encode_with_tokens

    def spy_encode(texts):
        sentences.extend(texts)
        return encode(texts)

    def spy_tokens(texts, **kwargs):
        with_tokens.extend(texts)
        return encode_with_tokens(texts, **kwargs)

    index = build_index(registry(), embedder)
    monkeypatch.setattr(use, "encode", spy_encode)
    monkeypatch.setattr(use, "encode_with_tokens", spy_tokens)
    settings.ROUTER_GLOSSARY = str(glossary_file)
    german, english = "Ich möchte ein neues Kundenkonto anlegen", "I forgot my password"
    glossed, plain = rankings(embedder, index, [german, english])
    assert german in sentences and german not in with_tokens
    # The gloss and English queries keep their tokens.
    assert glossed.gloss in with_tokens and english in with_tokens
    assert glossed.best == "account-agent" and plain.best == "account-agent"


def test_a_damaged_glossary_file_is_ignored_not_fatal(tmp_path, embedder, settings, caplog):
    from routing.vector._glossary import get_glossary

    (use,) = [encoder for encoder in embedder.encoders if encoder.multilingual]
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database" * 100)
    outdated = tmp_path / "outdated.sqlite"
    sqlite3.connect(outdated).execute("CREATE TABLE words (word TEXT, translations TEXT)")
    for path in (damaged, outdated):
        assert get_glossary(str(path), use) is None
    assert "unusable" in caplog.text
    assert get_glossary(str(tmp_path / "missing.sqlite"), use) is None
    # The router still answers German queries, without the gloss.
    settings.ROUTER_GLOSSARY = str(damaged)
    index = build_index(registry(), embedder)
    (ranking,) = rankings(embedder, index, ["Ich möchte ein neues Kundenkonto anlegen"])
    assert len(ranking.scores) == len(index.agents) and ranking.gloss is None


def test_new_words_senses_are_embedded_beside_the_reading_of_the_query(glossary_file, embedder, settings, monkeypatch):
    threads: list[str] = []
    original = Glossary.senses

    def spy(self, text):
        threads.append(threading.current_thread().name)
        return original(self, text)

    monkeypatch.setattr(Glossary, "senses", spy)
    settings.ROUTER_GLOSSARY = str(glossary_file)
    index = build_index(registry(), embedder)
    (ranking,) = rankings(embedder, index, ["Ich möchte ein neues Kundenkonto anlegen"])
    # On the encoders' second thread, while the calling one reads the German original.
    assert ranking.gloss and threads and all(name.startswith("embed") for name in threads)
