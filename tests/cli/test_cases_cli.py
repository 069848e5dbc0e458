"""The incident workflow through `reynard incident`, in-process (CliRunner), on a data directory with
real events and alerts: escalate, every phase with notes, once back, a second alert, a stale edit,
close with lessons, the postmortem in both formats, the report."""

import re

import orjson
import pytest
from click.testing import CliRunner

from cases_support import stored_world
from reynard.cli import main

READ_ONLY = ("list", "show", "report")


@pytest.fixture
def run(shared_data, tmp_path):
    data_dir = tmp_path / "data"
    stored_world(shared_data, data_dir)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        who = [] if args[0] in READ_ONLY else ["--by", "alice"]
        result = runner.invoke(main, ["incident", *args, "--data-dir", str(data_dir), *who])
        assert result.exit_code == code, (args, result.output)
        return result.output

    return invoke


def test_the_whole_workflow(run, tmp_path):
    assert run("escalate", "1").startswith("alert 1 escalated: incident 1 opened (2 events, 5 indicators)")
    run("set", "1", "--member", "bob=forensics", "--tag", "cryptomining", "--owner", "alice")
    run("note", "1", "port 22 open to the world")
    run("phase", "1", "containment")
    assert "alert 2 in incident 1" in run("link", "1", "--alert", "2")
    run("phase", "1", "eradication")
    run("phase", "1", "containment", "--reason", "the miner respawned from cron")
    run("note", "1", "cron entry removed")
    for phase in ("eradication", "recovery", "lessons-learned"):
        run("phase", "1", phase)
    out = run("phase", "1", "closed", code=2)
    assert "closing needs lessons learned" in out

    shown = orjson.loads(run("show", "1", "--format", "json"))
    version = shown["version"]
    assert shown["phase"] == "Lessons Learned" and shown["alert_ids"] == [1, 2]
    assert [m["name"] for m in shown["members"]] == ["bob"] and shown["owner"] == "alice"
    # Two edits from the same version: the second is refused, naming the first.
    run("set", "1", "--root-cause", "SSH open to 0.0.0.0/0", "--version", str(version))
    stale = run("set", "1", "--root-cause", "a weak password", "--version", str(version), code=2)
    assert f"is at version {version + 1}, not {version}" in stale and "root cause: '' → 'SSH open" in stale
    run("set", "1", "--mitigation", "isolated the instance")
    run("postmortem", "1", "--section", "recommendations", "--text", "- close port 22")
    assert run("close", "1", "--lessons", "the cron persistence was missed").strip() == "incident 1 closed"

    text = run("show", "1")
    assert "phase Closed" in text and "the miner respawned from cron" in text and "dateClosed" in text
    markdown = run("postmortem", "1")
    assert re.findall(r"^## (.+)$", markdown, re.MULTILINE) == [
        "Problem description",
        "Timeline",
        "Root cause",
        "What was done",
        "What worked and what did not",
        "Recommendations",
        "Postmortem team",
    ]
    assert (
        "SSH open to 0.0.0.0/0" in markdown
        and "- close port 22" in markdown
        and "- bob: forensics" in markdown
    )
    page = tmp_path / "postmortem.html"
    run("postmortem", "1", "--format", "html", "--output", str(page))
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "the cron persistence was missed" in html

    listed = run("list", "--phase", "closed")
    assert listed.splitlines()[-1] == "1 incidents"
    report = orjson.loads(run("report", "--format", "json"))
    assert report["by_phase"]["Closed"] == 1 and report["mean_time_to_close"]["incidents"] == 1
    assert "most common types: guardduty 1" in run("report")


def test_bad_input_from_the_shell(run):
    assert "no incident with id 7" in run("show", "7", code=2)
    assert "no alert with id 9" in run("escalate", "9", code=2)
    run("new", "Leaked key", "--tag", "T1078.004")
    assert "'T1078.4' is not a MITRE ATT&CK technique id" in run("new", "x", "--tag", "T1078.4", code=2)
    assert "skips Containment, Eradication" in run("phase", "1", "recovery", code=2)
    assert "'Triage' is not a phase" in run("phase", "1", "Triage", code=2)
    assert re.fullmatch(
        r"entry \d+ on incident 1\n", run("note", "1", "it was 203.0.113.60", "--corrects", "1")
    )
    assert "has no timeline entry 99" in run("note", "1", "x", "--corrects", "99", code=2)
    assert "Traceback" not in run("set", "1", "--severity", "urgent", code=2)
    assert len(run("list").splitlines()) == 2  # the refused `new` wrote nothing
