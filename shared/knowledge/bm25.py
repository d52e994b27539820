"""Okapi BM25 over a store's chunks, in plain Python (k1 = 1.5, b = 0.75, Lucene's idf, which is never
negative). `bm25s` needs numpy and scipy, which nothing else here uses and the API image would carry for
this alone; a store's few thousand chunks score in milliseconds without them.

Words are lower-cased runs of letters, combining marks and digits (any script), without a short list
of English stop words."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import regex

K1 = 1.5
B = 0.75
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")  # with marks: Bengali vowel signs are part of words
_STOP_WORDS = "a an and are as at be by for from has have in is it its of on or that the this to was"
STOP = frozenset([*_STOP_WORDS.split(" "), "were", "will", "with", "what", "which", "who", "how", "why"])


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP]


class Bm25:
    def __init__(self, texts: Sequence[str]) -> None:
        self._docs = [Counter(words(t)) for t in texts]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._average = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        n = len(self._docs)
        self._idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in frequency.items()}

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The indexes of the `k` best-scoring texts with their scores, best first (only those sharing a
        word with the query)."""
        terms = [t for t in set(words(query)) if t in self._idf]
        scores: list[tuple[int, float]] = []
        for index, doc in enumerate(self._docs):
            score = 0.0
            norm = K1 * (1 - B + B * self._lengths[index] / (self._average or 1.0))
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    score += self._idf[term] * tf * (K1 + 1) / (tf + norm)
            if score > 0:
                scores.append((index, score))
        scores.sort(key=lambda pair: (-pair[1], pair[0]))
        return scores[:k]


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: each id scores sum(1 / (k + rank)) over the rankings it is in (rank from 1),
    scaled so that first in every ranking is 1.0. Best first; ties keep the first ranking's order."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    best = len(rankings) / (k + 1) if rankings else 1.0
    return sorted(((i, s / best) for i, s in scores.items()), key=lambda pair: -pair[1])
