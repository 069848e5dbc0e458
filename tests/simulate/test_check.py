"""`simulate check` plays a scenario into a scratch data directory through the real ingest and rules: the
workshop raises each expected alert, naming the right principal, address, bucket or instance, and no
look-alike alerts; a scenario whose expectation is wrong, or whose look-alike alerts, fails."""

import json
import shutil
import time
from pathlib import Path

from click.testing import CliRunner
from simulate_support import SMALL, changed, scenario_file

from reynard.cli import main


def check(*args: str):
    return CliRunner().invoke(main, ["simulate", "check", *args])


def test_the_workshop_passes_end_to_end(tmp_path):
    started = time.perf_counter()
    result = check("workshop", "--json", "--data-dir", str(tmp_path))
    assert time.perf_counter() - started < 60
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert report["passed"] and report["missed"] == [] and report["unexpected"] == []
    assert report["rejected"] == 0 and report["events"] > 8000
    found = {f["expected"]: f["alert"]["summary"] for f in report["found"]}
    assert found["principal_multiple_ips dave 203.0.113.66"].startswith(
        "arn:aws:iam::123456789012:user/dave called the AWS API from 2 addresses: 10.20.1.42, 203.0.113.66"
    )
    assert found["ssh_from_outside 203.0.113.66"].startswith(
        "SSH from outside: 203.0.113.66 reached SSH on 10.0.0."
    )
    assert (
        "acme-db-export-7f3k by arn:aws:iam::123456789012:user/dave"
        in found["s3_bucket_public dave acme-db-export-7f3k"]
    )
    assert (
        "production principal arn:aws:sts::123456789012:assumed-role/prod-web-app/i-"
        in (found["excessive_describe prod-web-app prod-web-1"])
    )
    assert found["guardduty_finding prod-web-1"].startswith("GuardDuty CryptoCurrency:EC2/BitcoinTool.B!DNS")
    assert list(tmp_path.iterdir()) == []  # the scratch directory is elsewhere, and gone


def test_the_report_names_each_finding_and_the_rules_configuration(tmp_path):
    result = check(str(scenario_file(tmp_path, SMALL)), "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert 'rule ssh_from_outside told by the environment: {"internal_cidrs":["10.0.0.0/8"' in result.output
    assert 'rule s3_bucket_public told by the environment: {"public_buckets":["small-site"]}' in lines
    assert sum(line.startswith("found       ") for line in lines) == 5
    assert lines[-1].startswith("check passed: 5 of 5 expected alerts found, 0 unexpected, in ")


def test_a_missed_expectation_and_an_alerting_lookalike_fail(tmp_path):
    data = changed(SMALL, ("expect", 1, "address", 0), "203.0.113.10")  # nobody came from there
    data = changed(data, ("environment", "buckets", 1, "public"), False)  # the site is not public on purpose
    result = check(str(scenario_file(tmp_path, data)), "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "MISSED      ssh_from_outside 203.0.113.10 bastion-1" in lines
    unexpected = [line for line in lines if line.startswith("UNEXPECTED")]
    # The attacker's SSH alert is accounted for by no expectation now; the site's policy alerts.
    assert len(unexpected) == 2
    assert (
        "(ssh_from_outside): SSH from outside: 203.0.113.9 reached SSH on " in unexpected[0] + unexpected[1]
    )
    assert "(s3_bucket_public): S3 public access: PutBucketPolicy on bucket small-site by " in "".join(
        unexpected
    )
    assert lines[-1].startswith("check FAILED: 4 of 5 expected alerts found, 2 unexpected, in ")


def test_keep_leaves_the_scratch_directory(tmp_path):
    result = check(str(scenario_file(tmp_path, SMALL)), "--keep", "--data-dir", str(tmp_path))
    kept = Path(result.stderr.split("scratch data directory kept: ")[1].strip())
    assert (kept / "logs" / "syslog" / "secure").is_file()
    assert (kept / "data" / "state.db").is_file()
    shutil.rmtree(kept)
