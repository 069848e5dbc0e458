"""What can be wrong with a Sigma rule: invalid (the rule is wrong) or unsupported (valid Sigma that
Reynard cannot run). Both name the file and the place in the YAML (`detection.selection.eventName|re`),
with the line when it is known."""

from __future__ import annotations

from reynard.detect.errors import RuleError


class SigmaRuleError(RuleError):
    """An invalid Sigma rule: bad YAML, an unknown modifier, a condition naming a missing selection, a
    regex that cannot run, a correlation referencing an unknown rule."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        yaml_path: str | None = None,
        line: int | None = None,
    ):
        self.file, self.yaml_path, self.line = file, yaml_path, line
        place = ":".join(str(p) for p in (file, line) if p is not None) or None
        if yaml_path:
            message = f"{yaml_path}: {message}"
        super().__init__(message, where=place)

    def located(self, *, file: str | None = None, line: int | None = None) -> SigmaRuleError:
        """The same error with the file (and line) filled in where they were not known."""
        return type(self)(
            self.message.removeprefix(f"{self.yaml_path}: ") if self.yaml_path else self.message,
            file=self.file or file,
            yaml_path=self.yaml_path,
            line=self.line if self.line is not None else line,
        )


class SigmaUnsupported(SigmaRuleError):
    """A valid Sigma rule Reynard cannot run (a logsource it has no events for, a feature it lacks)."""


__all__ = ["SigmaRuleError", "SigmaUnsupported"]
