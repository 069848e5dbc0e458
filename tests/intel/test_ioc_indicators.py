"""Indicators: what each kind accepts (and the message when it does not), and the store's operations:
add with dedup, list by state and kind, expire now or later, remove (recorded), history."""

from datetime import UTC, datetime, timedelta

import pytest

from reynard.intel.indicators import IndicatorError, UnknownIndicator, check
from reynard.intel.store import IndicatorStore, NewIndicator
from reynard.state import open_state


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        (None, "203.0.113.9", ("ip", "203.0.113.9")),
        (None, " 203.0.113.9/32 ", ("ip", "203.0.113.9")),
        (None, "198.51.100.0/24", ("ip", "198.51.100.0/24")),
        (None, "2001:DB8::1", ("ip", "2001:db8::1")),
        (None, "2001:db8::/32", ("ip", "2001:db8::/32")),
        (None, "::ffff:203.0.113.9", ("ip", "203.0.113.9")),
        (None, "Pool.MineXMR.com.", ("domain", "pool.minexmr.com")),
        (None, "*.evil.example", ("domain", "evil.example")),
        (None, "bücher.example", ("domain", "xn--bcher-kva.example")),
        (None, "AKIAGGWFBBHBE7D3M9WI", ("access_key", "AKIAGGWFBBHBE7D3M9WI")),
        ("access_key", "asiap5ct9nn8eyvu1fxv", ("access_key", "ASIAP5CT9NN8EYVU1FXV")),
        (
            None,
            "arn:aws:iam::143434273843:user/christophe",
            ("principal", "arn:aws:iam::143434273843:user/christophe"),
        ),
        (None, "017622104382", ("principal", "017622104382")),
        ("principal", "christophe", ("principal", "christophe")),
        (None, "D41D8CD98F00B204E9800998ECF8427E", ("hash", "d41d8cd98f00b204e9800998ecf8427e")),
        (
            None,
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ("hash", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ),
        (
            None,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ("hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
        ("term", "Invoke-Mimikatz", ("term", "Invoke-Mimikatz")),
    ],
)
def test_valid_values_are_written_one_way(kind, value, stored):
    checked = check(kind, value)
    assert (checked.kind, checked.value) == stored


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (None, "10.0.0.5/24", "'10.0.0.5/24': the network has host bits set (did you mean 10.0.0.0/24?)"),
        (None, "253.252.51.07", "'253.252.51.07' is not an IP address or CIDR network"),
        (None, "1.2.3.4.5", "'1.2.3.4.5' is not an IP address or CIDR network"),
        ("ip", "evil.example", "'evil.example' is not an IP address or CIDR network"),
        ("ip", "0.0.0.0/0", "'0.0.0.0/0' is every address: refused"),
        (None, "http://evil.example/payload", "is a URL, not a domain: give its host name (evil.example)"),
        (None, "evil..example", "'evil..example' is not a domain: an empty label"),
        (None, "-evil.example", "the label '-evil' is not 1 to 63 letters, digits or hyphens"),
        ("domain", "localhost", "'localhost' is not a domain: it needs at least two labels"),
        ("domain", "203.0.113.9", "is an IP address, not a domain: give it as kind ip"),
        ("access_key", "AKIA123", "'AKIA123' is not an AWS access key id"),
        ("access_key", "AIDAOC1SYDVN0AF0FMMR", "is not an AWS access key id (AKIA or ASIA"),
        (
            "principal",
            "arn:aws:iam",
            "'arn:aws:iam' is not an ARN (arn:partition:service:region:account:resource)",
        ),
        ("principal", "bob smith", "is not a principal"),
        ("hash", "abc123", "'abc123' is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits)"),
        ("hash", "z" * 32, "is not an MD5, SHA-1 or SHA-256 hash"),
        ("term", "x", "term 'x': 2 to 200 characters"),
        ("term", "!!!", "needs at least one letter or digit"),
        ("term", "two\nlines", "one line of text"),
        (None, "bob", "cannot tell what kind of indicator 'bob' is"),
        (None, "   ", "empty indicator value"),
        ("url", "evil.example", "unknown indicator kind 'url'"),
    ],
)
def test_invalid_values_are_refused_naming_the_value_and_why(kind, value, message):
    with pytest.raises(IndicatorError) as error:
        check(kind, value)
    assert message in str(error.value)


@pytest.fixture
def store(tmp_path) -> IndicatorStore:
    return IndicatorStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))


def test_adding_the_same_indicator_again_updates_it(store):
    first = store.add(NewIndicator("198.51.100.0/24", source="feed-a", comment="scanner"), by="ana")
    assert first.created and first.indicator.creator == "ana"
    again = store.add(NewIndicator("198.51.100.0/24", reference="TICKET-7"), by="ben")
    assert not again.created and again.indicator.id == first.indicator.id
    item = again.indicator
    # The fields given replace, the others stay; the creator is still the first adder.
    assert (item.source, item.comment, item.reference, item.creator) == (
        "feed-a",
        "scanner",
        "TICKET-7",
        "ana",
    )
    assert len(store.list("all")) == 1
    assert [(h["action"], h["by"]) for h in store.history(item.id)] == [("added", "ana"), ("updated", "ben")]
    # Dedup compares the checked value: the same domain in another spelling is the same indicator.
    store.add(NewIndicator("Evil.Example."), by="tests")
    assert not store.add(NewIndicator("*.evil.example"), by="tests").created
    assert store.add(NewIndicator("invoke mimikatz", kind="term"), by="tests").created
    assert not store.add(NewIndicator("INVOKE-MIMIKATZ", kind="term"), by="tests").created


def test_list_by_state_and_kind_and_expiry(store):
    now = datetime.now(UTC)
    store.add(NewIndicator("203.0.113.9"), by="tests")
    store.add(NewIndicator("evil.example", expires=now + timedelta(hours=1)), by="tests")
    old = store.add(NewIndicator("198.51.100.7", expires=now - timedelta(minutes=1)), by="tests").indicator
    gone = store.add(NewIndicator("AKIAGGWFBBHBE7D3M9WI"), by="tests").indicator
    store.remove(gone.id, by="ana", reason="rotated")

    def values(state, kind=None, at=None):
        return [i.value for i in store.list(state, kind=kind, now=at)]

    assert values("active") == ["203.0.113.9", "evil.example"]
    assert values("expired") == ["198.51.100.7"]
    assert values("removed") == ["AKIAGGWFBBHBE7D3M9WI"]
    assert len(values("all")) == 4
    assert values("active", kind="ip") == ["203.0.113.9"]
    assert values("active", at=now + timedelta(hours=2)) == ["203.0.113.9"]  # evil.example expired by then
    assert store.get(old.id).state(now) == "expired"
    removed = store.get(gone.id)
    assert (removed.state(now), removed.removed_by) == ("removed", "ana")
    assert store.history(gone.id)[-1] == {
        **store.history(gone.id)[-1],
        "action": "removed",
        "detail": "rotated",
    }


def test_expire_now_or_at_a_time(store):
    item = store.add(NewIndicator("203.0.113.9"), by="tests").indicator
    later = datetime.now(UTC) + timedelta(days=1)
    assert store.expire(item.id, at=later, by="tests").expires == later
    assert store.get(item.id).active(datetime.now(UTC))
    expired = store.expire(item.id, by="tests")
    assert expired.state(datetime.now(UTC)) == "expired"
    # Adding an expired indicator again makes it active, with no expiry unless one is given.
    again = store.add(NewIndicator("203.0.113.9"), by="tests").indicator
    assert again.expires is None and again.active(datetime.now(UTC))
    assert [h["action"] for h in store.history(item.id)] == ["added", "expired", "expired", "updated"]


def test_remove_is_recorded_and_adding_again_restores(store):
    item = store.add(NewIndicator("evil.example", comment="c2"), by="tests").indicator
    store.remove(item.id, by="ana", reason="false positive")
    with pytest.raises(IndicatorError, match="already removed"):
        store.remove(item.id, by="tests")
    with pytest.raises(IndicatorError, match="was removed"):
        store.expire(item.id, by="tests")
    restored = store.add(NewIndicator("evil.example"), by="ben")
    assert not restored.created and restored.indicator.removed is None
    assert restored.indicator.comment == "c2"
    assert store.history(item.id)[-1]["detail"]["restored"] is True


def test_unknown_ids_and_values(store):
    with pytest.raises(UnknownIndicator, match="no indicator with id 42"):
        store.get(42)
    with pytest.raises(UnknownIndicator, match=r"no domain indicator 'evil\.example'"):
        store.find(None, "evil.example")
    with pytest.raises(UnknownIndicator):
        store.expire(42, by="tests")


def test_fingerprint_changes_with_every_write(store):
    marks = [store.fingerprint()]
    item = store.add(NewIndicator("203.0.113.9"), by="tests").indicator
    marks.append(store.fingerprint())
    store.add(NewIndicator("203.0.113.9", comment="again"), by="tests")
    marks.append(store.fingerprint())
    store.expire(item.id, by="tests")
    marks.append(store.fingerprint())
    store.remove(item.id, by="tests")
    marks.append(store.fingerprint())
    assert len(set(marks)) == len(marks)
