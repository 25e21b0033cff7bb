"""The span filter language, compiled and run against a real SQLite store.

Two small traces (six spans) with evaluations; every valid filter is checked against the
exact set of span ids it must match, every invalid one against the position and the name
its error must report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store._factory import CLOCK_NS, T0, make_eval, make_span, sid, tid
from tracejudge.client import Client
from tracejudge.errors import FilterSyntaxError, TracejudgeError
from tracejudge.query import CompiledFilter, compile_filter
from tracejudge.store import open_store
from tracejudge.store.sqlite import SQLiteStore

ALL = {1, 2, 3, 4, 10, 11}
MS = 1_000_000


def _spans() -> list:
    """Trace 1 (shop): agent 1 > llm 2, retrieve 3, tool 4 (error). Trace 2 (ops): 10 > 11."""
    return [
        make_span(
            1, 1, None, start_ms=0, dur_ms=3000, name="agent", kind="AGENT",
            input="I want a refund for order 42", output="Refund issued",
            tags=("vip", "beta"), session_id="sess-1", user_id="u1",
            attributes={"agent.name": "support"},
        ),
        make_span(
            1, 2, 1, start_ms=10, dur_ms=2500, name="llm-call", kind="LLM",
            input="refund policy?", output="30 days", model="gpt-4o", provider="openai",
            prompt_tokens=100, completion_tokens=50,
            attributes={
                "llm.model_name": "gpt-4o",
                "llm.temperature": 0.2,
                'we"ird': "q",
                "flag": True,
            },
        ),
        make_span(
            1, 3, 1, start_ms=20, dur_ms=40, name="retrieve", kind="RETRIEVER",
            input="refund policy", output="docs", attributes={"retrieval.top_k": 5},
        ),
        make_span(
            1, 4, 1, start_ms=30, dur_ms=5, name="get_order", kind="TOOL", status="ERROR",
            input="42%_x", output=None, attributes={},
        ),
        make_span(
            2, 10, None, start_ms=1000, dur_ms=100, project="ops", name="chain",
            input="hello", output="bye", tags=("beta",), user_id="u2", attributes={},
        ),
        make_span(
            2, 11, 10, start_ms=1010, dur_ms=900, project="ops", name="llm-call", kind="LLM",
            input=None, output="hi", model="llama-3", provider="vllm", prompt_tokens=10,
            attributes={"llm.model_name": "llama-3"},
        ),
    ]  # fmt: skip


def _evaluations() -> list:
    return [
        # Span 2 failed groundedness first, then passed: the latest one counts.
        make_eval(1, 1, 2, created_ms=1, name="groundedness", label="fail", score=0.2),
        make_eval(2, 1, 2, created_ms=2, name="groundedness", label="pass", score=0.9),
        make_eval(3, 2, 11, created_ms=5, name="groundedness", label="fail", score=0.1),
        make_eval(4, 2, 11, created_ms=5, name="toxicity", label="pass", score=0.0),
        make_eval(5, 1, 1, created_ms=3, name="correctness", label="pass", score=1.0),
        # Same timestamp as eval 6's predecessor: arrival order (seq) breaks the tie.
        make_eval(6, 1, 3, created_ms=7, name="relevance", label="bad", score=0.0),
        make_eval(7, 1, 3, created_ms=7, name="relevance", label="good", score=1.0),
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    path = tmp_path_factory.mktemp("filter") / "f.db"
    s = open_store(path)
    assert isinstance(s, SQLiteStore)
    s.write(_spans(), _evaluations())
    yield s
    s.close()


def _matching(store: SQLiteStore, expression: str) -> set[int]:
    spans = store.list_spans(filter=expression, limit=1000)
    return {int(span.span_id, 16) for span in spans}


VALID: list[tuple[str, set[int]]] = [
    ('kind == "LLM"', {2, 11}),
    ('kind != "LLM"', {1, 3, 4, 10}),
    ("latency_ms > 2000", {1, 2}),
    ("latency_ms > -1", ALL),
    ("100 <= latency_ms < 1000", {10, 11}),
    ('"refund" in input', {1, 2, 3}),
    ('"refund" not in input', {4, 10, 11}),  # span 11 has no input: not in it
    ('"Refund" in output', {1}),  # case-sensitive
    ('"%" in input', {4}),  # LIKE wildcards are plain characters
    ('"_" in input', {4}),
    ('"42%_x" in input', {4}),
    ('input == "hello"', {10}),
    ('attributes["llm.model_name"] == "gpt-4o"', {2}),
    ('attributes["llm.model_name"] in ["gpt-4o", "llama-3"]', {2, 11}),
    ('attributes["llm.temperature"] < 0.5', {2}),
    ('attributes["retrieval.top_k"] >= 5', {3}),
    ('attributes[\'we"ird\'] == "q"', {2}),
    ('attributes["flag"] == True', {2}),
    ('attributes["missing"] == None', ALL),
    ('attributes["agent.name"] != None', {1}),
    ('eval["groundedness"].label == "fail"', {11}),  # span 2's latest is a pass
    ('eval["groundedness"].label == "pass"', {2}),
    ('eval["groundedness"].label != "fail"', {1, 2, 3, 4, 10}),
    ('eval["groundedness"].score < 0.5', {11}),
    ('eval["relevance"].label == "good"', {3}),  # tie on created_at: later arrival wins
    ('eval["groundedness"].label == None', {1, 3, 4, 10}),
    ('has_eval("groundedness")', {2, 11}),
    ('not has_eval("groundedness")', {1, 3, 4, 10}),
    ('kind == "LLM" and not has_eval("toxicity")', {2}),
    ('model in ["gpt-4o", "llama-3"]', {2, 11}),
    ('model not in ["gpt-4o"]', {1, 3, 4, 10, 11}),
    ("model in ('llama-3',)", {11}),
    ('"vip" in tags', {1}),
    ('"beta" in tags', {1, 10}),
    ('"beta" not in tags', {2, 3, 4, 11}),
    ("is_root", {1, 10}),
    ("not is_root", {2, 3, 4, 11}),
    ("is_root == False", {2, 3, 4, 11}),
    ("parent_span_id == None", {1, 10}),
    ('status == "ERROR"', {4}),
    ('project == "ops"', {10, 11}),
    ('provider == "vllm"', {11}),
    ("total_tokens >= 100", {2}),
    ("total_tokens == 10", {11}),
    ("total_tokens == None", {1, 3, 4, 10}),
    ("prompt_tokens > 5 and completion_tokens == None", {11}),
    ("not (latency_ms > 50)", {3, 4}),
    ('session_id == "sess-1" or user_id == "u2"', {1, 10}),
    ('name == "retrieve" or (kind == "TOOL" and status == "ERROR")', {3, 4}),
    (f'trace_id == "{tid(2)}"', {10, 11}),
    (f'span_id == "{sid(3)}"', {3}),
    (f"start_ns >= {T0 + 1000 * MS}", {10, 11}),
    (f"end_ns < {T0 + 100 * MS}", {3, 4}),
    ("True", ALL),
    ("  \n kind == 'TOOL'", {4}),
    (
        'kind == "LLM" and latency_ms > 2000 and "refund" in input and '
        'attributes["llm.model_name"] == "gpt-4o" and eval["groundedness"].label == "pass"',
        {2},
    ),
]


@pytest.mark.parametrize(("expression", "expected"), VALID, ids=[v[0] for v in VALID])
def test_valid_filters_match_exactly_these_spans(
    store: SQLiteStore, expression: str, expected: set[int]
) -> None:
    assert _matching(store, expression) == expected


INVALID: list[tuple[str, int, str]] = [
    # expression, 1-based position, text the message must name
    ("kind ==", 8, "syntax error"),
    ('kind = "LLM"', 6, "syntax error"),
    ('kind == "LLM', 9, "unterminated string"),
    ("foo == 1", 1, "'foo'"),
    ('kind == "LLM" and bar(1)', 19, "'bar'"),
    ('__import__("os")', 1, "'__import__'"),
    ("().__class__", 1, "'__class__'"),
    ('open("x")', 1, "'open'"),
    ("lambda: 1", 1, "lambda"),
    ("(x := 1)", 2, "walrus"),
    ('[s for s in tags] == ["a"]', 1, "list comprehension"),
    ('f"{kind}" == "LLM"', 1, "f-string"),
    ('kind.upper() == "LLM"', 1, "'kind.upper'"),
    ('name == "é" and foo == 1', 17, "'foo'"),  # positions count characters, not bytes
    ('eval["g"] == "fail"', 1, ".label or .score"),
    ('eval["g"].explanation == "x"', 1, ".explanation"),
    ('latency_ms > "slow"', 14, "latency_ms"),
    ("kind == 3", 9, "kind"),
    ("has_eval(name)", 10, "name 'name'"),
    ('has_eval("a", "b")', 1, "has_eval"),
    ("attributes[0] == 1", 12, "string constant"),
    ("attributes == 1", 1, "attributes"),
    ('kind == "LLM" and latency_ms', 19, "'latency_ms'"),
    ("input @ 1", 1, "arithmetic"),
    ('kind is "LLM"', 9, "Is"),
    ("latency_ms > None", 14, "None"),
    ('kind in "LLM"', 9, "'in'"),
    ('tags == ["a"]', 1, "tags can only be used with 'in'"),
    ('kind == ["a"]', 9, "a list can only be used with 'in'"),
    ("1 in tags", 1, "tag membership"),
    ("1 == 1", 1, "field"),
    ("model in []", 10, "empty list"),
    ("model in [kind]", 11, "constants"),
    ("  foo", 3, "'foo'"),
    ("x.y", 1, "'y'"),
    ("a\x00", 2, "null byte"),
]


@pytest.mark.parametrize(("expression", "position", "named"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_filters_name_position_and_offender(
    expression: str, position: int, named: str
) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(expression)
    err = info.value
    assert err.position == position
    assert err.expression == expression
    assert named in str(err)
    assert f"position {position}" in str(err)
    assert isinstance(err, TracejudgeError) and isinstance(err, ValueError)


@pytest.mark.parametrize("expression", ["", "   ", "\n"])
def test_empty_filter_is_an_error(expression: str) -> None:
    with pytest.raises(FilterSyntaxError, match="empty filter"):
        compile_filter(expression)


def test_unknown_field_error_lists_the_valid_ones() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter("latency > 5")
    for name in ("latency_ms", "kind", "is_root", "attributes", "eval", "tags"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    "expression",
    ["not " * 200 + "is_root", "(" * 300 + "is_root" + ")" * 300, "x" * 20_000],
)
def test_absurd_filters_are_rejected_not_crashed(expression: str) -> None:
    with pytest.raises(FilterSyntaxError):
        compile_filter(expression)


INJECTIONS = [
    "x' OR '1'='1",
    '"); DROP TABLE spans; --',
    "'; DELETE FROM evaluations; --",
    "%",
    "\\",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_in_values_matches_nothing_and_breaks_nothing(
    store: SQLiteStore, payload: str
) -> None:
    literal = repr(payload)
    for expression in (
        f"name == {literal}",
        f"attributes[{literal}] == {literal}",
        f"eval[{literal}].label == {literal}",
        f"has_eval({literal})",
        f"{literal} in tags",
        f"model in [{literal}, {literal}]",
    ):
        compiled = compile_filter(expression)
        assert payload not in compiled.sql  # user text only ever travels as a parameter
        assert _matching(store, expression) == set()
    assert len(store.list_spans(limit=1000)) == len(ALL)
    assert len(store.evaluations(span_id=sid(2))) == 2


def test_compiled_filter_is_sql_plus_bound_parameters() -> None:
    compiled = compile_filter('attributes["llm.model_name"] == "gpt-4o" and "x" in input')
    assert compiled == CompiledFilter(compiled.sql, ('$."llm.model_name"', "gpt-4o", "x"))
    assert "gpt-4o" not in compiled.sql and "llm.model_name" not in compiled.sql
    assert compiled.sql.count("?") == len(compiled.params)


def test_filter_combines_with_project_kind_and_paging(store: SQLiteStore) -> None:
    where = '"refund" in input or project == "ops"'
    assert [s.name for s in store.list_spans("shop", kind="LLM", filter=where)] == ["llm-call"]
    first = store.list_spans(filter=where, limit=2)
    rest = store.list_spans(filter=where, after_seq=first[-1].ingest_seq, limit=10)
    assert [int(s.span_id, 16) for s in first + rest] == [1, 2, 3, 10, 11]


def test_client_spans_takes_a_filter(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db", clock=lambda: CLOCK_NS) as s:
        s.write(_spans(), _evaluations())
        client = Client(s)
        got = client.spans(filter='eval["groundedness"].label == "fail"')
        assert [span.span_id for span in got] == [sid(11)]
        assert [x.span_id for x in client.spans("shop", kind="LLM", filter="is_root")] == []
        assert len(client.spans()) == len(ALL)
        with pytest.raises(FilterSyntaxError, match="'nope'"):
            client.spans(filter="nope == 1")
