"""Threat intelligence: indicator (IOC) lists, their import and export, matching events against them
(at ingest, `live.py`; over stored events, `hunt.py`)."""
