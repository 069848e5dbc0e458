"""The settings are read and checked once: every mistake in the file is one line naming the file, the line
and the key, before anything is built; the sections come out typed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paths import REPO
from reynard.cli import main
from reynard.errors import ConfigError
from reynard.settings import (
    ActionsSection,
    AwsSection,
    ForensicsSection,
    NotifierSpec,
    RespondSection,
    Secret,
    Settings,
    TriggerSpec,
    load_settings,
    parse_settings,
)
from reynard.settings.locate import json_lines, toml_lines
from reynard.settings.sections import NOTIFIER_TYPES

DOCS = REPO / "docs" / "configuration.md"


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    config = tmp_path / "reynard.toml"
    config.write_text(text)
    return load_settings(config, env=env or {})


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    """The one line load_settings refuses `text` with, the file named as `reynard.toml`."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    message = str(info.value)
    assert "\n" not in message
    return message.replace(f"{tmp_path}/", "")


# -- a good file -------------------------------------------------------------------------------------------
GOOD = """\
port = 8080
internal_cidrs = ["10.0.0.0/8"]

[[notifiers]]
type = "slack"
url = "https://hooks.slack.com/services/T0/B0/abc"

[[notifiers]]
type = "email"
host = "smtp.example.org"
port = 587
sender = "reynard@example.org"
recipients = "soc@example.org"
password = "hunter2"
starttls = true

[[triggers]]
name = "crypto-mining"
on = "findings"
playbook = "guardduty_crypto_mining"
pattern = { source = ["aws.guardduty"], detail = { type = ["CryptoCurrency:EC2/BitcoinTool.B!DNS"] } }

[respond.aws]
region = "eu-west-1"
max_attempts = 5

[respond.notifiers.soc]
type = "webhook"
url = "https://soc.example.org/hook"
headers = { Authorization = "Bearer t0ken" }

[respond.forensics]
memory_capture_command = "avml /var/tmp/memory.lime"
timeout_seconds = 900

[respond.actions]
verify_delay_seconds = 0

[sigma_placeholders]
admins = ["alice", "bob"]
"""


def test_a_good_file_gives_typed_sections(tmp_path):
    settings = load(tmp_path, GOOD)
    assert settings.port == 8080 and settings.internal_cidrs == ("10.0.0.0/8",)
    slack, mail = settings.notifiers
    assert slack == NotifierSpec("slack", {"url": "https://hooks.slack.com/services/T0/B0/abc"})
    assert mail.type == "email" and mail.options["recipients"] == ("soc@example.org",)
    assert mail.options["password"] == Secret("hunter2") and mail.options["starttls"] is True
    assert settings.triggers == (
        TriggerSpec(
            name="crypto-mining",
            on="findings",
            pattern={
                "source": ["aws.guardduty"],
                "detail": {"type": ["CryptoCurrency:EC2/BitcoinTool.B!DNS"]},
            },
            playbook="guardduty_crypto_mining",
        ),
    )
    assert settings.respond == RespondSection(
        aws=AwsSection(region="eu-west-1", max_attempts=5),
        notifiers={
            "soc": NotifierSpec(
                "webhook",
                {"url": "https://soc.example.org/hook", "headers": {"Authorization": "Bearer t0ken"}},
            )
        },
        forensics=ForensicsSection(memory_capture_command="avml /var/tmp/memory.lime", timeout_seconds=900.0),
        actions=ActionsSection(verify_delay_seconds=0.0),
    )
    assert dict(settings.sigma_placeholders) == {"admins": ("alice", "bob")}
    # Typed values remember where they were written, for the errors found when they are used.
    assert mail.place.where("password") == f"{tmp_path / 'reynard.toml'}:14"
    assert settings.triggers[0].place.where("pattern") == f"{tmp_path / 'reynard.toml'}:21"
    assert settings.respond.aws.place.where("profile") == f"{tmp_path / 'reynard.toml'}:23"
    # Secrets stay out of the printed settings.
    assert "hunter2" not in repr(settings) and "t0ken" not in repr(settings)


def test_without_a_file_the_sections_are_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./reynard.toml
    settings = load_settings(env={})
    assert settings.notifiers == () and settings.triggers == () and settings.respond == RespondSection()
    assert Settings() == settings and hash(Settings()) == hash(settings)


# -- every mistake: one line, the file's line, the key -----------------------------------------------------
EMAIL = '[[notifiers]]\ntype = "email"\nhost = "h"\nport = 25\nsender = "a"\n'
NOTIFIERS = [
    (
        '[[notifiers]]\nurl = "http://x"\n',
        "1: notifiers[0]: missing key 'type' (one of webhook, slack, sns, email)",
    ),
    (
        '[[notifiers]]\ntype = "pager"\n',
        "2: notifiers[0]: unknown notifier type 'pager'; known: webhook, slack",
    ),
    (
        "[[notifiers]]\ntype = 5\n",
        "2: notifiers[0]: unknown notifier type 5; known: webhook, slack, sns, email",
    ),
    ('[[notifiers]]\ntype = "webhook"\n', "1: notifiers[0] (type webhook): missing key 'url'"),
    (
        '[[notifiers]]\ntype = "slack"\nurl = "https://x"\n\n[[notifiers]]\ntype = "slack"\nuri = "https://x"\n',
        "7: notifiers[1] (type slack): unknown key 'uri'; known: url, timeout",
    ),
    (
        'notifiers = [\n  { type = "slack", url = "https://x" },\n'
        '  { type = "slack", uri = "https://x" },\n]\n',
        "3: notifiers[1] (type slack): unknown key 'uri'; known: url, timeout",
    ),
    (
        '[[notifiers]]\ntype = "slack"\nurl = "ftp://x"\n',
        "3: notifiers[0] (type slack): key 'url' must start with",
    ),
    (
        '[[notifiers]]\ntype = "webhook"\nurl = "http://x"\nformat = "xml"\n',
        "4: notifiers[0] (type webhook): key 'format' must be one of json, slack, not 'xml'",
    ),
    (
        '[[notifiers]]\ntype = "webhook"\nurl = "http://x"\ntimeout = 0\n',
        "4: notifiers[0] (type webhook): key 'timeout' must be more than 0, not 0",
    ),
    (
        '[[notifiers]]\ntype = "webhook"\nurl = "http://x"\ntimeout = true\n',
        "4: notifiers[0] (type webhook): key 'timeout' must be a number, not a boolean",
    ),
    (
        '[[notifiers]]\ntype = "webhook"\nurl = "http://x"\n[notifiers.headers]\nX-Retry = 1\n',
        "4: notifiers[0] (type webhook): key 'headers' must be a table of strings: 'X-Retry' is an integer",
    ),
    ('[[notifiers]]\ntype = "sns"\ntopic_arn = "arn"\n', "1: notifiers[0] (type sns): missing key 'region'"),
    (
        '[[notifiers]]\ntype = "sns"\ntopic_arn = "arn"\nregion = ""\n',
        "4: notifiers[0] (type sns): key 'region' must not be empty",
    ),
    (
        EMAIL + 'recipients = ["b"]\npasword = "x"\n',
        "7: notifiers[0] (type email): unknown key 'pasword'; known: host, port, sender, recipients, "
        "username, password, starttls, timeout, subject_prefix",
    ),
    (
        '[[notifiers]]\ntype = "email"\nhost = "h"\nport = "25"\nsender = "a"\nrecipients = ["b"]\n',
        "4: notifiers[0] (type email): key 'port' must be an integer, not a string",
    ),
    (
        '[[notifiers]]\ntype = "email"\nhost = "h"\nport = 250000\nsender = "a"\nrecipients = ["b"]\n',
        "4: notifiers[0] (type email): key 'port' must be a TCP port (1 to 65535), not 250000",
    ),
    (
        EMAIL + "recipients = []\n",
        "6: notifiers[0] (type email): key 'recipients' must not be empty",
    ),
    (
        EMAIL + "recipients = [1]\n",
        "6: notifiers[0] (type email): key 'recipients' must be a string or an array of strings: "
        "item 0 is an integer",
    ),
    (
        EMAIL + 'recipients = "b"\nstarttls = "yes"\n',
        "7: notifiers[0] (type email): key 'starttls' must be true or false, not a string",
    ),
    ('notifiers = "slack"\n', "1: notifiers must be an array of tables ([[notifiers]]), not a string"),
    ('notifiers = ["slack"]\n', "1: notifiers[0]: must be a table with a 'type' key, not a string"),
]

TRIGGER = '[[triggers]]\nname = "t"\non = "alerts"\nplaybook = "p"\npattern = { classname = ["x"] }\n'
TRIGGERS = [
    (
        TRIGGER.replace("pattern", "patern"),
        "5: triggers[0]: unknown key 'patern'; known: name, on, pattern, pl",
    ),
    (TRIGGER.replace('playbook = "p"\n', ""), "1: triggers[0]: missing key 'playbook'"),
    (
        TRIGGER.replace('"alerts"', '"logs"'),
        "3: triggers[0]: key 'on' must be one of events, alerts, findings",
    ),
    (TRIGGER.replace('name = "t"', 'name = ""'), "2: triggers[0]: key 'name' must not be empty"),
    (
        TRIGGER.replace('name = "t"', "name = 7"),
        "2: triggers[0]: key 'name' must be a string, not an integer",
    ),
    (
        TRIGGER.replace('{ classname = ["x"] }', '"x"'),
        "5: triggers[0]: key 'pattern' must be a non-empty table",
    ),
    (
        TRIGGER.replace('{ classname = ["x"] }', "{}"),
        "5: triggers[0]: key 'pattern' must be a non-empty table (an",
    ),
    (
        TRIGGER + "include_samples = 1\n",
        "6: triggers[0]: key 'include_samples' must be true or false, not an int",
    ),
    (TRIGGER + "\n" + TRIGGER, "8: triggers[1]: two triggers named 't' (the other: reynard.toml:2)"),
    ('[triggers]\nname = "t"\n', "1: triggers must be an array of tables ([[triggers]]), not a table"),
]

RESPOND = [
    (
        '[respond.aws]\nregoin = "us-east-1"\n',
        "2: respond.aws: unknown key 'regoin'; known: region, endpoint_url",
    ),
    (
        '[respond.aws]\nmax_attempts = "3"\n',
        "2: respond.aws: key 'max_attempts' must be an integer, not a string",
    ),
    ("[respond.aws]\nmax_attempts = 0\n", "2: respond.aws: key 'max_attempts' must be 1 or more, not 0"),
    (
        '[respond.aws]\nendpoint_url = "localhost:4566"\n',
        "2: respond.aws: key 'endpoint_url' must start with",
    ),
    ("[respond.aws]\nread_timeout = -1\n", "2: respond.aws: key 'read_timeout' must be more than 0, not -1"),
    (
        '[respond.forensics]\nmemory_command = "x"\n',
        "2: respond.forensics: unknown key 'memory_command'; known:",
    ),
    (
        '[respond.forensics]\ntimeout_seconds = "1h"\n',
        "2: respond.forensics: key 'timeout_seconds' must be a numb",
    ),
    (
        "[respond.actions]\nverify_attempts = 0\n",
        "2: respond.actions: key 'verify_attempts' must be 1 or more",
    ),
    (
        "[respond.actions]\nverify_delay_seconds = -2\n",
        "2: respond.actions: key 'verify_delay_seconds' must be 0",
    ),
    (
        '[respond.notifiers.soc]\ntype = "pager"\n',
        "2: respond.notifiers.soc: unknown notifier type 'pager'; known: webhook, slack, sns, email",
    ),
    (
        '[respond.notifiers.soc]\ntype = "slack"\n',
        "1: respond.notifiers.soc (type slack): missing key 'url'",
    ),
    (
        '[respond.notifiers]\nsoc = "x"\n',
        "2: respond.notifiers.soc: must be a table with a 'type' key, not a string",
    ),
    (
        '[respond]\nnotifiers = "soc"\n',
        "2: respond.notifiers: must be tables [respond.notifiers.NAME], not a str",
    ),
    ("[respond]\nrole = 1\n", "2: respond: unknown key 'role'; known: aws, notifiers, forensics, actions"),
    ("respond = 5\n", "1: respond: must be a table, not an integer"),
    ('[respond]\naws = "us-east-1"\n', "2: respond.aws: must be a table, not a string"),
]

SCALARS = [
    ("port = 99999\n", "1: setting port: 99999 is not a TCP port"),
    ('port = "eighty"\n', "1: setting port: invalid literal for int() with base 10: 'eighty'"),
    ('data_dir = "x"\n\ninternal_cidrs = ["10.0.0.0/33"]\n', "3: setting internal_cidrs:"),
    ("port = \n", "1: invalid TOML: Invalid value (column 8)"),
    (
        'event_store = "elastic"\n',
        "1: setting event_store: unknown event store 'elastic' (known: tantivy, memory)",
    ),
    (
        '[sigma_placeholders]\nadmins = ["alice", 3]\n',
        "2: sigma_placeholders.admins: must be a string or an array",
    ),
    ("[sigma_placeholders]\nadmins = []\n", "2: sigma_placeholders.admins: must not be empty"),
    ('sigma_placeholders = "admins"\n', "1: sigma_placeholders: must be a table, not a string"),
]


@pytest.mark.parametrize(("text", "message"), NOTIFIERS + TRIGGERS + RESPOND + SCALARS)
def test_every_mistake_is_one_line_with_the_file_and_line(tmp_path, text: str, message: str):
    assert error(tmp_path, text).startswith(f"reynard.toml:{message}")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REYNARD_PORT": "eighty"}, "REYNARD_PORT: setting port: invalid literal for int()"),
        ({"REYNARD_PORT": "0"}, "REYNARD_PORT: setting port: 0 is not a TCP port"),
        ({"REYNARD_INTERNAL_CIDRS": "10.0.0.0/8,nope"}, "REYNARD_INTERNAL_CIDRS: setting internal_cidrs:"),
        ({"REYNARD_SCHEDULER_TICK": "soon"}, "REYNARD_SCHEDULER_TICK: setting scheduler_tick:"),
    ],
)
def test_a_mistake_in_the_environment_names_the_variable(tmp_path, env: dict[str, str], message: str):
    assert error(tmp_path, "port = 8080\n", env).startswith(message)


def test_the_environment_wins_over_the_file_and_a_file_error_names_the_file(tmp_path):
    assert load(tmp_path, "port = 8080\n", {"REYNARD_PORT": "9090"}).port == 9090
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(missing, env={})
    assert str(info.value) == f"{missing}: cannot read settings file: No such file or directory"


def test_settings_built_from_values_are_checked_the_same_way():
    settings = parse_settings({"respond": {"actions": {"verify_attempts": 2}}})
    assert settings.respond.actions == ActionsSection(verify_attempts=2)
    with pytest.raises(ConfigError) as info:
        parse_settings({"notifiers": [{"type": "slack", "uri": "x"}]})
    assert str(info.value) == "settings: notifiers[0] (type slack): unknown key 'uri'; known: url, timeout"


def test_a_bad_file_is_refused_before_anything_is_built(tmp_path):
    config = tmp_path / "reynard.toml"
    config.write_text('data_dir = "d"\n\n[[notifiers]]\ntype = "slack"\nuri = "https://hooks.slack.com/x"\n')
    data_dir = tmp_path / "data"
    for command in (["rules", "run"], ["store", "days"], ["alerts", "list"]):
        result = CliRunner().invoke(main, ["--config", str(config), "--data-dir", str(data_dir), *command])
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"reynard: {config}:5: notifiers[0] (type slack): unknown key 'uri'; known: url, timeout\n"
        )
        assert not data_dir.exists()  # no store, no state database: nothing was built


def test_every_key_of_every_section_is_documented():
    documented = DOCS.read_text()
    keys = {key for keys in NOTIFIER_TYPES.values() for key in keys}
    for section in (TriggerSpec, AwsSection, ForensicsSection, ActionsSection):
        keys |= set(section.KEYS)
    missing = sorted(key for key in keys if f"`{key}`" not in documented)
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_the_documented_error_is_the_one_given(tmp_path):
    """The example of docs/configuration.md: its file, refused with its message."""
    documented = DOCS.read_text()
    example = re.search(r"```toml\n(# a mistake\n.*?)```\n\n```\n(.*?)\n```", documented, re.S)
    assert example is not None
    assert f"reynard: {error(tmp_path, example[1])}" == example[2]


# -- the locator -------------------------------------------------------------------------------------------
TRICKY = '''\
# [not] a = "header"
title = "a # not a comment"  # but this is
text = """
[fake.table]
fake = 1 \\"""
"""
literal = \'\'\'
[[fake]]\'\'\'\'\'
"quoted . key" = 1
site."google.com" = true
a . b . c = 1979-05-27 07:32:00Z

[[fruits]]
name = "apple"
[fruits.physical]
color = "red"
[[fruits.varieties]]
name = "red delicious"
[[fruits]]
name = "banana"
[[fruits.varieties]]
name = "plantain"

[table]
inline = { x = 1, y = { z = [1, 2] } }
list = [
  # a comment [with] = brackets
  { name = "first" },
  { name = "second", "with,comma" = "],}" },
]
'''

TRICKY_LINES = {
    ("title",): 2,
    ("text",): 3,
    ("literal",): 7,
    ("quoted . key",): 9,
    ("site", "google.com"): 10,
    ("a", "b", "c"): 11,
    ("fruits",): 13,
    ("fruits", 0): 13,
    ("fruits", 0, "name"): 14,
    ("fruits", 0, "physical"): 15,
    ("fruits", 0, "physical", "color"): 16,
    ("fruits", 0, "varieties", 0): 17,
    ("fruits", 0, "varieties", 0, "name"): 18,
    ("fruits", 1): 19,
    ("fruits", 1, "name"): 20,
    ("fruits", 1, "varieties", 0): 21,
    ("fruits", 1, "varieties", 0, "name"): 22,
    ("table",): 24,
    ("table", "inline", "y", "z", 1): 25,
    ("table", "list", 0, "name"): 28,
    ("table", "list", 1): 29,
    ("table", "list", 1, "with,comma"): 29,
}


def test_the_locator_finds_each_key_past_strings_comments_and_headers():
    assert tomllib.loads(TRICKY)["text"] == '[fake.table]\nfake = 1 """\n'
    lines = toml_lines(TRICKY)
    assert {path: lines.get(path) for path in TRICKY_LINES} == TRICKY_LINES
    assert ("fake", "table") not in lines and ("fake",) not in lines
    assert paths(tomllib.loads(TRICKY)) <= set(lines)


def test_the_json_locator_finds_each_key():
    text = '{\n  "name": "x",\n  "pattern": {\n    "a.b": [\n      {"numeric": [">", 1]}\n    ]\n  }\n}\n'
    assert json_lines(text) == {
        (): 1,
        ("name",): 2,
        ("pattern",): 3,
        ("pattern", "a.b"): 4,
        ("pattern", "a.b", 0): 5,
        ("pattern", "a.b", 0, "numeric"): 5,
        ("pattern", "a.b", 0, "numeric", 0): 5,
        ("pattern", "a.b", 0, "numeric", 1): 5,
    }


def paths(value: Any, prefix: tuple = ()) -> set[tuple]:
    """Every key path of a parsed document."""
    found: set[tuple] = set()
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found |= {(*prefix, key)} | paths(item, (*prefix, key))
    return found


# Documents made of statements whose keys are unique by construction, with values that hide TOML's
# punctuation in strings, comments and multi-line forms.
_TEXT = st.text(alphabet="ab[]{}=#,.\"\\' \n", max_size=12)
_KEY = st.sampled_from(["k", "url", "x-y", '"q.k"', "'lit'", "a.b"])


def _string(text: str, kind: int) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    if kind == 0:
        return '"' + escaped.replace("\n", "\\n") + '"'
    if kind == 1:
        return '"""\n' + escaped + '"""'
    if kind == 2 and "'" not in text and "\n" not in text:
        return f"'{text}'"
    if "'''" not in text and not text.endswith("'"):
        return f"'''{text}'''"
    return '"' + escaped.replace("\n", "\\n") + '"'


_SCALAR = st.one_of(
    st.integers(-5, 5).map(str),
    st.sampled_from(["true", "1979-05-27 07:32:00Z", "1.5e3"]),
    st.builds(_string, _TEXT, st.integers(0, 3)),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[\n  " + ",  # c]\n  ".join(items) + "\n]"),
        st.lists(inner, max_size=3).map(
            lambda items: "{ " + ", ".join(f"i{n} = {item}" for n, item in enumerate(items)) + " }"
        ),
    ),
    max_leaves=6,
)
_STATEMENT = st.one_of(
    st.tuples(st.just("pair"), _KEY, _VALUE),
    st.tuples(st.just("table"), _KEY, st.just("")),
    st.tuples(st.just("array"), st.sampled_from(["aot", "aot2"]), st.just("")),
    st.tuples(st.just("comment"), _TEXT.map(lambda t: t.replace("\n", " ")), st.just("")),
)


def _document(statements: list[tuple[str, str, str]]) -> str:
    lines = []
    for n, (kind, key, value) in enumerate(statements):
        if kind == "pair":
            lines.append(f"p{n}.{key} = {value}")
        elif kind == "table":
            lines.append(f"[t{n}.{key}]")
        elif kind == "array":
            lines.append(f"[[{key}]]")
        else:
            lines.append(f"# {key}")
    return "\n".join(lines) + "\n"


@hypothesis_settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_STATEMENT, max_size=12).map(_document))
def test_the_locator_places_every_key_of_any_document_on_a_line_that_writes_it(text: str):
    document = tomllib.loads(text)
    lines = toml_lines(text)
    source = text.splitlines()
    for path in paths(document):
        assert path in lines, path
        last = path[-1]
        if isinstance(last, str) and not last.startswith("i"):
            assert last in source[lines[path] - 1].replace('"', "").replace("'", ""), (path, lines[path])


@given(st.text(alphabet="ab[]{}=#,.\"\\' \n12", max_size=40))
def test_the_locator_never_fails_on_any_text(text: str):
    toml_lines(text)
    json_lines(text)


# -- errors only the user of a section finds still point at the file ----------------------------------
def test_a_profile_aws_does_not_know_is_reported_at_its_line(tmp_path, monkeypatch):
    from reynard.respond.aws_sdk import AwsClients, AwsConfig

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings = load(tmp_path, '[respond.aws]\nregion = "us-east-1"\nprofile = "nobody"\n')
    with pytest.raises(ConfigError) as info:
        AwsClients(AwsConfig.from_settings(settings))
    assert str(info.value) == (
        f"{tmp_path / 'reynard.toml'}:3: respond.aws: profile: The config profile (nobody) could not be found"
    )
    endpoint = AwsConfig.from_settings(settings, "http://127.0.0.1:5000")
    assert endpoint.endpoint_url == "http://127.0.0.1:5000" and endpoint.profile == "nobody"


def test_settings_with_every_section_survive_a_pickle_round_trip(tmp_path):
    """Ingest worker processes are spawned with the settings: every section must pickle."""
    import pickle

    config = tmp_path / "reynard.toml"
    config.write_text(
        '[[notifiers]]\ntype = "webhook"\nurl = "https://example.org/hook"\nheaders = { X-Token = "t" }\n'
        '[respond.notifiers.soc]\ntype = "slack"\nurl = "https://hooks.slack.com/services/T/B/X"\n'
    )
    settings = load_settings(config, env={})
    again = pickle.loads(pickle.dumps(settings))
    assert again == settings
    assert dict(again.notifiers[0].options["headers"]) == {"X-Token": "t"}
