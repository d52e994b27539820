"""The response cache: exact (Redis, keyed by tenant and the normalised request) and, optionally,
semantic (embedding similarity within a tenant's bounded set). Both sit behind one `Cache` interface.

keys.py     the canonical request, its hash and the Redis key; when a request may use the cache
types.py    CachedAnswer, the Cache and Embedder protocols
exact.py    ResponseCache (exact match, TTL) and replay_chunks (stream a cached text back)
semantic.py SemanticCache (cosine similarity over the tenant's bounded set)
layered.py  LayeredCache (exact, then semantic) and build_cache(settings)
pricing.py  what a cache hit costs
"""
