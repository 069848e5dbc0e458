"""Matching at ingest: what each kind matches in real-shaped events (VPC flows, CloudTrail, GuardDuty
through the real parsers and the default plugins), expiry and removal, indicators added while the
pipeline runs, and a failing matcher that must not lose the event."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from reynard.events.event import finalize, stable_id
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins.indicators import Indicators
from reynard.ingest.reader import open_bytes
from reynard.ingest.sources import SOURCES
from reynard.ingest.sources.base import ReadOptions
from reynard.intel.indicators import Indicator, check
from reynard.intel.match import IndicatorSet
from reynard.intel.store import IndicatorStore, NewIndicator
from reynard.runtime import Runtime
from reynard.settings import Settings
from reynard.state import open_state

NOW = datetime.now(UTC).replace(microsecond=0)


def indicator(number: int, value: str, kind: str | None = None, source: str | None = None) -> Indicator:
    checked = check(kind, value)
    return Indicator(number, checked.kind, checked.value, checked.key, source, None, None, "test", NOW, NOW)


def flow(src: str, dst: str, dport: int = 443, action: str = "ACCEPT") -> bytes:
    start = int(NOW.timestamp()) - 120
    return (
        f"2 123456789010 eni-0f1e2d3c4b5a69788 {src} {dst} 49152 {dport} 6 20 4249 "
        f"{start} {start + 60} {action} OK\n"
    ).encode()


def ingest(settings: Settings, data: bytes, source: str, pipeline: Pipeline | None = None) -> list[dict]:
    """Finalized events from raw input, as `reynard ingest` makes them."""
    pipeline = pipeline or Runtime(settings).pipeline
    events = []
    for item in SOURCES[source].read(open_bytes(data, "test"), ReadOptions(reference_time=NOW)):
        draft = item.draft
        draft["id"] = stable_id(item.source, item.key)
        event = pipeline.run(draft)
        if event is not None:
            events.append(finalize(event, received=NOW.isoformat()))
    return events


# -- the matcher ------------------------------------------------------------------------------------------
def vpc(src: str, dst: str) -> dict:
    return {"details": {"sourceipaddress": src, "destinationipaddress": dst, "sourceipv4address": src}}


def test_addresses_and_nested_networks_all_match_once_each():
    matcher = IndicatorSet(
        [
            indicator(1, "203.0.113.0/24", source="feed"),
            indicator(2, "203.0.113.0/28"),
            indicator(3, "203.0.113.9"),
            indicator(4, "2001:db8::/32"),
            indicator(5, "10.0.0.0/8"),
        ]
    )
    hits = matcher.match(vpc("198.51.100.1", "203.0.113.9"))
    assert [(h.ref.value, h.field, h.matched) for h in hits] == [
        ("203.0.113.9", "details.destinationipaddress", "203.0.113.9"),
        ("203.0.113.0/28", "details.destinationipaddress", "203.0.113.9"),
        ("203.0.113.0/24", "details.destinationipaddress", "203.0.113.9"),
    ]
    # Each indicator once, with the first field: the source's v4 copy does not repeat 10.0.0.0/8.
    assert [h.field for h in matcher.match(vpc("10.0.1.5", "198.51.100.1"))] == ["details.sourceipaddress"]
    assert [h.ref.id for h in matcher.match(vpc("2001:db8:0:1::5", "::1"))] == [4]
    assert [h.ref.id for h in matcher.match(vpc("203.0.113.16", "198.51.100.1"))] == [1]
    assert matcher.match(vpc("198.51.100.1", "192.0.2.1")) == []
    # Every address field of the virtual `ip` field counts, lists too; non-addresses are skipped.
    assert matcher.match({"details": {"publicip": ["192.0.2.1", "203.0.113.200"]}})[0].ref.id == 1
    assert matcher.match({"details": {"sourceipaddress": "not an address"}}) == []
    assert matcher.match({"summary": "203.0.113.9 in a summary is not an address field"}) == []


def test_a_domain_matches_itself_and_its_subdomains_only():
    matcher = IndicatorSet([indicator(1, "minexmr.com"), indicator(2, "c2.evil.example")])

    def matched(name: str, field: str = "domain") -> list[int]:
        return [h.ref.id for h in matcher.match({"details": {field: name}})]

    assert matched("minexmr.com") == [1]
    assert matched("pool.MineXMR.com.") == [1]  # case and the trailing dot of DNS do not matter
    assert matched("xmr.pool.minexmr.com:4444", "host") == [1]
    assert matched("minexmr.com.evil.example") == []  # a suffix by labels, not by characters
    assert matched("notminexmr.com") == []
    assert matched("evil.example") == []  # the parent of a listed name is not listed
    assert matched("a.c2.evil.example", "sourcehostname") == [2]
    assert matched("minexmr.com", "eventsource") == []  # not a field that holds domains
    assert [h.field for h in matcher.match({"hostname": "x.minexmr.com", "details": {}})] == ["hostname"]


def test_terms_match_whole_words_and_hashes_any_string():
    sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    matcher = IndicatorSet(
        [indicator(1, "Invoke-Mimikatz", kind="term"), indicator(2, sha), indicator(3, "xmrig", kind="term")]
    )
    event = {
        "summary": "powershell ran INVOKE mimikatz",
        "details": {"file": {"sha256": sha.upper()}, "args": ["-o", "pool:443", "./xmrig-6.2"]},
    }
    hits = {h.ref.id: (h.field, h.matched) for h in matcher.match(event)}
    assert hits == {
        1: ("summary", "invoke mimikatz"),
        2: ("details.file.sha256", sha.upper()),
        3: ("details.args", "xmrig"),
    }
    assert matcher.match({"summary": "mimikatzz invoke", "details": {"x": "invoke_mimikatz"}}) == []
    # Words next to escapes (a newline, a backslash) and inside lists still match.
    escaped = {"details": {"log": ["ok", "line1\nxmrig -o pool"], "path": "C:\\xmrig\\run"}}
    assert [(h.ref.id, h.field) for h in matcher.match(escaped)] == [(3, "details.log")]
    assert [h.field for h in matcher.match({"details": {"path": "C:\\xmrig"}})] == ["details.path"]


# -- through the pipeline ---------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", rules_reload_seconds=0)


@pytest.fixture
def store(settings) -> IndicatorStore:
    return IndicatorStore(open_state(settings.state_url))


def test_vpc_flows_to_a_listed_address_are_tagged(settings, store):
    """The workshop's "Lambda function talking to known-bad IP addresses", as VPC flow records."""
    store.add(
        NewIndicator("203.0.113.0/24", source="threat-feed", reference="https://intel.example/1"), by="tests"
    )
    data = (
        flow("10.0.3.17", "203.0.113.50")
        + flow("10.0.3.17", "198.51.100.20")
        + flow("10.0.3.17", "203.0.113.51", action="REJECT")
    )
    events = ingest(settings, data, "vpcflow")
    tagged = [e for e in events if "ioc" in e["tags"]]
    assert [e["details"]["destinationipaddress"] for e in tagged] == ["203.0.113.50", "203.0.113.51"]
    item = store.list()[0]
    assert tagged[0]["details"]["iocs"] == [
        {
            "kind": "ip",
            "value": "203.0.113.0/24",
            "field": "details.destinationipaddress",
            "matched": "203.0.113.50",
            "source": "threat-feed",
            "reference": "https://intel.example/1",
            "id": item.id,
        }
    ]
    assert tagged[0]["plugins"] == ["lower_keys", "vpcflow", "ipfixup", "indicators", "geoip"]
    clean = next(e for e in events if e["details"]["destinationipaddress"] == "198.51.100.20")
    assert "ioc" not in clean["tags"] and "iocs" not in clean["details"]
    assert "indicators" in clean["plugins"]


def test_cloudtrail_stolen_role_credentials_are_tagged(settings, store, shared_data):
    """Stratus's ec2-steal-instance-credentials: the instance role's temporary key used from outside."""
    store.add(NewIndicator("ASIAP5CT9NN8EYVU1FXV", source="incident-12"), by="tests")
    store.add(
        NewIndicator("arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role"), by="tests"
    )
    data = (
        shared_data / "cloudtrail/stratus/aws.credential-access.ec2-steal-instance-credentials.json"
    ).read_bytes()
    events = ingest(settings, data, "cloudtrail")
    tagged = [e for e in events if "ioc" in e["tags"]]
    assert len(events) == 45 and len(tagged) == 2
    assert sorted(e["details"]["eventname"] for e in tagged) == ["DescribeInstances", "GetCallerIdentity"]
    fields = {(h["kind"], h["field"]) for h in tagged[0]["details"]["iocs"]}
    assert fields == {
        ("access_key", "details.useridentity.accesskeyid"),
        ("principal", "details.useridentity.sessioncontext.sessionissuer.arn"),
    }
    # The IAM user's own calls (key AKIA...) are not tagged; a principal by name matches them, any case.
    store.add(NewIndicator("Christophe", kind="principal"), by="tests")
    again = ingest(settings, data, "cloudtrail")
    assert sum("ioc" in e["tags"] for e in again) == 45


def test_guardduty_bitcoin_dns_finding_is_tagged(settings, store):
    """GuardDuty's CryptoCurrency:EC2/BitcoinTool.B!DNS: the domain is in the finding's DNS action."""
    store.add(NewIndicator("minexmr.com", source="crypto-pools"), by="tests")
    finding = {
        "schemaVersion": "2.0",
        "accountId": "123456789012",
        "region": "us-east-1",
        "id": "7cbd9d6c4a1ab2f0e1b4c2f3a8d9e0f1",
        "type": "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "severity": 8,
        "createdAt": (NOW - timedelta(minutes=5)).isoformat(),
        "updatedAt": (NOW - timedelta(minutes=5)).isoformat(),
        "title": "EC2 instance i-0a1b2c3d4e5f67890 is querying a domain name associated with Bitcoin.",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0a1b2c3d4e5f67890"}},
        "service": {
            "serviceName": "guardduty",
            "action": {
                "actionType": "DNS_REQUEST",
                "dnsRequestAction": {"domain": "pool.minexmr.com", "protocol": "UDP", "blocked": False},
            },
            "eventFirstSeen": (NOW - timedelta(minutes=9)).isoformat(),
            "eventLastSeen": (NOW - timedelta(minutes=5)).isoformat(),
            "count": 4,
        },
    }
    [event] = ingest(settings, json.dumps(finding).encode(), "guardduty")
    assert "ioc" in event["tags"]
    assert event["details"]["iocs"][0]["matched"] == "pool.minexmr.com"
    assert event["details"]["iocs"][0]["field"] == "details.domain"


def test_expired_and_removed_indicators_no_longer_match(settings, store):
    pipeline = Runtime(settings).pipeline
    item = store.add(NewIndicator("203.0.113.50"), by="tests").indicator
    assert "ioc" in ingest(settings, flow("10.0.3.17", "203.0.113.50"), "vpcflow", pipeline)[0]["tags"]
    store.expire(item.id, by="tests")
    assert "ioc" not in ingest(settings, flow("10.0.3.17", "203.0.113.50"), "vpcflow", pipeline)[0]["tags"]
    store.add(NewIndicator("203.0.113.50"), by="tests")  # active again
    assert "ioc" in ingest(settings, flow("10.0.3.17", "203.0.113.50"), "vpcflow", pipeline)[0]["tags"]
    store.remove(item.id, by="tests")
    assert "ioc" not in ingest(settings, flow("10.0.3.17", "203.0.113.50"), "vpcflow", pipeline)[0]["tags"]


def test_an_indicator_stops_matching_at_its_expiry_without_a_table_change(tmp_path, store, settings):
    plugin = Indicators(
        settings, Runtime(Settings(data_dir=settings.data_dir, rules_reload_seconds=3600)).live_indicators
    )
    store.add(NewIndicator("203.0.113.50", expires=datetime.now(UTC) + timedelta(seconds=0.4)), by="tests")
    plugin.live.refresh()
    event = vpc("10.0.3.17", "203.0.113.50")
    assert plugin.wants(event) and plugin.live.current().match(event)
    time.sleep(0.45)
    assert not plugin.wants(event)  # rebuilt at the expiry, though the table did not change


def test_indicators_added_while_running_are_seen_at_the_next_check(settings, store):
    plugin = Indicators(
        settings, Runtime(Settings(data_dir=settings.data_dir, rules_reload_seconds=0.2)).live_indicators
    )
    event = vpc("10.0.3.17", "203.0.113.50")
    assert not plugin.wants(event)
    store.add(NewIndicator("203.0.113.50"), by="tests")
    time.sleep(0.25)
    assert plugin.wants(event)
    assert plugin.apply(event)["details"]["iocs"][0]["value"] == "203.0.113.50"
    reloads = plugin.live.reloads
    time.sleep(0.25)
    plugin.live.current()
    assert plugin.live.reloads == reloads  # checked, unchanged: not rebuilt


def test_no_state_database_no_indicators_and_no_files(tmp_path):
    settings = Settings(data_dir=tmp_path / "nothing-here")
    events = ingest(settings, flow("10.0.3.17", "203.0.113.50"), "vpcflow")
    assert "indicators" not in events[0]["plugins"]
    assert not (tmp_path / "nothing-here").exists()


def test_a_failing_matcher_never_loses_the_event(settings, store, monkeypatch):
    store.add(NewIndicator("203.0.113.50"), by="tests")

    def broken(self, event):
        raise RuntimeError("boom")

    monkeypatch.setattr(IndicatorSet, "match", broken)
    [event] = ingest(settings, flow("10.0.3.17", "203.0.113.50"), "vpcflow")
    assert event["errors"] == ["plugin indicators failed: RuntimeError: boom"]
    assert event["plugins"] == ["lower_keys", "vpcflow", "ipfixup", "geoip"]


# Words of the terms, each after a separator that could glue it to its neighbour in JSON text.
_SEPARATORS = st.sampled_from([" ", "-", "\n", "\t", "\\", "\\n", '"', "é", "—", "_", "x", "0", "/", ".", ""])
_WORDS = st.sampled_from(["xmrig", "Invoke", "mimikatz", "XMRIG", "run"])
_TEXT = (
    st.lists(st.tuples(_SEPARATORS, _WORDS).map("".join), max_size=5).map("".join)
    | st.just("E3B0C44298FC1C149AFBF4C8996FB924")
    | st.text(max_size=5)
)
_KEYS = st.sampled_from(["k", "log", "path"]) | _TEXT  # mostly keys without the terms' words
_DETAILS = st.recursive(
    _TEXT | st.integers() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=10,
)


class _Exhaustive(IndicatorSet):
    def _may_match_strings(self, event: dict, details: dict) -> bool:
        return True


_ITEMS = [
    indicator(1, "Invoke-Mimikatz", kind="term"),
    indicator(2, "xmrig", kind="term"),
    indicator(3, "e3b0c44298fc1c149afbf4c8996fb924"),
]


@examples(max_examples=500, deadline=None)
@given(text=_TEXT)
def test_the_quick_string_test_never_hides_a_match_in_one_string(text):
    event = {"summary": "", "details": {"k": text}}
    assert IndicatorSet(_ITEMS).match(event) == _Exhaustive(_ITEMS).match(event)


@examples(max_examples=200, deadline=None)
@given(details=st.dictionaries(_KEYS, _DETAILS, max_size=3), summary=st.just("") | _TEXT)
def test_the_quick_string_test_never_hides_a_match(details, summary):
    event = {"summary": summary, "details": details}
    assert IndicatorSet(_ITEMS).match(event) == _Exhaustive(_ITEMS).match(event)
