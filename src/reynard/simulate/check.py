"""`simulate check`: did the scenario's attack raise the alerts it expects, and nothing else?

Two parts, both on plain values (the CLI runs the real ingest and the rules in a scratch data directory
in between): `rule_configs`, what the built-in rules must know of the estate (its networks, which roles
are production, which buckets are public on purpose: facts a SOC configures, not thresholds tuned to the
scenario), and `compare`, each expectation found (with the alert that meets it) or missed, and every
alert no expectation accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reynard.detect.registry import RuleRegistry
from reynard.settings import DEFAULT_INTERNAL_CIDRS
from reynard.simulate.environment import Environment, Estate
from reynard.simulate.scenario import Expectation, Scenario, subjects


def internal_networks(environment: Environment) -> tuple[str, ...]:
    """Reynard's default internal networks, the corporate networks, the VPC and the VPN's egress."""
    return tuple(
        dict.fromkeys(
            (
                *DEFAULT_INTERNAL_CIDRS,
                *environment.corporate_cidrs,
                environment.vpc_cidr,
                *environment.vpn_cidrs,
            )
        )
    )


def rule_configs(environment: Environment) -> dict[str, dict[str, Any]]:
    """The built-in rules' config keys the estate decides."""
    ours = list(internal_networks(environment))
    configs: dict[str, dict[str, Any]] = {
        "ssh_from_outside": {"internal_cidrs": ours},
        "principal_multiple_ips": {"internal_cidrs": ours},
    }
    production = sorted({s.role for s in environment.services if s.production})
    if production:
        configs["excessive_describe"] = {
            "production_principals": [
                pattern
                for role in production
                for pattern in (f"arn:aws:sts::*:assumed-role/{role}/*", f"arn:aws:iam::*:role/{role}")
            ]
        }
    public = [b.name for b in environment.buckets if b.public]
    if public:
        configs["s3_bucket_public"] = {"public_buckets": public}
    return configs


def configure_rules(registry: RuleRegistry, environment: Environment) -> dict[str, dict[str, Any]]:
    """Set `rule_configs` on the registry's built-in rules (kept: their schedule, their other keys)."""
    configs = rule_configs(environment)
    for name, config in configs.items():
        info = registry.get(name)
        registry.register(
            name, "builtin", path=None, schedule=info.schedule, config={**info.config, **config}
        )
    return configs


@dataclass
class CheckReport:
    found: list[tuple[Expectation, dict]] = field(default_factory=list)
    missed: list[Expectation] = field(default_factory=list)
    unexpected: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.missed and not self.unexpected

    def lines(self) -> list[str]:
        lines = [
            f"found       {e.label()}: alert {a['id']} ({a['rule']}): {a['summary']}" for e, a in self.found
        ]
        lines += [f"MISSED      {e.label()}{f' ({e.note})' if e.note else ''}" for e in self.missed]
        lines += [f"UNEXPECTED  alert {a['id']} ({a['rule']}): {a['summary']}" for a in self.unexpected]
        return lines

    def as_json(self) -> dict:
        def brief(alert: dict) -> dict:
            return {k: alert.get(k) for k in ("id", "rule", "severity", "summary")}

        return {
            "passed": self.passed,
            "found": [{"expected": e.label(), "alert": brief(a)} for e, a in self.found],
            "missed": [e.label() for e in self.missed],
            "unexpected": [brief(a) for a in self.unexpected],
        }


def meets(alert: dict, expectation: Expectation, texts: list[str]) -> bool:
    """The alert is of the expected rule and its summary names every subject."""
    summary = str(alert.get("summary") or "")
    return alert.get("rule") == expectation.rule and all(text in summary for text in texts)


def compare(scenario: Scenario, estate: Estate, alerts: list[dict]) -> CheckReport:
    """Each expectation met by an alert (the first one, oldest first) or missed; every alert that meets
    no expectation is unexpected (a repeat of an expected alert is not)."""
    report = CheckReport()
    ordered = sorted(alerts, key=lambda a: a["id"])
    accounted: set[int] = set()
    for expectation in scenario.expect:
        texts = subjects(expectation, estate, scenario.environment)
        matching = [a for a in ordered if meets(a, expectation, texts)]
        accounted.update(a["id"] for a in matching)
        if matching:
            report.found.append((expectation, matching[0]))
        else:
            report.missed.append(expectation)
    report.unexpected = [a for a in ordered if a["id"] not in accounted]
    return report


__all__ = ["CheckReport", "compare", "configure_rules", "internal_networks", "meets", "rule_configs"]
