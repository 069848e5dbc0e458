"""Playing into files: the same seed writes the same bytes, in AWS's layouts, and Reynard's own parsers read
every record back."""

import gzip
import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from click.testing import CliRunner
from simulate_support import SMALL, WORKSHOP, changed, scenario_file

from reynard.cli import main
from reynard.detect.replay import load_events
from reynard.settings import Settings
from reynard.simulate.environment import derive_estate
from reynard.simulate.player import play
from reynard.simulate.scenario import load_scenario
from reynard.simulate.writers import MANIFEST, write_files

CLOUDTRAIL = re.compile(
    r"^AWSLogs/123456789012/CloudTrail/(?P<region>[a-z0-9-]+)/(\d{4})/(\d\d)/(\d\d)/"
    r"123456789012_CloudTrail_(?P=region)_(\2\3\4T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
FLOWS = re.compile(
    r"^AWSLogs/123456789012/vpcflowlogs/us-east-1/(\d{4})/(\d\d)/(\d\d)/"
    r"123456789012_vpcflowlogs_us-east-1_fl-[0-9a-f]{17}_\1\2\3T\d{4}Z_[0-9a-f]{8}\.log\.gz$"
)


def tree(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def workshop_files(tmp_path_factory):
    scenario = load_scenario("workshop")
    played = play(scenario, derive_estate(scenario.environment, scenario.seed))
    folder = tmp_path_factory.mktemp("workshop")
    write_files(played, folder)
    return played, folder


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    for name in ("one", "two"):
        result = CliRunner().invoke(
            main, ["simulate", "play", "workshop", "--out", str(tmp_path / name), "--data-dir", str(tmp_path)]
        )
        assert result.exit_code == 0, result.output
    one, two = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert len(one) > 100
    assert one == two
    # Another seed is another story; another start moves every record, not the bytes' shape.
    other = scenario_file(tmp_path, changed(WORKSHOP, ("seed",), 42))
    CliRunner().invoke(
        main, ["simulate", "play", str(other), "--out", str(tmp_path / "three"), "--data-dir", str(tmp_path)]
    )
    assert tree(tmp_path / "three")["syslog/secure"] != one["syslog/secure"]


def test_the_files_are_in_aws_layouts(workshop_files):
    played, folder = workshop_files
    names = [n for n in tree(folder) if n.startswith("AWSLogs/")]
    trails = [n for n in names if "/CloudTrail/" in n]
    flows = [n for n in names if "/vpcflowlogs/" in n]
    assert trails and flows and len(trails) + len(flows) == len(names)
    assert all(CLOUDTRAIL.match(n) for n in trails), [n for n in trails if not CLOUDTRAIL.match(n)][:3]
    assert all(FLOWS.match(n) for n in flows)
    # The describe burst enumerates seven regions: each region's records are delivered under its name.
    assert {CLOUDTRAIL.match(n)["region"] for n in trails} == {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-1",
    }
    for name in trails[:5]:
        data = (folder / name).read_bytes()
        assert data[4:8] == b"\0\0\0\0"  # gzip header time: none, so the bytes do not depend on the clock
        records = orjson.loads(gzip.decompress(data))["Records"]
        stamp = datetime.strptime(CLOUDTRAIL.match(name)[5], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        times = [datetime.fromisoformat(r["eventTime"]) for r in records]
        assert all(
            stamp - timedelta(minutes=5) <= t < stamp for t in times
        )  # five minutes a file, delivered after
    first = gzip.decompress((folder / flows[0]).read_bytes()).decode().splitlines()
    assert first[0].startswith("version account-id interface-id srcaddr dstaddr")
    manifest = orjson.loads((folder / MANIFEST).read_bytes())
    assert manifest["events"] == played.counts() and manifest["estate"] == "seed"
    assert "moto has no GuardDuty findings API" in manifest["filled_by_scenario"]["guardduty"]


def test_reynards_parsers_read_every_record(workshop_files):
    played, folder = workshop_files
    events, rejected = load_events(Settings(), [str(folder)], reference=played.end)
    assert rejected == []
    counts = {source: sum(e["source"] == source for e in events) for source in played.counts()}
    assert counts == played.counts()
    assert counts["cloudtrail"] > 1000 and counts["vpcflow"] > 5000 and counts["syslog"] > 20
    assert all(played.start <= datetime.fromisoformat(e["utctimestamp"]) < played.end for e in events)
    attacker = [
        e for e in events if e["source"] == "syslog" and e["details"].get("sourceipaddress") == "203.0.113.66"
    ]
    assert attacker[0]["details"]["action"] == "accepted" and attacker[0]["details"]["username"] == "ec2-user"
    (finding,) = [e for e in events if e["source"] == "guardduty"]
    assert finding["details"]["findingtype"] == "CryptoCurrency:EC2/BitcoinTool.B!DNS"
    assert finding["details"]["instanceid"] == played.estate.instance("prod-web-1").instance_id
    assert finding["severity"] == "ERROR"
    burst = [
        e
        for e in events
        if e["details"]
        .get("useridentity", {})
        .get("arn", "")
        .endswith("prod-web-app/" + played.estate.instance("prod-web-1").instance_id)
        and e["details"].get("eventverb") == "Describe"
    ]
    assert len(burst) >= 168


def test_a_play_is_written_to_a_new_folder_only(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        main, ["simulate", "play", "workshop", "--out", str(tmp_path), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "not an empty folder" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_start_and_end_move_the_play(tmp_path):
    scenario = load_scenario(str(scenario_file(tmp_path, SMALL)))
    estate = derive_estate(scenario.environment, scenario.seed)
    start = datetime(2027, 3, 4, 22, 0, tzinfo=UTC)
    played = play(scenario, estate, start)
    assert played.events[0].moment >= start and played.events[-1].moment < start + timedelta(hours=1)
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "play",
            str(tmp_path / "scenario.yaml"),
            "--out",
            str(tmp_path / "o"),
            "--end",
            "2027-03-04T23:00:00Z",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert "from 2027-03-04T22:00:00Z to 2027-03-04T23:00:00Z" in result.output
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "play",
            "workshop",
            "--out",
            str(tmp_path / "p"),
            "--start",
            "2027-01-01T00:00:00Z",
            "--end",
            "now",
        ],
    )
    assert result.exit_code == 2 and "give a start or an end, not both" in result.stderr
