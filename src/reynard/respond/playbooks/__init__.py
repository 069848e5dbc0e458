"""Playbooks shipped with Reynard, as Amazon States Language definitions (`*.asl.json`), each with an example
input (`*.example_event.json`). `guardduty_crypto_mining` is the workshop's response; see docs/respond.md."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

_SUFFIX = ".asl.json"


def shipped() -> list[str]:
    """The names of the shipped playbooks (`guardduty_crypto_mining`, ...)."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name[: -len(_SUFFIX)] for f in files if f.name.endswith(_SUFFIX))


def definition(name: str) -> dict[str, Any]:
    """A shipped playbook's definition, parsed."""
    return json.loads(resources.files(__name__).joinpath(name + _SUFFIX).read_text(encoding="utf-8"))


def example_input(name: str) -> dict[str, Any]:
    """The example input shipped beside a playbook (a GuardDuty finding event for the workshop's)."""
    return json.loads(
        resources.files(__name__).joinpath(f"{name}.example_event.json").read_text(encoding="utf-8")
    )
