"""A small, real lexical retriever (Okapi BM25) over the demo's help-center articles.

Written out in a few lines rather than pulling in a search library: the demo has twenty
documents, and what matters is that its RETRIEVER spans carry real ids, contents and
scores, including the empty result that makes the "missing context" failure visible.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tracejudge.demo.corpus import Document

__all__ = ["BM25Retriever", "ScoredDocument", "tokenize"]

_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no topic: matching on them would "retrieve" for any question.
_STOPWORD_TEXT = (
    "a an and are as at be by can do does for from get how i in is it its me my of on or our "
    "so that the this to was we what when where which who will with you your there their "
    "than then them they have has had not no yes if into after before about any all"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens without stopwords, with a crude plural fold ("tents" -> "tent")."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


@dataclass(frozen=True, slots=True)
class ScoredDocument:
    """A retrieved document with its BM25 score (higher is more relevant)."""

    document: Document
    score: float


class BM25Retriever:
    """Okapi BM25 over title + content; documents scoring below ``min_score`` are dropped.

    Example::

        hits = BM25Retriever(DOCUMENTS).search("how long does shipping take", k=3)
    """

    def __init__(
        self,
        documents: Sequence[Document],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        min_score: float = 1.0,
    ) -> None:
        self._docs = tuple(documents)
        self._k1 = k1
        self._b = b
        self._min_score = min_score
        self._tfs = [Counter(tokenize(f"{d.title} {d.content}")) for d in self._docs]
        self._lengths = [sum(tf.values()) for tf in self._tfs]
        self._avg_len = sum(self._lengths) / max(len(self._lengths), 1)
        df: Counter[str] = Counter()
        for tf in self._tfs:
            df.update(tf.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def search(self, query: str, *, k: int = 3) -> list[ScoredDocument]:
        """The ``k`` best documents scoring at least ``min_score``, best first (ties by id)."""
        terms = set(tokenize(query))
        scored = []
        for doc, tf, length in zip(self._docs, self._tfs, self._lengths, strict=True):
            norm = self._k1 * (1 - self._b + self._b * length / self._avg_len)
            score = sum(
                self._idf[t] * tf[t] * (self._k1 + 1) / (tf[t] + norm) for t in terms if t in tf
            )
            if score >= self._min_score:
                scored.append(ScoredDocument(doc, round(score, 4)))
        scored.sort(key=lambda s: (-s.score, s.document.id))
        return scored[:k]
