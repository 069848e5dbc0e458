"""A play sent to a running Reynard server (`POST /events` with an ingest token), in time order, at a rate.

The records go in chunks of up to a second's worth (`rate` events, at most `CHUNK`); a chunk is split
by log type into one body each, in their native formats (a CloudTrail `{"Records": [...]}` document,
flow log and syslog lines as text, GuardDuty EventBridge events as NDJSON), each detected by the
server's parsers as a file would be. After each chunk the sender waits until the rate allows the next.
A refused request stops the stream with the server's answer: a wrong token is not retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import orjson

from reynard.errors import ReynardError
from reynard.simulate.formats import Played

CHUNK = 1000
_TYPES = {
    "cloudtrail": "application/json",
    "guardduty": "application/x-ndjson",
    "vpcflow": "text/plain",
    "syslog": "text/plain",
}


class StreamError(ReynardError):
    """The server refused the events (or could not be reached)."""


@dataclass
class StreamReport:
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (
            f"sent {self.sent} stored {self.stored} duplicates {self.duplicates} rejected {self.rejected} "
            f"in {self.seconds:.1f} s ({rate:.0f} events/s)"
        )


def bodies(chunk: Sequence[Played]) -> Iterator[tuple[str, bytes, int]]:
    """(content type, body, records) for each log type of the chunk, in the order they first appear."""
    groups: dict[str, list[Played]] = {}
    for played in chunk:
        groups.setdefault(played.source, []).append(played)
    for source, items in groups.items():
        records = [p.record for p in items]
        if source == "cloudtrail":
            body = orjson.dumps({"Records": records})
        elif source == "guardduty":
            body = b"\n".join(orjson.dumps(r) for r in records) + b"\n"
        else:
            body = ("\n".join(records) + "\n").encode()
        yield _TYPES[source], body, len(records)


def stream(
    events: Sequence[Played],
    url: str,
    token: str,
    rate: float,
    on_progress: Callable[[int], None] | None = None,
    client: httpx.Client | None = None,
) -> StreamReport:
    """Send `events` to the server at `url`, `rate` events a second at most; what it answered."""
    report = StreamReport()
    size = max(1, min(CHUNK, int(rate)))
    endpoint = url.rstrip("/") + "/events"
    own = client is None
    client = client or httpx.Client(timeout=60)
    started = time.monotonic()
    try:
        for offset in range(0, len(events), size):
            chunk = events[offset : offset + size]
            for content_type, body, count in bodies(chunk):
                _post(client, endpoint, token, content_type, body, report)
                report.sent += count
            if on_progress is not None:
                on_progress(len(chunk))
            wait = report.sent / rate - (time.monotonic() - started)
            if wait > 0 and offset + size < len(events):
                time.sleep(wait)
    finally:
        report.seconds = time.monotonic() - started
        if own:
            client.close()
    return report


def _post(
    client: httpx.Client, endpoint: str, token: str, content_type: str, body: bytes, report: StreamReport
) -> None:
    headers = {"authorization": f"Bearer {token}", "content-type": content_type}
    try:
        answer = client.post(endpoint, content=body, headers=headers)
    except httpx.HTTPError as e:
        raise StreamError(f"cannot reach the server: {e}", where=endpoint) from None
    if answer.status_code != 200:
        try:
            detail = answer.json().get("detail") or answer.json().get("error") or answer.text
        except ValueError:
            detail = answer.text
        raise StreamError(f"the server answered {answer.status_code}: {str(detail)[:300]}", where=endpoint)
    summary = answer.json()
    report.stored += int(summary.get("stored", 0))
    report.duplicates += int(summary.get("duplicates", 0))
    report.rejected += int(summary.get("rejected", 0))
    report.errors.extend(summary.get("errors") or [])


__all__ = ["CHUNK", "StreamError", "StreamReport", "bodies", "stream"]
