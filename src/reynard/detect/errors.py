"""Errors of detection rules: a rule file that cannot be loaded or run names the file (and the line)."""

from __future__ import annotations

from reynard.errors import ReynardError


class RuleError(ReynardError):
    """A detection rule that cannot be loaded or run; `where` is the file (`path:line` when known) or
    the alert class."""
