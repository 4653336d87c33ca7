"""Errors the domain raises; views turn them into form errors or 4xx answers.

A refusal is written in English (`str(error)`, `error.message`: logs, the CLI and the API's
JSON, which never change with the language) and also carries what the web needs to show it in
the reader's language: `msgid`, the English text before formatting, marked with `N_()` where it
is raised, and `params`, its `%(name)s` values:

    raise InvalidTransition(
        N_("An incident that is %(current)s cannot move to %(target)s."),
        current=Term("triage", N_("Triage")), target=Term("closed", N_("Closed")),
    )

A parameter that is itself a word of the vocabulary (a status, a field's name) is a `Term`:
English keeps the word it always said, other languages show its label's translation. A list
of terms is `Terms`. The web's `i18n.refusal_text(error)` does the translating; the domain
imports no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Term(str):
    """A vocabulary word inside a refusal: the English text the message says (the str itself)
    and `label`, the msgid other languages translate (default: the text)."""

    label: str

    def __new__(cls, text: object, label: str | None = None) -> Term:
        word = super().__new__(cls, str(getattr(text, "value", text)))
        word.label = label or str(word)
        return word


class Terms(tuple[Term, ...]):
    """Several terms in a refusal, joined with ", " in English and as each language lists."""

    def __new__(cls, terms: Iterable[Term]) -> Terms:
        return super().__new__(cls, tuple(terms))

    def __str__(self) -> str:
        return ", ".join(self)


def english(params: Mapping[str, object]) -> dict[str, object]:
    return {
        name: str(value) if isinstance(value, Terms) else value for name, value in params.items()
    }


class DomainError(ValueError):
    """Input the domain refuses; the message is written for the person who gave it.

    `message` is the msgid (English); `params` fill its `%(name)s` placeholders. A message
    built without placeholders (an f-string) works as before and is shown in English."""

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        text = message % english(params) if params else message
        super().__init__(text)
        self.message = text
        self.msgid = message
        self.params = params
        self.field = field


class InvalidTransition(DomainError):
    """A lifecycle move that is not allowed, or whose guard is not met."""


class NotFound(DomainError):
    """A referenced record does not exist."""


class ConflictError(DomainError):
    """Someone else changed the record since the form was loaded; `changes` says what."""

    def __init__(self, message: str, changes: list[str], **params: object) -> None:
        super().__init__(message, **params)
        self.changes = changes
