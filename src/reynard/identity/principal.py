"""`Principal`: who is acting, as authentication established it (never as a request says)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reynard.identity.roles import Permission, Role, grants

Kind = Literal["user", "token", "local", "cli"]


@dataclass(frozen=True)
class Principal:
    """An authenticated identity: a user (password, session), an API token (by its name), `local` (a
    `reynard ingest` handing its events to the server with the server's own secret), or `cli`: the
    `reynard` command acting through the data directory (`--by`, else the OS user; whoever can read the
    data directory can do anything, so its role is admin)."""

    name: str
    role: Role
    kind: Kind

    def may(self, permission: Permission) -> bool:
        return grants(self.role, permission)


__all__ = ["Kind", "Principal"]
