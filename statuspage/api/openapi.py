"""Declaring the write API's operations: route, permission, body and answer models, in one place.

`Operations.route` puts a view on the blueprint behind, in this order: the bearer token and its
role's permission (401, 403), ids beyond the databases' integer (404), the body as a JSON object
(415, 400, deep nesting included), spectree's validation of the body against its pydantic model
(422), the view, one commit. spectree also collects the same declarations into the OpenAPI 3.1
document (`Operations.document`), so the document cannot drift from what the server accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel
from spectree import Response as Answers
from spectree import SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData, Server
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from statuspage.api.auth import require_token
from statuspage.api.errors import ApiError, from_validation_error
from statuspage.api.models import MAX_ID, Error
from statuspage.auth.models import User
from statuspage.auth.permissions import Permission
from statuspage.extensions import db

ERROR_MEANINGS = {
    400: "Malformed JSON, or a body that is not a JSON object",
    401: "Missing, unknown or revoked token",
    403: "The token's account role does not allow this",
    404: "No such record",
    405: "Method not allowed",
    409: "Refused: the lifecycle does not allow it, or the record changed since (see changes)",
    413: "Body larger than the server accepts",
    415: "The body is not JSON",
    422: "A field is missing, of the wrong type, or refused (see field)",
}


ID_HELP = f"An id, 1 to {MAX_ID}; any other number is a 404."


def read_json_object() -> dict[str, Any]:
    """The request's body as a JSON object, or a 415 / 400 that says what is wrong with it.

    Flask caches what it parsed here, so spectree validates this very object.
    """
    if not request.is_json:
        raise UnsupportedMediaType("Send a JSON body with 'Content-Type: application/json'.")
    try:
        body = request.get_json()
    except (BadRequest, RecursionError):  # RecursionError: nested deeper than Python recurses
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def _refuse_invalid(_request: Any, _response: Any, error: Exception | None, *_: Any) -> None:
    """spectree's hook after validation: answer pydantic's error in the API's error shape."""
    if error is not None:
        raise from_validation_error(error)  # type: ignore[arg-type]


class Operations:
    """The operations of one blueprint, validated and documented by one spectree instance."""

    def __init__(self, bp: Blueprint, *, title: str, description: str) -> None:
        self.bp = bp
        self.spectree = SpecTree(
            "flask",
            mode="strict",  # document only the routes declared here
            annotations=False,
            title=title,
            description=description,
            version="1",
            servers=[Server(url=bp.url_prefix or "/")],
            security_schemes=[
                SecurityScheme(
                    name="bearer",
                    data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"),
                )
            ],
            security={"bearer": []},
            before=_refuse_invalid,
            validation_error_model=Error,
            naming_strategy=lambda model: model.__name__,
            nested_naming_strategy=lambda _parent, child: child,
        )

    def route(
        self,
        method: str,
        path: str,
        permission: Permission,
        *,
        answer: type[BaseModel],
        body: type[BaseModel] | None = None,
        status: int = 200,
    ) -> Callable[[Callable[..., BaseModel]], Callable[..., BaseModel]]:
        """Route `view(user, **ids[, data=<body model>])`, which returns the answer model.

        `path` is OpenAPI style (`/incidents/{incident_id}`); every parameter is an id.
        """
        params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        rule = path
        for name in params:
            rule = rule.replace("{" + name + "}", f"<int:{name}>")
        codes = [401, 403, 404, 405] + ([400, 409, 413, 415, 422] if body is not None else [])
        answers = Answers(
            **{f"HTTP_{status}": (answer, "Found" if method == "GET" else "Done")},
            **{f"HTTP_{code}": (Error, ERROR_MEANINGS[code]) for code in codes},
        )
        operation_id = f"{method.lower()}_{path.strip('/').replace('/', '_')}"
        operation_id = operation_id.replace("{", "").replace("}", "")

        def register(view: Callable[..., BaseModel]) -> Callable[..., BaseModel]:
            def run(user: User, **ids: int) -> tuple[BaseModel, int]:
                args: dict[str, Any] = dict(ids)
                if body is not None:
                    args["data"] = request.context.json  # type: ignore[attr-defined]
                result = view(user, **args)
                db.session.commit()  # the one commit; GETs record the token's last use
                return result, status

            summary = (view.__doc__ or view.__name__).strip()
            run.__name__ = view.__name__
            run.__doc__ = (
                f"{summary}\n\nNeeds a token whose account role has the '{permission}' permission."
            )
            validated = self.spectree.validate(
                json=body,
                resp=answers,
                operation_id=operation_id,
                path_parameter_descriptions={name: ID_HELP for name in params},
            )(run)

            @functools.wraps(validated)
            def endpoint(**ids: int) -> Any:
                user = require_token(permission)
                for name, value in ids.items():
                    if value > MAX_ID:
                        raise ApiError(404, f"There is no such {name.removesuffix('_id')}.")
                if body is not None:
                    read_json_object()
                return validated(user=user, **ids)

            self.bp.add_url_rule(rule, view.__name__, endpoint, methods=[method])
            return view

        return register

    def document(self, title: str) -> dict[str, Any]:
        """The OpenAPI document, with paths relative to the blueprint's prefix (its server)."""
        spec = self.spectree.spec
        prefix = self.bp.url_prefix or ""
        return {
            **spec,
            "info": {**spec["info"], "title": title},
            "paths": {path.removeprefix(prefix): item for path, item in spec["paths"].items()},
        }
