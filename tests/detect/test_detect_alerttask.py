"""The MozDef alert API (`reynard.detect`) in the spirit of MozDef's alert test harness: each case builds
events, runs an alert at a fixed `now` and checks the alert (or that none fired)."""

import copy
import sys
from datetime import UTC, datetime, timedelta

import pytest

from paths import ALERTS
from reynard.detect import (
    AlertTask,
    MemorySource,
    RuleError,
    StoreSource,
    add_hostname_to_ip,
    set_hostname_resolver,
)
from reynard.detect.mozdef_compat import load_alert_file, mozdef_imports
from reynard.events.event import finalize, stable_id
from reynard.events.timestamps import isoformat
from reynard.query.mozdef import SearchQuery, TermMatch
from reynard.store.tantivy.store import TantivyEventStore

NOW = datetime(2017, 1, 1, 1, 0, tzinfo=UTC)  # MozDef's harness froze time here


def ago(**delta):
    return isoformat(NOW - timedelta(**delta))


def make_events(default, n, **changes):
    """`n` copies of a default event (unique ids), with `changes` (dotted keys) applied."""
    events = []
    for i in range(n):
        event = copy.deepcopy(default)
        event["id"] = f"{event.get('id', 'e')}-{len(events)}-{i}-{id(events)}"
        for key, value in changes.items():
            target = event
            *parents, last = key.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = value
        events.append(event)
    return events


def run_file(filename, events, now=NOW):
    (cls,) = load_alert_file(ALERTS / filename)
    return cls(MemorySource(events)).run(now=now)


# -- bruteforce_ssh (aggregation) ------------------------------------------------------------------------
SSH_EVENT = {
    "utctimestamp": ago(minutes=1),
    "receivedtimestamp": ago(minutes=1),
    "summary": "login invalid ldap_count_entries failed by 1.2.3.4",
    "hostname": "exhostname",
    "category": "syslog",
    "details": {"program": "sshd", "sourceipaddress": "1.2.3.4"},
}


def test_ten_ssh_failures_from_one_ip_fire():
    alerts = run_file("bruteforce_ssh.py", make_events(SSH_EVENT, 10))
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["summary"] == "10 ssh bruteforce attempts by 1.2.3.4 exhostname (10 hits)"
    assert alert["category"] == "bruteforce"
    assert alert["tags"] == ["ssh"]
    assert alert["severity"] == "NOTICE"
    assert alert["notify_mozdefbot"] is False
    assert alert["channel"] is None
    assert alert["status"] == "manual"
    assert alert["classname"] == "AlertBruteforceSsh"
    assert alert["utctimestamp"] == "2017-01-01T01:00:00+00:00"
    assert len(alert["events"]) == 10
    assert set(alert["events"][0]) == {"documentindex", "documentsource", "documentid"}
    assert alert["events"][0]["documentsource"]["details"]["sourceipaddress"] == "1.2.3.4"


def test_nine_ssh_failures_do_not_fire():
    assert run_file("bruteforce_ssh.py", make_events(SSH_EVENT, 9)) == []


def test_ssh_failures_older_than_the_window_do_not_fire():
    events = make_events(SSH_EVENT, 10, utctimestamp=ago(minutes=3), receivedtimestamp=ago(minutes=3))
    assert run_file("bruteforce_ssh.py", events) == []


def test_windows_are_in_event_time_unless_a_rule_asks_for_mozdefs():
    """Reynard's windows hold events by when they happened; MozDef's also took any event received in them."""
    events = make_events(SSH_EVENT, 10, utctimestamp=ago(minutes=30))
    assert run_file("bruteforce_ssh.py", events) == []
    [cls] = load_alert_file(ALERTS / "bruteforce_ssh.py")
    mozdef_style = type("MozDefWindow", (cls,), {"event_time_windows": False})
    assert len(mozdef_style(MemorySource(events)).run(now=NOW)) == 1


def test_ssh_skiphosts_from_the_conf_file_do_not_fire():
    events = make_events(SSH_EVENT, 10, summary="login invalid failed by 11.22.33.44")
    assert run_file("bruteforce_ssh.py", events) == []


def test_ssh_failures_of_other_programs_do_not_fire():
    assert run_file("bruteforce_ssh.py", make_events(SSH_EVENT, 10, **{"details.program": "sudo"})) == []


def test_ssh_groups_by_ip_most_common_first_and_samples():
    events = (
        make_events(SSH_EVENT, 12, **{"details.sourceipaddress": "5.6.7.8"})
        + make_events(SSH_EVENT, 11)
        + make_events(SSH_EVENT, 11, hostname="other", **{"details.sourceipaddress": "1.2.3.4"})
        + make_events(SSH_EVENT, 3, **{"details.sourceipaddress": "9.9.9.9"})
    )
    alerts = run_file("bruteforce_ssh.py", events)
    assert [a["summary"] for a in alerts] == [
        "22 ssh bruteforce attempts by 1.2.3.4 exhostname (11 hits) other (11 hits)",
        "12 ssh bruteforce attempts by 5.6.7.8 exhostname (12 hits)",
    ]
    assert [len(a["events"]) for a in alerts] == [10, 10]  # samplesLimit=10


def test_no_thousand_hit_cap():
    alerts = run_file("bruteforce_ssh.py", make_events(SSH_EVENT, 1500))
    assert alerts[0]["summary"].startswith("1500 ssh bruteforce attempts by 1.2.3.4")


# -- cloudtrail_logging_disabled (events) ----------------------------------------------------------------
CLOUDTRAIL_EVENT = {
    "utctimestamp": ago(minutes=1),
    "receivedtimestamp": ago(minutes=1),
    "summary": "StopLogging by someone",
    "source": "cloudtrail",
    "category": "AwsApiCall",
    "details": {"eventname": "StopLogging", "requestparameters": {"name": "cloudtrail_example_name"}},
}


def test_stop_logging_fires_critical():
    (alert,) = run_file("cloudtrail_logging_disabled.py", make_events(CLOUDTRAIL_EVENT, 1))
    assert alert["summary"] == "Cloudtrail Logging Disabled: cloudtrail_example_name"
    assert alert["severity"] == "CRITICAL"
    assert alert["notify_mozdefbot"] is True
    assert alert["category"] == "AWSCloudtrail"
    assert alert["tags"] == ["cloudtrail", "aws", "cloudtrailpagerduty"]
    assert alert["events"][0]["documentindex"] == "events"


@pytest.mark.parametrize(("minutes", "fires"), [(29, True), (31, False)])
def test_stop_logging_window(minutes, fires):
    events = make_events(
        CLOUDTRAIL_EVENT, 1, utctimestamp=ago(minutes=minutes), receivedtimestamp=ago(minutes=minutes)
    )
    assert bool(run_file("cloudtrail_logging_disabled.py", events)) is fires


def test_stop_logging_denied_or_other_event_does_not_fire():
    assert (
        run_file("cloudtrail_logging_disabled.py", make_events(CLOUDTRAIL_EVENT, 1, errorcode="AccessDenied"))
        == []
    )
    events = make_events(CLOUDTRAIL_EVENT, 1, **{"details.eventname": "StartLogging"})
    assert run_file("cloudtrail_logging_disabled.py", events) == []


def test_one_alert_per_matching_event():
    assert len(run_file("cloudtrail_logging_disabled.py", make_events(CLOUDTRAIL_EVENT, 3))) == 3


# -- dead-man --------------------------------------------------------------------------------------------
HEARTBEAT = {
    "utctimestamp": ago(minutes=5),
    "receivedtimestamp": ago(minutes=5),
    "summary": "heartbeat",
    "category": "heartbeat",
    "hostname": "nsm1",
}


def test_deadman_fires_without_heartbeat():
    stale = make_events(HEARTBEAT, 1, utctimestamp=ago(minutes=20), receivedtimestamp=ago(minutes=20))
    (alert,) = run_file("deadman_heartbeat.py", stale)
    assert alert["summary"] == "No heartbeat from nsm1 in 15 minutes"
    assert alert["events"] == []
    assert alert["channel"] == "#ops"
    assert alert["notify_mozdefbot"] is True


def test_deadman_quiet_with_heartbeat_and_searches_one_hit():
    (cls,) = load_alert_file(ALERTS / "deadman_heartbeat.py")
    task = cls(MemorySource(make_events(HEARTBEAT, 5)))
    assert task.run(now=NOW) == []
    assert len(task.events) == 1
    assert task.checked_at == NOW


# -- the API itself --------------------------------------------------------------------------------------
class CountBySource(AlertTask):
    def main(self):
        query = SearchQuery(hours=1)
        query.add_must(TermMatch("category", "x"))
        self.filtersManual(query)
        self.searchEventsAggregated("details.user", samplesLimit=2)
        self.walkAggregations(threshold=2, config={"k": 1})

    def onAggregation(self, aggreg):
        self.seen = aggreg
        return self.createAlertDict(
            f"{aggreg['value']}", "c", [], aggreg["events"], "WARNING", url="http://x"
        )


def test_aggregation_fields_and_class_level_source():
    events = make_events({"utctimestamp": ago(minutes=1), "category": "x", "details": {"user": "ann"}}, 3)
    events += make_events({"utctimestamp": ago(minutes=1), "category": "x"}, 4)  # no field: left out
    CountBySource.source = MemorySource(events)
    try:
        task = CountBySource(now=NOW)
        (alert,) = task.run()
    finally:
        CountBySource.source = None
    assert alert["url"] == "http://x"
    assert alert["notify_mozdefbot"] is True
    assert task.seen["count"] == 3 and task.seen["value"] == "ann" and task.seen["config"] == {"k": 1}
    assert len(task.seen["events"]) == 2 and len(task.seen["allevents"]) == 3
    assert task.seen["allevents"][0]["_index"] == "events"
    assert task.alerts_events[0] == task.seen["allevents"]


def test_most_common():
    task = AlertTask(MemorySource([]))
    hits = [{"_source": {"hostname": h}} for h in ["a", "b", "b", "c", "b", "a"]]
    assert task.mostCommon(hits, "_source.hostname") == [("b", 3), ("a", 2), ("c", 1)]


def test_errors_in_main_name_the_alert():
    class Broken(AlertTask):
        def main(self):
            raise KeyError("details")

    with pytest.raises(RuleError, match="Broken"):
        Broken(MemorySource([])).run(now=NOW)
    with pytest.raises(RuleError, match="no event source"):
        CountBySource().run(now=NOW)


def test_add_hostname_to_ip_does_no_dns_by_default():
    assert add_hostname_to_ip("10.0.0.1", "{0} ({1})") == "10.0.0.1"
    set_hostname_resolver(lambda ip: "host.internal")
    try:
        assert add_hostname_to_ip("10.0.0.1", "{0} ({1})") == "10.0.0.1 (host.internal)"
        assert add_hostname_to_ip("8.8.8.8", "{0} ({1})") == "8.8.8.8"  # not internal
        assert add_hostname_to_ip("not an ip", "{0} ({1})") == "not an ip"
    finally:
        set_hostname_resolver(None)


# -- against the real store ------------------------------------------------------------------------------
def test_alert_against_the_tantivy_store(tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    received = isoformat(now)
    drafts = []
    for i in range(10):
        event = copy.deepcopy(SSH_EVENT)
        event.update(
            id=stable_id("test", f"ssh-{i}"), utctimestamp=isoformat(now - timedelta(seconds=30 + i))
        )
        event["receivedtimestamp"] = event["utctimestamp"]
        drafts.append(finalize(event, received=received, keep_received=True))
    store = TantivyEventStore(tmp_path / "events", writable=True)
    try:
        store.write(drafts, commit=True)
        (cls,) = load_alert_file(ALERTS / "bruteforce_ssh.py")
        alerts = cls(StoreSource(store)).run(now=now)
        assert [a["summary"] for a in alerts] == [
            "10 ssh bruteforce attempts by 1.2.3.4 exhostname (10 hits)"
        ]
        assert cls(StoreSource(store)).run(now=now + timedelta(minutes=5)) == []
    finally:
        store.close()


# -- loading ---------------------------------------------------------------------------------------------
def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_syntax_error_names_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "broken.py",
        "from lib.alerttask import AlertTask\n\n\nclass A(AlertTask):\n    def main(self)\n",
    )
    with pytest.raises(RuleError, match=r"broken\.py:5.*syntax error"):
        load_alert_file(path)


def test_unknown_import_names_file(tmp_path):
    path = write(tmp_path, "uses_es.py", "from mozdef_util.elasticsearch_client import ElasticsearchClient\n")
    with pytest.raises(RuleError, match=r"uses_es\.py:1.*cannot import"):
        load_alert_file(path)


def test_file_without_alert_class(tmp_path):
    path = write(tmp_path, "no_class.py", "from lib.alerttask import AlertTask\nTHRESHOLD = 10\n")
    with pytest.raises(RuleError, match=r"no_class\.py.*no alert class"):
        load_alert_file(path)


def test_class_without_main(tmp_path):
    text = "from lib.alerttask import AlertTask\n\n\nclass AlertNoMain(AlertTask):\n    pass\n"
    with pytest.raises(RuleError, match=r"no_main\.py: AlertNoMain.*no main"):
        load_alert_file(write(tmp_path, "no_main.py", text))


def test_shims_leave_no_top_level_packages_behind():
    before = {name: sys.modules.get(name) for name in ("lib", "mozdef_util")}
    for filename in ("bruteforce_ssh.py", "cloudtrail_logging_disabled.py", "deadman_heartbeat.py"):
        (cls,) = load_alert_file(ALERTS / filename)
        cls(MemorySource([])).run(now=NOW)
    with mozdef_imports(), mozdef_imports():
        assert "lib.alerttask" in sys.modules
    assert {name: sys.modules.get(name) for name in ("lib", "mozdef_util")} == before
    if before["lib"] is None and before["mozdef_util"] is None:
        assert not [name for name in sys.modules if name.startswith(("lib.", "mozdef_util."))]


# -- helpers MozDef alerts use ---------------------------------------------------------------------------
def test_config_files_beside_the_alert_and_environment_override(tmp_path, monkeypatch):
    write(tmp_path, "my_alert.conf", "[options]\nthreshold = 7\nusers = ann bob\n")
    write(tmp_path, "my_alert.json", '{"hosts": ["a"]}')
    text = (
        "from lib.alerttask import AlertTask\n\n\nclass AlertCfg(AlertTask):\n    def main(self):\n"
        "        self.parse_config('my_alert.conf', ['threshold', 'users', 'missing'])\n"
        "        self.json = self.parse_json_alert_config('my_alert.json')\n"
    )
    (cls,) = load_alert_file(write(tmp_path, "my_alert.py", text))
    task = cls(MemorySource([]))
    task.run(now=NOW)
    assert (task.config.threshold, task.config.users, task.config.missing) == ("7", "ann bob", "")
    assert task.json == {"hosts": ["a"]}
    monkeypatch.setenv("OPTIONS_USERS", "carol")
    task.run(now=NOW)
    assert task.config.users == "carol"


def test_walk_events_passes_keyword_arguments():
    class Tagger(AlertTask):
        def main(self):
            query = SearchQuery(minutes=5)
            query.add_must(TermMatch("category", "x"))
            self.filtersManual(query)
            self.searchEventsSimple()
            self.walkEvents(label="L")

        def onEvent(self, event, label):
            return self.createAlertDict(label + event["_id"], "c", [], [event], "INFO")

    events = [{"id": "e1", "utctimestamp": ago(minutes=1), "category": "x"}]
    (alert,) = Tagger(MemorySource(events)).run(now=NOW)
    assert alert["summary"] == "Le1" and alert["notify_mozdefbot"] is False
    assert alert["events"][0]["documentid"] == "e1"


def test_to_utc_and_dot_dict():
    from reynard.detect.compat_utilities import DotDict, toUTC

    assert toUTC("2017-01-01T02:00:00+01:00") == NOW
    assert toUTC(datetime(2017, 1, 1, 1, 0)) == NOW
    assert toUTC(1483232400) == NOW
    with pytest.raises(ValueError):
        toUTC("yesterday-ish")
    d = DotDict({"a": {"b": 1}})
    assert d.a.b == 1


def test_alert_with_its_own_init_takes_a_source(tmp_path):
    """MozDef alerts that read their config in `__init__(self)` are built as `cls(source)` like any other."""
    write(tmp_path, "scan.json", '{"note": "Scan::Port_Scan"}')
    text = (
        "from lib.alerttask import AlertTask\n"
        "from mozdef_util.query_models import SearchQuery, TermMatch\n\n\n"
        "class AlertScan(AlertTask):\n"
        "    def __init__(self):\n"
        "        AlertTask.__init__(self)\n"
        "        self._config = self.parse_json_alert_config('scan.json')\n\n"
        "    def main(self):\n"
        "        query = SearchQuery(minutes=5)\n"
        "        query.add_must(TermMatch('details.note', self._config['note']))\n"
        "        self.filtersManual(query)\n"
        "        self.searchEventsSimple()\n"
        "        self.walkEvents()\n\n"
        "    def onEvent(self, event):\n"
        "        return self.createAlertDict('scan', 'nsm', [], [event], 'WARNING')\n"
    )
    (cls,) = load_alert_file(write(tmp_path, "scan.py", text))
    events = [{"id": "e1", "utctimestamp": ago(minutes=1), "details": {"note": "Scan::Port_Scan"}}]
    task = cls(MemorySource(events), now=NOW)
    assert task._config == {"note": "Scan::Port_Scan"} and task.now == NOW
    assert [a["summary"] for a in task.run()] == ["scan"]
    assert cls.__init__.__name__ == "__init__"


def test_alert_combining_query_models_with_operators(tmp_path):
    text = (
        "from lib.alerttask import AlertTask\n"
        "from mozdef_util.query_models import SearchQuery, PhraseMatch, TermMatch\n\n\n"
        "class AlertSessions(AlertTask):\n"
        "    def main(self):\n"
        "        users = None\n"
        "        for user in ('ann', 'bob'):\n"
        "            if users is None:\n"
        "                users = PhraseMatch('summary', user)\n"
        "            else:\n"
        "                users |= PhraseMatch('summary', user)\n"
        "        query = SearchQuery(minutes=5)\n"
        "        query.add_must([TermMatch('details.program', 'sshd'), users])\n"
        "        query.add_must_not(TermMatch('hostname', 'bastion') + PhraseMatch('summary', 'bob'))\n"
        "        self.filtersManual(query)\n"
        "        self.searchEventsSimple()\n"
        "        self.walkEvents()\n\n"
        "    def onEvent(self, event):\n"
        "        return self.createAlertDict(event['_source']['summary'], 'session', [], [event])\n"
    )
    (cls,) = load_alert_file(write(tmp_path, "sessions.py", text))
    base = {"utctimestamp": ago(minutes=1), "details": {"program": "sshd"}, "hostname": "web"}
    events = [
        dict(base, id="1", summary="session opened for ann"),
        dict(base, id="2", summary="session opened for carol"),
        dict(base, id="3", summary="session opened for bob", hostname="bastion"),
        dict(base, id="4", summary="session opened for ann", hostname="bastion"),
    ]
    alerts = cls(MemorySource(events)).run(now=NOW)
    assert sorted(a["events"][0]["documentid"] for a in alerts) == ["1", "4"]


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("severity = 'WARNING'", "WARNING"),
        ('severity = "WARNING"', "WARNING"),
        ("severity = WARNING  # as in the docs", "WARNING"),
        ("excludedports = 443, 8443", "443,8443"),
        ("exfil_domains = pastebin.com,www.sendspace.com", "pastebin.com,www.sendspace.com"),
        ("skiphosts = 11.22.33.44 55.66.77.88", "11.22.33.44 55.66.77.88"),
        ("empty =", ""),
    ],
)
def test_config_values_read_as_mozdef_read_them(tmp_path, line, value):
    """MozDef read .conf files with configobj: quotes, comments and comma lists as it did."""
    name = line.split("=")[0].strip()
    write(tmp_path, "cfg.conf", f"[options]\n{line}\n")
    text = (
        "from lib.alerttask import AlertTask\n\n\nclass AlertCfg(AlertTask):\n    def main(self):\n"
        f"        self.parse_config('cfg.conf', [{name!r}])\n"
    )
    (cls,) = load_alert_file(write(tmp_path, "cfg.py", text))
    task = cls(MemorySource([]))
    task.run(now=NOW)
    assert getattr(task.config, name) == value
