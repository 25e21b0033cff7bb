"""Attribute keys tracejudge reads and writes.

Three vocabularies meet here: OpenInference (what Phoenix and the OpenInference
instrumentors write, and what our own SDK writes so other tools read our spans),
OpenTelemetry GenAI (``gen_ai.*``, what the official OTel instrumentors write), and a few
keys of our own under ``tracejudge.*``. Keeping them in one module means the normalizer,
the capture SDK and attribute paths agree on spelling.
"""

from __future__ import annotations

from openinference.semconv.resource import ResourceAttributes
from openinference.semconv.trace import (
    DocumentAttributes,
    MessageAttributes,
    SpanAttributes,
    ToolCallAttributes,
)

# --- OpenInference -------------------------------------------------------------------------
OI_SPAN_KIND = SpanAttributes.OPENINFERENCE_SPAN_KIND  # "openinference.span.kind"
INPUT_VALUE = SpanAttributes.INPUT_VALUE  # "input.value"
INPUT_MIME_TYPE = SpanAttributes.INPUT_MIME_TYPE
OUTPUT_VALUE = SpanAttributes.OUTPUT_VALUE  # "output.value"
OUTPUT_MIME_TYPE = SpanAttributes.OUTPUT_MIME_TYPE
LLM_INPUT_MESSAGES = SpanAttributes.LLM_INPUT_MESSAGES  # "llm.input_messages"
LLM_OUTPUT_MESSAGES = SpanAttributes.LLM_OUTPUT_MESSAGES  # "llm.output_messages"
LLM_MODEL_NAME = SpanAttributes.LLM_MODEL_NAME
LLM_PROVIDER = SpanAttributes.LLM_PROVIDER
LLM_SYSTEM = SpanAttributes.LLM_SYSTEM
LLM_INVOCATION_PARAMETERS = SpanAttributes.LLM_INVOCATION_PARAMETERS
LLM_TOKEN_COUNT_PROMPT = SpanAttributes.LLM_TOKEN_COUNT_PROMPT
LLM_TOKEN_COUNT_COMPLETION = SpanAttributes.LLM_TOKEN_COUNT_COMPLETION
LLM_TOKEN_COUNT_TOTAL = SpanAttributes.LLM_TOKEN_COUNT_TOTAL
LLM_TOOLS = SpanAttributes.LLM_TOOLS
RETRIEVAL_DOCUMENTS = SpanAttributes.RETRIEVAL_DOCUMENTS  # "retrieval.documents"
TOOL_NAME = SpanAttributes.TOOL_NAME
TOOL_DESCRIPTION = SpanAttributes.TOOL_DESCRIPTION
TOOL_PARAMETERS = SpanAttributes.TOOL_PARAMETERS
SESSION_ID = SpanAttributes.SESSION_ID
USER_ID = SpanAttributes.USER_ID
METADATA = SpanAttributes.METADATA
TAG_TAGS = SpanAttributes.TAG_TAGS  # "tag.tags"

MESSAGE_ROLE = MessageAttributes.MESSAGE_ROLE  # "message.role"
MESSAGE_CONTENT = MessageAttributes.MESSAGE_CONTENT
MESSAGE_NAME = MessageAttributes.MESSAGE_NAME
MESSAGE_TOOL_CALLS = MessageAttributes.MESSAGE_TOOL_CALLS
MESSAGE_TOOL_CALL_ID = MessageAttributes.MESSAGE_TOOL_CALL_ID
TOOL_CALL_ID = ToolCallAttributes.TOOL_CALL_ID
TOOL_CALL_FUNCTION_NAME = ToolCallAttributes.TOOL_CALL_FUNCTION_NAME
TOOL_CALL_FUNCTION_ARGUMENTS = ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON

DOCUMENT_ID = DocumentAttributes.DOCUMENT_ID
DOCUMENT_CONTENT = DocumentAttributes.DOCUMENT_CONTENT
DOCUMENT_SCORE = DocumentAttributes.DOCUMENT_SCORE
DOCUMENT_METADATA = DocumentAttributes.DOCUMENT_METADATA

# OpenInference in-line feedback: ``annotations.N.annotation.*`` / ``evaluations.N.evaluation.*``.
ANNOTATIONS_PREFIX = "annotations."
EVALUATIONS_PREFIX = "evaluations."

PROJECT_NAME = ResourceAttributes.PROJECT_NAME  # "openinference.project.name"

# --- OpenTelemetry resource ----------------------------------------------------------------
SERVICE_NAME = "service.name"

# --- OpenTelemetry GenAI -------------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"  # older spelling of the provider
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"  # older spelling
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"  # older spelling
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
# Older per-message span events.
GEN_AI_MESSAGE_EVENTS = (
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
)
GEN_AI_CHOICE_EVENT = "gen_ai.choice"
# Evaluation results as span events.
GEN_AI_EVALUATION_RESULT = "gen_ai.evaluation.result"
GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"

# --- tracejudge's own ----------------------------------------------------------------------
TJ_EVALUATOR = "tracejudge.evaluation.evaluator"
TJ_EVALUATION_ERROR = "tracejudge.evaluation.error"
TJ_EVALUATION_JUDGE_MODEL = "tracejudge.evaluation.judge_model"
TJ_EVALUATION_LATENCY_MS = "tracejudge.evaluation.latency_ms"
TJ_PROJECT_HEADER = "x-tracejudge-project"
