"""Shared by the test_sandbox* modules: `reynard` in-process with no AWS credentials of the user's at all,
and plain boto3 clients (credentials of their own) to read what moto holds. No test lives here."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner, Result

from reynard.cli import main

SCENARIO = Path(__file__).with_name("sandbox_scenario.yaml")
REGION = "eu-west-1"  # the scenario's
ACCOUNT = "210987654321"

# What a user without AWS access has: no keys, no profile, no files, no instance role (boto3's own chain
# finds nothing: a call signed by it fails with NoCredentialsError). The sandbox must not need any of it.
NO_AWS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": None,
}


def reynard(data: Path, *args: str, config: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """`reynard [--config C] --data-dir DATA ARGS...` in-process with NO_AWS (and `env`), stdout and stderr
    apart."""
    head = ["--config", str(config)] if config else []
    return CliRunner().invoke(main, [*head, "--data-dir", str(data), *args], env={**NO_AWS, **(env or {})})


def aws(endpoint: str, service: str) -> Any:
    """A client of the tests' own: what moto holds, read independently of Reynard."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="TESTSREADERKEY000001",
        aws_secret_access_key="tests",
    )


def sandbox_json(data: Path) -> dict[str, Any]:
    return json.loads((data / "sandbox" / "sandbox.json").read_text())


def moto_alive(pid: int) -> bool:
    """Whether `pid` is a running moto server (a zombie is not running)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and has ended
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z" and b"moto.server" in (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False


def stop_for_good(data: Path) -> None:
    """A finalizer: `reynard sandbox stop`, then SIGKILL if moto is somehow still there."""
    path = data / "sandbox" / "sandbox.json"
    pid = json.loads(path.read_text())["pid"] if path.exists() else None
    reynard(data, "sandbox", "stop")
    if pid is not None and moto_alive(pid):
        os.kill(pid, 9)
