"""Who is using the web UI, and proof that a form post came from our own page.

Two modes, decided per request by the key store (as the REST API does):

- **keys exist**: a reviewer signs in by pasting a project API key once; the server sets
  a signed session cookie (HMAC-SHA256 with a per-server secret, HttpOnly, SameSite=Lax)
  that names the key. Every request re-checks that the key is still active, so revoking a
  key ends its sessions. The UI user is the key's name (or its displayed prefix) and the
  key's project scopes every page.
- **no keys** (a local ``tracejudge serve``): the UI is open; it asks the reviewer's name
  once so labels have an annotator, and keeps it in the same signed cookie.

Every session carries a random CSRF token. Templates put it in forms
(``{{ csrf_token(request) }}``) and base.html sends it as ``X-CSRF-Token`` on every htmx
request; :func:`require_csrf` (a dependency on every UI POST) answers 403 when it is
missing or wrong. The cookie is signed, not encrypted: it holds no secret besides the
CSRF token, which only its owner's browser sees.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import Depends, Request

from tracejudge.errors import NotFound, TracejudgeError
from tracejudge.keys import ApiKey, KeyStore
from tracejudge.server.errors import ApiError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SECRET_ENV",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE_S",
    "CsrfChecked",
    "LoginRequired",
    "UiSession",
    "UiSessionDep",
    "csrf_token",
    "current_user",
    "key_user",
    "make_session_cookie",
    "read_session",
    "require_csrf",
    "require_session",
    "server_secret",
]

SESSION_COOKIE = "tj_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SECRET_ENV = "TRACEJUDGE_UI_SECRET"
_MAX_NAME_CHARS = 80


class LoginRequired(TracejudgeError):
    """No valid UI session; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__("login required")
        self.next_url = next_url


@dataclass(frozen=True, slots=True)
class UiSession:
    """The signed-in reviewer."""

    user: str  # the annotator name written on labels
    project: str | None  # the key's project (every page is scoped to it); None = any
    key_id: str | None  # the API key this session was opened with; None on an open server
    csrf: str  # per-session random token every UI POST must echo

    def check_project(self, project: str) -> str:
        """``project`` if this session may see it; otherwise NotFound (nothing leaks)."""
        if self.project is not None and project != self.project:
            raise NotFound(f"no project {project!r}")
        return project


def server_secret(env: dict[str, str] | None = None) -> bytes:
    """The session-signing secret: ``$TRACEJUDGE_UI_SECRET`` or a fresh random one.

    A random secret lives as long as the app: restarting the server signs everyone out,
    and ``serve --workers N`` needs the variable set so all workers accept one cookie.
    """
    value = (os.environ if env is None else env).get(SECRET_ENV)
    return value.encode() if value else secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def make_session_cookie(secret: bytes, user: str, key: ApiKey | None) -> str:
    """A signed cookie value for ``user`` (and the key that signed them in, if any)."""
    body = {
        "u": user[:_MAX_NAME_CHARS],
        "k": key.id if key else None,
        "p": key.project if key else None,
        "c": secrets.token_urlsafe(24),
        "t": int(time.time()),
    }
    payload = _b64(orjson.dumps(body))
    return f"{payload}.{_sign(secret, payload)}"


def _decode(secret: bytes, value: str) -> dict[str, Any] | None:
    payload, _, signature = value.partition(".")
    if not signature or not hmac.compare_digest(signature, _sign(secret, payload)):
        return None
    try:
        body = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(body, dict) or time.time() - body.get("t", 0) > SESSION_MAX_AGE_S:
        return None
    return body


def key_user(key: ApiKey) -> str:
    """The reviewer name of a key-based session: the key's name, else its prefix."""
    return key.name or key.prefix


def _active_key(keys: KeyStore, key_id: str, project: str | None) -> ApiKey | None:
    for key in keys.list_keys(project):
        if key.id == key_id:
            return key if key.active else None
    return None


def read_session(request: Request) -> UiSession | None:
    """The request's valid session, or None. Blocks on the key store (call off the loop).

    With keys, a session opened on an open server (no key id) or with a key since revoked
    is no session at all.
    """
    if hasattr(request.state, "ui_session"):
        return request.state.ui_session  # type: ignore[no-any-return]
    session: UiSession | None = None
    value = request.cookies.get(SESSION_COOKIE)
    body = _decode(request.app.state.ui_secret, value) if value else None
    if body is not None:
        keys: KeyStore = request.app.state.keys
        if keys.has_active():
            key = _active_key(keys, body["k"], body["p"]) if body.get("k") else None
            if key is not None:
                session = UiSession(key_user(key), key.project, key.id, body["c"])
        elif body.get("u"):
            session = UiSession(body["u"], None, None, body["c"])
    request.state.ui_session = session
    return session


def require_session(request: Request) -> UiSession:
    """Dependency: the session, or :class:`LoginRequired` (a redirect to /login)."""
    session = read_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(quote(target, safe="/"))
    return session


UiSessionDep = Annotated[UiSession, Depends(require_session)]


def current_user(request: Request) -> str:
    """The reviewer's name for annotations (requires a session; see :func:`require_session`)."""
    return require_session(request).user


def csrf_token(request: Request) -> str:
    """The session's CSRF token, for templates: ``<input name="csrf_token" value="...">``."""
    session = read_session(request)
    return session.csrf if session else ""


async def require_csrf(request: Request) -> None:
    """Dependency for every UI POST: 403 unless the session's token came back with it.

    The token is read from the ``X-CSRF-Token`` header (htmx sends it) or the
    ``csrf_token`` form field (plain forms).
    """
    from fastapi.concurrency import run_in_threadpool

    session = await run_in_threadpool(read_session, request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf):
        raise ApiError(403, "missing or invalid CSRF token: reload the page and try again")


CsrfChecked = Depends(require_csrf)
