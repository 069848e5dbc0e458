"""Where the tests' own files are, whatever folder a test module sits in."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
ALERTS = TESTS / "alerts"  # MozDef-style alert files written for the tests
