"""Task resources beyond the interpreter: Reynard's built-in actions (`reynard:<name>`), Step Functions'
optimized integrations (sns:publish, lambda:invoke), Python actions, and `register_all`, which wires them
and the aws-sdk integration (`respond/aws_sdk.py`) into the interpreter's dispatch. See docs/respond.md,
"Task resources and actions".

One module per concern: `base` (results, arguments, the verification rule), `config`, `ec2` (shared
reads), one module per action or pair of actions, `integrations`, `python`, `registry`.
"""

from __future__ import annotations

from reynard.cases.sink import IncidentRecord, IncidentSink, MemoryIncidentSink, Opened, PlaybookEntry

from .base import PERMANENT_ERRORS, Action, ActionEnv
from .python import DEFAULT_PYTHON_ACTIONS, PythonActions, register_python_action
from .registry import ACTIONS, Dispatch, register_all

__all__ = [
    "ACTIONS",
    "DEFAULT_PYTHON_ACTIONS",
    "PERMANENT_ERRORS",
    "Action",
    "ActionEnv",
    "Dispatch",
    "IncidentRecord",
    "IncidentSink",
    "MemoryIncidentSink",
    "Opened",
    "PlaybookEntry",
    "PythonActions",
    "register_all",
    "register_python_action",
]
