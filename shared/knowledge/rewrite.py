"""`rewrite_query: true` on a vector store search: the question turned into the words worth searching.

A conversational query ("Can you tell me what the height of the main office building is?") carries
words that match every chunk or none: the polite frame, question words, pronouns, auxiliaries. The
rewrite keeps the rest, in their order, once each ("height main office building"), and is what both
the keyword and the vector search use; the page's `search_query` says it, as OpenAI's does. It is
offline and free (no model call): English function words only, any other word or script is kept, and a
query that would lose every word is searched as written.
"""

from __future__ import annotations

import re

# A word is a run of anything but spaces and punctuation (so Bengali's vowel signs stay in their word).
_WORD = re.compile(r"[^\s.,;:!?¿¡\"“”()\[\]{}<>/]+")

# Function words and conversational frames of English questions (lower-case).
_DROP_WORDS = """
a an the this that these those some any each every
i me my mine we us our you your yours he him his she her it its they them their
am is are was were be been being do does did doing done have has had having
can could would should shall will may might must
what which who whom whose when where why how
and or but if then so than as of at by for from in into on onto to with about over under
please kindly tell show give find explain describe let know want like wonder wondering need
hi hello hey thanks thank there here just really also very much many more most
i'd i'm i've you're it's what's there's can't don't doesn't isn't
"""
_DROP = frozenset(_DROP_WORDS.split())


def rewrite(query: str) -> str:
    """The query's content words in order, each once; the query itself when none would be left."""
    kept: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(query):
        lower = word.lower().replace("’", "'")
        if lower in _DROP or lower in seen:
            continue
        seen.add(lower)
        kept.append(word)
    return " ".join(kept) if kept else query.strip()
