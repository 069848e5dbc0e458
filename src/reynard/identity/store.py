"""Local users and API tokens in the state database.

Passwords are hashed with argon2id (`argon2-cffi`, its memory-hard defaults) and never stored or shown.
A token is 32 random bytes, shown once when it is created; only its SHA-256 is kept (a token is random,
so a fast hash is enough and a look-up is one indexed query), with its first characters to tell tokens
apart in listings. A token has a name (the identity the audit trail records), a role and, optionally,
an expiry; a revoked or expired token authenticates nobody.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from reynard.errors import NotFound, ReynardError
from reynard.events.timestamps import iso_or_none
from reynard.identity.principal import Principal
from reynard.identity.roles import Role, role
from reynard.state.tables import api_tokens, users

TOKEN_PREFIX = "rey_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$")
_HASHER = PasswordHasher()


class IdentityError(ReynardError):
    """A user or token that cannot be created or changed as asked."""


class UnknownIdentity(IdentityError, NotFound):
    """No user or token of that name or id."""


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise IdentityError(
            f"{name!r} is not a name: letters, digits and . _ @ : + - (at most 128, starting with a letter "
            "or digit)"
        )
    return name


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    created: datetime
    created_by: str

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "role": str(self.role),
            "disabled": self.disabled,
            "created": self.created.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: Role
    prefix: str
    created: datetime
    created_by: str
    expires: datetime | None
    revoked: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"

    def as_dict(self, now: datetime | None = None) -> dict:
        now = now or datetime.now(UTC)
        return {
            "id": self.id,
            "name": self.name,
            "role": str(self.role),
            "prefix": self.prefix,
            "created": iso_or_none(self.created),
            "created_by": self.created_by,
            "expires": iso_or_none(self.expires),
            "revoked": iso_or_none(self.revoked),
            "state": self.state(now),
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class IdentityStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- users ------------------------------------------------------------------------------------------
    def add_user(self, name: str, role_name: str, password: str, by: str) -> User:
        if len(password) < 12:
            raise IdentityError("a password has at least 12 characters")
        values = {
            "name": _name(name),
            "role": str(role(role_name)),
            "password_hash": _HASHER.hash(password),
            "disabled": False,
            "created": datetime.now(UTC),
            "created_by": by,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(users).values(**values))
        except IntegrityError:
            raise IdentityError(f"a user named {name!r} exists already") from None
        return self.user(name)

    def user(self, name: str) -> User:
        with self.engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            raise UnknownIdentity(f"no user named {name!r}")
        return User(row.id, row.name, Role(row.role), bool(row.disabled), row.created, row.created_by)

    def users(self) -> list[User]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(users).order_by(users.c.name)).all()
        return [User(r.id, r.name, Role(r.role), bool(r.disabled), r.created, r.created_by) for r in rows]

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        with self.engine.begin() as connection:
            done = connection.execute(update(users).where(users.c.name == name).values(disabled=disabled))
        if not done.rowcount:
            raise UnknownIdentity(f"no user named {name!r}")
        return self.user(name)

    def sign_in(self, name: str, password: str) -> Principal | None:
        """The user's principal when the password is theirs and they are not disabled; else None (the
        same answer, and about the same time, whether the name exists or not)."""
        with self.engine.connect() as connection:
            row = connection.execute(select(users).where(users.c.name == name)).first()
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        return Principal(row.name, Role(row.role), "user")

    # -- tokens -----------------------------------------------------------------------------------------
    def create_token(
        self, name: str, role_name: str, by: str, expires: datetime | None = None
    ) -> tuple[Token, str]:
        """A new token and its secret (shown this once; only its hash is kept)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        values = {
            "name": _name(name),
            "role": str(role(role_name)),
            "prefix": secret[:12],
            "secret_hash": _digest(secret),
            "created": datetime.now(UTC),
            "created_by": by,
            "expires": expires,
        }
        with self.engine.begin() as connection:
            token_id = connection.execute(insert(api_tokens).values(**values)).inserted_primary_key[0]
        return self.token(token_id), secret

    def token(self, token_id: int) -> Token:
        with self.engine.connect() as connection:
            row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise UnknownIdentity(f"no token with id {token_id}")
        return _token(row)

    def tokens(self) -> list[Token]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(api_tokens).order_by(api_tokens.c.id)).all()
        return [_token(r) for r in rows]

    def revoke(self, token_id: int) -> Token:
        with self.engine.begin() as connection:
            done = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked.is_(None))
                .values(revoked=datetime.now(UTC))
            )
        token = self.token(token_id)  # UnknownIdentity when there is none
        if not done.rowcount and token.revoked is None:
            raise UnknownIdentity(f"no token with id {token_id}")
        return token

    def authenticate(self, secret: str, now: datetime | None = None) -> Principal | None:
        """The principal of an active token, or None."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        now = now or datetime.now(UTC)
        with self.engine.connect() as connection:
            row = connection.execute(
                select(api_tokens).where(api_tokens.c.secret_hash == _digest(secret))
            ).first()
        if row is None or _token(row).state(now) != "active":
            return None
        return Principal(row.name, Role(row.role), "token")


def _token(row) -> Token:  # type: ignore[no-untyped-def]
    return Token(
        row.id,
        row.name,
        Role(row.role),
        row.prefix,
        row.created,
        row.created_by,
        row.expires,
        row.revoked,
    )


@cache
def _dummy_hash() -> str:
    """What an unknown name is verified against, so signing in takes as long whether it exists or not."""
    return _HASHER.hash(secrets.token_urlsafe(16))


__all__ = ["TOKEN_PREFIX", "IdentityError", "IdentityStore", "Token", "UnknownIdentity", "User"]
