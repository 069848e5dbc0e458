"""The incident store: the phase workflow, MITRE ATT&CK tags, the append-only timeline, optimistic
versions, one transaction per operation, MozDef's dates and the reports."""

from datetime import UTC, datetime, timedelta

import pytest

from reynard.cases.errors import InvalidValue, NotFound, StaleIncident, WorkflowError
from reynard.cases.phases import PHASES, parse_phase
from reynard.cases.playbook_sink import PlaybookIncidents
from reynard.cases.reports import report
from reynard.cases.sink import IncidentSink
from reynard.cases.store import IncidentStore
from reynard.state import open_state

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """Time that moves only when told."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    return IncidentStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"), clock=clock)


def walk(store, incident_id, *phases, by="alice"):
    for phase in phases:
        store.change_phase(incident_id, phase, by)


# -- phases -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "phase"),
    [
        ("containment", "Containment"),
        ("LESSONS LEARNED", "Lessons Learned"),
        ("lessons-learned", "Lessons Learned"),
        ("lessons_learned", "Lessons Learned"),
        ("Closed", "Closed"),
    ],
)
def test_phase_names(name, phase):
    assert parse_phase(name) == phase


def test_a_phase_that_is_not_one_is_refused_by_name(store):
    incident = store.open_incident("x", "alice")
    with pytest.raises(InvalidValue, match=r"'Triage' is not a phase \(one of: Identification, "):
        store.change_phase(incident.id, "Triage", "alice")


def test_forward_one_step_at_a_time_and_back_is_recorded(store):
    incident = store.open_incident("Crypto mining on web-1", "alice")
    walk(store, incident.id, "Containment", "Eradication")
    back = store.change_phase(incident.id, "Containment", "bob", reason="the miner came back")
    assert back.phase == "Containment"
    change = back.phase_changes[-1]
    assert (change.source, change.phase, change.backward, change.forced) == (
        "Eradication",
        "Containment",
        True,
        False,
    )
    entry = store.timeline(incident.id)[-1]
    assert entry.kind == "phase" and entry.by == "bob"
    assert entry.text == "phase Eradication → Containment (back): the miner came back"


def test_skipping_forward_needs_force_and_a_reason(store):
    incident = store.open_incident("x", "alice")
    with pytest.raises(WorkflowError, match="skips Containment, Eradication"):
        store.change_phase(incident.id, "Recovery", "alice")
    with pytest.raises(WorkflowError, match="needs a reason"):
        store.change_phase(incident.id, "Recovery", "alice", force=True)
    moved = store.change_phase(
        incident.id, "Recovery", "alice", force=True, reason="false positive, restored"
    )
    assert moved.phase_changes[-1].forced and moved.phase_changes[-1].reason == "false positive, restored"
    with pytest.raises(WorkflowError, match="already in Recovery"):
        store.change_phase(incident.id, "Recovery", "alice")


def test_closing_needs_lessons_or_an_explicit_skip_with_a_reason(store):
    incident = store.open_incident("x", "alice")
    walk(store, incident.id, *PHASES[1:5])
    with pytest.raises(WorkflowError, match="closing needs lessons learned"):
        store.change_phase(incident.id, "Closed", "alice")
    with pytest.raises(WorkflowError, match="skipping lessons learned needs a reason"):
        store.change_phase(incident.id, "Closed", "alice", skip_lessons=True)
    closed = store.change_phase(incident.id, "Closed", "alice", skip_lessons=True, reason="duplicate of 3")
    assert closed.phase == "Closed" and not closed.is_open
    assert store.timeline(incident.id)[-1].data["skipped_lessons"] is True


def test_close_with_lessons_is_one_transaction(store):
    incident = store.open_incident("x", "alice")
    walk(store, incident.id, *PHASES[1:3])
    # From Eradication, closing skips phases: refused, and the lessons given with it are not kept.
    with pytest.raises(WorkflowError, match="skips"):
        store.close(incident.id, "alice", lessons="rotate keys sooner")
    after = store.get(incident.id)
    assert after.lessons == "" and after.version == incident.version + 2
    walk(store, incident.id, "Recovery", "Lessons Learned")
    closed = store.close(incident.id, "alice", lessons="rotate keys sooner")
    assert (closed.phase, closed.lessons) == ("Closed", "rotate keys sooner")


# -- values -----------------------------------------------------------------------------------------------
def test_tags_free_and_attack_techniques(store):
    incident = store.open_incident("x", "alice", tags=["mining", "T1496", "attack.t1078.004", "t1098"])
    assert incident.tags == ("mining", "T1496", "T1078.004", "T1098")
    assert incident.techniques == ["T1496", "T1078.004", "T1098"]


@pytest.mark.parametrize("bad", ["T123", "T12345", "T1078.4", "attack.t1078.0001", "T1078-001"])
def test_a_technique_id_that_is_not_one_is_refused_and_nothing_is_written(store, bad):
    incident = store.open_incident("x", "alice")
    with pytest.raises(InvalidValue, match="is not a MITRE ATT&CK technique id"):
        store.set_fields(incident.id, "alice", {"tags": ["mining", bad]})
    with pytest.raises(InvalidValue):
        store.open_incident("y", "alice", tags=[bad])
    assert [i.id for i in store.list()] == [incident.id]
    assert store.get(incident.id).tags == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"severity": "urgent"}, "'urgent' is not a severity"),
        ({"title": "  "}, "needs a title"),
        ({"colour": "red"}, "'colour' is not a field"),
        ({"mitigations": "one string"}, "mitigations is a list"),
    ],
)
def test_malformed_fields(store, changes, message):
    incident = store.open_incident("x", "alice")
    with pytest.raises(InvalidValue, match=message):
        store.set_fields(incident.id, "alice", changes)
    assert store.get(incident.id).version == incident.version


def test_indicators_are_checked(store):
    incident = store.open_incident("x", "alice")
    added = store.add_indicators(
        incident.id,
        [("ip", "2001:db8:0::1"), ("domain", "Pool.MinerGate.com."), ("bucket", "logs-1")],
        "alice",
    )
    assert [(i.kind, i.value) for i in added.indicators] == [
        ("ip", "2001:db8::1"),
        ("domain", "pool.minergate.com"),
        ("bucket", "logs-1"),
    ]
    for kind, value in [("ip", "300.1.1.1"), ("access_key", "AKIA123"), ("instance", "i-xyz"), ("hash", "x")]:
        with pytest.raises(InvalidValue):
            store.add_indicators(incident.id, [("ip", "198.51.100.1"), (kind, value)], "alice")
    assert len(store.get(incident.id).indicators) == 3  # the good one of each refused batch is not kept


def test_unknown_ids(store):
    with pytest.raises(NotFound, match="no incident with id 99"):
        store.get(99)
    with pytest.raises(NotFound):
        store.change_phase(99, "Containment", "alice")
    with pytest.raises(NotFound):
        store.add_entry(99, "note", "alice", "hello")
    incident = store.open_incident("x", "alice")
    with pytest.raises(NotFound, match="no alert with id 5"), store.change(incident.id, "alice") as change:
        change.link_alert(5)
    with pytest.raises(NotFound, match="'carol' is not a member"):
        store.remove_member(incident.id, "carol", "alice")


# -- the timeline -----------------------------------------------------------------------------------------
def test_the_timeline_is_append_only_and_a_correction_refers_to_what_it_corrects(store, clock):
    incident = store.open_incident("x", "alice")
    wrong = store.note(incident.id, "bob", "the miner talks to 203.0.113.50")
    clock.advance(minutes=5)
    fixed = store.add_entry(incident.id, "correction", "bob", "it was 203.0.113.60", link=f"entry:{wrong.id}")
    entries = store.timeline(incident.id)
    assert [e.text for e in entries][-2:] == ["the miner talks to 203.0.113.50", "it was 203.0.113.60"]
    assert entries[-1].id == fixed and entries[-1].link == f"entry:{wrong.id}"
    assert not any(hasattr(store, name) for name in ("update_entry", "delete_entry", "edit_entry"))
    other = store.open_incident("y", "alice")
    with pytest.raises(NotFound, match=f"incident {other.id} has no timeline entry {wrong.id}"):
        store.add_entry(other.id, "correction", "bob", "no", link=f"entry:{wrong.id}")
    with pytest.raises(InvalidValue, match="links to the entry it corrects"):
        store.add_entry(incident.id, "correction", "bob", "no link")


def test_add_entry_takes_the_response_engines_kinds_not_the_stores_own(store, clock):
    incident_id = store.open_incident("Crypto mining on web-1", "playbook:quarantine", severity="critical").id
    at = START - timedelta(minutes=3)
    store.add_entry(incident_id, "playbook", "playbook:quarantine", "isolated i-0abc", "execution:e-1", at=at)
    store.add_entry(incident_id, "notification", "playbook:quarantine", "paged the IR on-call", "delivery:4")
    version = store.get(incident_id).version
    assert version == 1  # appending does not change the incident
    playbook = store.timeline(incident_id)[1]
    assert (playbook.kind, playbook.at, playbook.link) == ("playbook", at, "execution:e-1")
    with pytest.raises(InvalidValue, match="the store writes those itself"):
        store.add_entry(incident_id, "phase", "mallory", "phase Identification → Closed")
    with pytest.raises(InvalidValue, match="is not a link"):
        store.add_entry(incident_id, "note", "alice", "x", link="not a link")
    with pytest.raises(InvalidValue, match="time zone"):
        store.add_entry(incident_id, "note", "alice", "x", at=datetime(2026, 1, 1))


def test_the_store_is_the_response_engines_incident_sink(store):
    assert isinstance(PlaybookIncidents(store), IncidentSink)


# -- concurrency ------------------------------------------------------------------------------------------
def test_a_write_against_an_older_version_is_refused_naming_what_changed(store):
    incident = store.open_incident("Crypto mining", "alice")
    seen_by_alice = seen_by_bob = incident.version
    store.set_fields(
        incident.id, "alice", {"root_cause": "SSH open to the world"}, expected_version=seen_by_alice
    )
    with pytest.raises(StaleIncident) as refused:
        store.set_fields(incident.id, "bob", {"root_cause": "a leaked key"}, expected_version=seen_by_bob)
    error = refused.value
    assert (error.expected, error.current) == (1, 2)
    assert "alice (version 2): root cause: '' → 'SSH open to the world'" in str(error)
    assert store.get(incident.id).root_cause == "SSH open to the world"
    # Notes do not make a version stale: they undo nothing.
    store.note(incident.id, "carol", "looking at the flow logs")
    assert store.set_fields(incident.id, "bob", {"root_cause": "both"}, expected_version=2).version == 3


def test_two_processes_writing_at_once_each_get_their_own_version(tmp_path):
    """Concurrent writers without a version: both changes land, each on its own version."""
    import threading

    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = IncidentStore(open_state(url))
    incident = first.open_incident("x", "alice")
    barrier = threading.Barrier(4)
    errors = []

    def add(name: str) -> None:
        store = IncidentStore(open_state(url))
        barrier.wait()
        try:
            store.add_member(incident.id, name, "responder", name)
        except Exception as e:  # pragma: no cover - the failure this test looks for
            errors.append(e)

    threads = [threading.Thread(target=add, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    final = first.get(incident.id)
    assert sorted(m.name for m in final.members) == ["user0", "user1", "user2", "user3"]
    versions = [e.version for e in first.timeline(incident.id) if e.kind == "member"]
    assert sorted(versions) == [2, 3, 4, 5] and final.version == 5


def test_a_change_that_changes_nothing_makes_no_version(store):
    incident = store.open_incident("x", "alice", severity="high")
    same = store.set_fields(incident.id, "alice", {"severity": "high", "title": "x"})
    assert same.version == incident.version
    assert [e.kind for e in store.timeline(incident.id)] == ["opened"]


# -- dates and reports ------------------------------------------------------------------------------------
def test_mozdef_dates_follow_the_phase_changes(store, clock):
    incident = store.open_incident("x", "alice")
    clock.advance(hours=1)
    store.change_phase(incident.id, "Containment", "alice")  # verified
    clock.advance(hours=2)
    store.change_phase(incident.id, "Eradication", "alice")  # contained
    clock.advance(hours=1)
    store.change_phase(incident.id, "Containment", "alice", reason="not contained after all")
    dates = store.get(incident.id).dates()
    assert dates["dateOpened"] == dates["dateReported"] == START
    assert dates["dateVerified"] == START + timedelta(hours=4)
    assert dates["dateContained"] is None  # back before Eradication: not contained
    clock.advance(hours=1)
    walk(store, incident.id, "Eradication", "Recovery", "Lessons Learned")
    store.close(incident.id, "alice", lessons="alert on new keys")
    dates = store.get(incident.id).dates()
    assert (
        dates["dateContained"] == dates["dateMitigated"] == dates["dateClosed"] == START + timedelta(hours=5)
    )


def test_reports_over_incidents_with_known_times(store, clock):
    def incident(title, category, tags, contained_after, closed_after):
        opened = clock.now
        found = store.open_incident(title, "alice", category=category, tags=tags)
        if contained_after is not None:
            clock.now = opened + timedelta(hours=contained_after / 2)
            store.change_phase(found.id, "Containment", "alice")
            clock.now = opened + timedelta(hours=contained_after)
            store.change_phase(found.id, "Eradication", "alice")
        if closed_after is not None:
            walk(store, found.id, "Recovery", "Lessons Learned")
            clock.now = opened + timedelta(hours=closed_after)
            store.close(found.id, "alice", lessons="learned")
        return found

    clock.now = datetime(2026, 1, 10, tzinfo=UTC)
    incident("miner 1", "cryptomining", ["T1496"], 2, 10)
    clock.now = datetime(2026, 1, 20, tzinfo=UTC)
    incident("miner 2", "cryptomining", ["T1496", "ec2"], 4, 30)
    clock.now = datetime(2026, 2, 5, tzinfo=UTC)
    incident("key leak", "credentials", ["T1078.004"], 6, None)
    clock.now = datetime(2026, 2, 6, tzinfo=UTC)
    incident("probe", None, [], None, None)

    result = report(store.list())
    assert (result.total, result.open) == (4, 2)
    assert result.by_phase == {
        "Identification": 1,
        "Containment": 0,
        "Eradication": 1,
        "Recovery": 0,
        "Lessons Learned": 0,
        "Closed": 2,
    }
    assert result.by_month == {"2026-01": 2, "2026-02": 2}
    assert result.by_type == {"cryptomining": 2, "credentials": 1, "uncategorized": 1}
    assert result.top_types[0] == ("cryptomining", 2)
    assert result.by_technique == {"T1496": 2, "T1078.004": 1} and result.by_tag == {"ec2": 1}
    assert (result.time_to_contain.seconds, result.time_to_contain.count) == (4 * 3600, 3)
    assert (result.time_to_close.seconds, result.time_to_close.count) == (20 * 3600, 2)
    february = report(
        store.list(since=datetime(2026, 2, 1, tzinfo=UTC), until=datetime(2026, 3, 1, tzinfo=UTC))
    )
    assert february.total == 2 and february.time_to_close.seconds is None
