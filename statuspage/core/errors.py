"""Errors the domain raises; views turn them into form errors or 4xx answers."""


class DomainError(ValueError):
    """Input the domain refuses; the message is written for the person who gave it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    """A lifecycle move that is not allowed, or whose guard is not met."""


class NotFound(DomainError):
    """A referenced record does not exist."""


class ConflictError(DomainError):
    """Someone else changed the record since the form was loaded; `changes` says what."""

    def __init__(self, message: str, changes: list[str]) -> None:
        super().__init__(message)
        self.changes = changes
