"""MozDef's `AlertTask` API, method for method, running on Reynard's query AST and an `EventSource`.

An alert subclasses `AlertTask`, builds a `SearchQuery` in `main()`, and either walks the matching
events (`searchEventsSimple` + `walkEvents` -> `onEvent`, or `onNoEvent` when nothing matched) or groups
them (`searchEventsAggregated(path)` + `walkAggregations(threshold)` -> `onAggregation`). A dict returned
by a hook is an alert. `run(now)` executes `main()` and returns the alerts, each with MozDef's fields.

Kept from MozDef: the method names and arguments, the hit shape (`{"_id", "_index", "_source"}`), the
grouping with `Counter.most_common` order (count, then first seen in newest-first hits), `samplesLimit`
events and `allevents`, `createAlertDict`'s fields, `notify_mozdefbot` derived from severity and channel,
an alert's own `__init__(self)`, and `.conf` values read as MozDef's configlib read them (`ini_value`).

Differs, on purpose:

- No 1,000-hit cap: every matching event is searched and grouped.
- No dedup clause and no re-saving of events to tag them (`alert_names`): `filtersManual` only stores
  the query; deduplication is done where alerts are stored. `alerts_events` (on the task) keeps, per
  alert, the hits MozDef would have tagged.
- Alerts are returned by `run()`, not sent to Elasticsearch and RabbitMQ; no alert plugins run here.
- `now` is passed in (`run(now=...)`), not read from the clock, so tests need no freeze_time.
- An exception in `main()` raises `RuleError` naming the alert class (MozDef logged it and went on).
- `add_hostname_to_ip` does no DNS unless a resolver is installed with `set_hostname_resolver`.
"""

from __future__ import annotations

import configparser
import inspect
import ipaddress
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from reynard.detect.errors import RuleError
from reynard.detect.sources import EventSource
from reynard.events.fields import get_path, split_path
from reynard.query.mozdef import ExistsMatch, SearchQuery

# MozDef's alert status before the triage bot has asked anybody.
DEFAULT_STATUS = "manual"
EVENT_INDEX = "events"


# MozDef's camelCase names are kept (ported alerts call them).


# -- helpers MozDef's alerts import from lib.alerttask ----------------------------------------------------
def keypaths(nested: Mapping) -> Iterator[tuple[list[str], Any]]:
    """Every leaf of nested dicts as `(key path, value)`."""
    for key, value in nested.items():
        if isinstance(value, Mapping):
            for subkey, subvalue in keypaths(value):
                yield [key, *subkey], subvalue
        else:
            yield [key], value


def dictpath(path: str) -> Iterator[str]:
    yield from split_path(path)


def getValueByPath(input_dict: Mapping, path_string: str) -> Any:
    """The value at a dotted path; `{}` when a key is missing or a list is on the way (as in MozDef)."""
    return get_path(input_dict, path_string, {}, lists=False)


_hostname_resolver: Callable[[str], str | None] | None = None


def set_hostname_resolver(resolver: Callable[[str], str | None] | None) -> None:
    """Install a reverse-DNS function for `add_hostname_to_ip` (None: none, the default).

    Reynard does no DNS at alert time by default: it is slow, flaky and leaks lookups to resolvers;
    `socket.gethostbyaddr`-based resolvers can be installed by a deployment that wants MozDef's behaviour.
    """
    global _hostname_resolver
    _hostname_resolver = resolver


def hostname_from_ip(ip: str) -> str | None:
    if _hostname_resolver is None:
        return None
    try:
        return _hostname_resolver(ip)
    except OSError:
        return None


def add_hostname_to_ip(ip: str, output_format: str = "{0} ({1})", require_internal: bool = True) -> str:
    """`output_format.format(ip, hostname)` when the (private, unless `require_internal=False`) address
    resolves; the address unchanged otherwise."""
    try:
        address = ipaddress.ip_network(ip, strict=False)[0]
    except (TypeError, ValueError):
        return ip
    if require_internal and not address.is_private:
        return ip
    hostname = hostname_from_ip(ip)
    return ip if hostname is None else output_format.format(ip, hostname)


def ini_value(raw: str) -> str:
    """An INI value as MozDef's `configlib` returned it (it read files with configobj): quotes around a
    value or an item removed, an unquoted `#` starting a comment, and a comma-separated list joined with
    "," and no spaces (`severity = 'WARNING'` is `WARNING`, `ports = 443, 8443` is `443,8443`)."""
    items: list[str] = []
    listed = False
    i, n = 0, len(raw)
    while True:
        while i < n and raw[i].isspace():
            i += 1
        if i < n and raw[i] in "'\"":
            end = raw.find(raw[i], i + 1)
            if end < 0:
                return raw.strip()  # unbalanced quote: configobj refused the file; keep the text
            items.append(raw[i + 1 : end])
            i = end + 1
        else:
            start = i
            while i < n and raw[i] not in ",#":
                i += 1
            item = raw[start:i].strip()
            if item or not listed:
                items.append(item)
        while i < n and raw[i].isspace():
            i += 1
        if i < n and raw[i] == ",":
            listed = True
            i += 1
            continue
        break
    if listed:
        return ",".join(item for item in items if item)
    return items[0] if items else ""


def getConfig(optionname: str, thedefault: Any, configfile: str | os.PathLike | None) -> Any:
    """MozDef's `configlib.getConfig`: `OPTIONS_<NAME>` from the environment, else `[options] name` in
    the INI file (read as `ini_value` says), else the default; converted to the default's type (int,
    float, bool)."""
    value: Any = os.environ.get("OPTIONS_" + optionname.upper())
    if value is None and configfile and os.path.isfile(configfile):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(configfile)
        except configparser.Error as e:
            raise RuleError(f"cannot read config: {e}", where=str(configfile)) from None
        if parser.has_option("options", optionname):
            value = ini_value(parser.get("options", optionname))
    if value is None:
        return thedefault
    if isinstance(thedefault, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(thedefault, (int, float)):
        return type(thedefault)(value)
    return value


# -- the task --------------------------------------------------------------------------------------------
def _takes_only_self(init: Callable[..., None]) -> bool:
    """Whether an `__init__` is MozDef's `__init__(self)`: callable with `self` and nothing else."""
    try:
        signature = inspect.signature(init)
        signature.bind(None)
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(None, None)
    except TypeError:
        return True
    return False


def _with_source(init: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: AlertTask, source: EventSource | None = None, *, now: datetime | None = None) -> None:
        init(self)
        if source is not None:
            self.source = source
        if now is not None:
            self.now = now

    __init__.__qualname__, __init__.__doc__ = init.__qualname__, init.__doc__
    return __init__


class AlertTask:
    """Base class of alerts (see the module docstring). `source` defaults to the class's `source`."""

    source: ClassVar[EventSource | None] = None
    # The file a loaded MozDef alert came from (set by `load_alert_file`); its .conf files sit beside it.
    alert_file: ClassVar[str | None] = None
    # What `main()` runs inside: a loaded MozDef file's imports resolve to Reynard's shims there (set by
    # `load_alert_file`, so this module need not know the shims).
    main_context: ClassVar[Callable[[], AbstractContextManager[Any]]] = nullcontext
    # Windows are in event time (utctimestamp, ending at `now`), so `reynard rules run --since` over old
    # logs raises the alerts live ones would have. MozDef's window also took any event *received* after
    # its start; set this to False on a rule that needs that.
    event_time_windows: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A MozDef alert may define `__init__(self)` (calling `AlertTask.__init__(self)`) to read its
        config; Reynard builds every alert as `cls(source, now=...)`, so such an `__init__` is wrapped
        to take those arguments and set them after it ran."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and _takes_only_self(init):
            cls.__init__ = _with_source(init)  # type: ignore[method-assign]

    def __init__(self, source: EventSource | None = None, *, now: datetime | None = None):
        self.source = source if source is not None else type(self).source
        self.now = now
        self.alert_name = self.__class__.__name__
        self.main_query: SearchQuery | None = None
        self.alert_ids: list[str] = []
        self.events: list[dict] | None = None
        self.aggregations: list[dict] | None = None
        self.alerts: list[dict] = []
        self.alerts_events: list[list[dict]] = []
        self.config: Any = None
        self.error_thrown: BaseException | None = None
        self.event_indices = [EVENT_INDEX]

    # -- identity and helpers ----------------------------------------------------------------------------
    def classname(self) -> str:
        return self.__class__.__name__

    def determine_alert_classname(self) -> str:
        """The class name, or `custom_alert_name` (one class standing for many rules)."""
        return getattr(self, "custom_alert_name", None) or self.classname()

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"reynard.alerts.{self.alert_name}")

    def _now(self) -> datetime:
        now = self.now or datetime.now(UTC)
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    def _alert_dir(self) -> Path:
        path = type(self).alert_file or inspect.getfile(type(self))
        return Path(path).resolve().parent

    def parse_config(self, config_filename: str, config_keys: list[str]) -> None:
        """`self.config.<key>` for each key, from `[options]` of the INI file beside the alert ('' if
        absent)."""
        path = self._alert_dir() / config_filename
        self.config = SimpleNamespace(**{key: getConfig(key, "", path) for key in config_keys})

    def parse_json_alert_config(self, config_file: str) -> dict:
        """A JSON file beside the alert; `{}` when it is not valid JSON (as MozDef)."""
        path = self._alert_dir() / config_file
        try:
            with open(path, encoding="utf-8") as fd:
                return json.load(fd)
        except ValueError:
            self.log.error("FAILED to open the configuration file %s", path)
            return {}

    def mostCommon(self, listofdicts: list[dict], dictkeypath: str) -> list[tuple[Any, int]]:
        """`[(value, count), ...]` of the values at a dotted path (e.g. `_source.hostname`), most common
        first."""
        path = set(dictpath(dictkeypath))
        values = []
        for item in listofdicts:
            for keys, value in keypaths(item):
                if not set(keys).symmetric_difference(path):
                    values.append(tuple(value) if isinstance(value, list) else value)
        return Counter(values).most_common()

    # -- searching ---------------------------------------------------------------------------------------
    def filtersManual(self, query: SearchQuery) -> None:
        """Use `query` for the searches. (MozDef also excluded events tagged with this alert's name;
        Reynard deduplicates alerts where they are stored and never re-saves events.)"""
        self.main_query = query

    def _source(self) -> EventSource:
        if self.source is None:
            raise RuleError(
                "no event source: pass one to the alert or set AlertTask.source", where=self.classname()
            )
        return self.source

    def _query(self) -> SearchQuery:
        if self.main_query is None:
            raise RuleError("search before filtersManual(query)", where=self.classname())
        return self.main_query

    @staticmethod
    def _hit(event: dict) -> dict:
        return {"_id": event.get("id"), "_index": EVENT_INDEX, "_source": event}

    def executeSearchEventsSimple(self, limit: int | None = None) -> list[dict]:
        """The hits of the query, newest first (all of them unless `limit`)."""
        request = self._query().to_search(self._now(), limit=limit, event_time=self.event_time_windows)
        return [self._hit(event) for event in self._source().search(request)]

    def searchEventsSimple(self) -> None:
        """`self.events`: every hit of the query."""
        self.events = self.executeSearchEventsSimple()

    def searchEventsAggregated(self, aggregationPath: str, samplesLimit: int = 5) -> None:
        """`self.aggregations`: the hits grouped by the value at `aggregationPath` (relative to
        `_source`), as `[{value, count, events (at most samplesLimit), allevents}]`, most common first.

        Events without the field are left out (MozDef added `ExistsMatch(path)`). A list value puts the
        event in the group of each distinct element (as Reynard's terms aggregation counts); values keep
        their type, so 22 and "22" are two groups, as in MozDef.
        """
        query = self._query()
        path = aggregationPath.lower()  # stored keys are lowercase, as the query models' fields
        exists = ExistsMatch(path)
        if exists not in query.must:
            query.add_must(exists)
        hits = self.executeSearchEventsSimple()
        groups: dict[Any, list[dict]] = {}
        order: Counter = Counter()
        for hit in hits:
            value = getValueByPath(hit["_source"], path)
            values = value if isinstance(value, list) else [value]
            seen = []
            for item in values:
                if item is None or isinstance(item, (dict, list)) or item in seen:
                    continue
                seen.append(item)
                order[item] += 1
                groups.setdefault(item, []).append(hit)
        self.aggregations = [
            {"value": v, "count": n, "events": groups[v][:samplesLimit], "allevents": groups[v]}
            for v, n in order.most_common()
        ]

    # -- walking -----------------------------------------------------------------------------------------
    def walkEvents(self, **kwargs: Any) -> None:
        """`onEvent(hit, **kwargs)` for each hit; `onNoEvent(**kwargs)` when there is none."""
        if self.events is None:
            raise RuleError("walkEvents before searchEventsSimple()", where=self.classname())
        for hit in self.events:
            alert = self.onEvent(hit, **kwargs)
            if alert:
                self._emit(alert, [hit])
        if not self.events:
            alert = self.onNoEvent(**kwargs)
            if alert:
                self._emit(alert, [])

    def walkAggregations(self, threshold: int, config: Any = None) -> None:
        """`onAggregation(aggregation)` for each group with `count >= threshold` (`config` is put in
        `aggregation['config']`)."""
        if self.aggregations is None:
            raise RuleError("walkAggregations before searchEventsAggregated()", where=self.classname())
        for aggregation in self.aggregations:
            if aggregation["count"] >= threshold:
                aggregation["config"] = config
                alert = self.onAggregation(aggregation)
                if alert:
                    self._emit(alert, aggregation["allevents"])

    def _emit(self, alert: dict, events: list[dict]) -> None:
        """What MozDef did with an alert (notify flag, save, tag the events), minus the saving."""
        alert = self.tagBotNotify(alert)
        self.alerts.append(alert)
        self.alerts_events.append(events)
        self.hookAfterInsertion(alert)

    def tagBotNotify(self, alert: dict) -> dict:
        """Unless the alert set it: notify the bot except for NOTICE and INFO; always with a channel."""
        if alert.get("notify_mozdefbot") is None:
            alert["notify_mozdefbot"] = alert.get("severity") not in ("NOTICE", "INFO") or bool(
                alert.get("channel")
            )
        return alert

    def createAlertDict(
        self,
        summary: str,
        category: str,
        tags: list[str],
        events: list[dict],
        severity: str = "NOTICE",
        url: str | None = None,
        channel: str | None = None,
        notify_mozdefbot: bool | None = None,
    ) -> dict:
        """MozDef's alert: its fields, and `events` as `[{documentindex, documentsource, documentid}]`."""
        alert: dict[str, Any] = {
            "utctimestamp": self._now().astimezone(UTC).isoformat(),
            "severity": severity,
            "summary": summary,
            "category": category,
            "tags": tags,
            "events": [],
            "channel": channel,
            "notify_mozdefbot": notify_mozdefbot,
            "status": DEFAULT_STATUS,
            "classname": self.determine_alert_classname(),
        }
        if url:
            alert["url"] = url
        for event in events:
            alert["events"].append(
                {
                    "documentindex": event.get("_index", EVENT_INDEX),
                    "documentsource": event["_source"],
                    "documentid": event.get("_id"),
                }
            )
        return alert

    # -- hooks for subclasses ----------------------------------------------------------------------------
    def main(self) -> None:
        """Build the query and search; overridden by every alert."""

    def onEvent(self, event: dict, *args: Any, **kwargs: Any) -> dict | None:
        """An alert dict for one hit, or None."""
        return None

    def onNoEvent(self, *args: Any, **kwargs: Any) -> dict | None:
        """An alert dict when nothing matched (dead-man switch), or None."""
        return None

    def onAggregation(self, aggregation: dict) -> dict | None:
        """An alert dict for one group over the threshold, or None."""
        return None

    def hookAfterInsertion(self, alert: dict) -> None:
        """Called after each alert is made."""

    # -- running -----------------------------------------------------------------------------------------
    def run(self, now: datetime | None = None) -> list[dict]:
        """Run `main()` at `now` (default: the time given at construction, else the clock) and return
        the alerts it made."""
        if now is not None:
            self.now = now
        self.alerts, self.alerts_events = [], []
        self.events = self.aggregations = None
        try:
            with type(self).main_context():
                self.main()
        except RuleError:
            raise
        except Exception as e:
            self.error_thrown = e
            raise RuleError(f"main() failed: {type(e).__name__}: {e}", where=self._where()) from e
        return self.alerts

    def _where(self) -> str:
        file = type(self).alert_file
        return f"{file}: {self.classname()}" if file else self.classname()
