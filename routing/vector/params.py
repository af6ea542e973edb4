"""Every tunable number of the vector router, in one place.

Each says what it does and what it was fitted on. "All suites" means the fitting splits of
every routing suite together (lmos-router train.csv, CLINC150 dev.csv, Banking77 dev.csv,
the German dev renderings), fitted by benchmarks/fit_routing.py; test splits are never
fitted on.
"""

from __future__ import annotations

# --- scoring (_index.py) ---------------------------------------------------------------
# Share of an agent's best-matching text in its sentence score (the rest is the centroid of
# its texts), registries of descriptions only / with examples. All suites.
MAX_WEIGHT = 0.4
MAX_WEIGHT_WITH_EXAMPLES = 0.8
# The same share in the query's relevance (the abstention score) and each encoder's say.
RELEVANCE_MAX_WEIGHT = 0.8
# An encoder's say in the ensemble is its best relevance to this power. All suites.
CONFIDENCE_POWER = 2.0
# Agents whose token scores are computed (the best by sentence score).
RERANK_TOP = 8
# Share of the token score in an agent's score, per encoder: descriptions only / with
# examples (declared or learned). All suites.
TOKEN_WEIGHT = {"minilm": 0.7, "use": 0.5}
TOKEN_WEIGHT_WITH_EXAMPLES = {"minilm": 0.3, "use": 0.2}
# A description token found in more than this share of the agents is not matched. All suites.
SHARED_TOKENS = 0.3
# USE's token vectors (costly) are computed only when the best agent leads by less than
# this without them: a speed knob, fitted so that accuracy on all suites does not change.
SURE_LEAD = 0.05
# Ratio of the English-only encoder's best relevance to the multilingual one's: at or below
# NONE the query is read as another language (English-only encoder and token scores count
# nothing), from FULL fully. German dev renderings against their English originals.
AGREEMENT_NONE = 0.6
AGREEMENT_FULL = 0.9

# --- token weights (_embeddings.py) ------------------------------------------------------
# Unigram log-probability of a word missing from USE's vocabulary.
RARE_LOGPROB = -14.0
# Log-probability at and above which a word says nothing about the topic: a query token
# weighs max(-logprob + COMMON_LOGPROB, 0.5). All suites.
COMMON_LOGPROB = -8.0

# --- typo repair (_spelling.py) ----------------------------------------------------------
# Words shorter than this are never repaired; from TWO_EDITS_FROM letters two edits.
MIN_WORD = 4
TWO_EDITS_FROM = 8

# --- German gloss (_glossary.py, _router.py) ---------------------------------------------
# A query is glossed when the dictionary knows MIN_COVERAGE of its words and MIN_GERMAN of
# them are no English words. German dev renderings against English suite queries.
MIN_COVERAGE = 0.6
MIN_GERMAN = 0.25
# Weight of the query's vector against the word's own when choosing a sense. German dev.
CONTEXT_WEIGHT = 0.5
# Share of the gloss's ranking in a glossed query's (the original's is the rest). German dev.
GLOSS_WEIGHT = 0.8
