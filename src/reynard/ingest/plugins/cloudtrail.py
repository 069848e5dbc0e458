"""cloudtrail: the house fields of a CloudTrail record, and one type per field in its free-form parts.

Why: detection rules and the console want the same few fields on every event (`username`, `success`,
`error`, a verb to group API calls by), and CloudTrail spreads them over `userIdentity`, `errorCode` and
the event name. Runs after lower_keys, so it reads `details.eventname`, `details.useridentity`, ...

Fields it sets:

- `summary`: `<sourceipaddress> performed <eventname> in <eventsource>`.
- `category`: the record's `eventtype` (`AwsApiCall`, `AwsConsoleSignIn`, `AwsServiceEvent`, ...).
- `details.eventverb`: the first camelCase word of the event name (`DescribeInstances` -> `Describe`,
  `GetCallerIdentity` -> `Get`, `BatchGetSecretValue` -> `Batch`, `AddPermission20150331v2` -> `Add`).
  Sign-in events (eventtype `AwsConsoleSignIn`: `ConsoleLogin`, `CheckMfa`, ...) are not API calls,
  so their verb is the whole name (`ConsoleLogin`).
- `details.username`: `userName` when the identity has one; `root` for the account root; otherwise the
  last part of the ARN, which for an assumed role is the session name
  (`arn:aws:sts::1:assumed-role/Admin/alice` -> `alice`); for an AWS service, the service (`invokedBy`).
- `details.success`: False when the record has an `errorcode`, or is a failed console sign-in
  (`responseelements.consolelogin == "Failure"`); `details.error`: the error code (or message).
- The severity stays as the parser set it (INFO).

Type rule for the free-form subtrees (`requestparameters`, `responseelements`, `additionaleventdata`,
`serviceeventdetails`): their shape depends on the API called, so the same key is an object in one record,
a number or a boolean in another (MozDef wrapped 73 such keys in `{raw_value}`). Here every scalar leaf in
them becomes a string (booleans `"true"`/`"false"`, numbers their JSON text, null stays null), lists of
scalars become lists of strings, objects stay objects: the `flattened`/`flat_object` idea, so a leaf never
changes type between records. The one conflict left is a key that is an object in one record and a string
in another; it is kept as is, since the store's JSON field (tantivy, OpenSearch flat_object) accepts both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import ClassVar

from reynard.settings import Settings

FREE_FORM = ("requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails")
_SIGN_IN = "AwsConsoleSignIn"
_FIRST_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


@lru_cache(maxsize=4096)
def event_verb(event_name: str, event_type: str | None = None) -> str:
    """The leading verb of a CloudTrail event name (see the module docstring)."""
    if event_type == _SIGN_IN:
        return event_name
    m = _FIRST_WORD.match(event_name)
    if m is None:
        return event_name
    word = m.group()
    return word[:1].upper() + word[1:]


def texts(value: object) -> object:
    """Every scalar leaf of `value` as a string (null stays null); containers are changed in place."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is dict:
        for k, v in value.items():  # type: ignore[attr-defined]
            if type(v) is not str and v is not None:
                value[k] = texts(v)  # type: ignore[index]
        return value
    if kind is list:
        for i, v in enumerate(value):  # type: ignore[arg-type]
            if type(v) is not str and v is not None:
                value[i] = texts(v)  # type: ignore[index]
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return repr(value)
    return str(value)


def username(identity: dict) -> str | None:
    """Who made the call, as one name (see the module docstring)."""
    if identity.get("type") == "Root":
        return "root"
    name = identity.get("username")
    if isinstance(name, str) and name:
        return name
    arn = identity.get("arn")
    if isinstance(arn, str) and "/" in arn:
        return arn.rsplit("/", 1)[1] or None
    invoked_by = identity.get("invokedby")
    if isinstance(invoked_by, str) and invoked_by:
        return invoked_by
    return None


class CloudTrail:
    """House fields for CloudTrail records: summary, category, verb, username, success and error."""

    name: ClassVar[str] = "cloudtrail"
    priority: ClassVar[int] = 10

    def __init__(self, settings: Settings | None = None):
        pass

    def wants(self, draft: dict) -> bool:
        return draft.get("source") == "cloudtrail"

    def apply(self, draft: dict) -> dict:
        details = draft.get("details")
        if type(details) is not dict:
            return draft
        event_type = details.get("eventtype")
        if isinstance(event_type, str) and event_type:
            draft["category"] = event_type
        else:
            event_type = None
        event_name = details.get("eventname")
        if isinstance(event_name, str) and event_name:
            details["eventverb"] = event_verb(event_name, event_type)
            address = details.get("sourceipaddress")
            draft["summary"] = (
                f"{'unknown' if address is None else address} performed {event_name} "
                f"in {details.get('eventsource') or 'unknown'}"
            )

        identity = details.get("useridentity")
        if type(identity) is dict:
            name = username(identity)
            if name is not None:
                details["username"] = name

        error = details.get("errorcode")
        if not error:
            response = details.get("responseelements")
            if type(response) is dict and response.get("consolelogin") == "Failure":
                error = details.get("errormessage") or "Failure"
        details["success"] = not error
        if error:
            details["error"] = error if type(error) is str else str(error)

        for key in FREE_FORM:
            value = details.get(key)
            if value is not None and type(value) is not str:
                details[key] = texts(value)
        return draft
