"""Mail an alert as plain text over SMTP, for teams whose on-call reads mail.

The password is held in a `Secret` so it cannot leak through `repr`, logs or error messages; errors quote
only the server's answer, which never contains it.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage

from reynard.settings import Secret

from .base import Alert, DeliveryError, subject_line

_BODY_FIELDS = (
    "summary",
    "severity",
    "category",
    "classname",
    "utctimestamp",
    "tags",
    "channel",
    "url",
    "id",
)


def email_body(alert: Alert) -> str:
    """One `field: value` line per alert field a reader needs, then the ids of the events behind it."""
    lines = [f"{key}: {alert[key]}" for key in _BODY_FIELDS if alert.get(key) not in (None, "", [])]
    events = alert.get("events") or []
    if events:
        lines.append(f"events ({len(events)}):")
        lines.extend(f"  {event.get('documentid', '?')}" for event in events)
    return "\n".join(lines) + "\n"


class EmailNotifier:
    """One SMTP session per attempt: connect, optional STARTTLS and login, send, quit."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: str | Secret | None = None,
        starttls: bool = False,
        timeout: float = 10,
        subject_prefix: str = "[Reynard]",
    ):
        if not recipients:
            raise ValueError("email notifier needs at least one recipient")
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = tuple(recipients)
        self.username = username
        self.password = password if isinstance(password, Secret) or password is None else Secret(password)
        self.starttls = starttls
        self.timeout = timeout
        self.subject_prefix = subject_prefix
        self.name = f"email smtp://{host}:{port}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(host={self.host!r}, port={self.port!r}, sender={self.sender!r}, "
            f"recipients={list(self.recipients)!r}, username={self.username!r}, password={self.password!r}, "
            f"starttls={self.starttls!r}, timeout={self.timeout!r})"
        )

    def message(self, alert: Alert) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = subject_line(alert, self.subject_prefix)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg.set_content(email_body(alert))
        return msg

    def send(self, alert: Alert) -> None:
        where = f"SMTP {self.host}:{self.port}"
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username is not None:
                    smtp.login(self.username, self.password.reveal() if self.password else "")
                smtp.send_message(self.message(alert), from_addr=self.sender, to_addrs=list(self.recipients))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"login as {self.username!r} refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                where=where, retryable=False,
            ) from None  # fmt: skip
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"recipients refused: {', '.join(sorted(exc.recipients))}", where=where, retryable=False
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"server answered {exc.smtp_code} {_text(exc.smtp_error)}",
                where=where, retryable=exc.smtp_code >= 400 and exc.smtp_code < 500,
            ) from None  # fmt: skip
        except smtplib.SMTPNotSupportedError as exc:  # e.g. STARTTLS asked of a server without it
            raise DeliveryError(f"not supported by the server: {exc}", where=where, retryable=False) from None
        except TimeoutError:
            raise DeliveryError(f"timed out after {self.timeout}s", where=where) from None
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib turns a read timeout into "Connection unexpectedly closed: timed out".
            if isinstance(exc.__context__, TimeoutError):
                raise DeliveryError(f"timed out after {self.timeout}s", where=where) from None
            raise DeliveryError(f"{type(exc).__name__}: {exc}", where=where) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", where=where) from None


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
