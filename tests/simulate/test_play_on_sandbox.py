"""The workshop played on a real sandbox (`reynard sandbox start workshop`, moto): the play says it uses the
sandbox's estate, every instance, key, bucket and the detector it names are ones moto holds (read back
with a client of the test's own), and `simulate check` passes on those ids."""

import gzip
import json

import boto3
import pytest
from sandbox_support import reynard, stop_for_good

from reynard.simulate.environment import Estate


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    data = tmp_path_factory.mktemp("sandboxed")
    started = reynard(data, "sandbox", "start", "workshop")
    try:
        assert started.exit_code == 0, started.output + started.stderr
        yield data, Estate.from_json(json.loads((data / "sandbox" / "estate.json").read_text()))
    finally:
        stop_for_good(data)


def moto(estate: Estate, service: str):
    """A client of the test's own on the sandbox (not Reynard's)."""
    return boto3.client(
        service,
        endpoint_url=estate.endpoint_url,
        region_name=estate.region,
        aws_access_key_id="TESTSREADERKEY000001",
        aws_secret_access_key="tests",
    )


def test_the_play_names_what_moto_holds(sandbox, tmp_path):
    data, estate = sandbox
    played = reynard(data, "simulate", "play", "workshop", "--out", str(tmp_path / "logs"))
    assert played.exit_code == 0, played.stderr
    assert f"estate from the sandbox at {estate.endpoint_url}" in played.output
    files = [p for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    text = "\n".join(
        (gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()).decode() for p in files
    )
    reservations = moto(estate, "ec2").describe_instances()["Reservations"]
    held = {i["InstanceId"] for r in reservations for i in r["Instances"]}
    named = {i.instance_id for i in estate.instances}
    assert named <= held and all(instance in text for instance in named)
    iam = moto(estate, "iam")
    keys = {
        k["AccessKeyId"]
        for u in estate.access_keys
        for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]
    }
    assert set(estate.access_keys.values()) <= keys and all(
        key in text for key in estate.access_keys.values()
    )
    buckets = {b["Name"] for b in moto(estate, "s3").list_buckets()["Buckets"]}
    assert set(estate.buckets) <= buckets and all(f'"bucketName":"{b}"' in text for b in estate.buckets)
    assert estate.detector_id in moto(estate, "guardduty").list_detectors()["DetectorIds"]
    assert f'"detectorId":"{estate.detector_id}"' in text


def test_check_passes_on_the_sandboxs_ids(sandbox):
    data, estate = sandbox
    result = reynard(data, "simulate", "check", "workshop", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert report["passed"] and not report["unexpected"]
    prod = estate.instance("prod-web-1").instance_id
    found = {f["expected"]: f["alert"]["summary"] for f in report["found"]}
    assert prod in found["guardduty_finding prod-web-1"]
    assert f"assumed-role/prod-web-app/{prod}" in found["excessive_describe prod-web-app prod-web-1"]
