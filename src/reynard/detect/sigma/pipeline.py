"""Reynard's pySigma processing pipeline: which events a Sigma logsource sees, and what Sigma's field
names are called in them.

The logsource table (`LOGSOURCES`) is the one place that says what Reynard has events for:

| logsource | events | fields |
|---|---|---|
| `aws` / `cloudtrail` | `source:cloudtrail` | CloudTrail's names under `details`, lowercased |
| `aws` / `guardduty` | `source:guardduty` | the finding's keys under `details`, lowercased |
| `aws` / `vpcflow` | `source:vpcflow` | the flow log's field names, as the vpcflow parser names them |
| `linux` (no service) and `linux` / `syslog` | `source:syslog` | a small table (`SYSLOG_FIELDS`) |
| `linux` / `sshd` | syslog events of `sshd` (and `sshd-session`) | the same table |
| `linux` / `auth` | syslog events of `AUTH_PROGRAMS` or of the auth/authpriv facilities | the same table |

Any other logsource (a category such as `process_creation`, `windows`, `linux` / `auditd`) is
`SigmaUnsupported`: Reynard has no such events, and a rule converted anyway would silently never fire.

In every logsource a field that is already a Reynard path (`details.…`, lowercased; or a top-level
event field such as `summary`, `hostname`, `source`, `tags`; or `ip`) is kept, so rules can be written
on normalized events, except where the logsource's own names come first (a GuardDuty finding's `id`,
`type` and `severity`, a VPC flow's `type`). A field may map to several paths, all OR-ed:
CloudTrail's `sourceIPAddress` is an address, or, where the `ipfixup` plugin moved a non-address,
`sourceservice` (`AWS Internal`, `ec2.amazonaws.com`), `sourcehostname` or `sourceipaddress_raw`.

`reynard_pipeline(placeholders)` is the pySigma `ProcessingPipeline` built from pySigma's own
transformations: `ValueListPlaceholderTransformation` fills `expand` placeholders (`%name%`) from the
`sigma_placeholders` setting, and one `FieldFunctionTransformation` per logsource maps field names.
`map_field(name, logsource)` maps one name the same way (correlations' `group-by` and `field`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldFunctionTransformation,
    ValueListPlaceholderTransformation,
)

from reynard.detect.sigma.errors import SigmaUnsupported
from reynard.events.event import REQUIRED_FIELDS
from reynard.events.fields import ANY_IP
from reynard.ingest.sources.vpcflow import KNOWN_FIELDS as VPCFLOW_FIELDS
from reynard.ingest.sources.vpcflow import RENAMED as VPCFLOW_RENAMED
from reynard.query import ast

# The Sigma specification's `utf16le` is `wide` (UTF-16LE without a byte order mark); pySigma 2.0 knows
# only `wide`, `utf16` and `utf16be`. Registered before any rule is parsed with this module imported.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)

PLACEHOLDERS_SETTING = "sigma_placeholders"
DETAILS = "details."
TOP_LEVEL = frozenset((*REQUIRED_FIELDS, "errors", ANY_IP))

Logsource = tuple[str | None, str | None, str | None]  # product, service, category (DetectionRule's)
Mapped = str | list[str]


def is_reynard_path(name: str) -> bool:
    """Whether a field name is already a path of the normalized event."""
    return name.startswith(DETAILS) or name in TOP_LEVEL


# -- field names, per source ------------------------------------------------------------------------
def _details(name: str) -> str:
    """CloudTrail and GuardDuty: the raw record is `details`, every key lowercased (`lower_keys`)."""
    return DETAILS + name.lower()


def _guardduty(name: str) -> str:
    """A finding key; `detail.x` (the finding inside its EventBridge event) is the finding's `x`."""
    lowered = name.lower()
    return DETAILS + lowered.removeprefix("detail.")


def _vpcflow(name: str) -> str:
    """As `reynard.ingest.sources.vpcflow` names a field: `srcaddr` is `sourceipaddress`, `log-status`
    (or `log_status`) is `logstatus`, other dashes dropped (`interface-id` is `interfaceid`)."""
    dashed = name.lower().replace("_", "-")
    return DETAILS + (VPCFLOW_RENAMED.get(dashed) or dashed.replace("-", ""))


# The `details` keys of syslog events (`reynard.ingest.sources.syslog`: sshd and pam lines, RFC 5424).
SYSLOG_DETAILS = (
    "username",
    "sourceipaddress",
    "sourcehostname",
    "sourceport",
    "action",
    "authmethod",
    "success",
    "invaliduser",
    "keytype",
    "fingerprint",
    "reason",
    "reasoncode",
    "repeated",
    "subsystem",
    "facility",
    "msgid",
    "structureddata",
    "program",
)
# Names of Sigma's Linux rules (pam fields, generic names) with an equivalent in syslog events. Every
# key of `SYSLOG_DETAILS` is also accepted bare (`username`, `action`).
SYSLOG_FIELDS: dict[str, Mapped] = {
    "pam_user": "details.username",
    "user": "details.username",
    "pam_rhost": ["details.sourceipaddress", "details.sourcehostname"],
    "rhost": ["details.sourceipaddress", "details.sourcehostname"],
    "src_ip": "details.sourceipaddress",
    "src_port": "details.sourceport",
    "program": "details.program",
    "pid": "processid",
    "host": "hostname",
    "message": "summary",
    "msg": "summary",
    **{key: DETAILS + key for key in SYSLOG_DETAILS},
}
# sshd's programs: OpenSSH 9.8 and later logs each connection as `sshd-session`.
SSHD_PROGRAMS = ("sshd", "sshd-session")
# Programs whose lines a Linux `auth` log (auth.log, /var/log/secure) holds.
AUTH_PROGRAMS = (
    *SSHD_PROGRAMS,
    "sudo",
    "su",
    "login",
    "systemd-logind",
    "passwd",
    "chpasswd",
    "chage",
    "useradd",
    "userdel",
    "usermod",
    "groupadd",
    "groupdel",
    "groupmod",
    "polkitd",
    "pkexec",
    "gdm-password",
    "CRON",
    "cron",
)
AUTH_FACILITIES = ("auth", "authpriv")


# -- the logsource table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """A logsource Reynard has events for: the events it sees and how its fields are named there.

    A field name is looked up in `renames` (lowercased), else kept when it is a Reynard path, else
    given to `default`; no `default` means no equivalent (a `SigmaUnsupported` at conversion)."""

    product: str
    service: str | None
    events: ast.Node
    described: str  # "CloudTrail events", for messages
    renames: Mapping[str, Mapped] = field(default_factory=dict)
    default: Callable[[str], str] | None = None

    def mapped(self, name: str) -> Mapped | None:
        renamed = self.renames.get(name.lower())
        if renamed is not None:
            return list(renamed) if isinstance(renamed, list) else renamed
        if name.startswith(DETAILS):
            return name.lower()
        if name in TOP_LEVEL:
            return name
        return None if self.default is None else self.default(name)


_SYSLOG = ast.Term("source", "syslog")
_CLOUDTRAIL_RENAMES: dict[str, Mapped] = {
    "sourceipaddress": [
        "details.sourceipaddress",
        "details.sourceservice",
        "details.sourcehostname",
        "details.sourceipaddress_raw",
    ],
}
# The finding's own keys that are also top-level event fields: in a GuardDuty rule they mean the finding's.
_GUARDDUTY_RENAMES: dict[str, Mapped] = {
    alias: DETAILS + name for name in ("id", "type", "severity") for alias in (name, f"detail.{name}")
}
_VPCFLOW_RENAMES: dict[str, Mapped] = {
    alias: _vpcflow(name) for name in VPCFLOW_FIELDS for alias in (name, name.replace("-", "_"))
}

LOGSOURCES: tuple[Source, ...] = (
    Source(
        "aws",
        "cloudtrail",
        ast.Term("source", "cloudtrail"),
        "CloudTrail events",
        _CLOUDTRAIL_RENAMES,
        _details,
    ),
    Source(
        "aws",
        "guardduty",
        ast.Term("source", "guardduty"),
        "GuardDuty findings",
        _GUARDDUTY_RENAMES,
        _guardduty,
    ),
    Source("aws", "vpcflow", ast.Term("source", "vpcflow"), "VPC flow events", _VPCFLOW_RENAMES, _vpcflow),
    Source("linux", None, _SYSLOG, "syslog events", SYSLOG_FIELDS),
    Source("linux", "syslog", _SYSLOG, "syslog events", SYSLOG_FIELDS),
    Source(
        "linux",
        "sshd",
        ast.Bool(must=(_SYSLOG, ast.Terms("processname", SSHD_PROGRAMS))),
        "sshd's syslog events",
        SYSLOG_FIELDS,
    ),
    Source(
        "linux",
        "auth",
        ast.Bool(
            must=(_SYSLOG,),
            should=(
                ast.Terms("processname", AUTH_PROGRAMS),
                ast.Terms("details.facility", AUTH_FACILITIES),
            ),
            minimum_should_match=1,
        ),
        "syslog events of authentication programs",
        SYSLOG_FIELDS,
    ),
)
_BY_KEY = {(s.product, s.service): s for s in LOGSOURCES}


def _described(product: str | None, service: str | None, category: str | None) -> str:
    parts = [f"{name} {value}" for name, value in (("product", product), ("service", service)) if value]
    if category:
        parts.append(f"category {category}")
    return ", ".join(parts)


def source_for(logsource: Logsource) -> Source:
    """The table entry of a rule's logsource, or SigmaUnsupported with the reason."""
    product, service, category = logsource
    found = _BY_KEY.get((product or "", service)) if not category else None
    if found is not None:
        return found
    known = ", ".join(f"{s.product}/{s.service}" if s.service else s.product for s in LOGSOURCES)
    if category and (product, service) in _BY_KEY:
        reason = f"Reynard has no {category} events for {_described(product, service, None)}"
    else:
        reason = f"Reynard has no events for logsource {_described(product, service, category)}"
    raise SigmaUnsupported(f"{reason} (it has: {known})", yaml_path="logsource")


def map_field(name: str, logsource: Logsource) -> str:
    """The Reynard path of Sigma field `name` in `logsource` (the first, where it maps to several);
    SigmaUnsupported when the logsource or the field has no equivalent."""
    source = source_for(logsource)
    mapped = source.mapped(name)
    if not mapped:
        raise SigmaUnsupported(f"field {name!r} has no equivalent in Reynard's {source.described}")
    return mapped if isinstance(mapped, str) else mapped[0]


def reynard_pipeline(placeholders: Mapping[str, Sequence[str]] | None = None) -> ProcessingPipeline:
    """Reynard's processing pipeline: placeholders filled, then field names mapped per logsource."""
    items = [
        ProcessingItem(ValueListPlaceholderTransformation(), identifier="reynard_placeholders"),
    ]
    families = {}  # one field mapping per distinct table of names: linux's services share one
    for source in LOGSOURCES:
        key = (source.product, source.service if source.product == "aws" else None)
        families.setdefault(key, source)
    for (product, service), source in families.items():
        items.append(
            ProcessingItem(
                FieldFunctionTransformation(mapping={}, transform_func=source.mapped),  # type: ignore[arg-type]
                rule_conditions=[LogsourceCondition(product=product, service=service)],
                identifier=f"reynard_fields_{product}{'_' + service if service else ''}",
            )
        )
    values = {name: [v] if isinstance(v, str) else list(v) for name, v in (placeholders or {}).items()}
    return ProcessingPipeline(items=items, vars=values, name="Reynard normalized events")


__all__ = [
    "AUTH_PROGRAMS",
    "LOGSOURCES",
    "PLACEHOLDERS_SETTING",
    "SSHD_PROGRAMS",
    "SYSLOG_FIELDS",
    "Source",
    "is_reynard_path",
    "map_field",
    "reynard_pipeline",
    "source_for",
]
