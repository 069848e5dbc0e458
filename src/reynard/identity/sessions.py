"""Console sessions: what a user's browser holds after signing in, in the state database.

A session is a random secret in an HttpOnly cookie (only its SHA-256 is kept, as for API tokens) and a
CSRF token the page sends back in `X-CSRF-Token` with every state change: a cookie rides along on any
request the browser makes, so the cookie alone must never be enough to change anything. A session ends
when its user signs out, after `max_age` however busy, after `idle` without a request, and at once when
its user is disabled (the user's row is read with the session on every request, so the role is always
the current one too).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from reynard.identity.principal import Principal
from reynard.identity.roles import Role
from reynard.state.tables import sessions, users

SESSION_PREFIX = "reys_"
# A request refreshes `last_seen` only when it is older than this, so reading pages is not a write each.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Session:
    id: int
    principal: Principal
    csrf: str
    created: datetime
    expires: datetime  # the earlier of the absolute end and the idle end, as of the last request

    def as_dict(self) -> dict:
        return {
            "name": self.principal.name,
            "role": str(self.principal.role),
            "csrfToken": self.csrf,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat(),
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine, max_age: timedelta, idle: timedelta):
        self.engine = engine
        self.max_age, self.idle = max_age, idle

    def open(self, principal: Principal, source: str, now: datetime | None = None) -> tuple[Session, str]:
        """A new session for a signed-in user, and the cookie's secret (never stored)."""
        now = now or datetime.now(UTC)
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            user_id = connection.execute(
                select(users.c.id).where(users.c.name == principal.name)
            ).scalar_one()
            session_id = connection.execute(
                insert(sessions).values(
                    user_id=user_id,
                    secret_hash=_digest(secret),
                    csrf=csrf,
                    source=source[:128],
                    created=now,
                    last_seen=now,
                    expires=now + self.max_age,
                )
            ).inserted_primary_key[0]
        return Session(session_id, principal, csrf, now, min(now + self.max_age, now + self.idle)), secret

    def find(self, secret: str, now: datetime | None = None) -> Session | None:
        """The live session the cookie's secret opens, or None (ended, expired, idle, user disabled)."""
        if not secret.startswith(SESSION_PREFIX):
            return None
        now = now or datetime.now(UTC)
        query = (
            select(sessions, users.c.name, users.c.role, users.c.disabled)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.secret_hash == _digest(secret))
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or row.ended is not None or row.disabled:
            return None
        if now >= row.expires or now >= row.last_seen + self.idle:
            return None
        if now - row.last_seen >= TOUCH_EVERY:
            with self.engine.begin() as connection:
                connection.execute(update(sessions).where(sessions.c.id == row.id).values(last_seen=now))
            last_seen = now
        else:
            last_seen = row.last_seen
        principal = Principal(row.name, Role(row.role), "user")
        return Session(row.id, principal, row.csrf, row.created, min(row.expires, last_seen + self.idle))

    def end(self, session_id: int, now: datetime | None = None) -> None:
        """Sign out: the cookie opens nothing any more, wherever it was copied to."""
        with self.engine.begin() as connection:
            connection.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.ended.is_(None))
                .values(ended=now or datetime.now(UTC))
            )


__all__ = ["SESSION_PREFIX", "Session", "SessionStore"]
