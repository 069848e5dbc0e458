"""The sections of the settings file, typed and checked once, when the settings are loaded.

    [[notifiers]]              NotifierSpec, one per table: where new alerts are sent
    [[triggers]]               TriggerSpec: what starts a playbook (also JSON files in <data_dir>/triggers)
    [respond.aws]              RespondSection: the response engine's AWS access (AwsSection), the
    [respond.notifiers.NAME]     destinations of reynard:notify (NotifierSpec by name), the forensics
    [respond.forensics]          commands (ForensicsSection) and the actions' verification
    [respond.actions]            (ActionsSection)

Each is a frozen dataclass whose `parse(value, place)` takes a table as the file gave it and returns it
checked, or raises one ConfigError at the line of the first problem. The packages that use them (the
notifiers in detect, respond) build from these values and check nothing again. Each value keeps its
`place`, out of equality and repr, for the errors only its user can find: respond compiles a trigger's
EventBridge pattern, and a pattern it refuses is reported at the pattern's line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .check import (
    Frozen,
    Invalid,
    Key,
    at_least,
    flag,
    kind_of,
    non_empty,
    not_negative,
    one_of,
    port,
    positive,
    read_table,
    string,
    string_table,
    strings,
    url,
)
from .origin import IN_CODE, Place
from .secret import Secret


def _secret(value: Any) -> Secret:
    return Secret(string(value))


# -- notifiers ---------------------------------------------------------------------------------------------
# type -> its keys, as the notifier's constructor takes them (the constructors give the defaults).
NOTIFIER_TYPES: dict[str, dict[str, Key]] = {
    "webhook": {
        "url": Key(url, required=True),
        "format": Key(one_of("json", "slack")),
        "timeout": Key(positive),
        "headers": Key(string_table),
    },
    "slack": {"url": Key(url, required=True), "timeout": Key(positive)},
    "sns": {
        "topic_arn": Key(non_empty, required=True),
        "region": Key(non_empty, required=True),
        "endpoint_url": Key(url),
        "subject_prefix": Key(string),
        "timeout": Key(positive),
    },
    "email": {
        "host": Key(non_empty, required=True),
        "port": Key(port, required=True),
        "sender": Key(non_empty, required=True),
        "recipients": Key(strings, required=True),
        "username": Key(string),
        "password": Key(_secret),
        "starttls": Key(flag),
        "timeout": Key(positive),
        "subject_prefix": Key(string),
    },
}


@dataclass(frozen=True)
class NotifierSpec:
    """One notifier: its type and its options, checked (a password is a `Secret`, recipients a tuple)."""

    type: str
    options: Mapping[str, Any] = field(default_factory=lambda: Frozen({}), repr=False)
    place: Place = field(default=IN_CODE, compare=False, repr=False)

    @property
    def label(self) -> str:
        """`notifiers[1] (type slack)`: how errors name it."""
        return f"{self.place.label or 'notifier'} (type {self.type})"

    @classmethod
    def parse(cls, value: Any, place: Place) -> NotifierSpec:
        known = ", ".join(NOTIFIER_TYPES)
        if not isinstance(value, Mapping):
            raise place.error(f"must be a table with a 'type' key, not {kind_of(value)}")
        kind = value.get("type")
        if kind is None:
            raise place.error(f"missing key 'type' (one of {known})")
        if not isinstance(kind, str) or kind not in NOTIFIER_TYPES:
            raise place.error(f"unknown notifier type {kind!r}; known: {known}", "type")
        options = {key: option for key, option in value.items() if key != "type"}
        checked = read_table(options, place, NOTIFIER_TYPES[kind], label=f"{place.label} (type {kind})")
        return cls(kind, Frozen(checked), place)


# -- triggers ----------------------------------------------------------------------------------------------
TriggerKind = Literal["events", "alerts", "findings"]
TRIGGER_KINDS: tuple[TriggerKind, ...] = ("events", "alerts", "findings")


def _pattern(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not value:
        shown = "an empty table" if isinstance(value, Mapping) else kind_of(value)
        raise Invalid(f"must be a non-empty table (an EventBridge pattern), not {shown}")
    return value


@dataclass(frozen=True)
class TriggerSpec:
    """A trigger as written: `pattern` is the EventBridge pattern as a mapping; respond compiles it."""

    name: str
    on: TriggerKind
    pattern: Mapping[str, Any]
    playbook: str
    include_samples: bool = False
    place: Place = field(default=IN_CODE, compare=False, repr=False)

    KEYS: ClassVar[dict[str, Key]] = {
        "name": Key(non_empty, required=True),
        "on": Key(one_of(*TRIGGER_KINDS), required=True),
        "pattern": Key(_pattern, required=True),
        "playbook": Key(non_empty, required=True),
        "include_samples": Key(flag),
    }

    @classmethod
    def parse(cls, value: Any, place: Place) -> TriggerSpec:
        return cls(**read_table(value, place, cls.KEYS), place=place)


def unique_triggers(specs: Sequence[TriggerSpec]) -> None:
    """Refuse a second trigger of the same name, at its `name`."""
    seen: dict[str, TriggerSpec] = {}
    for spec in specs:
        first = seen.setdefault(spec.name, spec)
        if first is not spec:
            raise spec.place.error(
                f"two triggers named {spec.name!r} (the other: {first.place.where('name')})", "name"
            )


# -- respond -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SandboxCredentials:
    """The fixed test credentials of a running `reynard sandbox` (moto takes any). No settings key sets
    them: the runtime does, when playbooks go to the sandbox, so the user's own credentials never reach
    it and these never reach AWS."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class AwsSection:
    """`[respond.aws]`: where and how boto3 calls go. Credentials are never here: boto3 finds them
    (environment, profile, instance role), so no secret sits in Reynard's settings."""

    region: str | None = None
    endpoint_url: str | None = None  # any AWS-compatible endpoint (moto, LocalStack)
    profile: str | None = None
    max_attempts: int = 3  # botocore's standard retry mode, throttling included
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    # Set by the runtime only (Runtime.aws_route), never by a file: calls sign with these, not boto3's chain.
    sandbox_credentials: SandboxCredentials | None = field(default=None, kw_only=True)
    place: Place = field(default=IN_CODE.at("respond", "aws"), compare=False, repr=False, kw_only=True)

    KEYS: ClassVar[dict[str, Key]] = {
        "region": Key(non_empty),
        "endpoint_url": Key(url),
        "profile": Key(non_empty),
        "max_attempts": Key(at_least(1)),
        "connect_timeout": Key(positive),
        "read_timeout": Key(positive),
    }

    @classmethod
    def parse(cls, value: Any, place: Place) -> AwsSection:
        return cls(**read_table(value, place, cls.KEYS), place=place)


@dataclass(frozen=True)
class ForensicsSection:
    """`[respond.forensics]`: how reynard:capture-memory and friends run their commands."""

    memory_capture_command: str | None = None  # Linux; run as is by AWS-RunShellScript
    windows_memory_capture_command: str | None = None  # run by AWS-RunPowerShellScript
    timeout_seconds: float = 600.0
    output_s3_bucket: str | None = None  # full outputs (SSM returns at most 24,000 characters inline)
    output_s3_prefix: str = "reynard-forensics/"
    place: Place = field(default=IN_CODE.at("respond", "forensics"), compare=False, repr=False, kw_only=True)

    KEYS: ClassVar[dict[str, Key]] = {
        "memory_capture_command": Key(non_empty),
        "windows_memory_capture_command": Key(non_empty),
        "timeout_seconds": Key(positive),
        "output_s3_bucket": Key(non_empty),
        "output_s3_prefix": Key(string),
    }

    @classmethod
    def parse(cls, value: Any, place: Place) -> ForensicsSection:
        return cls(**read_table(value, place, cls.KEYS), place=place)


@dataclass(frozen=True)
class ActionsSection:
    """`[respond.actions]`: how the built-in actions check what they changed."""

    verify_attempts: int = 5  # fresh reads before a check is declared failed
    verify_delay_seconds: float = 2.0
    place: Place = field(default=IN_CODE.at("respond", "actions"), compare=False, repr=False, kw_only=True)

    KEYS: ClassVar[dict[str, Key]] = {
        "verify_attempts": Key(at_least(1)),
        "verify_delay_seconds": Key(not_negative),
    }

    @classmethod
    def parse(cls, value: Any, place: Place) -> ActionsSection:
        return cls(**read_table(value, place, cls.KEYS), place=place)


@dataclass(frozen=True)
class RespondSection:
    """`[respond]`: its four tables. Without named notifiers, reynard:notify uses `[[notifiers]]`."""

    aws: AwsSection = field(default_factory=AwsSection)
    notifiers: Mapping[str, NotifierSpec] = field(default_factory=lambda: Frozen({}))
    forensics: ForensicsSection = field(default_factory=ForensicsSection)
    actions: ActionsSection = field(default_factory=ActionsSection)
    place: Place = field(default=IN_CODE.at("respond"), compare=False, repr=False, kw_only=True)

    @classmethod
    def parse(cls, value: Any, place: Place) -> RespondSection:
        tables = {
            "aws": AwsSection.parse,
            "notifiers": _named_notifiers,
            "forensics": ForensicsSection.parse,
            "actions": ActionsSection.parse,
        }
        if not isinstance(value, Mapping):
            raise place.error(f"must be a table, not {kind_of(value)}")
        for key in value:
            if key not in tables:
                raise place.error(f"unknown key {key!r}; known: {', '.join(tables)}", key)
        return cls(**{key: tables[key](table, place.at(key)) for key, table in value.items()}, place=place)


def _named_notifiers(value: Any, place: Place) -> Mapping[str, NotifierSpec]:
    if not isinstance(value, Mapping):
        raise place.error(f"must be tables [{place.label}.NAME], not {kind_of(value)}")
    return Frozen({key: NotifierSpec.parse(spec, place.at(key)) for key, spec in value.items()})


def _placeholders(value: Any, place: Place) -> Mapping[str, tuple[str, ...]]:
    """`[sigma_placeholders]`: the values of each `%name%` a Sigma `|expand` modifier names."""
    if not isinstance(value, Mapping):
        raise place.error(f"must be a table, not {kind_of(value)}")
    found = {}
    for name, values in value.items():
        if not name:
            raise place.error("a placeholder needs a name", name)
        try:
            found[name] = strings(values)
        except Invalid as e:
            raise place.at(name).error(str(e)) from None
    return Frozen(found)


# -- the file ----------------------------------------------------------------------------------------------
SECTIONS = ("notifiers", "triggers", "respond", "sigma_placeholders")


def parse_sections(values: Mapping[str, Any], root: Place) -> dict[str, Any]:
    """The typed sections of a settings file's values, as `Settings` keyword arguments."""
    notifiers = tuple(NotifierSpec.parse(*table) for table in _array_of_tables(values, "notifiers", root))
    triggers = tuple(TriggerSpec.parse(*table) for table in _array_of_tables(values, "triggers", root))
    unique_triggers(triggers)
    respond = RespondSection.parse(values.get("respond", {}), root.at("respond"))
    placeholders = _placeholders(values.get("sigma_placeholders", {}), root.at("sigma_placeholders"))
    return {
        "notifiers": notifiers,
        "triggers": triggers,
        "respond": respond,
        "sigma_placeholders": placeholders,
    }


def _array_of_tables(values: Mapping[str, Any], key: str, root: Place) -> Iterator[tuple[Any, Place]]:
    tables = values.get(key, [])
    if not isinstance(tables, list):
        raise root.error(f"{key} must be an array of tables ([[{key}]]), not {kind_of(tables)}", key)
    for index, table in enumerate(tables):
        yield table, root.at(key, index)
