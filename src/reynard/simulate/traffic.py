"""Network activity as the logs show it: a connection as VPC flow records on the interfaces of the estate's
instances it touches (one record each way per aggregation window), and an SSH session as sshd writes it.

Whether a connection is accepted follows the environment's security groups: a service's `public_ports`
are open to all, its `vpn_ports` to the corporate and VPN networks, any other port to the corporate
networks only, and what a `port_opened` step opened, from then on; the rest is refused (a REJECT record,
no answer, no sshd line).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import random
from datetime import datetime, timedelta

from reynard.simulate.context import Context
from reynard.simulate.environment import Instance
from reynard.simulate.formats import PROTOCOLS, Played, flow_line, host_name, syslog_line

WINDOW = timedelta(minutes=10)  # the flow log's aggregation interval


def inside(address: str, networks: tuple[str, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(n) for n in networks)


def security_action(ctx: Context, source: str, target: Instance, port: int, moment: datetime) -> str:
    """ACCEPT or REJECT for a connection from `source` to `target` on `port` at `moment`."""
    environment = ctx.environment
    service = environment.service(target.service)
    ours = (*environment.corporate_cidrs, environment.vpc_cidr)
    if port in service.public_ports or inside(source, ours):
        return "ACCEPT"
    if port in service.vpn_ports and inside(source, environment.vpn_cidrs):
        return "ACCEPT"
    for opened, opened_port, network, since in ctx.openings:
        if opened == service.name and opened_port == port and since <= moment and inside(source, (network,)):
            return "ACCEPT"
    return "REJECT"


def _instance_at(ctx: Context, address: str) -> Instance | None:
    for instance in ctx.estate.instances:
        if address == instance.private_ip:
            return instance
    return None


def connection(
    ctx: Context,
    rng: random.Random,
    moment: datetime,
    source: str,
    target: str,
    port: int,
    *,
    protocol: str = "tcp",
    action: str | None = None,
    lasts: timedelta = timedelta(seconds=0),
    step: str | None = None,
    heavy: bool = False,
    source_port: int | None = None,
) -> list[Played]:
    """The flow records of one connection from `source` to `target:port` (private addresses for the
    estate's instances), on each instance interface it touches, one pair per aggregation window."""
    ends = [i for i in (_instance_at(ctx, source), _instance_at(ctx, target)) if i is not None]
    if action is None:
        receiving = _instance_at(ctx, target)
        action = "ACCEPT" if receiving is None else security_action(ctx, source, receiving, port, moment)
    number = PROTOCOLS[protocol]
    ephemeral = source_port or rng.randrange(32768, 61000)
    played: list[Played] = []
    window_start = moment
    finish = moment + lasts
    while True:
        if lasts:
            window_end = min(window_start + WINDOW, finish)
        else:
            window_end = window_start + timedelta(seconds=rng.randrange(1, 50))
        first = int(window_start.timestamp())
        last = max(int(window_end.timestamp()), first + 1)
        if action == "REJECT":
            tries = rng.randrange(1, 3)
            sizes = [(tries, tries * 44)]
        else:
            out = rng.randrange(6, 40) * (20 if heavy else 1)
            back = max(1, out - rng.randrange(0, 3))
            sizes = [(out, out * rng.randrange(60, 400)), (back, back * rng.randrange(80, 1400))]
        for instance in ends:
            pairs = [(source, target, ephemeral, port)]
            if action == "ACCEPT":
                pairs.append((target, source, port, ephemeral))
            for (src, dst, src_port, dst_port), (packets, size) in zip(pairs, sizes, strict=False):
                line = flow_line(
                    account=ctx.account,
                    eni=instance.eni_id,
                    src=src,
                    dst=dst,
                    src_port=src_port,
                    dst_port=dst_port,
                    protocol=number,
                    packets=packets,
                    size=size,
                    start=first,
                    end=last,
                    action=action,
                )
                played.append(Played(window_start, "vpcflow", line, step))
        window_start += WINDOW
        if not lasts or window_start >= finish:
            return played


def fingerprint(user: str) -> str:
    digest = hashlib.sha256(f"key of {user}".encode()).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def ssh_session(
    ctx: Context,
    rng: random.Random,
    moment: datetime,
    source: str,
    target: Instance,
    user: str,
    stay: timedelta,
    step: str | None = None,
) -> list[Played]:
    """An accepted SSH login from `source` to `target` and its logout after `stay`: the flows, and the
    lines sshd writes to the target's /var/log/secure."""
    port = rng.randrange(32768, 61000)
    played = connection(
        ctx, rng, moment, source, target.private_ip, 22, lasts=stay, step=step, source_port=port
    )
    if any(p.record.endswith("REJECT OK") for p in played):
        return played  # refused by the security group: sshd never sees it
    host = host_name(target.private_ip)
    pid = rng.randrange(2000, 60000)
    login = moment + timedelta(milliseconds=rng.randrange(200, 900))
    logout = moment + stay
    key = f"ED25519 SHA256:{fingerprint(user)}"
    lines = [
        (login, f"Accepted publickey for {user} from {source} port {port} ssh2: {key}"),
        (login, f"pam_unix(sshd:session): session opened for user {user} by (uid=0)"),
        (logout, f"Received disconnect from {source} port {port}:11: disconnected by user"),
        (logout, f"Disconnected from user {user} {source} port {port}"),
        (logout, f"pam_unix(sshd:session): session closed for user {user}"),
    ]
    played += [
        Played(when, "syslog", syslog_line(when, host, "sshd", pid, text), step) for when, text in lines
    ]
    return played


__all__ = ["connection", "inside", "security_action", "ssh_session"]
