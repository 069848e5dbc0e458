"""Every id and address an event carries is the estate's: played on an estate whose ids are not the
seed's (as a sandbox's are not), the events name that estate's instances, keys, roles and buckets."""

import ipaddress
import re
from dataclasses import replace

import orjson
import pytest
from click.testing import CliRunner

from reynard.cli import main
from reynard.simulate.environment import derive_estate
from reynard.simulate.formats import host_name
from reynard.simulate.player import play
from reynard.simulate.reading import ScenarioError
from reynard.simulate.scenario import load_scenario

IDS = re.compile(r"\b((?:i|sg|eni|subnet|vpc)-[0-9a-f]{8,17})\b")


@pytest.fixture(scope="module")
def sandboxed():
    """The workshop on an estate made another way (another seed, another account's ids than derived)."""
    scenario = load_scenario("workshop")
    estate = replace(derive_estate(scenario.environment, seed=999), source="sandbox", endpoint_url="http://x")
    assert (
        estate.instances[0].instance_id
        != derive_estate(scenario.environment, scenario.seed).instances[0].instance_id
    )
    return scenario, estate, play(scenario, estate)


def test_every_event_names_the_estates_resources(sandboxed):
    scenario, estate, played = sandboxed
    ids = {estate.vpc_id} | {
        value
        for i in estate.instances
        for value in (i.instance_id, i.eni_id, i.subnet_id, *i.security_group_ids)
    }
    private = {i.private_ip for i in estate.instances}
    hosts = {host_name(ip) for ip in private}
    vpc = ipaddress.ip_network(scenario.environment.vpc_cidr)
    buckets = set(estate.buckets) | set(scenario.created_buckets())
    keys = set(estate.access_keys.values())
    roles = set(estate.role_arns.values())
    seen = {"ids": set(), "keys": set(), "roles": set(), "buckets": set(), "hosts": set()}
    for event in played.events:
        text = event.record if isinstance(event.record, str) else orjson.dumps(event.record).decode()
        found = set(IDS.findall(text))
        assert found <= ids, (found - ids, text[:300])
        seen["ids"] |= found
        if event.source == "cloudtrail":
            record = event.record
            assert record["recipientAccountId"] == estate.account
            identity = record["userIdentity"]
            if (
                identity["type"] == "IAMUser" and record["eventName"] != "ConsoleLogin"
            ):  # a sign-in has no key
                assert identity["accessKeyId"] in keys
                seen["keys"].add(identity["accessKeyId"])
            if identity["type"] == "AssumedRole":
                assert identity["sessionContext"]["sessionIssuer"]["arn"] in roles
                seen["roles"].add(identity["sessionContext"]["sessionIssuer"]["arn"])
            request = record["requestParameters"] or {}
            if "bucketName" in request:
                assert request["bucketName"] in buckets
                seen["buckets"].add(request["bucketName"])
            if "roleArn" in request:
                assert request["roleArn"] in roles
        elif event.source == "vpcflow":
            fields = event.record.split()
            assert fields[1] == estate.account
            for address in fields[3:5]:
                if ipaddress.ip_address(address) in vpc:
                    assert address in private
        elif event.source == "syslog":
            host = event.record.split()[3]
            assert host in hosts
            seen["hosts"].add(host)
        else:
            assert event.record["account"] == estate.account
    # Not vacuous: the play names the estate's things, all of its kinds.
    assert {i.instance_id for i in estate.instances} <= seen["ids"]
    assert seen["keys"] == keys
    assert seen["roles"] == roles
    assert seen["buckets"] == buckets
    assert host_name(estate.instance("prod-web-1").private_ip) in seen["hosts"]


def test_an_estate_made_for_another_scenario_is_refused():
    scenario = load_scenario("workshop")
    estate = derive_estate(scenario.environment, scenario.seed)
    fewer = replace(estate, instances=estate.instances[1:], buckets=estate.buckets[:-1])
    with pytest.raises(ScenarioError) as caught:
        play(scenario, fewer)
    assert str(caught.value) == (
        "the estate (seed) lacks bucket acme-public-site, instance prod-web-1: "
        "it was not made from scenario 'workshop'"
    )


def test_the_sandbox_estate_in_the_data_dir_is_used_and_said(tmp_path, sandboxed):
    estate = sandboxed[1]
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "estate.json").write_bytes(orjson.dumps(estate.as_json()))
    result = CliRunner().invoke(main, ["simulate", "answers", "workshop", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"estate from the sandbox at http://x ({tmp_path / 'sandbox' / 'estate.json'})" in result.output
    assert estate.instance("prod-web-1").instance_id in result.output
    assert estate.access_keys["dave"] in result.output
    # --estate names a file; a file that is not an estate is one message naming it.
    bad = tmp_path / "bad.json"
    bad.write_text('{"account": "1"}')
    result = CliRunner().invoke(main, ["simulate", "answers", "workshop", "--estate", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"reynard: {bad}: not an estate (Estate.as_json)")
