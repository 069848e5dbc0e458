"""`Principal`: who is acting, as authentication established it (never as a request says)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reynard.identity.roles import Permission, Role, grants

Kind = Literal["user", "token", "local"]


@dataclass(frozen=True)
class Principal:
    """An authenticated identity: a user (password, session), an API token (by its name), or the local
    CLI acting through the data directory (the OS user)."""

    name: str
    role: Role
    kind: Kind

    def may(self, permission: Permission) -> bool:
        return grants(self.role, permission)


__all__ = ["Kind", "Principal"]
