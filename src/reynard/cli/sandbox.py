"""`reynard sandbox`: start, stop and look at the sandboxed AWS account (moto) of this data directory.

Exit codes (options.ExitStatus): 0 done (`start` finding one already running included); 1 `status` with no
sandbox running; 2 a mistake (a bad scenario, a port in use) or moto failing to start or seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reynard.cli.audited import audit_note, audited
from reynard.cli.options import data_dir_option, exit_with, runtime_of, settings_of, user_errors

if TYPE_CHECKING:
    from reynard.simulate.sandbox import Sandbox, SandboxInfo


@click.group()
def sandbox() -> None:
    """A sandboxed AWS account on this machine (moto), seeded from a scenario, for playbooks to act on."""


@sandbox.command("start")
@click.argument("scenario", required=False)
@click.option("--port", type=click.IntRange(1, 65535), help="moto's port on 127.0.0.1 (default: a free one).")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="scenario", detail=("port",))
def start(ctx: click.Context, scenario: str | None, port: int | None, data_dir: Path | None) -> None:
    """Start moto and create the scenario's environment in it (SCENARIO: a shipped scenario's name or a
    YAML file; default: workshop). A sandbox already running is left as it is and shown."""
    from reynard.simulate.sandbox import DEFAULT_SCENARIO, Sandbox, environment_of

    the_sandbox = Sandbox(settings_of(ctx, data_dir=data_dir).data_dir)
    stale = the_sandbox.forget_stale()
    if stale is not None:
        click.echo(f"removed a stale sandbox.json: moto (pid {stale.pid}) had gone", err=True)
    info = the_sandbox.info()
    if info is not None:
        asked = None if scenario is None else environment_of(scenario)[0]
        click.echo(f"a sandbox is already running for this data directory (scenario {info.scenario})")
        if asked not in (None, info.scenario):
            click.echo(f"reynard: not starting {asked}: `reynard sandbox stop` first", err=True)
            exit_with(False)
        _status(ctx, the_sandbox, info, data_dir=data_dir)
        return
    name, environment = environment_of(scenario or DEFAULT_SCENARIO)
    started = the_sandbox.start(environment, name, port)
    audit_note(endpoint=started.info.endpoint_url, pid=started.info.pid)
    info = started.info
    estate = started.estate
    click.echo(
        f"sandbox started in {started.seconds:.1f} s: moto at {info.endpoint_url} (pid {info.pid}),"
        f" scenario {info.scenario}, account {info.account}, {info.region}"
    )
    click.echo(
        f"seeded: {len(estate.instances)} instance(s), {len(estate.auto_scaling_groups)} Auto Scaling"
        f" group(s), {len(estate.load_balancer_arns)} load balancer(s), {len(estate.buckets)} bucket(s),"
        f" {len(estate.access_keys)} user(s), {len(estate.role_arns)} role(s), GuardDuty detector"
        f" {estate.detector_id}; ids in {the_sandbox.dir / 'estate.json'}"
    )
    _respond_lines(ctx, data_dir)
    _gap_lines()
    click.echo("see it: reynard sandbox status; stop it: reynard sandbox stop")


@sandbox.command("stop")
@data_dir_option
@click.pass_context
@user_errors
@audited()
def stop(ctx: click.Context, data_dir: Path | None) -> None:
    """Stop moto (everything in the sandbox is gone) and remove the sandbox's files."""
    from reynard.simulate.sandbox import Sandbox

    info = Sandbox(settings_of(ctx, data_dir=data_dir).data_dir).stop()
    if info is None:
        click.echo("no sandbox was running for this data directory")
        return
    audit_note(endpoint=info.endpoint_url, pid=info.pid)
    click.echo(f"sandbox stopped (moto pid {info.pid} at {info.endpoint_url}); playbooks call AWS again")


@sandbox.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@data_dir_option
@click.pass_context
@user_errors
def status(ctx: click.Context, as_json: bool, data_dir: Path | None) -> None:
    """The sandbox and what it holds, read from moto now; exits 1 when none is running."""
    from reynard.simulate.sandbox import Sandbox

    the_sandbox = Sandbox(settings_of(ctx, data_dir=data_dir).data_dir)
    stale = the_sandbox.forget_stale()
    info = the_sandbox.info()
    if info is None:
        if as_json:
            click.echo(json.dumps({"running": False, "stale": None if stale is None else vars(stale)}))
        else:
            if stale is not None:
                click.echo(f"removed a stale sandbox.json: moto (pid {stale.pid}) had gone", err=True)
            click.echo("no sandbox is running for this data directory (reynard sandbox start starts one)")
        exit_with(False)
    _status(ctx, the_sandbox, info, as_json=as_json, data_dir=data_dir)


def _status(
    ctx: click.Context,
    the_sandbox: Sandbox,
    info: SandboxInfo,
    *,
    as_json: bool = False,
    data_dir: Path | None = None,
) -> None:
    from dataclasses import asdict

    from reynard.simulate.sandbox import CREDENTIALS, GAPS

    live = the_sandbox.live(info)
    route = runtime_of(ctx, data_dir=data_dir).aws_route()
    if as_json:
        body: dict[str, Any] = {
            "running": True,
            "sandbox": asdict(info),
            "uptime_seconds": round(info.uptime()),
            "credentials": {"access_key_id": CREDENTIALS.access_key_id, "yours": False},
            "estate_file": str(the_sandbox.dir / "estate.json"),
            "playbooks": {"sandbox": route.sandbox, "route": route.description},
            "live": live,
            "moto_cannot": list(GAPS),
        }
        click.echo(json.dumps(body, default=str))
        return
    click.echo(
        f"sandbox: running at {info.endpoint_url} (pid {info.pid}, up {_duration(info.uptime())}),"
        f" scenario {info.scenario}, account {info.account}, {info.region}"
    )
    _respond_lines(ctx, data_dir)
    click.echo("read from moto now:")
    for line in _live_lines(live):
        click.echo(f"  {line}")
    _gap_lines()


def _respond_lines(ctx: click.Context, data_dir: Path | None) -> None:
    from reynard.simulate.sandbox import CREDENTIALS

    click.echo(
        f"credentials: the sandbox's own test credentials ({CREDENTIALS.access_key_id}); your AWS"
        " credentials are never sent to it"
    )
    route = runtime_of(ctx, data_dir=data_dir).aws_route()
    click.echo(f"playbooks: {route.description}")
    if not route.sandbox:
        click.echo("  (the settings name an endpoint: --endpoint-url of the sandbox sends one run here)")


def _gap_lines() -> None:
    from reynard.simulate.sandbox import GAPS

    click.echo("what moto cannot do (the scenario fills these):")
    for gap in GAPS:
        click.echo(f"  - {gap}")


def _live_lines(live: dict[str, Any]) -> list[str]:
    lines = [f"instances: {len(live['instances'])}"]
    for i in live["instances"]:
        groups = ", ".join(f"{g['id']} ({g['name']})" for g in i["security_groups"]) or "no group"
        lines.append(
            f"  {i['name'] or '-':<16} {i['instance_id']}  {i['state']:<8} {i['private_ip']}"
            f" {i['public_ip'] or '-'}  {groups}  volumes {', '.join(i['volumes'])}"
        )
    lines.append(f"buckets: {len(live['buckets'])}")
    for b in live["buckets"]:
        tags = " ".join(f"{k}={v}" for k, v in sorted(b["tags"].items()))
        public = "PUBLIC (policy)" if b["public_policy"] else "private"
        lines.append(f"  {b['name']:<32} {public}  {tags}".rstrip())
    lines.append(f"users: {len(live['users'])}")
    for u in live["users"]:
        keys = ", ".join(f"{k['id']} {k['status']}" for k in u["access_keys"]) or "no access key"
        lines.append(f"  {u['name']:<16} {keys}")
    lines.append(f"auto scaling groups: {len(live['auto_scaling_groups'])}")
    for g in live["auto_scaling_groups"]:
        lines.append(
            f"  {g['name']:<24} desired {g['desired_capacity']}: {', '.join(g['instances']) or 'none'}"
        )
    lines.append(f"load balancers: {len(live['load_balancers'])}")
    for lb in live["load_balancers"]:
        targets = ", ".join(f"{t['id']} {t['state']}" for t in lb["targets"]) or "no target"
        lines.append(f"  {lb['name']:<24} {targets}")
    lines.append(f"snapshots taken by playbooks: {len(live['snapshots'])}")
    for s in live["snapshots"]:
        lines.append(f"  {s['snapshot_id']} of {s['volume_id']} {s['state']}")
    detectors = ", ".join(live["guardduty_detectors"]) or "none"
    lines.append(f"GuardDuty detector(s): {detectors} (moto has no findings API: see below)")
    return lines


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s" if minutes else f"{secs}s"


__all__ = ["sandbox"]
