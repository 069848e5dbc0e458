"""`simulate play --to`: the events go to a real server on loopback with an ingest token, and it stores them
all; a wrong token stops the stream with the server's answer."""

import pytest
from click.testing import CliRunner
from simulate_support import SMALL, scenario_file

from helpers import Server, api_token
from reynard.cli import main
from reynard.simulate.environment import derive_estate
from reynard.simulate.player import play
from reynard.simulate.scenario import load_scenario
from reynard.simulate.stream import bodies


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path / "data").start()
    yield running
    running.stop()


def test_streamed_events_are_stored(server, tmp_path):
    file = scenario_file(tmp_path, SMALL)
    scenario = load_scenario(str(file))
    played = play(scenario, derive_estate(scenario.environment, scenario.seed))
    token = api_token(server.data_dir, role="ingest", name="simulator")
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "play",
            str(file),
            "--to",
            server.url,
            "--token",
            token,
            "--rate",
            "100000",
            "--data-dir",
            str(tmp_path / "elsewhere"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        f"sent {len(played.events)} stored {len(played.events)} duplicates 0 rejected 0 in " in result.output
    )
    assert "reynard rules run --since 2026-12-02T10:00:00Z --now 2026-12-02T11:00:00Z" in result.output
    stats = server.get(f"{server.url}/api/stats").json()
    assert stats["events"] == len(played.events)
    assert stats["dead_letters"] == 0
    found = server.get(
        f"{server.url}/api/events", params={"since": "2026-12-02T10:00:00Z", "limit": 10000}
    ).json()["events"]
    assert {e["source"] for e in found} == {"cloudtrail", "vpcflow", "syslog", "guardduty"}
    # Streaming the same play again stores nothing new.
    again = CliRunner().invoke(main, ["simulate", "play", str(file), "--to", server.url, "--token", token])
    assert f"stored 0 duplicates {len(played.events)} rejected 0" in again.output


def test_a_wrong_token_stops_at_once(server, tmp_path):
    result = CliRunner().invoke(
        main, ["simulate", "play", str(scenario_file(tmp_path, SMALL)), "--to", server.url, "--token", "nope"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"reynard: {server.url}/events: the server answered 401: ")
    assert server.get(f"{server.url}/api/stats").json()["events"] == 0


def test_a_chunk_becomes_one_native_body_per_log_type(tmp_path):
    scenario = load_scenario(str(scenario_file(tmp_path, SMALL)))
    played = play(scenario, derive_estate(scenario.environment, scenario.seed))
    found = list(bodies(played.events))  # in the order each log type first appears
    order = [p.source for p in played.events]
    assert [kind for kind, _, _ in found] == [
        {"vpcflow": "text/plain", "syslog": "text/plain", "cloudtrail": "application/json"}.get(
            s, "application/x-ndjson"
        )
        for s in sorted(set(order), key=order.index)
    ]
    assert sum(count for _, _, count in found) == len(played.events)
    by_first = dict(zip(sorted(set(order), key=order.index), (body for _, body, _ in found), strict=True))
    flows, secure, trail, findings = (by_first[s] for s in ("vpcflow", "syslog", "cloudtrail", "guardduty"))
    assert flows.startswith(b"2 123456789012 eni-") and b" sshd[" not in flows
    assert all(b" sshd[" in line for line in secure.splitlines())
    assert trail.startswith(b'{"Records":[{"eventVersion":"1.09"')
    assert findings.startswith(b'{"version":"0","id":') and findings.count(b"\n") == 1
