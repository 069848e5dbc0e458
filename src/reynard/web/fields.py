"""Fields the routes share: `Id`, a row's id (in a path or a body), and `Version`, the version of an
incident a write is made against.

Both are integers no larger than `MAX_ID`: the largest integer every JSON reader takes exactly
(JavaScript's `Number.MAX_SAFE_INTEGER`, 2**53 - 1), well inside what the state database stores (a signed
64-bit INTEGER; past that, SQLite cannot even compare a number with a column, and the request was a
500). An id is 1 or more; a version 0 or more (0, before the incident was opened: any write against it
is stale, 409). A number outside is refused like any other malformed field (422, naming it), and the
bounds are in the OpenAPI description.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**53 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=0, le=MAX_ID)]

__all__ = ["MAX_ID", "Id", "Version"]
