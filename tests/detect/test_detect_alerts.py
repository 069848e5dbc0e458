"""AlertStore: alerts in the state database, their status history, and the dedup helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reynard.detect.alerts import AlertError, AlertStore
from reynard.errors import ReynardError
from reynard.state import open_state


def alert(summary="10 ssh bruteforce attempts by 1.2.3.4", ids=("e1", "e2")):
    return {
        "utctimestamp": "2017-01-01T01:00:00+00:00",
        "severity": "NOTICE",
        "summary": summary,
        "category": "bruteforce",
        "tags": ["ssh"],
        "events": [{"documentindex": "events", "documentsource": {"a": 1}, "documentid": i} for i in ids],
        "channel": None,
        "notify_mozdefbot": False,
        "status": "NEW",
        "classname": "AlertBruteforceSsh",
    }


@pytest.fixture
def alerts(tmp_path):
    return AlertStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))


def test_round_trip(alerts):
    alert_id = alerts.add(alert(), "bruteforce_ssh:AlertBruteforceSsh", group_key="1.2.3.4")
    got = alerts.get(alert_id)
    assert got["id"] == alert_id
    assert got["rule"] == "bruteforce_ssh:AlertBruteforceSsh"
    assert got["classname"] == "AlertBruteforceSsh"
    assert got["summary"] == "10 ssh bruteforce attempts by 1.2.3.4"
    assert got["category"] == "bruteforce"
    assert got["severity"] == "NOTICE"
    assert got["tags"] == ["ssh"]
    assert got["notify_mozdefbot"] is False
    assert got["url"] is None
    assert [e["documentid"] for e in got["events"]] == ["e1", "e2"]
    assert got["events"][0]["documentsource"] == {"a": 1}
    assert got["group_key"] == "1.2.3.4"
    assert got["utctimestamp"] == "2017-01-01T01:00:00+00:00"
    assert got["status"] == "new"
    assert got["status_by"] is None
    assert got["history"] == []
    created = datetime.fromisoformat(got["created"])
    assert created.tzinfo is not None and abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    assert alerts.get(alert_id + 100) is None


def test_list_newest_first_with_filters(alerts):
    first = alerts.add(alert("one"), "r")
    second = alerts.add(alert("two"), "r")
    third = alerts.add(alert("three"), "r")
    assert [a["id"] for a in alerts.list()] == [third, second, first]
    assert [a["id"] for a in alerts.list(limit=2)] == [third, second]
    alerts.set_status(second, "acknowledged", by="alice")
    assert [a["id"] for a in alerts.list(status="acknowledged")] == [second]
    assert [a["id"] for a in alerts.list(status="new")] == [third, first]
    assert alerts.list(since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(alerts.list(since=datetime.now(UTC) - timedelta(hours=1))) == 3


def test_status_history(alerts):
    alert_id = alerts.add(alert(), "r")
    alerts.set_status(alert_id, "acknowledged", by="alice")
    alerts.set_status(alert_id, "escalated", by="bob", comment="looks real")
    alerts.set_status(alert_id, "closed", by="carol", comment="blocked")
    alerts.set_status(alert_id, "closed", by="dave")  # closing a closed alert is allowed and recorded
    got = alerts.get(alert_id)
    assert got["status"] == "closed"
    assert got["status_by"] == "dave"
    assert got["status_at"] is not None
    assert [(h["status"], h["by"], h["comment"]) for h in got["history"]] == [
        ("acknowledged", "alice", None),
        ("escalated", "bob", "looks real"),
        ("closed", "carol", "blocked"),
        ("closed", "dave", None),
    ]
    assert all(datetime.fromisoformat(h["at"]).tzinfo is not None for h in got["history"])


def test_unknown_id_and_status(alerts):
    alert_id = alerts.add(alert(), "r")
    with pytest.raises(AlertError, match="no alert with id 999"):
        alerts.set_status(999, "closed", by="alice")
    with pytest.raises(ReynardError, match="unknown alert status 'done'"):
        alerts.set_status(alert_id, "done", by="alice")
    with pytest.raises(AlertError, match="unknown alert status"):
        alerts.list(status="NEW")
    assert alerts.get(alert_id)["history"] == []
    assert alerts.get(alert_id)["status"] == "new"


def test_already_alerted(alerts):
    alerts.add(alert(ids=("e1", "e2")), "rule-a")
    alerts.add(alert(ids=("e3",)), "rule-a")
    alerts.add(alert(ids=("e4",)), "rule-b")
    assert alerts.already_alerted("rule-a", ["e1", "e3", "e4", "e5"]) == {"e1", "e3"}
    assert alerts.already_alerted("rule-b", ["e1", "e4"]) == {"e4"}
    assert alerts.already_alerted("rule-c", ["e1"]) == set()
    assert alerts.already_alerted("rule-a", []) == set()


def test_reopening_an_existing_database_keeps_alerts(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    alert_id = AlertStore(open_state(url)).add(alert(), "r")
    assert AlertStore(open_state(url)).get(alert_id)["summary"] == alert()["summary"]


def test_an_alerts_other_keys_come_back_with_it(alerts):
    """What a rule adds to its alert dict (a Sigma correlation's firing, a MozDef alert's own keys) is
    kept; the columns keep their meaning (`status` is the triage status, not MozDef's `NEW`)."""
    firing = {"type": "event_count", "group": ["arn:aws:iam::1:user/bob"], "value": 57.0, "rules": ["d"]}
    custom = {**alert(), "sigma": firing, "ipintel": {"seen": {"1.2.3.4"}}}  # a set: JSON has none
    alert_id = alerts.add(custom, "sigma:describe-burst")
    got = alerts.get(alert_id)
    assert got["sigma"] == firing and alerts.list()[0]["sigma"] == firing
    assert got["ipintel"] == {"seen": "{'1.2.3.4'}"}  # kept as its text
    assert got["status"] == "new" and got["id"] == alert_id and got["rule"] == "sigma:describe-burst"
    plain = alerts.get(alerts.add(alert(), "r"))
    assert set(got) - set(plain) == {"sigma", "ipintel"}


def test_alert_events_are_backfilled_from_older_databases(tmp_path):
    """A state database made before alert_events existed keeps its dedup after the upgrade."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from reynard.state.db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(
            text(
                "INSERT INTO alerts"
                " (rule, classname, summary, tags, notify_mozdefbot, events, created, status)"
                " VALUES ('rule-a', 'A', 's', '[]', 0, :events, '2024-01-01 00:00:00', 'new')"
            ),
            {"events": '[{"documentid": "e1"}, {"documentid": "e2"}, {"documentsource": {}}]'},
        )
    engine.dispose()
    upgraded = AlertStore(open_state(url))
    assert upgraded.already_alerted("rule-a", ["e1", "e2", "e3"]) == {"e1", "e2"}
    assert upgraded.get(1)["event_ids"] == ["e1", "e2"]


def test_already_alerted_looks_up_many_ids(alerts):
    ids = [f"e{i}" for i in range(1_234)]
    alerts.add(alert(ids=()), "rule-a", event_ids=ids[::2])
    assert alerts.already_alerted("rule-a", ids) == set(ids[::2])


def test_already_alerted_by_rule_answers_each_rule_for_its_own_ids(alerts):
    ids = [f"e{i}" for i in range(1_234)]
    alerts.add(alert(ids=()), "rule-a", event_ids=ids[::2])
    alerts.add(alert(ids=("e1", "e2")), "rule-b")
    found = alerts.already_alerted_by_rule(
        {"rule-a": ids, "rule-b": ["e2", "e4"], "rule-c": ids, "rule-d": []}
    )
    assert found == {"rule-a": set(ids[::2]), "rule-b": {"e2"}, "rule-c": set(), "rule-d": set()}
    assert alerts.already_alerted_by_rule({"rule-a": []}) == {"rule-a": set()}


def test_add_many_returns_each_alerts_own_id(alerts):
    from reynard.detect.alerts import NewAlert

    first = alerts.add(alert(summary="before"), "rule-a")
    batch = [NewAlert(alert(summary=f"alert {i}", ids=(f"e{i}",)), "rule-b", f"g{i}") for i in range(5)]
    ids = alerts.add_many(batch)
    assert len(set(ids)) == 5 and first not in ids
    for i, alert_id in enumerate(ids):
        stored = alerts.get(alert_id)
        assert (stored["summary"], stored["group_key"], stored["event_ids"]) == (
            f"alert {i}",
            f"g{i}",
            [f"e{i}"],
        )
    assert alerts.add_many([]) == []


def test_add_many_stores_the_rows_sqlalchemy_would(tmp_path):
    """add_many on SQLite binds through the driver; the rows (values and SQLite types) are those
    SQLAlchemy's own executemany stores."""
    import sqlite3

    from freezegun import freeze_time
    from sqlalchemy import insert

    from reynard.detect.alerts import NewAlert, _new_row, _row
    from reynard.state.tables import alert_events, alerts

    store = AlertStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))
    batch = [
        NewAlert(alert(summary="plain"), "rule-a"),
        NewAlert({**alert(ids=()), "notify_mozdefbot": True, "url": "https://x", "channel": "c"}, "r", 7),
        NewAlert({"summary": "bare"}, "rule-b", "g", event_ids=["e9", "e9", "e8"]),
    ]
    with freeze_time("2026-11-20 10:00:00.123456"):
        ids = store.add_many(batch)
        with store.engine.begin() as connection:  # the same alerts as SQLAlchemy Core inserts them
            rows = [{**_row(item), **_new_row(datetime.now(UTC))} for item in batch]
            connection.execute(insert(alerts), rows)
            links = [
                {"alert_id": alert_id + len(batch), "rule": item.rule, "event_id": event_id}
                for alert_id, item in zip(ids, batch, strict=True)
                for event_id in item.ids()
            ]
            connection.execute(insert(alert_events), links)
    raw = sqlite3.connect(tmp_path / "state.db")
    for table in (alerts, alert_events):
        columns = ", ".join(f"typeof({c.name}), {c.name}" for c in table.columns if c.name != "id")
        found = raw.execute(f"SELECT {columns} FROM {table.name} ORDER BY id").fetchall()
        if table is alert_events:
            found = [row[2:] for row in found]  # alert ids differ by the batch's length, by construction
        assert len(found) == 2 * (len(batch) if table is alerts else 4)
        assert found[: len(found) // 2] == found[len(found) // 2 :], table.name
