"""The one error of the query package: a query that cannot be answered as written."""

from __future__ import annotations

from reynard.errors import ReynardError


class QueryError(ReynardError):
    """A bad query (an invalid regex, a range with bounds of different kinds, a parse error).

    `where` names the input (a rule file, an API parameter); `position` is the 0-based character offset
    in a query string where parsing failed, None when the error is not tied to one place in a text.
    """

    def __init__(self, message: str, where: str | None = None, *, position: int | None = None):
        super().__init__(message, where=where)
        self.position = position
