"""The normalized event (MozDef format): field paths, timestamps, validation."""

from reynard.events.event import REQUIRED_FIELDS, SEVERITIES, finalize, stable_id
from reynard.events.fields import get_path
from reynard.events.timestamps import parse_timestamp

__all__ = ["REQUIRED_FIELDS", "SEVERITIES", "finalize", "get_path", "parse_timestamp", "stable_id"]
