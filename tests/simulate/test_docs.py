"""docs/simulate.md names every key, step kind, call and placeholder a scenario may use."""

import re
from pathlib import Path

from reynard.simulate.calls import CALLS
from reynard.simulate.scenario import KEYS, PLACEHOLDERS
from reynard.simulate.steps import KINDS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "simulate.md").read_text()


def test_every_key_kind_and_placeholder_is_documented():
    missing = [f"`{k}`" for k in (*KEYS, *KINDS) if f"`{k}`" not in DOC]
    missing += [f"{{{p}" for p in PLACEHOLDERS if f"`{{{p}" not in DOC]
    assert not missing, f"not in docs/simulate.md: {missing}"


def test_every_call_is_documented():
    words = set(re.findall(r"\b[A-Z][A-Za-z0-9]+\b", DOC))
    missing = [call for call in CALLS if call not in words]
    assert not missing, f"not in docs/simulate.md: {missing}"
