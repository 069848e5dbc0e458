"""geoip: where a public source or destination address is (country, network owner, city when known).

Why: "a login from a country we never log in from" and "API calls from a hosting provider" are common
rules, and the analyst wants the country next to the address. Runs after ipfixup, so the address fields
hold valid addresses only.

Adds `details.sourceipgeolocation` (and `destinationipgeolocation`): `country_code`, `country_name`,
`asn_name`, plus `asn` (number) and `city` when the data has them, and `details.sourceipgeopoint`
(`"lat,lon"`) when it has a location. Addresses that are not globally routable (private, loopback,
link-local, CGNAT, documentation, reserved, multicast) are skipped: they have no place on a map.

Data: by default geoip2fast's shipped `geoip2fast-asn-ipv6.dat.gz` (country and network owner, IPv4 and
IPv6, no city), loaded once per process on first use (about 0.2 s): nothing is downloaded. When
`Settings.geoip_mmdb` names a MaxMind City or Country database, it is used instead (city, country,
location), with `Settings.geoip_asn_mmdb` for the network owner; a file that is missing or not such a
database is a `ConfigError` when the plugin is built, naming the file. Lookups are cached (logs repeat
the same addresses), 65,536 per plugin.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import maxminddb

from reynard.errors import ConfigError
from reynard.events.ips import parse_ip
from reynard.settings import Settings

SHIPPED_DATA = "geoip2fast-asn-ipv6.dat.gz"
_SIDES = (
    ("sourceipaddress", "sourceipgeolocation", "sourceipgeopoint"),
    ("destinationipaddress", "destinationipgeolocation", "destinationipgeopoint"),
)

_fast: Any = None
_fast_lock = threading.Lock()


def _shipped() -> Any:
    """The geoip2fast reader over its shipped data, loaded once per process."""
    global _fast
    if _fast is None:
        with _fast_lock:
            if _fast is None:
                from geoip2fast import GeoIP2Fast

                _fast = GeoIP2Fast(geoip2fast_data_file=SHIPPED_DATA, verbose=False)
    return _fast


def _open(path: Path, setting: str, *, want_asn: bool) -> maxminddb.Reader:
    if not Path(path).is_file():
        raise ConfigError(f"setting {setting}: GeoIP database file not found", where=str(path))
    try:
        reader = maxminddb.open_database(str(path))
        kind = str(reader.metadata().database_type)
    except (maxminddb.InvalidDatabaseError, OSError, ValueError) as e:
        message = f"setting {setting}: not a readable MaxMind database ({e})"
        raise ConfigError(message, where=str(path)) from None
    if ("ASN" in kind.upper()) != want_asn:
        reader.close()
        wanted = "an ASN" if want_asn else "a City or Country"
        raise ConfigError(f"setting {setting}: needs {wanted} database, this one is {kind}", where=str(path))
    return reader


def _name(record: object) -> str | None:
    if type(record) is not dict:
        return None
    names = record.get("names")
    return names.get("en") if type(names) is dict else None


class GeoIP:
    """Country, network owner and (with a MaxMind City database) city of public addresses."""

    name: ClassVar[str] = "geoip"
    priority: ClassVar[int] = 20

    def __init__(self, settings: Settings | None = None):
        settings = settings or Settings()
        city, asn = settings.geoip_mmdb, settings.geoip_asn_mmdb
        self._city = _open(city, "geoip_mmdb", want_asn=False) if city else None
        self._asn = _open(asn, "geoip_asn_mmdb", want_asn=True) if asn else None
        self.lookup = lru_cache(maxsize=65_536)(self._lookup)

    def wants(self, draft: dict) -> bool:
        details = draft.get("details")
        return type(details) is dict and ("sourceipaddress" in details or "destinationipaddress" in details)

    def apply(self, draft: dict) -> dict:
        details = draft["details"]
        for field, location, point in _SIDES:
            address = details.get(field)
            if type(address) is not str:
                continue
            found = self.lookup(address)
            if found is not None:
                details[location] = dict(found[0])
                if found[1] is not None:
                    details[point] = found[1]
        return draft

    def _lookup(self, text: str) -> tuple[dict, str | None] | None:
        """(geolocation, "lat,lon" or None) of a public address; None for others and unknowns."""
        ip = parse_ip(text)
        if ip is None or not ip.is_global or ip.is_multicast:
            return None
        geo: dict[str, Any] = {}
        point = None
        if self._city is None:
            found = _shipped().lookup(str(ip))
            code = found.country_code
            if isinstance(code, str) and len(code) == 2 and code.isalpha():
                geo["country_code"] = code
                geo["country_name"] = found.country_name
            if found.asn_name and not found.asn_name.startswith("<"):
                geo["asn_name"] = found.asn_name
        else:
            record = self._city.get(str(ip))
            if type(record) is dict:
                country = record.get("country") or record.get("registered_country")
                if type(country) is dict and country.get("iso_code"):
                    geo["country_code"] = country["iso_code"]
                    geo["country_name"] = _name(country) or country["iso_code"]
                city = _name(record.get("city"))
                if city:
                    geo["city"] = city
                loc = record.get("location")
                if type(loc) is dict and loc.get("latitude") is not None and loc.get("longitude") is not None:
                    point = f"{loc['latitude']},{loc['longitude']}"
        if self._asn is not None:
            record = self._asn.get(str(ip))
            if type(record) is dict:
                if record.get("autonomous_system_number") is not None:
                    geo["asn"] = record["autonomous_system_number"]
                if record.get("autonomous_system_organization"):
                    geo["asn_name"] = record["autonomous_system_organization"]
        return (geo, point) if geo else None
