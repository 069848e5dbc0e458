"""`reynard ingest` runs the streaming rules on what it stores, so old logs raise their alerts."""

import json

from click.testing import CliRunner

from reynard.cli import main


def alerts(data) -> list[dict]:
    listed = CliRunner().invoke(
        main,
        ["alerts", "list", "--data-dir", str(data), "--since", "2000-01-01T00:00:00Z", "--format", "json"],
    )
    return [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]


def test_ingesting_old_logs_raises_the_streaming_alerts_once(shared_data, tmp_path):
    data = tmp_path / "data"
    stratus = shared_data / "cloudtrail" / "stratus"
    files = [str(stratus / "aws.defense-evasion.cloudtrail-stop.json"), str(shared_data / "guardduty")]
    assert CliRunner().invoke(main, ["ingest", "--data-dir", str(data), *files]).exit_code == 0
    rules = sorted(a["rule"] for a in alerts(data))
    assert rules == ["cloudtrail_logging_stopped", "guardduty_finding"]
    # Ingesting the same files again stores nothing new and raises nothing new.
    assert CliRunner().invoke(main, ["ingest", "--data-dir", str(data), *files]).exit_code == 0
    assert len(alerts(data)) == 2


def test_no_detect_skips_the_rules(shared_data, tmp_path):
    data = tmp_path / "data"
    trail = str(shared_data / "cloudtrail" / "stratus" / "aws.defense-evasion.cloudtrail-stop.json")
    assert CliRunner().invoke(main, ["ingest", "--no-detect", "--data-dir", str(data), trail]).exit_code == 0
    assert alerts(data) == []
