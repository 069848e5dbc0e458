"""Matching an event against a set of indicators: one look at each field that can hold each kind.

Where each kind is looked for (a value of a list matches as any one element):

    ip          every address of the virtual field `ip`: the `details` keys of `events.fields.IP_KEYS`
                (source and destination addresses, their v4/v6 copies, `ipaddress`, `publicip`, ...).
                Addresses and networks are filed by prefix length: an address is tested with one dict
                look-up per distinct prefix length in the set (a collapsed CIDR trie), so nested
                networks all match and the cost does not grow with the number of indicators.
    domain      `DOMAIN_FIELDS` (GuardDuty's DNS request domain as `details.domain`, host names that
                ipfixup moved out of address fields, DNS and HTTP log fields, the event's `hostname`):
                the name and each parent zone are looked up, so `evil.example` matches
                `c2.evil.example` (a trailing dot and a `:port` are ignored, case never matters).
    access_key  `ACCESS_KEY_FIELDS`: CloudTrail's `userIdentity.accessKeyId`, GuardDuty's access key.
    principal   `PRINCIPAL_FIELDS`: CloudTrail's `userIdentity` (ARN, user name, principal id, account,
                and the role behind an assumed-role session), and `details.username`; case-insensitive.
    hash        any string in `details` that is 32, 40 or 64 characters long, lowercased.
    term        the words of the summary, the hostname and every string in `details`: a term matches
                where its words appear in a row, whole, case-insensitively (`Invoke-Mimikatz` matches
                "invoke mimikatz" and "INVOKE-MIMIKATZ", not "mimikatzz"), as MozDef's watchlist
                query-string search did.

Hashes and terms cost the most: only when the set holds some, a quick test reads all of `details` at
once as JSON text (its words in a set), and only when that finds a candidate does the walk that names
the field run. Each indicator is reported once per event, with the first field it was found in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from reynard.events.fields import IP_KEYS, PathTrie, leaves
from reynard.events.ips import ip_number, parse_ip
from reynard.intel.indicators import HASH_LENGTHS, Indicator, words

DOMAIN_FIELDS = (
    "details.domain",
    "details.sourcehostname",
    "details.destinationhostname",
    "details.hostname",
    "details.query_name",
    "details.queryname",
    "details.host",
    "details.servername",
    "details.fqdn",
    "hostname",
)
ACCESS_KEY_FIELDS = (
    "details.useridentity.accesskeyid",
    "details.accesskeyid",
)
PRINCIPAL_FIELDS = (
    "details.useridentity.arn",
    "details.useridentity.username",
    "details.useridentity.principalid",
    "details.useridentity.accountid",
    "details.useridentity.sessioncontext.sessionissuer.arn",
    "details.useridentity.sessioncontext.sessionissuer.username",
    "details.username",
)
_IP_FIELDS = tuple((key, f"details.{key}") for key in IP_KEYS)
# ASCII text to words as `indicators.words` cuts them (runs of letters, digits, _), at C speed.
_NON_WORD = str.maketrans({chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")})
_ESCAPES = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|.)")  # one escape at a time: `\\` before "new" keeps "new"


class Ref(NamedTuple):
    """What a match reports of an indicator (a tuple: a reload builds one per indicator)."""

    id: int
    kind: str
    value: str
    source: str | None
    reference: str | None


@dataclass(frozen=True, slots=True)
class Hit:
    """An indicator found in an event: at `field`, where the event holds `matched`."""

    ref: Ref
    field: str
    matched: str

    def as_dict(self) -> dict[str, Any]:
        """The entry of `details.iocs` (keys without a value are left out)."""
        ref = self.ref
        entry = {"kind": ref.kind, "value": ref.value, "field": self.field, "matched": self.matched}
        if ref.source:
            entry["source"] = ref.source
        if ref.reference:
            entry["reference"] = ref.reference
        entry["id"] = ref.id
        return entry


@lru_cache(maxsize=65_536)
def _address(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address as `parse_ip` reads it, or None (remembered: looked up per event)."""
    address = parse_ip(text)
    return None if address is None else (address.version, int(address))


def _strings(value: Any) -> list[str]:
    if type(value) is str:
        return [value]
    return [leaf for leaf in leaves(value) if type(leaf) is str]


def _walk(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Every string under `value` with its dotted path."""
    kind = type(value)
    if kind is str:
        out.append((path, value))
    elif kind is dict:
        for k, v in value.items():
            _walk(v, f"{path}.{k}", out)
    elif kind is list:
        for v in value:
            _walk(v, path, out)


def _domain_name(text: str) -> str | None:
    name = text.strip().lower().rstrip(".")
    if ":" in name and name.count(":") == 1:
        name = name.partition(":")[0]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return name or None


class IndicatorSet:
    """Indicators compiled for matching (build once per change of the lists; `match` per event)."""

    def __init__(self, items: Iterable[Indicator | Any]):
        """`items`: Indicators, or any rows with their id, kind, value, key, source, reference."""
        self.count = 0
        # version -> [(shift, {network >> shift: ref})], longest prefix first
        networks: dict[int, dict[int, dict[int, Ref]]] = {4: {}, 6: {}}
        self.domains: dict[str, Ref] = {}
        self.access_keys: dict[str, Ref] = {}
        self.principals: dict[str, Ref] = {}
        self.hashes: dict[str, Ref] = {}
        self.terms: dict[str, list[tuple[list[str], Ref]]] = {}  # first word -> (words, ref)
        for item in items:
            ref = Ref(item.id, item.kind, item.value, item.source, item.reference)
            self.count += 1
            if item.kind == "ip":
                address, _, length = item.key.partition("/")  # canonical: `check` wrote it
                version, number = ip_number(address)
                shift = (32 if version == 4 else 128) - int(length) if length else 0
                networks[version].setdefault(shift, {})[number >> shift] = ref
            elif item.kind == "domain":
                self.domains[item.key] = ref
            elif item.kind == "access_key":
                self.access_keys[item.key] = ref
            elif item.kind == "principal":
                self.principals[item.key] = ref
            elif item.kind == "hash":
                self.hashes[item.key] = ref
            elif item.kind == "term":
                parts = item.key.split()
                if parts:
                    self.terms.setdefault(parts[0], []).append((parts, ref))
        self.networks = {version: sorted(tables.items()) for version, tables in networks.items() if tables}
        fields = [
            *(("domain", f) for f in DOMAIN_FIELDS if self.domains),
            *(("access_key", f) for f in ACCESS_KEY_FIELDS if self.access_keys),
            *(("principal", f) for f in PRINCIPAL_FIELDS if self.principals),
        ]
        self._fields = PathTrie(((kind, path), path) for kind, path in fields) if fields else None
        self._walks = bool(self.hashes or self.terms)
        self._first_words = frozenset(self.terms)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def match(self, event: dict) -> list[Hit]:
        """The indicators `event` touches, each once, in the order found."""
        details = event.get("details")
        if type(details) is not dict:
            details = {}
        found: dict[int, Hit] = {}
        if self.networks:
            self._match_ips(details, found)
        if self._fields is not None:
            self._match_fields(self._fields, event, found)
        if self._walks:
            self._match_strings(event, details, found)
        return list(found.values())

    def _match_ips(self, details: dict, found: dict[int, Hit]) -> None:
        networks = self.networks
        done: set[str] = set()  # ipfixup copies each address to its v4/v6 field: look it up once
        for key, field in _IP_FIELDS:
            value = details.get(key)
            if value is None:
                continue
            for text in (value,) if type(value) is str else _strings(value):
                if text in done:
                    continue
                done.add(text)
                parsed = _address(text)
                if parsed is None:
                    continue
                tables = networks.get(parsed[0])
                if tables is None:
                    continue
                number = parsed[1]
                for shift, table in tables:
                    ref = table.get(number >> shift)
                    if ref is not None and ref.id not in found:
                        found[ref.id] = Hit(ref, field, text)

    def _match_fields(self, fields: PathTrie[tuple[str, str]], event: dict, found: dict[int, Hit]) -> None:
        for tags, value in fields.reach(event):
            for text in _strings(value):
                for kind, field in tags:
                    if kind == "domain":
                        self._match_domain(text, field, found)
                        continue
                    table = self.access_keys if kind == "access_key" else self.principals
                    key = text.strip()
                    ref = table.get(key.upper() if kind == "access_key" else key.lower())
                    if ref is not None and ref.id not in found:
                        found[ref.id] = Hit(ref, field, text)

    def _match_domain(self, text: str, field: str, found: dict[int, Hit]) -> None:
        name = _domain_name(text)
        domains = self.domains
        while name:
            ref = domains.get(name)
            if ref is not None and ref.id not in found:
                found[ref.id] = Hit(ref, field, text)
            dot = name.find(".")
            if dot < 0:
                return
            name = name[dot + 1 :]

    def _may_match_strings(self, event: dict, details: dict) -> bool:
        """A quick test on all of `details` at once, as its JSON text: can a hash or a term match?
        Most events hold none, and then the walk that names the fields is not needed. The words of the
        text are a superset of the words of its strings (keys are words too; escapes that would glue
        letters together are blanked first); a hash is a whole string, so it is one of those words."""
        try:
            text = orjson.dumps(details).decode()
        except (TypeError, ValueError):  # not JSON-able (a test's object): decide by the walk
            return True
        if "\\" in text:
            text = _ESCAPES.sub(" ", text)
        if self.terms:
            extra = [v for v in (event.get("summary"), event.get("hostname")) if type(v) is str]
            text = "\n".join([text, *extra])
        found = set(text.translate(_NON_WORD).lower().split() if text.isascii() else words(text))
        if self.hashes and not found.isdisjoint(self.hashes):
            return True
        return bool(self.terms) and not self._first_words.isdisjoint(found)

    def _match_strings(self, event: dict, details: dict, found: dict[int, Hit]) -> None:
        if not self._may_match_strings(event, details):
            return
        texts: list[tuple[str, str]] = []
        if self.terms:
            for name in ("summary", "hostname"):
                value = event.get(name)
                if type(value) is str:
                    texts.append((name, value))
        _walk(details, "details", texts)
        hashes, terms = self.hashes, self.terms
        for field, text in texts:
            if hashes and len(text) in HASH_LENGTHS:
                ref = hashes.get(text.lower())
                if ref is not None and ref.id not in found:
                    found[ref.id] = Hit(ref, field, text)
            if terms:
                tokens = words(text)
                for i, token in enumerate(tokens):
                    candidates = terms.get(token)
                    if candidates is None:
                        continue
                    for parts, ref in candidates:
                        if ref.id not in found and tokens[i : i + len(parts)] == parts:
                            found[ref.id] = Hit(ref, field, " ".join(parts))


EMPTY = IndicatorSet(())
