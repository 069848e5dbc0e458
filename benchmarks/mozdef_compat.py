"""MozDef's own alert tests, run against Reynard: how many of its cases pass, and why the others do not.

    python benchmarks/mozdef_compat.py --mozdef PATH [--store] [--event-time] [--only NAME] [--verbose]

`PATH` is a checkout of mozilla/MozDef (its `alerts/` and `tests/alerts/` are read, never changed or
copied). Every alert file (`alerts/*.py` defining an AlertTask) is loaded with
`reynard.detect.mozdef_compat.load_alert_file`, and every case of every test class in
`tests/alerts/test_*.py` runs under this file's own implementation of MozDef's harness:

- The test files import `AlertTestSuite`, `PositiveAlertTestCase` and `NegativeAlertTestCase` (relative
  or as `tests.alerts.*`); while a test file executes, those names resolve to the classes below, and the
  `lib`/`mozdef_util` names to Reynard's shims. Nothing is left in `sys.modules` afterwards.
- Each event is MozDef's default event, the test class's `default_event` and the case's event merged in
  that order; the `utctimestamp`/`receivedtimestamp` lambdas are called with the clock frozen at
  2017-01-01 01:00:00 UTC (freezegun, as MozDef did), and the clock stays frozen while the alert runs.
- The event is stored as MozDef stored it: its `_source` as given, serialised as JSON (datetimes as ISO
  8601), with the fields `Event.add_required_fields` filled in; and as Reynard stores every event: keys
  lowercase (the `lower_keys` plugin) and an `id`. It does not go through a source parser or any other
  plugin (MozDef's harness indexed it directly). With `--store` the events go through `finalize` into a
  real `TantivyEventStore` in a temporary directory instead of a `MemorySource`.
- The alert runs at that `now` with MozDef's window (an event is in it when its utctimestamp *or* its
  receivedtimestamp is), because the cases were written for it; `--event-time` runs Reynard's default
  (utctimestamp only) instead. Reverse DNS answers as MozDef's harness mocked it.
- A case passes when MozDef's checks that still apply hold: the alert class name; whether an alert
  fired; for each alert, its channel, classname, notify_mozdefbot (derived from severity and channel as
  MozDef's harness derived it), every key of the expected alert, and the number of events in it (except
  for dead-man tests). Not checked: the `alert_names` tags on the events and the RabbitMQ message, which
  Reynard does not produce (dedup is done where alerts are stored; alerts are returned, not published).

Cases that cannot apply are skipped, each with the reason in `NOT_APPLICABLE`; cases that depend on an
Elasticsearch behaviour Reynard decided against are run and, when they fail, counted apart with the
reason in `BY_DESIGN`. The last line printed is one JSON object of counts; `--verbose` first prints one
line per case that did not pass (and per alert file that did not load) with the reason. The exit status
is 0 whatever the cases do (this is a measurement); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import tempfile
import traceback
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from freezegun import freeze_time

from reynard.detect import MemorySource, RuleError, StoreSource, set_hostname_resolver
from reynard.detect.alerttask import AlertTask
from reynard.detect.mozdef_compat import load_alert_file, mozdef_imports
from reynard.errors import InvalidEvent
from reynard.events.event import finalize
from reynard.events.timestamps import isoformat
from reynard.ingest.plugins.lower_keys import lower_dict
from reynard.store.tantivy.store import TantivyEventStore

FROZEN = "2017-01-01 01:00:00"
NOW = datetime(2017, 1, 1, 1, 0, tzinfo=UTC)

# Cases that cannot run against Reynard, and why: keyed by test file, test class, or "TestClass: case".
NOT_APPLICABLE: dict[str, str] = {
    "test_geomodel_location.py": "GeoModel keeps per-user localities in an Elasticsearch index that the "
    "test seeds (setup) and the alert reads and writes through self.es; Reynard has no Elasticsearch",
}

# Cases that depend on an Elasticsearch behaviour Reynard decided against (docs/query.md), keyed by
# "TestClass: case": (how the case fails, why). They run; one that fails that way is counted as
# `differs_by_design`, one that fails otherwise as failed, one that passes as passed (--verbose then says
# the entry is stale).
_ALL_FIELDS = (
    "the excluded address is the last term of 'details.sourceipaddress: a OR b OR ...' (the alert's "
    "json), and a field binds to the first term only; Elasticsearch searched the others in every field "
    "(default_field *), Reynard's bare terms search the summary only"
)
_FIRED = "fired 1 alert(s) when none was expected"
BY_DESIGN: dict[str, tuple[str, str]] = {
    "TestNSMScanAddress: Negative test case with an excluded IP address": (_FIRED, _ALL_FIELDS),
    "TestNSMScanRandom: Negative test case with an excluded IP address": (_FIRED, _ALL_FIELDS),
    "TestPromiscKernel: Negative test case with a bad interface": (
        _FIRED,
        "the exclusion 'summary: veth*' was a prefix of any summary token in Elasticsearch ('device "
        "vethc0c001e entered ...'); Reynard's wildcards match the whole summary",
    ),
}


# -- MozDef's harness, written for Reynard ----------------------------------------------------------------
class AlertTestCase:
    """One case: a description, the events (copied: the lists are class attributes) and, for a positive
    case, the alert expected."""

    expected_test_result: bool = False

    def __init__(self, description: str, events: list | None = None, expected_alert: dict | None = None):
        self.description = description
        self.events = copy.deepcopy(events or [])
        if any(isinstance(event, list) for event in self.events):
            raise ValueError(f"{description}: the events contain a list where an event belongs")
        self.expected_alert = expected_alert
        self.full_events: list[dict] = []


class PositiveAlertTestCase(AlertTestCase):
    expected_test_result = True


class NegativeAlertTestCase(AlertTestCase):
    expected_test_result = False


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class AlertTestSuite:
    """The base class of MozDef's alert test classes: the event builders and timestamp helpers they
    call. The clock is frozen when the timestamp lambdas are called, so "now" is the harness's `NOW`."""

    @staticmethod
    def copy(obj: Any) -> Any:
        return copy.deepcopy(obj)

    @staticmethod
    def create_event(default_event: dict) -> dict:
        return copy.deepcopy(default_event)

    @staticmethod
    def create_events(default_event: dict, num_events: int) -> list[dict]:
        return [copy.deepcopy(default_event) for _ in range(num_events)]

    @staticmethod
    def create_alert(default_alert: dict) -> dict:
        return copy.deepcopy(default_alert)

    @staticmethod
    def current_timestamp() -> str:
        return _iso(datetime.now(UTC))

    @staticmethod
    def subtract_from_timestamp(date_timedelta: dict, timestamp: str | None = None) -> str:
        start = datetime.fromisoformat(timestamp) if timestamp else datetime.now(UTC)
        return _iso(start - timedelta(**date_timedelta))

    @staticmethod
    def create_timestamp_from_now(hour: int, minute: int, second: int) -> datetime:
        """Today at that time, UTC; a datetime, not a string (as in MozDef: it is serialised on storing)."""
        return datetime.now(UTC).replace(hour=hour, minute=minute, second=second)

    @staticmethod
    def current_timestamp_lambda() -> Callable[[], str]:
        return AlertTestSuite.current_timestamp

    @staticmethod
    def subtract_from_timestamp_lambda(
        date_timedelta: dict, timestamp: str | None = None
    ) -> Callable[[], str]:
        return lambda: AlertTestSuite.subtract_from_timestamp(date_timedelta, timestamp)

    @staticmethod
    def create_timestamp_from_now_lambda(hour: int, minute: int, second: int) -> Callable[[], datetime]:
        return lambda: AlertTestSuite.create_timestamp_from_now(hour, minute, second)


def default_event(rng: random.Random) -> dict:
    """The event every test event is merged over (MozDef's `generate_default_event`)."""
    now = AlertTestSuite.current_timestamp_lambda()
    return {
        "_index": "events",
        "_source": {
            "category": "excategory",
            "utctimestamp": now,
            "receivedtimestamp": now,
            "mozdefhostname": "mozdefhost",
            "hostname": "exhostname",
            "severity": "NOTICE",
            "source": "exsource",
            "summary": "Example summary",
            "tags": ["tag1", "tag2"],
            "details": {
                "sourceipaddress": ".".join(str(rng.randint(1, 255)) for _ in range(4)),
                "hostname": "exhostname",
            },
        },
    }


def merge(target: dict, update: Any) -> dict:
    """`update` merged into `target` in place: nested dicts merged key by key, anything else replaced."""
    if not isinstance(update, dict):
        return target
    for key, value in update.items():
        if key in target and isinstance(target[key], dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {value!r}")


def stored_source(source: dict, event_id: str) -> dict:
    """The `_source` as MozDef's Elasticsearch kept it (JSON, with `add_required_fields`' defaults) and
    as Reynard keeps every event: keys lowercase at every depth (the `lower_keys` plugin runs on all of
    them), so `details.finding.action.actionType` is `...actiontype`, as the query models spell it."""
    event = lower_dict(json.loads(json.dumps(source, default=_json_value)))
    now = AlertTestSuite.current_timestamp()
    for name, value in (
        ("receivedtimestamp", now),
        ("utctimestamp", now),
        ("timestamp", now),
        ("mozdefhostname", "mozdefhost"),
        ("type", "event"),
        ("tags", []),
        ("category", "UNKNOWN"),
        ("hostname", "UNKNOWN"),
        ("processid", "UNKNOWN"),
        ("processname", "UNKNOWN"),
        ("severity", "UNKNOWN"),
        ("source", "UNKNOWN"),
        ("summary", "UNKNOWN"),
        ("mozdef", {}),
        ("details", {}),
    ):
        event.setdefault(name, value)
    if isinstance(event["mozdef"], dict):
        event["mozdef"].setdefault("plugins", [])
    event.setdefault("id", event_id)
    return event


def mock_hostname(ip: str) -> str:
    """Reverse DNS as MozDef's harness mocked `socket.gethostbyaddr`."""
    return "mock_hostname1.mozilla.org" if ip == "10.2.3.4" else "mock.mozilla.org"


# -- loading MozDef's files -------------------------------------------------------------------------------
def _module(name: str, package_path: list[str] | None = None, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    if package_path is not None:
        module.__path__ = package_path
    module.__dict__.update(attrs)
    return module


class _NoElasticsearch:
    """Stands for MozDef's `ElasticsearchClient` in GeoModel's modules, which name it in annotations."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise RuntimeError("Reynard has no Elasticsearch client")


def harness_modules(mozdef: Path) -> dict[str, types.ModuleType]:
    suite = _module("tests.alerts.alert_test_suite", AlertTestSuite=AlertTestSuite)
    case = _module("tests.alerts.alert_test_case", AlertTestCase=AlertTestCase)
    positive = _module("tests.alerts.positive_alert_test_case", PositiveAlertTestCase=PositiveAlertTestCase)
    negative = _module("tests.alerts.negative_alert_test_case", NegativeAlertTestCase=NegativeAlertTestCase)
    es_client = _module("mozdef_util.elasticsearch_client", ElasticsearchClient=_NoElasticsearch)
    return {
        "tests": _module("tests", []),
        "tests.alerts": _module("tests.alerts", []),
        "tests.alerts.alert_test_suite": suite,
        "tests.alerts.alert_test_case": case,
        "tests.alerts.positive_alert_test_case": positive,
        "tests.alerts.negative_alert_test_case": negative,
        "mozdef_util.elasticsearch_client": es_client,
        # GeoModel's test imports MozDef's own alerts.geomodel package (plain data classes) from the checkout.
        "alerts": _module("alerts", [str(mozdef / "alerts")]),
    }


@contextmanager
def harness_imports(mozdef: Path) -> Iterator[None]:
    """While a test file executes: the harness, MozDef's names and the checkout's `alerts` package
    resolve; afterwards `sys.modules` is as it was (modules imported meanwhile under those names too)."""
    shims = harness_modules(mozdef)
    roots = {name.split(".")[0] for name in shims}
    with mozdef_imports():
        before = {name: module for name, module in sys.modules.items() if name.split(".")[0] in roots}
        sys.modules.update(shims)
        try:
            yield
        finally:
            for name in [n for n in sys.modules if n.split(".")[0] in roots]:
                if name not in before:
                    del sys.modules[name]
            sys.modules.update(before)


def load_test_file(path: Path, mozdef: Path) -> list[type]:
    """The test classes (named Test*, with `test_cases`) a MozDef test file defines."""
    name = f"tests.alerts.{path.stem}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__package__ = "tests.alerts"
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    with harness_imports(mozdef):
        sys.modules[name] = module
        exec(code, module.__dict__)
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and value.__module__ == name
        and value.__name__.startswith("Test")
        and isinstance(getattr(value, "test_cases", None), list)
    ]


def alert_names(test_class: type) -> tuple[str, str]:
    """`(alert_classname, alert_filename)`, guessed from the test class's name as MozDef did."""
    classname = getattr(test_class, "alert_classname", None)
    if classname is None:
        classname = test_class.__name__[4:] if test_class.__name__.startswith("Test") else ""
    filename = getattr(test_class, "alert_filename", None)
    if filename is None:
        stem = classname[5:] if classname.startswith("Alert") else classname
        filename = re.sub("([a-z0-9])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", stem)).lower()
    return classname, filename


# -- running one case -------------------------------------------------------------------------------------
@dataclass
class Outcome:
    where: str
    status: str  # "passed", "failed", "differs_by_design" or "skipped" (cannot apply)
    reason: str = ""


@dataclass
class Settings:
    mozdef: Path
    store: bool = False
    event_time: bool = False
    alerts: dict[str, list[type[AlertTask]] | RuleError] = field(default_factory=dict)


class CaseFailed(Exception):
    pass


def check(condition: bool, reason: str) -> None:
    if not condition:
        raise CaseFailed(reason)


def build_events(test_class: type, case: AlertTestCase, rng: random.Random, tag: str) -> list[dict]:
    """The stored events of a case (MozDef's merge order; timestamps evaluated now, under the freeze)."""
    events = []
    for i, event in enumerate(case.events):
        merged = merge(
            merge(default_event(rng), copy.deepcopy(getattr(test_class, "default_event", {}))), event
        )
        source = merged["_source"]
        for name in ("utctimestamp", "receivedtimestamp"):
            if callable(source.get(name)):
                source[name] = source[name]()
        case.full_events.append(merged)
        events.append(stored_source(source, f"{tag}-{i}"))
    return events


def run_alert(cls: type[AlertTask], events: list[dict], settings: Settings) -> AlertTask:
    if not settings.store:
        task = cls(MemorySource(events))
        task.run(now=NOW)
        return task
    with tempfile.TemporaryDirectory(prefix="reynard-mozdef-") as tmp:
        store = TantivyEventStore(Path(tmp) / "events", writable=True)
        try:
            received = isoformat(NOW)
            drafts = [
                finalize(copy.deepcopy(e), received=received, keep_received=True, now=NOW) for e in events
            ]
            store.write(drafts, commit=True)
            task = cls(StoreSource(store))
            task.run(now=NOW)
            return task
        finally:
            store.close()


def verify(task: AlertTask, test_class: type, case: AlertTestCase, classname: str) -> None:
    """MozDef's `verify_alert_task` and `verify_expected_alert`, minus what needs Elasticsearch/RabbitMQ."""
    check(task.classname() == classname, f"alert class is {task.classname()}, expected {classname}")
    if not case.expected_test_result:
        check(
            not task.alerts, f"fired {len(task.alerts)} alert(s) when none was expected: {_summaries(task)}"
        )
        return
    check(bool(task.alerts), "did not fire")
    expected = dict(case.expected_alert or {})
    expected.setdefault("channel", None)
    expected["notify_mozdefbot"] = not (
        expected.get("severity") in ("NOTICE", "INFO") and expected["channel"] is None
    )
    deadman = getattr(test_class, "deadman", False)
    for alert in task.alerts:
        check(alert.get("classname") == classname, f"alert classname {alert.get('classname')!r}")
        check(isinstance(alert.get("events"), list), "alert events is not a list")
        for key, value in expected.items():
            check(key in alert, f"alert has no {key!r} (expected {value!r})")
            check(alert[key] == value, f"{key}: got {alert[key]!r}, expected {value!r}")
        if not deadman:
            wanted = getattr(test_class, "num_samples", len(case.full_events))
            check(
                len(alert["events"]) == wanted,
                f"{len(alert['events'])} events in the alert, expected {wanted}",
            )


def _summaries(task: AlertTask) -> str:
    return "; ".join(repr(a.get("summary")) for a in task.alerts[:3])


def starting_values(case: AlertTestCase, alert_file: Path, classname: str) -> None:
    """MozDef's `verify_starting_values`: the case and the alert it names make sense."""
    check(bool(case.description), "case has no description")
    check(alert_file.is_file(), f"no alert file {alert_file.name}")
    check(
        f"class {classname}(" in alert_file.read_text(encoding="utf-8"),
        f"no class {classname} in {alert_file.name}",
    )
    check(bool(case.events), "case has no events")
    check(
        (case.expected_alert is not None) == case.expected_test_result,
        "expected alert does not match the case kind",
    )


def run_case(
    test_file: str, test_class: type, index: int, case: AlertTestCase, settings: Settings, where: str
) -> Outcome:
    keys = (f"{test_class.__name__}: {case.description}", test_class.__name__, test_file)
    reason = next((NOT_APPLICABLE[key] for key in keys if key in NOT_APPLICABLE), None)
    if reason:
        return Outcome(where, "skipped", reason)
    outcome = _run_case(test_class, index, case, settings, where)
    if keys[0] not in BY_DESIGN:
        return outcome
    failure, design = BY_DESIGN[keys[0]]
    if outcome.status == "failed" and outcome.reason.startswith(failure):
        return Outcome(where, "differs_by_design", f"{design} ({outcome.reason})")
    if outcome.status == "passed":
        outcome.reason = "listed in BY_DESIGN but passed: remove the entry"
    return outcome


def _run_case(test_class: type, index: int, case: AlertTestCase, settings: Settings, where: str) -> Outcome:
    classname, filename = alert_names(test_class)
    alert_file = settings.mozdef / "alerts" / f"{filename}.py"
    rng = random.Random(where)
    try:
        starting_values(case, alert_file, classname)
        loaded = settings.alerts.get(filename)
        if loaded is None:
            loaded = settings.alerts[filename] = _load(alert_file, settings)
        if isinstance(loaded, RuleError):
            raise CaseFailed(f"alert file did not load: {loaded}")
        cls = next((c for c in loaded if c.__name__ == classname), None)
        check(cls is not None, f"{alert_file.name} has no alert class {classname}")
        assert cls is not None
        case.full_events = []
        with freeze_time(FROZEN, tz_offset=0):
            events = build_events(test_class, case, rng, f"{test_class.__name__}-{index}")
            set_hostname_resolver(mock_hostname)
            try:
                task = run_alert(cls, events, settings)
            finally:
                set_hostname_resolver(None)
        verify(task, test_class, case, classname)
    except CaseFailed as e:
        return Outcome(where, "failed", str(e))
    except RuleError as e:
        return Outcome(where, "failed", f"alert raised: {e}")
    except InvalidEvent as e:
        return Outcome(where, "failed", f"event refused by finalize: {e}")
    except Exception as e:
        last = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome(
            where, "failed", f"harness error: {type(e).__name__}: {e} ({last.filename}:{last.lineno})"
        )
    return Outcome(where, "passed")


def _load(alert_file: Path, settings: Settings) -> list[type[AlertTask]] | RuleError:
    try:
        classes = load_alert_file(alert_file)
    except RuleError as e:
        return e
    if not settings.event_time:
        for cls in classes:
            cls.event_time_windows = False  # MozDef's window: utctimestamp or receivedtimestamp
    return classes


# -- the run ----------------------------------------------------------------------------------------------
def alert_files(mozdef: Path) -> list[Path]:
    """MozDef's alert modules: the files in alerts/ that define an AlertTask (not the actions worker)."""
    return sorted(
        p
        for p in (mozdef / "alerts").glob("*.py")
        if p.name != "__init__.py" and "AlertTask" in p.read_text(encoding="utf-8")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mozdef", required=True, type=Path, help="a checkout of mozilla/MozDef")
    parser.add_argument("--store", action="store_true", help="a real tantivy store instead of a MemorySource")
    parser.add_argument(
        "--event-time", action="store_true", help="Reynard's event-time windows, not MozDef's"
    )
    parser.add_argument("--only", help="only test files whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="one line per failed or skipped case")
    args = parser.parse_args(argv)
    mozdef: Path = args.mozdef
    if not (mozdef / "alerts").is_dir() or not (mozdef / "tests" / "alerts").is_dir():
        parser.error(f"{mozdef}: not a MozDef checkout (no alerts/ and tests/alerts/)")

    settings = Settings(mozdef=mozdef.resolve(), store=args.store, event_time=args.event_time)
    files = alert_files(settings.mozdef)
    for path in files:
        settings.alerts[path.stem] = _load(path, settings)
    not_loaded = {stem: loaded for stem, loaded in settings.alerts.items() if isinstance(loaded, RuleError)}

    outcomes: list[Outcome] = []
    classes = 0
    bad_files: list[str] = []
    for path in sorted((settings.mozdef / "tests" / "alerts").glob("test_*.py")):
        if args.only and args.only not in path.name:
            continue
        try:
            test_classes = load_test_file(path, settings.mozdef)
        except Exception as e:
            bad_files.append(f"{path.name}: {type(e).__name__}: {e}")
            continue
        for test_class in test_classes:
            classes += 1
            for index, case in enumerate(test_class.test_cases):
                where = f"{path.name}::{test_class.__name__}[{index}] {case.description}"
                outcomes.append(run_case(path.name, test_class, index, case, settings, where))

    if args.verbose:
        for stem, error in not_loaded.items():
            print(f"NOT LOADED {stem}.py: {error}")
        for line in bad_files:
            print(f"TEST FILE NOT LOADED {line}")
        for outcome in outcomes:
            if outcome.status != "passed" or outcome.reason:
                print(f"{outcome.status.upper()} {outcome.where}: {outcome.reason}")
    statuses = ("passed", "failed", "differs_by_design", "skipped")
    count = {status: sum(o.status == status for o in outcomes) for status in statuses}
    print(
        json.dumps(
            {
                "alert_files_found": len(files),
                "alert_files_loaded": len(files) - len(not_loaded),
                "test_files_not_loaded": len(bad_files),
                "test_classes": classes,
                "cases": len(outcomes),
                **count,
                "store": "tantivy" if args.store else "memory",
                "windows": "event-time" if args.event_time else "mozdef",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
