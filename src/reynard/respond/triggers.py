"""Triggers: EventBridge-style rules that start a playbook on a stored event, an alert or a GuardDuty
finding, with the matching document as the playbook's input.

A trigger is `{name, on, pattern, playbook, include_samples}`, from the settings file (`[[triggers]]`)
or a JSON file in `<data_dir>/triggers/`:

    [[triggers]]
    name = "crypto-mining"
    on = "findings"                      # events | alerts | findings
    playbook = "guardduty_crypto_mining"
    pattern = { source = ["aws.guardduty"], detail = { type = ["CryptoCurrency:EC2/BitcoinTool.B!DNS"] } }

Both are checked as a `reynard.settings.TriggerSpec` (the file's when the settings are loaded); here its
pattern is compiled, and a pattern EventBridge would refuse is reported at its file and line.

What each kind matches: `events`, the stored (normalized) event; `alerts`, the alert as `reynard alerts
list --format json` shows it; `findings`, a GuardDuty finding as the EventBridge event that delivers it
(keys in GuardDuty's case, kept by the GuardDuty source). A trigger fires once per document (recorded in
`trigger_firings`): a finding once per id and `updatedAt` (GuardDuty re-sends a finding as it updates),
and a sample finding (`service.additionalInfo.sample`) only when the trigger says `include_samples`.
Starting the playbook is the caller's `start(trigger, document) -> execution id`, with `trigger.starter`
(`trigger:<name>`) as who started it; a start that fails is recorded with its error and not retried for
that document.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from reynard.errors import ConfigError
from reynard.respond.patterns import Pattern, PatternError, compile_pattern
from reynard.settings import TRIGGER_KINDS as KINDS
from reynard.settings import Origin, Place, Settings, TriggerSpec, unique_triggers
from reynard.settings import TriggerKind as Kind
from reynard.state.tables import trigger_firings

log = logging.getLogger("reynard.respond.triggers")


@dataclass(frozen=True)
class Trigger:
    name: str
    on: Kind
    pattern: Pattern
    playbook: str
    include_samples: bool = False

    @classmethod
    def from_spec(cls, spec: TriggerSpec) -> Trigger:
        """A trigger from its checked settings; ConfigError at the line of the pattern if EventBridge
        would refuse it."""
        try:
            pattern = compile_pattern(spec.pattern)
        except PatternError as e:
            inside = _pattern_path(e.where or "")
            raise spec.place.error(f"pattern: {e}", "pattern", *inside) from None
        return cls(spec.name, spec.on, pattern, spec.playbook, spec.include_samples)

    @property
    def starter(self) -> str:
        """Who starts the executions it fires: `trigger:<name>` (their `startedBy`)."""
        return f"trigger:{self.name}"


def _pattern_path(where: str) -> tuple[str | int, ...]:
    """`detail.severity[0].numeric` (a PatternError's place) as the key path it names."""
    return tuple(int(index) if index else key for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", where))


def load_triggers(settings: Settings, folder: Path | None = None) -> list[Trigger]:
    """The settings' triggers (`[[triggers]]`), then those of the JSON files of `folder` (sorted, one
    trigger a file); names are unique. ConfigError at the file and line of the first bad one."""
    specs = list(settings.triggers)
    if folder is not None and folder.is_dir():
        specs += [_trigger_file(path) for path in sorted(folder.glob("*.json"))]
    unique_triggers(specs)
    return [Trigger.from_spec(spec) for spec in specs]


def _trigger_file(path: Path) -> TriggerSpec:
    try:
        text = path.read_text(encoding="utf-8")
        value = orjson.loads(text)
    except OSError as e:
        raise ConfigError(f"cannot read trigger file: {e.strerror}", where=str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text: {e.reason} at byte {e.start}", where=str(path)) from None
    except orjson.JSONDecodeError as e:
        message = f"not a JSON trigger: {e.msg} (column {e.colno})"
        raise ConfigError(message, where=f"{path}:{e.lineno}") from None
    return TriggerSpec.parse(value, Place(Origin(str(path), text, "json")))


# -- documents ---------------------------------------------------------------------------------------------
def finding_document(event: Mapping[str, Any]) -> dict | None:
    """The EventBridge event of a stored GuardDuty finding (as GuardDuty wrote it), or None."""
    if event.get("source") != "guardduty" or not isinstance(event.get("original"), str):
        return None
    try:
        document = orjson.loads(event["original"])
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) and isinstance(document.get("detail"), dict) else None


def finding_key(document: Mapping[str, Any]) -> str:
    detail = document.get("detail") or {}
    return f"{detail.get('id')}|{detail.get('updatedAt') or detail.get('createdAt')}"


def is_sample(document: Mapping[str, Any]) -> bool:
    info = ((document.get("detail") or {}).get("service") or {}).get("additionalInfo") or {}
    return info.get("sample") in (True, "true", "True")


# -- firing ------------------------------------------------------------------------------------------------
Start = Callable[[Trigger, dict], str]


class TriggerRunner:
    """Matches what arrives against the triggers and starts each playbook once per document."""

    def __init__(self, triggers: Iterable[Trigger], engine: Engine, start: Start):
        self.triggers = list(triggers)
        self.engine = engine
        self.start = start
        self.by_kind = {kind: [t for t in self.triggers if t.on == kind] for kind in KINDS}

    def on_events(self, events: Iterable[Mapping[str, Any]]) -> list[str]:
        """A committed batch of stored events (events and findings triggers); the executions started."""
        started: list[str] = []
        for event in events:
            for trigger in self.by_kind["events"]:
                if trigger.pattern.matches(event):
                    started += self._fire(trigger, str(event.get("id")), dict(event))
            if self.by_kind["findings"]:
                document = finding_document(event)
                if document is None:
                    continue
                for trigger in self.by_kind["findings"]:
                    if is_sample(document) and not trigger.include_samples:
                        continue
                    if trigger.pattern.matches(document):
                        started += self._fire(trigger, finding_key(document), document)
        return started

    def on_alert(self, alert_id: int, alert: Mapping[str, Any]) -> list[str]:
        """A new alert (alerts triggers); the executions started."""
        document = {**alert, "id": alert_id}
        started: list[str] = []
        for trigger in self.by_kind["alerts"]:
            if trigger.pattern.matches(document):
                started += self._fire(trigger, str(alert_id), document)
        return started

    def _fire(self, trigger: Trigger, key: str, document: dict) -> list[str]:
        now = datetime.now(UTC)
        try:  # claim the document first: a second runner (or a re-delivery) does not start it twice
            with self.engine.begin() as connection:
                claimed = connection.execute(
                    insert(trigger_firings).values(trigger=trigger.name, document=key, at=now)
                ).inserted_primary_key[0]
        except IntegrityError:
            return []
        execution, error = None, None
        try:
            execution = self.start(trigger, document)
        except Exception as e:  # a playbook that cannot start: recorded, the others go on
            error = f"{type(e).__name__}: {e}"
            log.warning("trigger %s: playbook %s did not start: %s", trigger.name, trigger.playbook, error)
        with self.engine.begin() as connection:
            connection.execute(
                trigger_firings.update()
                .where(trigger_firings.c.id == claimed)
                .values(execution=execution, error=error)
            )
        return [] if execution is None else [execution]

    def firings(self, trigger: str | None = None) -> list[dict]:
        query = select(trigger_firings).order_by(trigger_firings.c.id)
        if trigger is not None:
            query = query.where(trigger_firings.c.trigger == trigger)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]


__all__ = [
    "KINDS",
    "Trigger",
    "TriggerRunner",
    "finding_document",
    "finding_key",
    "is_sample",
    "load_triggers",
]
