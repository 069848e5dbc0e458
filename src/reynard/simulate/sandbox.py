"""The sandbox: a sandboxed AWS account on this machine (moto in server mode), started and seeded from a
scenario's `environment:`, so playbooks make real API calls whose effects can be read back.

One sandbox per data directory, in `<data_dir>/sandbox/`:

    sandbox.json   pid, port, endpoint URL, when it started, the scenario, account and region
    estate.json    the Estate: the environment with the ids moto gave (what the player and playbooks name)
    moto.log       moto's own output

moto runs as `python -m moto.server` in its own session, so it outlives `reynard sandbox start` and is
stopped by `reynard sandbox stop`. A `sandbox.json` whose process is gone is stale: `start` and `status`
remove it; the respond rule (`Runtime.aws_route`) refuses to guess rather than send calls meant for the
sandbox to AWS. The AWS side (seeding, reading back) is `sandbox_aws.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reynard.events.timestamps import zulu

from .environment import Environment, Estate
from .sandbox_aws import CREDENTIALS, SandboxClients, SandboxError, live_view, seed

SCENARIOS = Path(__file__).parent / "scenarios"  # the shipped scenarios, by name
DEFAULT_SCENARIO = "workshop"
STATE_FILE, ESTATE_FILE, LOG_FILE, LOCK_FILE = "sandbox.json", "estate.json", "moto.log", ".lock"
READY_SECONDS = 30.0
STOP_SECONDS = 5.0

# What moto cannot do, and who fills the gap: said by `start` and `status`.
GAPS = (
    "GuardDuty: moto keeps detectors but has no findings API (no CreateSampleFindings, no ListFindings):"
    " the scenario writes its findings as events.",
    "SSM Run Command: commands succeed with empty output: forensics collected from the sandbox are"
    " empty, the scenario's events tell what ran.",
    "Nothing runs: instances, load balancers and flows are records; the traffic and logs are the scenario's.",
)

_CHILDREN: dict[int, subprocess.Popen] = {}  # moto servers this process started (polled, so reaped)


def environment_of(path_or_name: str) -> tuple[str, Environment]:
    """A scenario's name and `environment:`, from a YAML file or a shipped scenario's name."""
    from reynard.simulate.scenario import load_scenario

    scenario = load_scenario(path_or_name)
    return scenario.name, scenario.environment


@dataclass(frozen=True)
class SandboxInfo:
    """What `sandbox.json` says about a sandbox."""

    pid: int
    port: int
    endpoint_url: str
    started: str  # ISO 8601 UTC
    scenario: str
    account: str
    region: str

    def uptime(self, now: datetime | None = None) -> float:
        started = datetime.fromisoformat(self.started.replace("Z", "+00:00"))
        return ((now or datetime.now(UTC)) - started).total_seconds()

    def alive(self) -> bool:
        return _alive(self.pid)


@dataclass(frozen=True)
class Started:
    info: SandboxInfo
    estate: Estate
    already_running: bool
    stale: SandboxInfo | None = None  # a stale sandbox.json removed first
    seconds: float = 0.0  # from launching moto to the estate read back


class Sandbox:
    """The sandbox of one data directory: its files, its process."""

    def __init__(self, data_dir: Path):
        self.dir = Path(data_dir) / "sandbox"

    # -- what is there ------------------------------------------------------------------------------------
    def info(self) -> SandboxInfo | None:
        """What sandbox.json says, alive or not; None when there is none (or it cannot be read)."""
        try:
            return SandboxInfo(**json.loads((self.dir / STATE_FILE).read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as e:
            raise SandboxError(f"unreadable: {e}", where=str(self.dir / STATE_FILE)) from None

    def running(self) -> SandboxInfo | None:
        """The sandbox when its process is alive; SandboxError when sandbox.json names a process gone."""
        info = self.info()
        if info is None:
            return None
        if not info.alive():
            raise SandboxError(
                f"the sandbox (pid {info.pid}, {info.endpoint_url}) is not running any more:"
                " `reynard sandbox start` starts it again, `reynard sandbox stop` forgets it",
                where=str(self.dir / STATE_FILE),
            )
        return info

    def estate(self) -> Estate:
        try:
            return Estate.from_json(json.loads((self.dir / ESTATE_FILE).read_text()))
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise SandboxError(f"no estate: {e}", where=str(self.dir / ESTATE_FILE)) from None

    def clients(self, info: SandboxInfo) -> SandboxClients:
        return SandboxClients(info.endpoint_url, info.region)

    def live(self, info: SandboxInfo) -> dict[str, Any]:
        """What moto holds now (read from it, not from estate.json)."""
        return live_view(self.clients(info))

    def forget_stale(self) -> SandboxInfo | None:
        """Remove a sandbox.json whose process is gone: what it said, or None when nothing was stale."""
        with self._locked():
            info = self.info()
            if info is None or info.alive():
                return None
            self._remove_files()
            return info

    # -- start and stop -----------------------------------------------------------------------------------
    def start(self, environment: Environment, scenario: str, port: int | None = None) -> Started:
        """Launch moto, seed the environment, write sandbox.json and estate.json; a running sandbox is
        returned as it is (`already_running`). A failure stops moto and leaves no file behind."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            current = self.info()
            if current is not None and current.alive():
                return Started(current, self.estate(), already_running=True)
            if current is not None:
                self._remove_files()
            began = time.monotonic()
            process, info = self._launch(environment, scenario, port)
            try:
                _write(self.dir / STATE_FILE, asdict(info))
                self._wait_ready(process, info)
                estate = seed(environment, self.clients(info))
                _write(self.dir / ESTATE_FILE, estate.as_json())
            except BaseException as e:
                _terminate(info.pid)
                self._remove_files()
                if isinstance(e, SandboxError) and e.where is None:
                    raise SandboxError(
                        f"{e.message} (moto stopped, nothing kept)", where=f"scenario {scenario}"
                    ) from None
                raise
            return Started(info, estate, False, current, time.monotonic() - began)

    def stop(self) -> SandboxInfo | None:
        """Stop moto and remove the sandbox's files; what sandbox.json said, or None if there was none."""
        if not self.dir.is_dir():
            return None
        with self._locked():
            info = self.info()
            if info is not None and info.alive():
                _terminate(info.pid)
            self._remove_files()
            return info

    def _launch(self, environment: Environment, scenario: str, port: int | None) -> tuple[Any, SandboxInfo]:
        chosen = port or _free_port()
        if port is not None and not _port_free(port):
            raise SandboxError(f"port {port} on 127.0.0.1 is in use", where="--port")
        # The user's AWS settings have no business in the sandbox; the account is the scenario's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["MOTO_ACCOUNT_ID"] = environment.account
        with open(self.dir / LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(chosen)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=env,
                start_new_session=True,  # its own session: it outlives the command that started it
            )
        _CHILDREN[process.pid] = process
        info = SandboxInfo(
            pid=process.pid,
            port=chosen,
            endpoint_url=f"http://127.0.0.1:{chosen}",
            started=zulu(datetime.now(UTC)),
            scenario=scenario,
            account=environment.account,
            region=environment.region,
        )
        return process, info

    def _wait_ready(self, process: subprocess.Popen, info: SandboxInfo) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = (self.dir / LOG_FILE).read_text(errors="replace").strip().splitlines()[-1:]
                raise SandboxError(f"moto exited at start ({process.returncode}): {' '.join(tail)}")
            try:
                with urllib.request.urlopen(f"{info.endpoint_url}/moto-api/data.json", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise SandboxError(f"moto did not answer at {info.endpoint_url} within {READY_SECONDS:.0f} s")

    def _remove_files(self) -> None:
        for name in (STATE_FILE, ESTATE_FILE, LOG_FILE):
            (self.dir / name).unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One start or stop at a time per data directory (two `start`s would launch two servers)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / LOCK_FILE, "w") as handle:
            try:
                import fcntl
            except ImportError:  # not a Unix: no lock
                yield
                return
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def live_sandbox(data_dir: Path) -> SandboxInfo | None:
    """The sandbox running for `data_dir`, None when there is none; SandboxError when a stale sandbox.json
    says one should be running (the respond rule never falls back to AWS on a guess)."""
    return Sandbox(data_dir).running()


# -- processes ---------------------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    """Whether `pid` is a live moto server (a pid reused by another program is not)."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not the sandbox this user started
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():  # no /proc (macOS): the pid exists, take it
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        command = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state != "Z" and b"moto.server" in command


def _terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL after STOP_SECONDS; returns once the process is gone."""
    for sig, wait in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, STOP_SECONDS)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                _CHILDREN.pop(pid, None)
                return
            time.sleep(0.05)
    raise SandboxError(f"moto (pid {pid}) did not stop")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _write(path: Path, value: Any) -> None:
    """Whole or not at all: a reader never sees half a file."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value, indent=2, default=list) + "\n")
    partial.replace(path)


__all__ = [
    "CREDENTIALS",
    "DEFAULT_SCENARIO",
    "GAPS",
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "Started",
    "environment_of",
    "live_sandbox",
]
