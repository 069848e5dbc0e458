"""Roles and the permissions they grant. Every HTTP route declares one permission (web/auth.py); a
principal may use it when its role grants it.

    viewer     read: events, searches, alerts, incidents, runbooks, playbooks, executions
    analyst    viewer + triage: alerts, incidents, indicators
    responder  analyst + respond: start playbooks, approve and reject their steps, stop them
    admin      every permission above, and admin: users, tokens, rules, playbooks, settings, the audit trail
    ingest     only ingest: what a log shipper needs (POST /events)
"""

from __future__ import annotations

from enum import StrEnum

from reynard.errors import ReynardError


class Permission(StrEnum):
    READ = "read"
    TRIAGE = "triage"
    RESPOND = "respond"
    ADMIN = "admin"
    INGEST = "ingest"


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    RESPONDER = "responder"
    ADMIN = "admin"
    INGEST = "ingest"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.ANALYST: frozenset({Permission.READ, Permission.TRIAGE}),
    Role.RESPONDER: frozenset({Permission.READ, Permission.TRIAGE, Permission.RESPOND}),
    Role.ADMIN: frozenset(Permission),
    Role.INGEST: frozenset({Permission.INGEST}),
}


class UnknownRole(ReynardError):
    """A role name that is not one of Role's."""


def role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        raise UnknownRole(f"unknown role {name!r}; roles: {', '.join(Role)}") from None


def grants(who: Role, permission: Permission) -> bool:
    return permission in GRANTS[who]


__all__ = ["GRANTS", "Permission", "Role", "UnknownRole", "grants", "role"]
