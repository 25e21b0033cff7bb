"""``/login`` and ``/logout``: open a UI session from an API key, or a reviewer name.

The login form itself has no session to carry a CSRF token, so it uses a double-submit
cookie: GET /login sets a random ``tj_login_csrf`` cookie and puts the same value in the
form; POST /login accepts only when both match (a cross-site form cannot read the cookie).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from tracejudge.keys import KeyStore
from tracejudge.server.ui.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    key_user,
    make_session_cookie,
    require_csrf,
)
from tracejudge.server.ui.templating import render

__all__ = ["router", "safe_next"]

router = APIRouter(include_in_schema=False)

_LOGIN_CSRF_COOKIE = "tj_login_csrf"


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (``//evil``, ``http:``) is /projects."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/projects"
    return value


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request, next_url: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    keys: KeyStore = request.app.state.keys
    response = render(
        request,
        "login.html",
        {
            "keys_required": keys.has_active(),
            "next_url": safe_next(next_url),
            "login_csrf": token,
            "error": error,
        },
        status_code=status_code,
    )
    response.set_cookie(
        _LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/projects") -> Response:
    """The sign-in page: an API key field when keys exist, else a name field."""
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/projects",
    api_key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """Check the key (or take the name) and set the signed session cookie."""
    expected = request.cookies.get(_LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, next, "The form expired; please try again.", 403)
    keys: KeyStore = request.app.state.keys
    if keys.has_active():
        key = keys.verify(api_key.strip())
        if key is None:
            return _login_page(request, next, "That API key is unknown or revoked.", 401)
        cookie = make_session_cookie(request.app.state.ui_secret, key_user(key), key)
    else:
        user = " ".join(name.split())
        if not user:
            return _login_page(request, next, "Please enter your name.", 400)
        cookie = make_session_cookie(request.app.state.ui_secret, user, None)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(_LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout() -> Response:
    """End the session (the cookie is dropped; the key itself stays valid)."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
