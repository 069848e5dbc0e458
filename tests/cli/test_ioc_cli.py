"""`reynard ioc` in-process: add, list, show, import (exit 1 and line numbers for bad rows), export
(to stdout and a file, read back), expire, remove; user errors are one line and exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from reynard.cli import main


@pytest.fixture
def ioc(tmp_path):
    data = tmp_path / "data"

    def run(*args: str, stdin: str | None = None):
        return CliRunner().invoke(main, ["ioc", *args, "--data-dir", str(data)], input=stdin)

    return run


def test_add_list_show(ioc):
    added = ioc("add", "203.0.113.0/24", "--source", "feed", "--comment", "scanner", "--by", "ana")
    assert added.exit_code == 0
    assert added.stdout.startswith("added 1  ip         203.0.113.0/24  [active] source feed  # scanner")
    assert ioc("add", "203.0.113.0/24", "--expires", "7d").stdout.startswith("updated 1")
    ioc("add", "christophe", "--kind", "principal")
    table = ioc("list")
    assert table.stdout.splitlines()[-1] == "2 indicators"
    rows = [json.loads(line) for line in ioc("list", "--format", "json", "--kind", "ip").stdout.splitlines()]
    assert [(r["value"], r["creator"], r["active"]) for r in rows] == [("203.0.113.0/24", "ana", True)]
    assert rows[0]["expires"] is not None
    shown = json.loads(ioc("show", "203.0.113.0/24").stdout)
    assert [h["action"] for h in shown["history"]] == ["added", "updated"]
    assert json.loads(ioc("show", "2").stdout)["value"] == "christophe"


def test_user_errors_are_one_line_and_exit_2(ioc):
    bad = ioc("add", "10.0.0.5/24")
    assert bad.exit_code == 2
    assert bad.stderr == "reynard: '10.0.0.5/24': the network has host bits set (did you mean 10.0.0.0/24?)\n"
    assert ioc("add", "bob").stderr.startswith("reynard: cannot tell what kind of indicator 'bob' is")
    assert ioc("add", "evil.example", "--expires", "soon").stderr.startswith(
        "reynard: --expires: 'soon' is not a time"
    )
    assert ioc("expire", "42").stderr == "reynard: no indicator with id 42\n"
    assert ioc("remove", "evil.example").stderr == "reynard: no domain indicator 'evil.example'\n"
    assert ioc("add", "x", "--kind", "url").exit_code == 2  # click's usage error


def test_import_reports_bad_rows_by_line_and_exits_1(ioc, tmp_path):
    feed = tmp_path / "feed.txt"
    feed.write_text("# pools\npool.minexmr.com\n10.0.0.5/24\n203.0.113.9 # scanner\n")
    result = ioc("import", str(feed), "--source", "pools", "--expires", "30d")
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"{feed}:line 3: '10.0.0.5/24': the network has host bits set (did you mean 10.0.0.0/24?)\n"
    )
    assert result.stdout == "added 2 updated 0 rejected 1\n"
    listed = [json.loads(line) for line in ioc("list", "--format", "json").stdout.splitlines()]
    assert {(i["value"], i["source"], i["comment"]) for i in listed} == {
        ("pool.minexmr.com", "pools", None),
        ("203.0.113.9", "pools", "scanner"),
    }
    assert all(i["expires"] for i in listed)
    good = ioc("import", "-", "--format", "text", "--kind", "term", "--json", stdin="xmrig\nminerd\n")
    assert good.exit_code == 0 and json.loads(good.stdout) == {
        "added": 2,
        "updated": 0,
        "rejected": 0,
        "errors": [],
    }
    assert ioc("import", str(tmp_path / "missing.csv")).exit_code == 2


def test_export_to_a_file_and_import_elsewhere(ioc, tmp_path):
    ioc("add", "203.0.113.9", "--comment", "scanner, loud")
    ioc("add", "evil.example", "--source", "report-7")
    gone = ioc("add", "198.51.100.7")
    assert gone.exit_code == 0
    ioc("remove", "198.51.100.7", "--reason", "wrong")
    ioc("expire", "evil.example")
    out = tmp_path / "iocs.csv"
    assert ioc("export", "--state", "all", "-o", str(out)).exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "kind,value,expires,source,reference,comment,creator,created"
    assert [line.split(",")[1] for line in lines[1:]] == ["203.0.113.9", "evil.example"]
    assert ioc("export", "--format", "text").stdout == "203.0.113.9\n"
    assert ioc("export", "--state", "expired", "--format", "text").stdout == "evil.example\n"

    other = CliRunner().invoke(main, ["ioc", "import", str(out), "--data-dir", str(tmp_path / "other")])
    assert other.exit_code == 0 and other.stdout == "added 2 updated 0 rejected 0\n"
    again = CliRunner().invoke(
        main, ["ioc", "export", "--state", "all", "--data-dir", str(tmp_path / "other")]
    )
    assert again.stdout == out.read_text()


def test_expire_later_and_remove(ioc):
    ioc("add", "AKIAGGWFBBHBE7D3M9WI")
    later = ioc("expire", "AKIAGGWFBBHBE7D3M9WI", "--at", "2h")
    assert later.exit_code == 0 and "[active] expires" in later.stdout
    assert "[expired]" in ioc("expire", "1").stdout
    assert "[removed]" in ioc("remove", "1", "--reason", "rotated").stdout
    assert ioc("list", "--state", "removed").stdout.splitlines()[-1] == "1 indicators"
    assert ioc("remove", "1").stderr == "reynard: indicator 1 is already removed\n"
