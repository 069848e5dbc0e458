"""A scenario with a mistake is one message naming the file and the key path, from the loader and the CLI."""

import pytest
from click.testing import CliRunner
from simulate_support import DELETE, SMALL, WORKSHOP, changed, scenario_file

from reynard.cli import main
from reynard.simulate.reading import ScenarioError
from reynard.simulate.scenario import load_scenario, shipped

CASES = [
    (("attack", 2, "at"), "soon", "attack[2].at: 'soon' is not a duration such as 2h10m, 45m or 90s"),
    (("attack", 2, "at"), "5h", "attack[2].at: 5h starts after the scenario's duration"),
    (("attack", 3, "stay"), "3h", "attack[3].at: 2h12m ends after the scenario's duration"),
    (("attack", 0, "kind"), "teleport", "attack[0].kind: one of api_calls, describe_burst, port_opened"),
    (("attack", 0, "wat"), 1, "attack[0]: unknown key(s) wat; known: at, bucket, calls, from, instance"),
    (("attack", 1, "user"), "mallory", "attack[1].user: no user 'mallory' in environment.users"),
    (
        ("attack", 4, "to"),
        "prod-web-9",
        "attack[4].to: no instance 'prod-web-9' (instances are <service>-<n>",
    ),
    (("attack", 1, "from"), "somewhere", "attack[1].from: 'somewhere' is not an IP address"),
    (
        ("attack", 6, "bucket"),
        "acme-web-assets",
        "attack[6].bucket: 'acme-web-assets' is in environment.buckets",
    ),
    (("attack", 5, "calls"), 0, "attack[5].calls: a whole number from 1 to 100000, not 0"),
    (
        ("lookalikes", 0, "names"),
        ["ListBuckets"],
        "lookalikes[0].names[0]: 'ListBuckets' is not a Describe call",
    ),
    (("lookalikes", 3, "via"), "email", "lookalikes[3].via: one of acl, policy, not 'email'"),
    (("lookalikes", 0, "regions"), ["moon-1"], "lookalikes[0].regions[0]: 'moon-1' is not an AWS region"),
    (
        ("attack", 0, "bucket"),
        "acme-nothing",
        "attack[0].bucket: no bucket 'acme-nothing' in the environment nor",
    ),
    (("attack", 6, "bucket"), "Loot!", "attack[6].bucket: 'Loot!' is not an S3 bucket name"),
    (
        ("background", "api_calls", 0, "calls", "DescribeEverything"),
        1,
        "background.api_calls[0].calls: 'DescribeEverything' is not a call the simulator knows",
    ),
    (("background", "flows", 0, "to"), "moon", "background.flows[0].to: 'moon' is neither internet, aws"),
    (
        ("background", "rhythm"),
        "siesta",
        "background.rhythm: 'siesta' is not a rhythm (known: office, web, flat",
    ),
    (("background", "ssh", 0, "per_hour"), DELETE, "background.ssh[0].per_hour: required"),
    (
        ("environment", "services", 0, "name"),
        "Prod Web",
        "environment.services[0].name: 'Prod Web' is not a name",
    ),
    (
        ("environment", "services", 2, "vpn_ports"),
        [22, "ssh"],
        "environment.services[2].vpn_ports: a list of TCP",
    ),
    (("expect", 0, "rule"), "magic", "expect[0].rule: 'magic' is no built-in rule"),
    (
        ("expect", 3, "bucket"),
        "acme-nope",
        "expect[3].bucket: no bucket 'acme-nope' in the environment nor created",
    ),
    (("expect", 2, "address"), "outside", "expect[2].address: 'outside' is not an IP address"),
    (("duration",), "forever", "duration: 'forever' is not a duration"),
    (("seed",), "lucky", "seed: a whole number, not 'lucky'"),
    (("start",), "tomorrow", "start: 'tomorrow' is not an ISO 8601 time"),
    (("colour",), "red", "scenario: unknown key(s) colour; known: answers, attack"),
]


@pytest.mark.parametrize(("path", "value", "message"), CASES, ids=[c[2].split(":")[0] for c in CASES])
def test_a_mistake_names_the_file_and_the_key(tmp_path, path, value, message):
    file = scenario_file(tmp_path, changed(WORKSHOP, path, value))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(file))
    assert str(caught.value).startswith(f"{file}: {message}")


def test_a_shipped_scenario_is_named_by_its_file_name():
    scenario = load_scenario("workshop")
    assert scenario.source.endswith("workshop.yaml")
    assert shipped() == ["workshop"]
    assert [s.kind for s in scenario.attack][:3] == ["api_calls", "api_calls", "port_opened"]
    assert all(s.lookalike for s in scenario.lookalikes) and not any(s.lookalike for s in scenario.attack)


def test_answers_placeholders_are_checked_with_their_line(tmp_path):
    data = changed(SMALL, ("answers",), "Line one.\nThe miner: {instance:web-7}.\n")
    file = scenario_file(tmp_path, data)
    with pytest.raises(ScenarioError, match=r": answers: line 2: \{instance:web-7\}: no instance 'web-7'"):
        load_scenario(str(file))
    file = scenario_file(tmp_path, changed(SMALL, ("answers",), "{colour:red}"))
    with pytest.raises(ScenarioError, match=r"answers: line 1: \{colour:red\}: unknown placeholder"):
        load_scenario(str(file))


def test_not_yaml_names_the_line(tmp_path):
    file = tmp_path / "broken.yaml"
    file.write_text("name: broken\nattack:\n  - at: 1m\n    note: a: b\n")
    with pytest.raises(ScenarioError, match=rf"^{file}: line 4: not YAML: mapping values are not allowed"):
        load_scenario(str(file))


def test_the_cli_says_it_in_one_line_and_exits_2(tmp_path):
    file = scenario_file(tmp_path, changed(WORKSHOP, ("attack", 2, "at"), "soon"))
    result = CliRunner().invoke(main, ["simulate", "answers", str(file)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"reynard: {file}: attack[2].at: 'soon' is not a duration such as 2h10m, 45m or 90s\n"
    )
    result = CliRunner().invoke(main, ["simulate", "check", "no-such-scenario"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "reynard: no-such-scenario: no shipped scenario of that name (shipped: workshop)"
    )


def test_from_belongs_to_a_role_no_instance_runs(tmp_path):
    entry = ("background", "api_calls", 0, "from")
    file = scenario_file(tmp_path, changed(WORKSHOP, entry, "192.0.2.1"))
    with pytest.raises(
        ScenarioError, match=r"background.api_calls\[0\].from: only for a role no instance runs"
    ):
        load_scenario(str(file))
    ci = ("background", "api_calls", 7, "from")
    file = scenario_file(tmp_path, changed(WORKSHOP, ci, "192.0.2.1"))  # one address, not a list: fine
    assert load_scenario(str(file)).background.api_calls[7].addresses == ("192.0.2.1",)
    file = scenario_file(tmp_path, changed(WORKSHOP, ci, DELETE))
    with pytest.raises(ScenarioError, match=r"api_calls\[7\].from: role 'ci-deploy' runs on no instance"):
        load_scenario(str(file))
