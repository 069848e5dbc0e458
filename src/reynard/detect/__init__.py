"""Detection rules with MozDef's alert API (`AlertTask`), run against an event source.

`load_alert_file` loads MozDef's own alert files unmodified; `MemorySource` and `StoreSource` are where
their searches go.
"""

from reynard.detect.alerttask import AlertTask, add_hostname_to_ip, set_hostname_resolver
from reynard.detect.deadman import DeadmanAlertTask
from reynard.detect.errors import RuleError
from reynard.detect.sources import EventSource, MemorySource, StoreSource

__all__ = [
    "AlertTask",
    "DeadmanAlertTask",
    "EventSource",
    "MemorySource",
    "RuleError",
    "StoreSource",
    "add_hostname_to_ip",
    "load_alert_file",
    "set_hostname_resolver",
]


def __getattr__(name: str):
    # Imported on first use: loading the shims is only needed for MozDef alert files.
    if name == "load_alert_file":
        from reynard.detect.mozdef_compat import load_alert_file

        return load_alert_file
    raise AttributeError(name)
