"""The OpenAI SDK, reached only from here: litellm's exceptions derive from the SDK's (the classifier in
retry.py tests a few by their SDK base), and image calls go through an SDK client of ours that never
retries by itself.
"""

from __future__ import annotations

from openai import APIConnectionError, APITimeoutError, AsyncOpenAI

__all__ = ["APIConnectionError", "APITimeoutError", "NoRetryOpenAI"]


class NoRetryOpenAI(AsyncOpenAI):
    """litellm 1.106.2 drops `max_retries` for image calls and sets the client's to 2, so the OpenAI SDK
    would try every step three times: this client's retry count stays 0 whatever is set."""

    def __init__(self, api_key: str, base_url: str | None, timeout_s: float) -> None:
        super().__init__(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    @property  # type: ignore[override]
    def max_retries(self) -> int:
        return 0

    @max_retries.setter
    def max_retries(self, _value: int) -> None:
        pass
