"""The session of a cached public request is never saved, and its templates see no visitor:
nothing of one visitor ends up in a copy everyone gets, and no `Set-Cookie` or `Vary: Cookie`
keeps a CDN from caching it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import request
from flask.sessions import SessionInterface, SessionMixin
from flask_login import AnonymousUserMixin

from statuspage.public.cache.policy import ENVIRON_KEY

if TYPE_CHECKING:
    from flask import Flask
    from flask.wrappers import Response

logger = logging.getLogger(__name__)


class PublicAwareSessionInterface(SessionInterface):
    """The app's session interface, except that a cached public request's session is never
    saved: no `Set-Cookie`, no `Vary: Cookie`, and the visitor's cookie stays as it was."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def make_null_session(self, app: Flask) -> Any:
        return self.inner.make_null_session(app)

    def is_null_session(self, obj: object) -> bool:
        return self.inner.is_null_session(obj)

    def open_session(self, app: Flask, request: Any) -> SessionMixin | None:
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if is_public_request():
            if session.modified:
                logger.error(
                    "public cache: %s wrote to the session; the change is dropped",
                    request.endpoint,
                )
            return None
        return self.inner.save_session(app, session, response)


def is_public_request() -> bool:
    """Whether this request is for a cached public endpoint (set by `before_request`, which
    only a real dispatch runs: the test client's `session_transaction` is left alone)."""
    return bool(request) and ENVIRON_KEY in request.environ


def public_template_context() -> dict[str, Any]:
    """Templates of a cached public response see no visitor: no flashed message, no user.

    They are shared by everyone, so a message flashed for one visitor, or anything shown
    to a logged-in user, must not end up in them (the message waits for a page of its own).
    """
    if not is_public_request():
        return {}
    return {
        "get_flashed_messages": lambda *args, **kwargs: [],
        "current_user": AnonymousUserMixin(),
        "can": lambda permission: False,
    }
