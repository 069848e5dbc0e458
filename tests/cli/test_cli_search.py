"""`reynard search` and the search API on real logs: counts computed from the raw files agree."""

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import Server
from reynard.cli import main


@pytest.fixture(scope="module")
def invictus(shared_data, tmp_path_factory) -> tuple[Path, list[dict]]:
    """The invictus CloudTrail set ingested once, and its raw records read independently."""
    data = tmp_path_factory.mktemp("invictus")
    folder = shared_data / "cloudtrail" / "invictus" / "CloudTrail"
    result = CliRunner().invoke(main, ["ingest", "--data-dir", str(data), str(folder)])
    assert result.exit_code == 0, result.output
    records = [r for f in sorted(folder.glob("*.json")) for r in json.loads(f.read_text())["Records"]]
    return data, records


def search(data: Path, *args: str):
    return CliRunner().invoke(main, ["search", "--data-dir", str(data), *args])


def count(data: Path, query: str) -> int:
    result = search(data, "--count", query)
    assert result.exit_code == 0, result.output
    return int(result.stdout.strip())


def test_counts_equal_the_raw_records(invictus):
    data, records = invictus
    names = Counter(r["eventName"] for r in records)
    assert count(data, "details.eventname:DescribeInstances") == names["DescribeInstances"] > 0
    assert count(data, "details.eventname:Describe*") == sum(
        n for k, n in names.items() if k.startswith("Describe")
    )
    assert count(data, "*") == len(records) == 2900
    by_user = sum(1 for r in records if r["userIdentity"].get("userName") == "bert-jan")
    assert count(data, "details.useridentity.username:bert-jan") == by_user > 0
    failed = sum(1 for r in records if "errorCode" in r)
    assert count(data, "_exists_:details.errorcode") == failed
    assert count(data, "details.success:false") == failed
    private = sum(1 for r in records if r["sourceIPAddress"].startswith("10."))
    assert count(data, "details.sourceipaddress:10.0.0.0/8") == private
    not_describe = len(records) - sum(n for k, n in names.items() if k.startswith("Describe"))
    assert count(data, "NOT details.eventverb:Describe") == not_describe


def test_the_stolen_role_session_is_seen_from_two_addresses(invictus):
    data, records = invictus
    arn = next(
        r["userIdentity"]["arn"]
        for r in records
        if "stratus-red-team-ec2-steal-credentials-role" in r["userIdentity"].get("arn", "")
    )
    addresses = {r["sourceIPAddress"] for r in records if r["userIdentity"].get("arn") == arn}
    query = f'details.useridentity.arn:"{arn}"'
    result = search(data, "--agg", "details.sourceipaddress", "--format", "ndjson", query)
    buckets = [json.loads(line) for line in result.stdout.splitlines()]
    assert {b["value"] for b in buckets} == addresses and len(addresses) >= 2
    document = json.loads(search(data, "--agg", "details.sourceipaddress", "--format", "json", query).stdout)
    assert document["buckets"] == buckets
    table = search(data, "--agg", "details.sourceipaddress", query).stdout.splitlines()
    assert table[0].split() == ["details.sourceipaddress", "count"] and len(table) == len(buckets) + 1


def test_table_json_and_ndjson_output(invictus):
    data, _ = invictus
    table = search(data, "--limit", "5", "details.eventname:CreateUser OR details.eventname:CreateAccessKey")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["utctimestamp", "source", "hostname", "summary"]
    assert 1 < len(lines) <= 6 and all("performed Create" in line for line in lines[1:])

    page = json.loads(
        search(data, "--format", "json", "--limit", "3", "--fields", "id,details.eventname", "*").stdout
    )
    assert page["count"] == 3 and set(page["events"][0]) == {"id", "details.eventname"}
    assert page["next_after"] is not None

    streamed = search(data, "--format", "ndjson", "details.eventname:DescribeInstances")
    assert len(streamed.stdout.splitlines()) == count(data, "details.eventname:DescribeInstances")


def test_time_windows(invictus):
    data, records = invictus
    inside = sum(1 for r in records if "2023-07-10T12:00:00Z" <= r["eventTime"] < "2023-07-10T12:10:00Z")
    got = search(data, "--count", "--since", "2023-07-10T12:00:00Z", "--until", "2023-07-10T12:10:00Z", "*")
    assert int(got.stdout) == inside > 0
    assert int(search(data, "--count", "--since", "15m", "*").stdout) == 0  # the set is from 2023


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("details.eventname:(Describe", "position"),
        ("a AND", "position"),
        ('summary:"unterminated', "position"),
        ("details.bytes:[1 TO ]", "position"),
        ("x" * 1_000_001, "too long"),
    ],
)
def test_malformed_queries_are_one_line(invictus, query, message):
    result = search(invictus[0], query)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_a_field_no_event_has_matches_nothing(invictus):
    assert count(invictus[0], "details.nosuchfield:x") == 0


def test_search_and_aggregate_over_http(shared_data, tmp_path):
    server = Server(tmp_path / "data").start()
    try:
        CliRunner().invoke(
            main, ["ingest", "--data-dir", str(server.data_dir), str(shared_data / "cloudtrail" / "otrf")]
        )
        found = server.get(
            f"{server.url}/api/search", params={"q": "details.useridentity.username:pedro", "limit": 5}
        )
        assert found.status_code == 200
        body = found.json()
        assert body["count"] == 5 and all(e["details"]["username"] == "pedro" for e in body["events"])
        nxt = server.post(
            f"{server.url}/api/search",
            json={"query": "details.useridentity.username:pedro", "limit": 5, "after": body["next_after"]},
        ).json()
        assert not {e["id"] for e in nxt["events"]} & {e["id"] for e in body["events"]}
        aggs = server.post(
            f"{server.url}/api/aggregate",
            json={
                "query": "details.eventverb:Describe",
                "aggs": {
                    "who": {"terms": {"field": "details.useridentity.arn", "samples": 1}},
                    "verbs": {"distinct": {"field": "details.eventname"}},
                    "per_minute": {"date_histogram": {"interval": "1m"}},
                },
            },
        ).json()["aggregations"]
        assert aggs["who"][0]["value"].endswith("user/pedro") and len(aggs["who"][0]["samples"]) == 1
        assert aggs["verbs"] > 1 and sum(b["count"] for b in aggs["per_minute"]) == aggs["who"][0]["count"]
        bad = server.get(f"{server.url}/api/search", params={"q": "a AND"})
        assert bad.status_code == 400 and "position" in bad.json()["error"]
    finally:
        server.stop()
