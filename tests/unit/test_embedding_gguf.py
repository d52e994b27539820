"""The GGUF writer of the local embedding model (scripts/embedding_gguf.py), on a tiny BERT made here:
llama.cpp's names, its WordPiece form of the vocabulary, and every tensor's bytes where the header says.
(The real model is served and checked for meaning by tests/e2e/test_local_embeddings.py.)"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

from scripts.embedding_gguf import ALIGN, convert, gguf_name, phantom

HIDDEN = 4
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s", "cat"]


def test_llama_cpp_names() -> None:
    assert gguf_name("embeddings.word_embeddings.weight") == "token_embd.weight"
    assert gguf_name("bert.embeddings.LayerNorm.bias") == "token_embd_norm.bias"
    assert gguf_name("encoder.layer.3.attention.self.query.weight") == "blk.3.attn_q.weight"
    assert gguf_name("encoder.layer.0.attention.output.LayerNorm.weight") == "blk.0.attn_output_norm.weight"
    assert gguf_name("encoder.layer.5.output.dense.bias") == "blk.5.ffn_down.bias"
    assert gguf_name("pooler.dense.weight") is None
    assert gguf_name("embeddings.position_ids") is None


def test_wordpiece_in_llama_cpp_form() -> None:
    assert phantom("cat") == "\u2581cat"
    assert phantom("##s") == "s"
    assert phantom("[CLS]") == "[CLS]"


def tiny_model(folder: Path) -> dict[str, list[float]]:
    """A one-layer BERT's files, and the values of each tensor by its llama.cpp name."""
    shapes = {
        "embeddings.word_embeddings.weight": [len(VOCAB), HIDDEN],
        "embeddings.position_embeddings.weight": [8, HIDDEN],
        "embeddings.token_type_embeddings.weight": [2, HIDDEN],
        "embeddings.LayerNorm.weight": [HIDDEN],
        "encoder.layer.0.attention.self.query.weight": [HIDDEN, HIDDEN],
        "encoder.layer.0.intermediate.dense.weight": [2 * HIDDEN, HIDDEN],
        "pooler.dense.weight": [HIDDEN, HIDDEN],
    }
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    data, values, offset = b"", {}, 0
    for i, (name, shape) in enumerate(shapes.items()):
        count = shape[0] * (shape[1] if len(shape) > 1 else 1)
        raw = struct.pack(f"<{count}f", *[i + k / 100 for k in range(count)])
        floats = list(struct.unpack(f"<{count}f", raw))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data, offset = data + raw, offset + len(raw)
        target = gguf_name(name)
        if target:
            values[target] = floats
    encoded = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    config = {
        "max_position_embeddings": 8,
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "layer_norm_eps": 1e-12,
        "type_vocab_size": 2,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return values


def _read(f: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def _string(f: BinaryIO) -> str:
    return f.read(_read(f, "<Q")).decode()


def _value(f: BinaryIO, kind: int) -> Any:
    scalar = {4: "<I", 5: "<i", 6: "<f", 7: "<?"}
    if kind in scalar:
        return _read(f, scalar[kind])
    if kind == 8:
        return _string(f)
    item, count = _read(f, "<I"), _read(f, "<Q")
    return [_value(f, item) for _ in range(count)]


def test_a_tiny_bert_round_trips(tmp_path: Path) -> None:
    values = tiny_model(tmp_path)
    out = tmp_path / "tiny.gguf"
    convert(tmp_path, out)
    with out.open("rb") as f:
        assert f.read(4) == b"GGUF" and _read(f, "<I") == 3
        tensors, kvs = _read(f, "<Q"), _read(f, "<Q")
        meta = {}
        for _ in range(kvs):
            key = _string(f)
            meta[key] = _value(f, _read(f, "<I"))
        infos = {}
        for _ in range(tensors):
            name = _string(f)
            dims = [_read(f, "<Q") for _ in range(_read(f, "<I"))]
            kind, offset = _read(f, "<I"), _read(f, "<Q")
            infos[name] = (dims, kind, offset)
        start = f.tell() + (-f.tell() % ALIGN)
        assert meta["general.architecture"] == "bert" and meta["bert.pooling_type"] == 1
        assert meta["bert.embedding_length"] == HIDDEN and meta["bert.attention.causal"] is False
        assert meta["tokenizer.ggml.model"] == "bert"
        assert meta["tokenizer.ggml.tokens"][5:] == ["\u2581the", "s", "\u2581cat"]
        assert meta["tokenizer.ggml.token_type"] == [3, 3, 3, 3, 3, 1, 1, 1]
        assert meta["tokenizer.ggml.cls_token_id"] == 2 and meta["tokenizer.ggml.seperator_token_id"] == 3
        assert set(infos) == set(values)  # the pooler is left out
        assert infos["token_embd.weight"][0] == [HIDDEN, len(VOCAB)]  # innermost dimension first
        assert infos["blk.0.ffn_up.weight"][0] == [HIDDEN, 2 * HIDDEN]
        for name, (_dims, kind, offset) in infos.items():
            assert kind == 0 and offset % ALIGN == 0
            f.seek(start + offset)
            count = len(values[name])
            assert list(struct.unpack(f"<{count}f", f.read(4 * count))) == values[name]
