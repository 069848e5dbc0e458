"""Reynard's built-in detection rules: one module each, `BUILTIN_RULES` maps a rule's name to its class.

Each rule is an `AlertTask` (MozDef's API) whose thresholds are class attributes; pass
`config={"key": value}` to the constructor to change them (each module documents its keys):

    BUILTIN_RULES["ssh_bruteforce"](source, config={"threshold": 20}).run(now)
"""

from __future__ import annotations

from reynard.detect.rules.cloudtrail_logging_stopped import CloudtrailLoggingStopped
from reynard.detect.rules.console_login_without_mfa import ConsoleLoginWithoutMfa
from reynard.detect.rules.excessive_describe import ExcessiveDescribe
from reynard.detect.rules.guardduty_finding import GuarddutyFinding
from reynard.detect.rules.indicator_match import IndicatorMatch
from reynard.detect.rules.principal_multiple_ips import PrincipalMultipleIps
from reynard.detect.rules.root_account_usage import RootAccountUsage
from reynard.detect.rules.s3_bucket_public import S3BucketPublic
from reynard.detect.rules.ssh_bruteforce import SshBruteforce
from reynard.detect.rules.ssh_from_outside import SshFromOutside

BUILTIN_RULES: dict[str, type] = {
    "ssh_from_outside": SshFromOutside,
    "principal_multiple_ips": PrincipalMultipleIps,
    "excessive_describe": ExcessiveDescribe,
    "guardduty_finding": GuarddutyFinding,
    "cloudtrail_logging_stopped": CloudtrailLoggingStopped,
    "s3_bucket_public": S3BucketPublic,
    "ssh_bruteforce": SshBruteforce,
    "root_account_usage": RootAccountUsage,
    "console_login_without_mfa": ConsoleLoginWithoutMfa,
    "indicator_match": IndicatorMatch,
}

__all__ = ["BUILTIN_RULES"]
