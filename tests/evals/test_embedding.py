"""``embedding_similarity``: cosine scoring with any embedder; a clear error without the extra."""

from __future__ import annotations

import importlib.util
from collections import Counter

import pytest

from tracejudge.errors import ConfigurationError
from tracejudge.evals import get_evaluator
from tracejudge.evals.embedding import MODEL_PACKAGE, cosine, embedding_similarity

VOCAB = ["sunny", "paris", "rain", "lyon", "today", "is"]


def bag_of_words(texts: list[str]) -> list[list[float]]:
    """A real (if tiny) embedder: word counts over a fixed vocabulary."""
    out = []
    for text in texts:
        counts = Counter(w.strip(".,").lower() for w in text.split())
        out.append([float(counts[w]) for w in VOCAB])
    return out


def test_cosine() -> None:
    assert cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert cosine([0, 0], [1, 1]) == 0.0


def test_similarity_to_configured_reference_or_reference_input() -> None:
    ev = embedding_similarity("Paris is sunny today.", threshold=0.8, embed=bag_of_words)
    close = ev.evaluate({"output": "Sunny today in Paris"})
    expected = cosine([1, 1, 0, 0, 1, 0], [1, 1, 0, 0, 1, 1])
    assert close.label == "pass" and close.score == pytest.approx(expected)
    far = ev.evaluate({"output": "Lyon rain"})
    assert far.label == "fail" and far.score == 0.0 and "threshold 0.8" in (far.explanation or "")
    by_input = embedding_similarity(embed=bag_of_words)
    assert by_input.required == frozenset({"output", "reference"})
    assert by_input.evaluate({"output": "rain", "reference": "rain"}).score == pytest.approx(1.0)


def test_embedder_failures_become_error_results_and_bad_thresholds_are_rejected() -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise OSError("model file missing")

    assert embedding_similarity("x", embed=broken).evaluate({"output": "y"}).error == (
        "OSError: model file missing"
    )
    with pytest.raises(ConfigurationError, match="threshold"):
        embedding_similarity("x", threshold=2, embed=bag_of_words)


@pytest.mark.skipif(
    importlib.util.find_spec(MODEL_PACKAGE) is not None, reason="the embeddings extra is installed"
)
def test_without_the_extra_a_clear_error_names_the_install_command() -> None:
    with pytest.raises(ConfigurationError, match=r"pip install 'tracejudge\[embeddings\]'"):
        embedding_similarity("x")
    with pytest.raises(ConfigurationError, match="embeddings extra"):
        get_evaluator("embedding_similarity(reference='x')")


@pytest.mark.skipif(
    importlib.util.find_spec(MODEL_PACKAGE) is None,
    reason="the optional embeddings extra (PyTorch) is kept out of CI",
)
def test_bundled_minilm_model_scores_paraphrases_above_unrelated_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the weights ship in the package
    ev = embedding_similarity("You can return items within 30 days for a full refund.")
    close = ev.evaluate({"output": "Returns are accepted for 30 days and refunded in full."})
    far = ev.evaluate({"output": "Our store opens at 9am on weekdays."})
    assert close.error is None and far.error is None
    assert close.score is not None and far.score is not None
    assert close.score > 0.7 > far.score
    assert (close.label, far.label) == ("pass", "fail")
