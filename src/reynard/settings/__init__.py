"""Settings: one object, read once at the edge (a TOML file, then REYNARD_* environment variables).

`load_settings` reads and checks everything, the sections included, before anything is built from it;
a mistake is one `ConfigError` naming the file and line (`reynard.toml:14: notifiers[1] (type slack):
unknown key 'uri'; known: url, timeout`). The modules, from the bottom up:

    locate.py    the line of each key path in a TOML or JSON text
    origin.py    Origin (a file or a variable) and Place (a key path in it): where an error points
    check.py     reading one table: known keys, types and values
    secret.py    Secret, a credential that never shows itself
    sections.py  the typed sections: notifiers, triggers, respond
    model.py     Settings, every setting with its default
    load.py      load_settings (file and environment) and parse_settings (values already read)

This package is at the bottom layer: it imports nothing of Reynard's but `reynard.errors`.
"""

from .load import load_settings, parse_settings
from .model import DEFAULT_INTERNAL_CIDRS, EVENT_STORES, Settings
from .origin import IN_CODE, Origin, Place
from .secret import Secret
from .sections import (
    TRIGGER_KINDS,
    ActionsSection,
    AwsSection,
    ForensicsSection,
    NotifierSpec,
    RespondSection,
    SandboxCredentials,
    TriggerKind,
    TriggerSpec,
    unique_triggers,
)

__all__ = [
    "DEFAULT_INTERNAL_CIDRS",
    "EVENT_STORES",
    "IN_CODE",
    "TRIGGER_KINDS",
    "ActionsSection",
    "AwsSection",
    "ForensicsSection",
    "NotifierSpec",
    "Origin",
    "Place",
    "RespondSection",
    "SandboxCredentials",
    "Secret",
    "Settings",
    "TriggerKind",
    "TriggerSpec",
    "load_settings",
    "parse_settings",
    "unique_triggers",
]
