"""The native lane: OpenAI-wire providers called directly, without litellm.

For a deployment whose provider speaks OpenAI's chat-completions wire format (wire.py decides which),
the caller (shared/gateway/calls.py) sends the request itself on one pooled HTTP client per deployment
(pool.py), builds the body (body.py), reads the provider's server-sent events as they arrive (sse.py)
and turns each chunk into the gateway's Delta (parse.py). Failures are raised as errors.py's
ProviderError, carrying what litellm's exception for the same answer would carry (its class name, the
status and the provider's headers), so the router classifies, retries and falls back exactly as on the
litellm lane. `NATIVE_LANE=0` sends every call through litellm.
"""
