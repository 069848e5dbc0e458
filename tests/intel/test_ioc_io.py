"""Import and export: CSV (ours and MozDef's columns) and text, bad rows reported by line with the good
rows kept, all or nothing for the good rows, and the export round trip."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event

from reynard.intel.formats import detect_format, export, exportable, import_indicators, parse
from reynard.intel.indicators import IndicatorError
from reynard.intel.store import IndicatorStore, NewIndicator
from reynard.state import open_state


@pytest.fixture
def store(tmp_path) -> IndicatorStore:
    return IndicatorStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))


BAD_CSV = """kind,value,expires,source,comment
ip,203.0.113.9,,feed,scanner
ip,10.0.0.5/24,,feed,typo
,evil.example,2030-01-01T00:00:00Z,feed,
domain,http://evil.example/x,,feed,
"access_key","AKIAGGWFBBHBE7D3M9WI",,"incident-12","multi
line comment"
hash,abc,,feed,
principal,arn:aws:iam::143434273843:user/christophe,next tuesday,feed,
# a comment row
term,Invoke-Mimikatz,30d,feed,
ip,198.51.100.0/24,,feed,,extra
"""


def test_bad_rows_are_reported_by_line_and_the_good_rows_kept(store):
    report = import_indicators(store, BAD_CSV, "csv", by="ana")
    assert [str(e) for e in report.errors] == [
        "line 3: '10.0.0.5/24': the network has host bits set (did you mean 10.0.0.0/24?)",
        "line 5: 'http://evil.example/x' is a URL, not a domain: give its host name (evil.example)",
        "line 8: 'abc' is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits)",
        "line 9: 'arn:aws:iam::143434273843:user/christophe': expires: 'next tuesday' is not a time "
        "(ISO 8601, or a duration from now such as 30d)",
        "line 12: 6 fields, the header has 5",
    ]
    assert (report.added, report.updated, len(report.errors)) == (4, 0, 5)
    items = {i.value: i for i in store.list("all")}
    assert sorted(items) == ["203.0.113.9", "AKIAGGWFBBHBE7D3M9WI", "Invoke-Mimikatz", "evil.example"]
    assert items["evil.example"].expires == datetime(2030, 1, 1, tzinfo=UTC)
    assert items["AKIAGGWFBBHBE7D3M9WI"].comment == "multi\nline comment"
    assert items["Invoke-Mimikatz"].expires > datetime.now(UTC) + timedelta(days=29)
    assert {i.creator for i in items.values()} == {"ana"}


def test_the_good_rows_are_written_together_or_not_at_all(store):
    failing = {"on": False}

    def fail_second_insert(conn, cursor, statement, parameters, context, executemany):
        if failing["on"] and statement.startswith("INSERT INTO indicators") and "second" in str(parameters):
            raise RuntimeError("disk full")

    sa_event.listen(store.engine, "before_cursor_execute", fail_second_insert)
    failing["on"] = True
    text = "203.0.113.9 # first\n198.51.100.7 # second\n"
    with pytest.raises(RuntimeError, match="disk full"):
        import_indicators(store, text, "text", by="tests")
    assert store.list("all") == []  # the first row was rolled back with the second
    failing["on"] = False
    assert import_indicators(store, text, "text", by="tests").added == 2


def test_text_format_comments_kinds_and_detection(store):
    text = """# crypto pools, from the workshop
pool.minexmr.com   # monero pool
203.0.113.0/24
AKIAGGWFBBHBE7D3M9WI

not detectable
d41d8cd98f00b204e9800998ecf8427e
"""
    report = import_indicators(store, text, "text", defaults=NewIndicator("", source="workshop"), by="tests")
    assert [str(e) for e in report.errors] == [
        "line 6: cannot tell what kind of indicator 'not detectable' is (not an IP, CIDR, domain, access "
        "key id, ARN or hash): give its kind (term or principal)"
    ]
    kinds = {i.value: (i.kind, i.comment, i.source) for i in store.list()}
    assert kinds == {
        "pool.minexmr.com": ("domain", "monero pool", "workshop"),
        "203.0.113.0/24": ("ip", None, "workshop"),
        "AKIAGGWFBBHBE7D3M9WI": ("access_key", None, "workshop"),
        "d41d8cd98f00b204e9800998ecf8427e": ("hash", None, "workshop"),
    }
    terms = import_indicators(store, "not detectable\nbitcoin miner\n", "text", kind="term", by="tests")
    assert (terms.added, terms.errors) == (2, [])


def test_importing_again_updates_rather_than_duplicates(store):
    assert import_indicators(store, "203.0.113.9\nevil.example\n", "text", by="tests").added == 2
    again = import_indicators(
        store, "evil.example # seen again\n203.0.113.9\n203.0.113.9\n", "text", by="tests"
    )
    assert (again.added, again.updated) == (0, 3)
    assert len(store.list("all")) == 2
    assert store.find(None, "evil.example").comment == "seen again"


def test_mozdef_columns_are_accepted(store):
    ips = (
        "_id,address,dateAdded,dateExpiring,comment,creator,reference\n"
        "5c8f0a,203.0.113.9,2019-05-02T18:25:43.511Z,2031-05-03T18:25:43.511Z,brute force,jdoe,BUG-1\n"
    )
    fqdns = "fqdn,dateExpiring,creator\nevil.example,2031-01-01T00:00:00Z,jdoe\n"
    watch = "watchcontent,comment\nsvc-backup,watch this account\n"
    for data in (ips, fqdns, watch):
        assert detect_format(data) == "csv"
        assert import_indicators(store, data, "csv", by="tests").errors == []
    items = {i.value: i for i in store.list()}
    ip = items["203.0.113.9"]
    assert (ip.kind, ip.comment, ip.creator, ip.reference) == ("ip", "brute force", "jdoe", "BUG-1")
    assert ip.created == datetime(2019, 5, 2, 18, 25, 43, 511000, tzinfo=UTC)
    assert items["evil.example"].kind == "domain" and items["svc-backup"].kind == "term"


def test_a_bad_header_refuses_the_file(store):
    with pytest.raises(IndicatorError, match="line 1: unknown column 'refrence'"):
        import_indicators(store, "value,refrence\n203.0.113.9,x\n", "csv", by="tests")
    with pytest.raises(IndicatorError, match="no value column"):
        import_indicators(store, "kind,comment\nip,x\n", "csv", by="tests")
    with pytest.raises(IndicatorError, match="no header line"):
        import_indicators(store, "# only a comment\n", "csv", by="tests")
    assert store.list("all") == []


def test_export_round_trip(store, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    import_indicators(store, BAD_CSV, "csv", by="ana")
    store.add(
        NewIndicator("198.51.100.7", expires=now - timedelta(hours=1), comment='says "hi", twice'), by="tests"
    )
    removed = store.add(NewIndicator("192.0.2.1"), by="tests").indicator
    store.remove(removed.id, by="tests")
    exported = export(exportable(store, "all"), "csv")
    assert exported.splitlines()[0] == "kind,value,expires,source,reference,comment,creator,created"
    assert "192.0.2.1" not in exported  # removed indicators are history, not exported

    other = IndicatorStore(open_state(f"sqlite:///{tmp_path / 'other.db'}"))
    assert import_indicators(other, exported, "csv", by="tests").errors == []
    assert export(exportable(other, "all"), "csv") == exported
    fields = ("kind", "value", "expires", "source", "reference", "comment", "creator", "created")
    mine = [tuple(getattr(i, f) for f in fields) for i in exportable(store, "all")]
    theirs = [tuple(getattr(i, f) for f in fields) for i in exportable(other, "all")]
    assert mine == theirs
    # Text: the values alone, and they read back (kinds detected; the term needs its kind).
    text = export(exportable(store, "active", kind="ip"), "text")
    assert text == "203.0.113.9\n"
    assert parse(text, "text").errors == []
