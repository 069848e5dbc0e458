"""`reynard sandbox` from start to stop, a sandbox.json left by a moto that died, and the mistakes a user can
make (a bad scenario, a port in use, an environment moto refuses): one clear line, nothing left behind."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sandbox_support import SCENARIO, moto_alive, reynard, sandbox_json, stop_for_good

FILES = ("sandbox.json", "estate.json", "moto.log")


def left(data: Path) -> list[str]:
    return sorted(name for name in FILES if (data / "sandbox" / name).exists())


def dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_stale(data: Path, port: int = 9) -> int:
    pid = dead_pid()
    (data / "sandbox").mkdir(parents=True, exist_ok=True)
    info = {
        "pid": pid,
        "port": port,
        "endpoint_url": f"http://127.0.0.1:{port}",
        "started": "2026-12-01T10:00:00Z",
        "scenario": "sandbox-test",
        "account": "210987654321",
        "region": "eu-west-1",
    }
    (data / "sandbox" / "sandbox.json").write_text(json.dumps(info))
    return pid


def answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=30):
            return True
    except (urllib.error.URLError, OSError):
        return False


def test_stop_ends_moto_and_removes_its_files(tmp_path):
    data = tmp_path / "data"
    try:
        assert reynard(data, "sandbox", "start", str(SCENARIO)).exit_code == 0
        info = sandbox_json(data)
        assert moto_alive(info["pid"]) and answers(info["endpoint_url"])
        assert left(data) == sorted(FILES)
        stopped = reynard(data, "sandbox", "stop")
        assert stopped.exit_code == 0
        assert stopped.stdout == (
            f"sandbox stopped (moto pid {info['pid']} at {info['endpoint_url']}); playbooks call AWS again\n"
        )
        assert not moto_alive(info["pid"]) and not answers(info["endpoint_url"])
        assert left(data) == []
    finally:
        stop_for_good(data)
    status = reynard(data, "sandbox", "status")
    assert (status.exit_code, status.stdout) == (
        1,
        "no sandbox is running for this data directory (reynard sandbox start starts one)\n",
    )
    again = reynard(data, "sandbox", "stop")
    assert (again.exit_code, again.stdout) == (0, "no sandbox was running for this data directory\n")


def test_a_stale_sandbox_is_never_taken_for_aws_and_start_replaces_it(tmp_path):
    """moto gone without `stop` (a reboot, a kill): playbooks refuse rather than call AWS, and `start`
    cleans up and starts a new one."""
    data = tmp_path / "data"
    pid = write_stale(data)
    playbook = tmp_path / "hello.json"
    playbook.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    refused = reynard(data, "playbook", "run", str(playbook))
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"reynard: {data / 'sandbox' / 'sandbox.json'}: the sandbox (pid {pid}, http://127.0.0.1:9) is not"
        " running any more: `reynard sandbox start` starts it again, `reynard sandbox stop` forgets it\n"
    )
    try:
        started = reynard(data, "sandbox", "start", str(SCENARIO))
        assert started.exit_code == 0, started.output
        assert started.stderr == f"removed a stale sandbox.json: moto (pid {pid}) had gone\n"
        info = sandbox_json(data)
        assert info["pid"] != pid and moto_alive(info["pid"])
        ran = reynard(data, "playbook", "run", str(playbook))
        assert ran.exit_code == 0 and f"the sandbox at {info['endpoint_url']}" in ran.stderr
    finally:
        stop_for_good(data)


def test_status_forgets_a_stale_sandbox_and_says_so(tmp_path):
    data = tmp_path / "data"
    pid = write_stale(data)
    status = reynard(data, "sandbox", "status")
    assert status.exit_code == 1
    assert status.stderr == f"removed a stale sandbox.json: moto (pid {pid}) had gone\n"
    assert left(data) == []
    playbook = tmp_path / "hello.json"
    playbook.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    ran = reynard(data, "playbook", "run", str(playbook))  # no sandbox any more: nothing said of one
    assert ran.exit_code == 0 and "sandbox" not in ran.stderr


HEAD = "name: bad\nduration: 1h\n"
BAD = {
    "unknown name": (None, "no-such-scenario: no shipped scenario of that name"),
    "not YAML": (HEAD + "environment: [unclosed\n", "{path}: line 4: not YAML: "),
    "no environment": (HEAD + "seed: 3\n", "{path}: scenario.environment: required"),
    "bad value": (
        HEAD + "environment:\n  services:\n    - {name: web, role: web, instances: 0}\n",
        "{path}: environment.services[0].instances: a number of instances from 1 to 20, not 0",
    ),
    "unknown key": (
        HEAD + "environment:\n  services: [{name: web, role: web}]\n  vpcs: []\n",
        "{path}: environment: unknown key(s) vpcs; known: ",
    ),
    "moto refuses it": (
        HEAD + "environment:\n  vpc_cidr: 10.0.0.0/8\n  services: [{name: web, role: web}]\n",
        "scenario bad: VPC 10.0.0.0/8 (environment.vpc_cidr): InvalidVpc.Range: ",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_scenario_is_one_line_naming_it_and_leaves_nothing(tmp_path, case):
    text, expected = BAD[case]
    path = tmp_path / "bad.yaml"
    if text is None:
        argument = "no-such-scenario"
    else:
        path.write_text(text)
        argument = str(path)
    data = tmp_path / "data"
    try:
        result = reynard(data, "sandbox", "start", argument)
    finally:
        stop_for_good(data)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("reynard: " + expected.format(path=path)), result.stderr
    assert result.stderr.count("\n") == 1
    assert left(data) == []


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path):
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = reynard(data, "sandbox", "start", str(SCENARIO), "--port", str(port))
    assert (result.exit_code, result.stderr) == (2, f"reynard: --port: port {port} on 127.0.0.1 is in use\n")
    assert left(data) == []
