"""Reynard: an open-source SIEM and incident-response platform for cloud security teams."""

__version__ = "0.1.0"
