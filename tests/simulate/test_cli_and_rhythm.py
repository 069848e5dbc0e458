"""`simulate list` and `simulate answers`, and the background's daily rhythm."""

from collections import Counter

from click.testing import CliRunner
from simulate_support import SMALL, changed, scenario_file

from reynard.cli import main
from reynard.simulate.environment import derive_estate
from reynard.simulate.player import play
from reynard.simulate.scenario import load_scenario


def test_list_shows_the_shipped_scenarios():
    result = CliRunner().invoke(main, ["simulate", "list"])
    assert result.exit_code == 0
    assert result.output == (
        "workshop     4h, 9 attack steps, 5 look-alikes, 5 expected alerts: "
        "A leaked key, an open bastion and a crypto miner\n"
    )


def test_answers_name_the_estates_ids_and_times(tmp_path):
    scenario = load_scenario("workshop")
    estate = derive_estate(scenario.environment, scenario.seed)
    result = CliRunner().invoke(
        main,
        ["simulate", "answers", "workshop", "--end", "2027-01-05T18:00:00Z", "--data-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("workshop: A leaked key, an open bastion and a crypto miner (estate derived from")
    assert (
        "The workshop's answers (2027-01-05T14:00:00Z to 2027-01-05T18:00:00Z, account 123456789012)." in text
    )
    key = estate.access_keys["dave"]
    assert f"the IAM user dave (arn:aws:iam::123456789012:user/dave, access key\n   {key})" in text
    assert f"prod-web-1 ({estate.instance('prod-web-1').instance_id}," in text
    assert f"({estate.instance('bastion-1').security_group_ids[0]})" in text
    assert "at 2027-01-05T16:40:00Z dave's key" in text
    assert "{" not in text


def hours(played, source="cloudtrail") -> Counter:
    return Counter(p.moment.hour for p in played.events if p.source == source)


def test_the_background_follows_the_daily_rhythm(tmp_path):
    day = changed(SMALL, ("duration",), "24h")
    day = changed(day, ("start",), "2026-12-02T00:00:00Z")
    for key in ("attack", "lookalikes", "expect"):
        day = changed(day, (key,), [])
    day["background"] = {
        "api_calls": [{"users": ["erin"], "per_hour": 100, "calls": {"GetObject": 1}}],  # office, the default
        "flows": [{"from": "internet", "to": "web", "port": 443, "per_hour": 100, "rhythm": "flat"}],
    }
    scenario = load_scenario(str(scenario_file(tmp_path, day)))
    played = play(scenario, derive_estate(scenario.environment, scenario.seed))
    calls, flows = hours(played), hours(played, "vpcflow")
    assert set(calls) <= set(range(24)) and set(flows) == set(range(24))
    working, night = sum(calls[h] for h in range(9, 17)), sum(calls[h] for h in range(0, 5))
    assert working > 600 and night < 60  # 100 an hour at the peak, a few percent of it at night
    assert min(flows.values()) > 100 and max(flows.values()) < 320  # a flat 100 an hour, two records each
