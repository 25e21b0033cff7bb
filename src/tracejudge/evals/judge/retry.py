"""When and how long the judge client retries: one tenacity policy for sync and async.

The ``openai`` SDK's own retries are turned off so there is exactly one retry loop, which
also covers what the SDK cannot know about: a reply that is not a valid verdict. Waits are
exponential with jitter (so concurrent evaluations do not retry in lockstep), except that
a server's ``Retry-After`` / ``retry-after-ms`` header wins when present (capped).
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any

import openai
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt

from tracejudge.evals.judge.parsing import InvalidVerdict

__all__ = ["RetryPolicy", "describe_error", "is_retryable", "retry_after_s"]

# What the openai SDK itself retries: request timeout, lock conflict, rate limit, server errors.
_RETRY_STATUSES = frozenset({408, 409, 429})


def is_retryable(exc: BaseException) -> bool:
    """Transient failures: 408/409/429/5xx, timeouts, connection errors, invalid verdicts."""
    if isinstance(exc, InvalidVerdict | openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUSES or exc.status_code >= 500
    return False


def retry_after_s(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """tenacity arguments for ``max_retries`` retries (``max_retries + 1`` attempts)."""

    max_retries: int
    backoff_s: float
    max_backoff_s: float

    def wait(self, state: RetryCallState) -> float:
        """Retry-After when the server sent one, else exponential backoff with jitter."""
        outcome = state.outcome
        asked = retry_after_s(outcome.exception() if outcome is not None else None)
        if asked is not None:
            return min(asked, self.max_backoff_s)
        # backoff_s * 2^(n-1) plus up to backoff_s of jitter (tenacity's
        # wait_exponential_jitter, whose keyword names differ between tenacity releases).
        exponent = min(state.attempt_number - 1, 60)
        backoff: float = self.backoff_s * 2.0**exponent + random.uniform(0, self.backoff_s)
        return min(backoff, self.max_backoff_s)

    def tenacity_kwargs(self) -> dict[str, Any]:
        """Arguments for ``tenacity.Retrying``/``AsyncRetrying``; the last error is re-raised."""
        return {
            "stop": stop_after_attempt(self.max_retries + 1),
            "retry": retry_if_exception(is_retryable),
            "wait": self.wait,
            "reraise": True,
        }


def describe_error(exc: BaseException, *, attempts: int, timeout_s: float) -> str:
    """The reason an evaluation got no verdict, for ``EvalResult.error``."""
    if attempts == 0:
        return f"judge could not be called: {exc}"
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, InvalidVerdict):
        return f"judge gave no valid verdict {tries}: {exc.reason}"
    if isinstance(exc, openai.APITimeoutError):
        return f"judge timed out {tries} (timeout_s={timeout_s:g})"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        return f"judge unreachable {tries}{detail}"
    if isinstance(exc, openai.APIStatusError):
        kind = "rate limited" if exc.status_code == 429 else f"HTTP {exc.status_code}"
        return f"judge request failed {tries}: {kind}: {_status_message(exc)}"
    return f"judge failed {tries}: {type(exc).__name__}: {exc}"


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)
    return str(exc.message)
