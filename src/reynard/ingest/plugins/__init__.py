"""The pipeline's plugins: key hygiene, per-source house fields, address checks, indicators, GeoIP.

Every plugin class is built the same way, `cls(settings)`, so `PLUGINS[name](settings)` makes any of
them. `default_plugins` is the set the ingest pipeline runs, in order:

    lower_keys [4]   every key lowercase, no leading @                 all events
    cloudtrail [10]  summary, verb, username, success; one type/leaf  source cloudtrail
    guardduty [10]   summary, severity, resource ids, remote address  source guardduty
    vpcflow [10]     summary, direction from internal_cidrs           source vpcflow
    ipfixup [15]     address fields hold valid IPs only                events with an address field
    indicators [16]  tag ioc, details.iocs: the indicators touched    while any indicator is active
    geoip [20]       country, network owner (city) of public IPs      events with an address field
"""

from __future__ import annotations

from reynard.ingest.pipeline import Plugin
from reynard.ingest.plugins.cloudtrail import CloudTrail
from reynard.ingest.plugins.geoip import GeoIP
from reynard.ingest.plugins.guardduty import GuardDuty
from reynard.ingest.plugins.indicators import Indicators
from reynard.ingest.plugins.ipfixup import IpFixup
from reynard.ingest.plugins.lower_keys import LowerKeys
from reynard.ingest.plugins.vpcflow import VpcFlow
from reynard.intel.live import LiveIndicators
from reynard.settings import Settings

PLUGINS: dict[str, type] = {
    cls.name: cls for cls in (LowerKeys, CloudTrail, GuardDuty, VpcFlow, IpFixup, Indicators, GeoIP)
}


def default_plugins(settings: Settings, indicators: LiveIndicators | None = None) -> list[Plugin]:
    """The default plugin set, ordered by priority; the indicator plugin matches `indicators` (none when
    None). Raises ConfigError for a bad GeoIP database."""
    plugins = [
        Indicators(settings, indicators) if cls is Indicators else cls(settings) for cls in PLUGINS.values()
    ]
    return sorted(plugins, key=lambda p: p.priority)


__all__ = [
    "PLUGINS",
    "CloudTrail",
    "GeoIP",
    "GuardDuty",
    "Indicators",
    "IpFixup",
    "LowerKeys",
    "VpcFlow",
    "default_plugins",
]
