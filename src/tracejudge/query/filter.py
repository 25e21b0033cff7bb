"""The span filter language: a Python-like expression compiled to a parameterized SQL WHERE.

Example::

    from tracejudge.query.filter import compile_filter

    where = compile_filter('kind == "LLM" and latency_ms > 2000 and not has_eval("groundedness")')
    where.sql, where.params  # a WHERE fragment over ``spans`` and its bound values
    store.list_spans("shop", filter='kind == "LLM"')  # stores compile the string themselves

The expression is parsed with :func:`ast.parse` (so precedence, quoting and chained
comparisons are Python's) and walked against a whitelist of node types; anything else —
calls other than the whitelisted functions, attribute access, dunders, lambdas,
comprehensions — is rejected with a :class:`~tracejudge.errors.FilterSyntaxError` naming
the 1-based position and the offending construct. Nothing is ever evaluated by Python,
and every user value reaches SQL as a bound parameter, never as SQL text.

Grammar (informally)::

    expr   := expr and expr | expr or expr | not expr | compare | has_eval("name") | is_root
    compare:= value (op value)+        op: == != < <= > >= in, not in
    value  := FIELD | attributes["key"] | eval["name"].label | eval["name"].score
            | "str" | 12 | 1.5 | True | False | None | [const, ...] (right of ``in`` only)

``==``/``!=`` follow Python on missing values (``model != "x"`` matches spans without a
model; ``model == None`` matches them). ``"s" in text`` is an exact substring test;
``"t" in tags`` tests tag membership. The SQL targets the ``spans`` table of the SQLite
store (unaliased, as ``list_spans`` selects it).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from tracejudge.errors import FilterSyntaxError

__all__ = ["FIELDS", "FUNCTIONS", "CompiledFilter", "compile_filter"]

MAX_EXPRESSION_CHARS = 10_000
_MAX_DEPTH = 64  # SQLite's own expression depth limit is 1000; stay far below it

_NUMBER = (int, float)


@dataclass(frozen=True, slots=True)
class _Field:
    sql: str
    types: tuple[type, ...]  # constant types a comparison with this field accepts


def _column(name: str, *types: type) -> _Field:
    return _Field(f"spans.{name}", types)


def _unindexed(name: str, *types: type) -> _Field:
    # Unary "+" keeps SQLite off the (project, kind, start_ns) index, as list_spans does:
    # walking ingest_seq costs O(limit) per page instead of sorting every match.
    return _Field(f"+spans.{name}", types)


_TEXT = (str,)
# Field name -> SQL expression over the spans table. Derived fields are computed inline.
_FIELDS: dict[str, _Field] = {
    "name": _column("name", *_TEXT),
    "kind": _unindexed("kind", *_TEXT),
    "status": _column("status", *_TEXT),
    "trace_id": _column("trace_id", *_TEXT),
    "span_id": _column("span_id", *_TEXT),
    "parent_span_id": _column("parent_span_id", *_TEXT),
    "input": _column("input", *_TEXT),
    "output": _column("output", *_TEXT),
    "model": _column("model", *_TEXT),
    "provider": _column("provider", *_TEXT),
    "prompt_tokens": _column("prompt_tokens", *_NUMBER),
    "completion_tokens": _column("completion_tokens", *_NUMBER),
    "total_tokens": _Field(
        "(CASE WHEN spans.prompt_tokens IS NULL AND spans.completion_tokens IS NULL"
        " THEN NULL ELSE IFNULL(spans.prompt_tokens, 0) + IFNULL(spans.completion_tokens, 0)"
        " END)",
        _NUMBER,
    ),
    "session_id": _column("session_id", *_TEXT),
    "user_id": _column("user_id", *_TEXT),
    "latency_ms": _Field("((spans.end_ns - spans.start_ns) / 1e6)", _NUMBER),
    "start_ns": _unindexed("start_ns", *_NUMBER),
    "end_ns": _column("end_ns", *_NUMBER),
    "project": _unindexed("project", *_TEXT),
    "is_root": _Field("(spans.parent_span_id IS NULL)", (bool,)),
}
FIELDS: tuple[str, ...] = tuple(_FIELDS)  # the field names a filter may use
# Names that are not plain fields: tags (membership only), attributes[...] and eval[...].
_SPECIAL_NAMES = ("attributes", "eval", "tags")
FUNCTIONS = ("has_eval",)
_EVAL_PROPERTIES = ("label", "score")

# Readable names for constructs users try that the language rejects.
_CONSTRUCTS = {
    "JoinedStr": "f-string",
    "FormattedValue": "f-string",
    "Lambda": "lambda",
    "NamedExpr": "walrus (:=)",
    "ListComp": "list comprehension",
    "SetComp": "set comprehension",
    "DictComp": "dict comprehension",
    "GeneratorExp": "generator expression",
    "BinOp": "arithmetic",
    "UnaryOp": "unary operator",
    "IfExp": "conditional expression",
    "Starred": "starred expression",
    "Await": "await",
    "Yield": "yield",
    "Dict": "dict",
    "Set": "set",
    "Slice": "slice",
}

_COMPARE_OPS: dict[type[ast.cmpop], tuple[str, str]] = {
    # op -> (SQL, its spelling in errors)
    ast.Eq: ("IS", "=="),
    ast.NotEq: ("IS NOT", "!="),
    ast.Lt: ("<", "<"),
    ast.LtE: ("<=", "<="),
    ast.Gt: (">", ">"),
    ast.GtE: (">=", ">="),
}


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A WHERE fragment over the ``spans`` table and its bound parameters, in order."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class _Value:
    """One compiled operand: SQL text, its parameters, and what kind of thing it is."""

    sql: str
    params: tuple[Any, ...]
    kind: str  # "const", "field", "json" (attributes[...]), "eval", "list" or "tags"
    types: tuple[type, ...] = ()  # for fields: accepted constant types
    value: Any = None  # for constants
    label: str = ""  # how errors name it


def _accepts(types: tuple[type, ...], value: Any) -> bool:
    """Whether a constant fits a typed operand (None always does; bool is not a number)."""
    if value is None:
        return True
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


class _Compiler:
    """Walks one parsed expression; ``fail`` raises with the node's position."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        # Python rejects leading indentation; parse without it and count it back in.
        self.source = expression.lstrip()
        self.lead = len(expression) - len(self.source)
        self.lines = self.source.split("\n")

    def position(self, node: ast.AST) -> int:
        """1-based character column of ``node`` in the whole expression."""
        lineno = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        # col_offset counts UTF-8 bytes; the user counts characters.
        chars = len(line.encode()[:col].decode(errors="ignore"))
        return self.lead + sum(len(x) + 1 for x in self.lines[: lineno - 1]) + chars + 1

    def fail(self, node: ast.AST, message: str) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.position(node), self.expression)

    # Boolean expressions -------------------------------------------------------------

    def predicate(self, node: ast.AST, depth: int = 0) -> tuple[str, tuple[Any, ...]]:
        if depth > _MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {_MAX_DEPTH} levels")
        if isinstance(node, ast.BoolOp):
            joiner = " AND " if isinstance(node.op, ast.And) else " OR "
            parts = [self.predicate(v, depth + 1) for v in node.values]
            sql = "(" + joiner.join(p[0] for p in parts) + ")"
            return sql, tuple(x for p in parts for x in p[1])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sql, params = self.predicate(node.operand, depth + 1)
            # Two-valued logic: a comparison with a missing value is false, so its
            # negation is true (as in Python), not SQL's NULL.
            return f"(NOT IFNULL({sql}, 0))", params
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name) and node.id == "is_root":
            return _FIELDS["is_root"].sql, ()
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return ("1" if node.value else "0"), ()
        raise self.fail(node, f"expected a condition, got {self.describe(node)}")

    def compare(self, node: ast.Compare) -> tuple[str, tuple[Any, ...]]:
        left_node: ast.AST = node.left
        left = self.value(left_node)
        parts: list[str] = []
        params: list[Any] = []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.value(right_node)
            sql, p = self.pair(op, (left, left_node), (right, right_node))
            parts.append(sql)
            params.extend(p)
            left, left_node = right, right_node
        sql = parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
        return sql, tuple(params)

    def pair(
        self, op: ast.cmpop, lhs: tuple[_Value, ast.AST], rhs: tuple[_Value, ast.AST]
    ) -> tuple[str, tuple[Any, ...]]:
        """One ``left op right`` comparison; errors point at the operand at fault."""
        if isinstance(op, ast.In | ast.NotIn):
            sql, params = self.membership(lhs, rhs)
            return (f"(NOT IFNULL({sql}, 0))" if isinstance(op, ast.NotIn) else sql), params
        (left, left_node), (right, right_node) = lhs, rhs
        if type(op) not in _COMPARE_OPS:
            raise self.fail(right_node, f"operator {type(op).__name__} is not allowed")
        sql_op, spelling = _COMPARE_OPS[type(op)]
        for side, side_node in (lhs, rhs):
            if side.kind in ("list", "tags"):
                raise self.fail(side_node, f"{side.label} can only be used with 'in'")
        if left.kind == "const" and right.kind == "const":
            raise self.fail(left_node, "a comparison needs a field on one side")
        for (a, _), (b, b_node) in ((lhs, rhs), (rhs, lhs)):
            if a.types and b.kind == "const" and not _accepts(a.types, b.value):
                wanted = " or ".join(t.__name__ for t in a.types)
                raise self.fail(b_node, f"{a.label} compares with {wanted}, not {b.value!r}")
        for side, side_node in (lhs, rhs):
            if side.kind == "const" and side.value is None and sql_op not in ("IS", "IS NOT"):
                raise self.fail(side_node, f"None cannot be compared with {spelling}")
        return f"({left.sql} {sql_op} {right.sql})", left.params + right.params

    def membership(
        self, lhs: tuple[_Value, ast.AST], rhs: tuple[_Value, ast.AST]
    ) -> tuple[str, tuple[Any, ...]]:
        """``left in right``: a list (IN), tags (json_each) or a text value (substring)."""
        (left, left_node), (right, right_node) = lhs, rhs
        if right.kind == "list":
            if left.kind in ("list", "tags"):
                raise self.fail(left_node, f"{left.label} cannot be tested for membership")
            return f"({left.sql} IN {right.sql})", left.params + right.params
        if right.kind == "tags":
            if left.kind != "const" or not isinstance(left.value, str):
                raise self.fail(left_node, 'tag membership needs a string: "tag" in tags')
            sql = "EXISTS (SELECT 1 FROM json_each(spans.tags) WHERE json_each.value = ?)"
            return sql, left.params
        if right.kind == "const":
            raise self.fail(
                right_node, f"'in' needs a list, a text field or tags, not {right.label}"
            )
        if right.types and str not in right.types:
            raise self.fail(right_node, f"{right.label} is not text; use a list: x in [1, 2]")
        if left.kind in ("list", "tags") or (
            left.kind == "const" and not isinstance(left.value, str)
        ):
            raise self.fail(left_node, f"substring test needs a string, not {left.label}")
        return f"(instr({right.sql}, {left.sql}) > 0)", left.params + right.params

    def call(self, node: ast.Call) -> tuple[str, tuple[Any, ...]]:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.fail(node, f"only these functions may be called: {', '.join(FUNCTIONS)}")
        if func.id not in FUNCTIONS:
            raise self.fail(
                func,
                f"unknown function {func.id!r}; functions: {', '.join(FUNCTIONS)}",
            )
        if node.keywords or len(node.args) != 1:
            raise self.fail(node, f'{func.id}() takes one evaluation name: {func.id}("name")')
        name = self.string_constant(node.args[0], f"{func.id}()")
        sql = (
            "EXISTS (SELECT 1 FROM evaluations AS e WHERE e.span_id = spans.span_id"
            " AND e.trace_id = spans.trace_id AND e.name = ?)"
        )
        return sql, (name,)

    # Operands ------------------------------------------------------------------------

    def value(self, node: ast.AST) -> _Value:
        if isinstance(node, ast.Constant):
            v = node.value
            if v is not None and not isinstance(v, str | int | float):
                raise self.fail(node, f"constant {v!r} is not allowed")
            return _Value("?", (v,), "const", value=v, label=repr(v))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = node.operand
            number = operand.value if isinstance(operand, ast.Constant) else None
            if type(number) in _NUMBER:  # int or float, not bool
                assert isinstance(number, int | float)
                n = -number if isinstance(node.op, ast.USub) else number
                return _Value("?", (n,), "const", value=n, label=repr(n))
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.value(e) for e in node.elts]
            for item, elt in zip(items, node.elts, strict=True):
                if item.kind != "const":
                    raise self.fail(elt, "a list may only hold constants")
            if not items:
                raise self.fail(node, "an empty list matches nothing; remove the condition")
            sql = "(" + ", ".join("?" for _ in items) + ")"
            return _Value(sql, tuple(i.value for i in items), "list", label="a list")
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Attribute):
            return self.eval_property(node)
        raise self.fail(node, f"{self.describe(node)} is not allowed here")

    def name(self, node: ast.Name) -> _Value:
        if node.id in _FIELDS:
            f = _FIELDS[node.id]
            return _Value(f.sql, (), "field", types=f.types, label=node.id)
        if node.id == "tags":
            return _Value("", (), "tags", label="tags")
        if node.id in ("attributes", "eval"):
            raise self.fail(node, f'{node.id} needs a key: {node.id}["..."]')
        valid = ", ".join([*FIELDS, *_SPECIAL_NAMES])
        raise self.fail(node, f"unknown field {node.id!r}; valid fields: {valid}")

    def subscript(self, node: ast.Subscript) -> _Value:
        base = node.value
        if not isinstance(base, ast.Name) or base.id not in ("attributes", "eval"):
            raise self.fail(node, 'only attributes["key"] and eval["name"] can be indexed')
        key = self.string_constant(node.slice, f"{base.id}[...]")
        if base.id == "eval":
            raise self.fail(node, f"eval[{key!r}] needs .label or .score")
        label = f"attributes[{key!r}]"
        if '"' in key:  # a JSON path cannot quote this key; look it up by name instead
            sql = (
                "(SELECT json_each.value FROM json_each(spans.attributes) WHERE json_each.key = ?)"
            )
            return _Value(sql, (key,), "json", label=label)
        return _Value("json_extract(spans.attributes, ?)", (f'$."{key}"',), "json", label=label)

    def eval_property(self, node: ast.Attribute) -> _Value:
        base = node.value
        if not (
            isinstance(base, ast.Subscript)
            and isinstance(base.value, ast.Name)
            and base.value.id == "eval"
        ):
            raise self.fail(node, f"attribute access .{node.attr} is not allowed here")
        if node.attr not in _EVAL_PROPERTIES:
            raise self.fail(node, f"eval[...] has .label and .score, not .{node.attr}")
        name = self.string_constant(base.slice, "eval[...]")
        sql = (
            f"(SELECT e.{node.attr} FROM evaluations AS e WHERE e.span_id = spans.span_id"
            " AND e.trace_id = spans.trace_id AND e.name = ?"
            " ORDER BY e.created_at_ns DESC, e.seq DESC LIMIT 1)"
        )
        types = (str,) if node.attr == "label" else _NUMBER
        return _Value(sql, (name,), "eval", types=types, label=f"eval[{name!r}].{node.attr}")

    def string_constant(self, node: ast.AST, where: str) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        raise self.fail(node, f"{where} needs a string constant, not {self.describe(node)}")

    @staticmethod
    def describe(node: ast.AST) -> str:
        """Names the construct in errors: the name for names and calls, else the node type."""
        if isinstance(node, ast.Name):
            return f"name {node.id!r}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else ast.unparse(func)
            return f"call {called!r}"
        if isinstance(node, ast.Attribute):
            return f"attribute {node.attr!r}"
        if isinstance(node, ast.Constant):
            return f"constant {node.value!r}"
        return _CONSTRUCTS.get(type(node).__name__, type(node).__name__)


def compile_filter(expression: str) -> CompiledFilter:
    """Compile a filter expression to a parameterized WHERE fragment over ``spans``.

    Example: ``compile_filter('kind == "LLM" and eval["groundedness"].label == "fail"')``.
    Pure: touches no database. Raises :class:`FilterSyntaxError` (with ``.position``,
    1-based, and ``.expression``) for anything outside the language.
    """
    if not isinstance(expression, str):
        raise FilterSyntaxError(f"a filter is a string, not {type(expression).__name__}", 1, "")
    if not expression.strip():
        raise FilterSyntaxError("empty filter expression", 1, expression)
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise FilterSyntaxError(
            f"filter longer than {MAX_EXPRESSION_CHARS} characters",
            MAX_EXPRESSION_CHARS,
            expression,
        )
    if "\x00" in expression:
        raise FilterSyntaxError("null byte in filter", expression.index("\x00") + 1, expression)
    compiler = _Compiler(expression)
    try:
        tree = ast.parse(compiler.source, mode="eval")
    except SyntaxError as e:
        # SyntaxError.offset counts characters (1-based) within its line; 0 means the
        # input ended early, which is where the user has to look.
        if not e.offset:
            raise FilterSyntaxError(
                f"syntax error: {e.msg} (the filter ends too early)",
                len(expression.rstrip()) + 1,
                expression,
            ) from None
        lineno = min(max(e.lineno or 1, 1), len(compiler.lines))
        before = sum(len(x) + 1 for x in compiler.lines[: lineno - 1])
        position = compiler.lead + before + e.offset
        raise FilterSyntaxError(f"syntax error: {e.msg}", position, expression) from None
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes, absurd nesting
        raise FilterSyntaxError(f"unparsable filter: {e}", 1, expression) from None
    try:
        sql, params = compiler.predicate(tree.body)
    except RecursionError:
        raise FilterSyntaxError("filter nested too deeply", 1, expression) from None
    return CompiledFilter(sql, params)
