"""Every tunable number of the vector router, in one place.

Each says what it does and what it was fitted on. "All suites" means the fitting splits of
every routing suite together (lmos-router train.csv, CLINC150 dev.csv, Banking77 dev.csv,
the German dev renderings), fitted by benchmarks/fit_routing.py; test splits are never
fitted on.
"""

from __future__ import annotations

# --- scoring (_index.py) ---------------------------------------------------------------
# Agents whose token scores are computed (those whose best text is closest to the query).
RERANK_TOP = 8
# Share of the token score in an agent's score, per encoder: descriptions only / with
# examples (declared or learned). All suites.
TOKEN_WEIGHT = {"minilm": 0.7, "use": 0.25}
TOKEN_WEIGHT_WITH_EXAMPLES = {"minilm": 0.15, "use": 0.2}
# A description token found in more than this share of the agents is not matched
# (lmos-router train.csv).
SHARED_TOKENS = 0.3
# USE's token vectors (costly) are computed only when the best agent leads by less than
# this without them: a speed knob (lmos-router train.csv: 88 % of queries skip them, the
# accuracy moves by 0.06 points).
SURE_LEAD = 0.05

# --- token weights (_embeddings.py) ------------------------------------------------------
# Unigram log-probability of a word missing from USE's vocabulary.
RARE_LOGPROB = -14.0
# Log-probability at and above which a word says nothing about the topic: a query token
# weighs max(-logprob + COMMON_LOGPROB, 0.5) (lmos-router train.csv).
COMMON_LOGPROB = -8.0

# --- German gloss (_glossary.py) -----------------------------------------------------------
# A query is glossed when the dictionary knows MIN_COVERAGE of its words and MIN_GERMAN of
# them are no English words (German dev renderings against lmos-router train.csv).
MIN_COVERAGE = 0.6
MIN_GERMAN = 0.25
# Weight of the query's vector against the word's own when choosing a sense (German dev).
CONTEXT_WEIGHT = 0.5

# --- abstention and confidence (_calibration.py) -------------------------------------------
# A query is turned away when its relevance is below the OFFTOPIC_QUANTILE of the shipped
# off-topic messages' relevance against the same registry, plus ABSTAIN_SHIFT. All suites,
# maximising accuracy on traffic taken to be one fifth off-topic (fit_routing.objective).
OFFTOPIC_QUANTILE = 0.7
ABSTAIN_SHIFT = 0.05
# Logistic confidence of a chosen agent: (intercept, relevance above the threshold, lead
# over the runner-up); of a no-agent decision: (intercept, relevance above the threshold).
# All suites, each registry weighing the same.
CONFIDENCE_ROUTED = (-0.092, 1.428, 20.216)
CONFIDENCE_ABSTAINED = (-3.444, -25.253)
