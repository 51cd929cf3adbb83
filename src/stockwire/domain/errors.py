"""Why the rules refuse an event."""

from __future__ import annotations


class Refusal(Exception):
    """An event the rules cannot apply; it changes nothing.

    `status` is the HTTP status the edge answers with (409 for a conflict with
    the current state, 422 for a payload that names something impossible),
    `pointer` a JSON pointer to the offending field.
    """

    def __init__(self, message: str, *, status: int = 422, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.pointer = pointer
