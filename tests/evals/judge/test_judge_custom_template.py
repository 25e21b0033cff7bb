"""Custom templates are first-class: a Template object goes straight into evaluate()."""

from __future__ import annotations

import json

from tests.evals.judge.conftest import JudgeServer

import tracejudge
from tracejudge.evals.judge import Judge, Template


def test_evaluate_runs_a_custom_template_object(
    judge_server: JudgeServer, fast_judge: Judge
) -> None:
    """The README's custom-template example: a Template passed straight to evaluate()."""
    polite = Template(
        name="politeness",
        prompt="Is this reply polite?\n\nReply: {{ output }}",
        inputs={"output": "output"},
        rubric="pass: courteous throughout; fail: any rude or dismissive sentence.",
    )
    result = tracejudge.evaluate(
        polite, {"output": "Thanks for waiting, here it is."}, judge=fast_judge, trace_eval=False
    )
    assert result.error is None
    assert result.label == "pass"
    sent = json.dumps(judge_server.chat_requests()[-1]["messages"])
    assert "Thanks for waiting, here it is." in sent
    assert "courteous throughout" in sent
