"""The demo app itself: a small RAG + tool-calling support assistant on the ``openai`` SDK.

It is written the way a user would instrument their own app: the model calls are
recorded by the OpenInference openai instrumentor (``register(auto_instrument=True)``),
and our ``span`` context manager adds the agent root, the retriever with its documents
and the tool with its arguments and result. One question is one trace::

    support_agent (AGENT)
    ├── retrieve_articles (RETRIEVER)
    ├── ChatCompletion (LLM)          first call, offered the tool
    ├── get_order_status (TOOL)       only if the model asked for it
    └── ChatCompletion (LLM)          second call, with the tool result

It also evaluates itself in-line, the way an app would in production: the TOOL span gets
a ``tool_call_valid`` check (the called tool exists and its arguments match the declared
schema, read from the trace with ``inputs=None``) and the AGENT span gets an LLM-judged
``groundedness`` of the answer against what the app retrieved (``trace.documents``; plus
the tool results when a tool ran). Both results become evaluations on those spans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openai import OpenAI, OpenAIError

from tracejudge.capture import span
from tracejudge.demo.corpus import DOCUMENTS, Document
from tracejudge.demo.prompt import build_system_prompt
from tracejudge.demo.retriever import BM25Retriever
from tracejudge.demo.tools import ORDER_STATUS_TOOL, OrderBook, ToolError
from tracejudge.evals import evaluate
from tracejudge.evals.code import tool_call_valid

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

    from tracejudge.evals.judge import Judge

__all__ = ["FALLBACK_ANSWER", "GROUNDEDNESS", "TOOL_CHECK", "Answer", "SupportAssistant"]

_TOOL_NAME = ORDER_STATUS_TOOL["function"]["name"]
_TOOL_DESCRIPTION = ORDER_STATUS_TOOL["function"]["description"]


FALLBACK_ANSWER = "Sorry, I can't answer right now; please try again later."
GROUNDEDNESS = "groundedness"  # the judge template run on every answer
TOOL_CHECK = "tool_call_valid"  # the code check run on every tool call


@dataclass(frozen=True, slots=True)
class Answer:
    """The assistant's reply and the trace that recorded how it was produced."""

    text: str
    trace_id: str
    error: str | None = None  # set when the model endpoint failed and the fallback was sent


class SupportAssistant:
    """Answers customer questions from the help center and the order table.

    Example::

        assistant = SupportAssistant(OpenAI(base_url=..., api_key=...), model="gpt-4o-mini")
        answer = assistant.ask("Where is my order TH-1042?")

    Errors from the model endpoint propagate (the AGENT span records them); a failing
    tool does not: its TOOL span is marked ERROR and the error is shown to the model.

    ``judge`` is the LLM judge for in-line groundedness (default: the assistant's own
    endpoint and model); ``evaluate_inline=False`` turns in-line evaluation off.
    """

    def __init__(
        self,
        client: OpenAI,
        *,
        model: str,
        retriever: BM25Retriever | None = None,
        orders: OrderBook | None = None,
        top_k: int = 3,
        judge: Judge | None = None,
        evaluate_inline: bool = True,
    ) -> None:
        self._client = client
        self._model = model
        self._retriever = retriever or BM25Retriever(DOCUMENTS)
        self._orders = orders or OrderBook()
        self._top_k = top_k
        self._evaluate_inline = evaluate_inline
        self._judge = judge
        self._tool_check = tool_call_valid()

    def ask(self, question: str) -> Answer:
        """Answer one question; everything it does is one trace rooted at an AGENT span.

        A failing model endpoint does not raise: like a real support bot the assistant
        replies with :data:`FALLBACK_ANSWER`, and the AGENT span is marked ERROR.
        """
        with span("support_agent", kind="AGENT") as root:
            root.set_input(question)
            trace_id = format(root.otel_span.get_span_context().trace_id, "032x")
            try:
                text, tool_context = self._answer(question)
            except OpenAIError as exc:
                error = f"{type(exc).__name__}: {exc}"
                root.set_status_error(error)
                root.set_output(FALLBACK_ANSWER)
                return Answer(FALLBACK_ANSWER, trace_id, error)
            root.set_output(text)
            if self._evaluate_inline:
                self._check_groundedness(text, tool_context)
        return Answer(text, trace_id)

    def _check_groundedness(self, text: str, tool_context: list[dict[str, Any]]) -> None:
        """LLM-judged groundedness of the answer, attached to the AGENT span.

        Without tool calls the inputs are read from the live trace (``output`` and
        ``trace.documents``); with them, the retrieved documents and the tool results are
        passed as the context.
        """
        judge = self._judge or self._default_judge()
        if not tool_context:
            evaluate(GROUNDEDNESS, judge=judge)
        else:
            evaluate(GROUNDEDNESS, {"output": text, "context": tool_context}, judge=judge)

    def _default_judge(self) -> Judge:
        """A judge on the assistant's own endpoint and model (built once)."""
        from tracejudge.evals.judge import Judge

        self._judge = Judge(
            model=self._model,
            base_url=str(self._client.base_url),
            api_key=self._client.api_key,
            max_retries=1,
            timeout_s=60,
        )
        return self._judge

    def _answer(self, question: str) -> tuple[str, list[dict[str, Any]]]:
        """Retrieve, ask the model, run the tool it asks for, ask again with the result.

        Returns the answer and, when a tool ran, everything the model was shown (retrieved
        documents and tool results) as ``{id, content}`` context; else an empty list.
        """
        documents = self._retrieve(question)
        tool_results: list[str] = []
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": build_system_prompt(documents)},
            {"role": "user", "content": question},
        ]
        message = self._complete(messages).choices[0].message
        if message.tool_calls:
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                # Only function tools are offered; anything else is reported back as an error.
                result = (
                    self._call_tool(call.function.name, call.function.arguments)
                    if call.type == "function"
                    else json.dumps({"error": f"unsupported tool call type {call.type!r}"})
                )
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
                tool_results.append(result)
            message = self._complete(messages).choices[0].message
        if not tool_results:
            return message.content or "", []
        context = [{"id": d.id, "content": d.content} for d in documents]
        context += [{"id": f"tool-result-{i}", "content": r} for i, r in enumerate(tool_results)]
        return message.content or "", context

    def _retrieve(self, question: str) -> list[Document]:
        """BM25 search, recorded as a RETRIEVER span with ids, contents and scores."""
        with span("retrieve_articles", kind="RETRIEVER") as s:
            s.set_input(question)
            hits = self._retriever.search(question, k=self._top_k)
            s.set_documents(
                [
                    {"id": h.document.id, "content": h.document.content, "score": h.score}
                    for h in hits
                ]
            )
        return [h.document for h in hits]

    def _complete(self, messages: list[dict[str, Any]]) -> ChatCompletion:
        """One chat-completions call (the instrumentor records it as an LLM span)."""
        return self._client.chat.completions.create(
            model=self._model,
            messages=messages,  # type: ignore[arg-type]
            tools=[ORDER_STATUS_TOOL],
            temperature=0,
        )

    def _call_tool(self, name: str, arguments: str) -> str:
        """Run the tool the model asked for; returns the JSON result or error for the model."""
        try:
            with span(name, kind="TOOL") as s:
                s.set_tool(name, arguments=arguments, description=_TOOL_DESCRIPTION)
                if self._evaluate_inline:
                    # Reads this span's call and the tools the model was offered (trace.tools).
                    evaluate(self._tool_check)
                if name != _TOOL_NAME:
                    raise ToolError(f"unknown tool {name!r}")
                order_id = json.loads(arguments)["order_id"]
                result = self._orders.get_order_status(str(order_id))
                s.set_output(result)
        except (ToolError, KeyError, TypeError, ValueError) as exc:
            return json.dumps({"error": str(exc)})
        return json.dumps(result)
