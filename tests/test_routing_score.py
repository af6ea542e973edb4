"""The vector router's scoring formula (routing/vector/_score.py) and the fitting script's
pieces (benchmarks/fit_routing.py), on small arrays made up here: no model runs."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.fit_routing import Gate, Ranked, decide, logistic, summary
from routing.vector._calibration import confidence
from routing.vector._score import Scoring, score


def _no_tokens(e, rows, top):
    return None


def _scoring(**overrides) -> Scoring:
    values = {"token_weight": (0.0, 0.0), "rerank_top": 2}
    return Scoring(**{**values, **overrides})


def test_agents_are_ranked_by_their_best_text_averaged_over_the_encoders_and_that_is_the_relevance():
    best = [np.array([[0.9, 0.2, 0.1]]), np.array([[0.5, 0.7, 0.2]])]
    scored = score(_scoring(), best, _no_tokens)
    assert scored.order[0].tolist() == [0, 1, 2]
    assert scored.values[0][0] == pytest.approx((0.9 + 0.5) / 2)
    assert scored.relevance[0] == pytest.approx((0.9 + 0.5) / 2)


def test_an_encoder_that_did_not_read_the_query_has_no_say():
    use = np.array([[0.2, 0.6, 0.1]])
    silent = np.zeros((1, 3), dtype=np.float32)
    alone = score(_scoring(token_weight=(0.0,)), [use], _no_tokens)
    beside_silent = score(_scoring(), [silent, use], _no_tokens)
    assert beside_silent.order.tolist() == alone.order.tolist()
    assert beside_silent.values == pytest.approx(alone.values)
    assert beside_silent.relevance == pytest.approx(alone.relevance)


def test_token_scores_rerank_only_the_top_agents_and_a_query_without_tokens_keeps_its_sentence_score():
    best = [np.array([[0.6, 0.5, 0.4], [0.6, 0.5, 0.4]])]
    tokens = np.array([[0.1, 0.9, 0.9], [np.nan, np.nan, np.nan]], dtype=np.float32)

    def token_scores(e, rows, top):
        return np.take_along_axis(tokens[rows], top, axis=1)

    scored = score(_scoring(token_weight=(0.5,)), best, token_scores)
    # Row 0: agent 1's tokens lift it over agent 0; agent 2 is past rerank_top and stays last.
    assert scored.order[0].tolist() == [1, 0, 2]
    # Row 1 has no tokens: the sentence order.
    assert scored.order[1].tolist() == [0, 1, 2]


def test_costly_token_scores_are_asked_for_only_when_the_lead_is_small():
    best = [np.array([[0.9, 0.1], [0.5, 0.49]])]
    asked: list[list[int]] = []

    def token_scores(e, rows, top):
        asked.append(rows.tolist())
        return np.full(top.shape, 0.5, dtype=np.float32)

    score(_scoring(token_weight=(0.5,), sure_lead=0.05), best, token_scores, deferred=(True,))
    assert asked == [[1]]


def test_confidence_grows_with_the_lead_and_an_abstention_is_surer_the_farther_below_the_threshold():
    low, high = (confidence(relevance=0.5, lead=lead, threshold=0.3, abstained=False) for lead in (0.0, 0.2))
    assert 0.0 < low < high < 1.0
    near, far = (confidence(relevance=r, lead=0.0, threshold=0.3, abstained=True) for r in (0.29, 0.0))
    assert 0.0 < near < far < 1.0


def test_logistic_fit_recovers_the_direction_of_each_feature():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(2000), rng.normal(size=2000), rng.normal(size=2000)])
    p = 1 / (1 + np.exp(-(0.5 + 2.0 * x[:, 1] - 1.0 * x[:, 2])))
    y = (rng.random(2000) < p).astype(float)
    b = logistic(x, y, np.ones(2000))
    assert b[1] > 1.0 and b[2] < -0.5


def test_the_gate_turns_away_rows_below_the_off_topic_quantile():
    values = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.4]])
    ranked = Ranked(
        values=values,
        relevance=np.array([0.9, 0.8, 0.2]),
        offtopic=np.linspace(0.0, 0.4, 101),
        labels=np.array([0, 1, -1]),
    )
    decided = decide(ranked, Gate(quantile=0.75, shift=0.0))  # threshold 0.3
    assert decided.predicted.tolist() == [0, 1, -1]
    result = summary(decided)
    assert result["accuracy"] == 1.0 and result["recall"] == 1.0 and result["precision"] == 1.0
