"""What the background and the steps play with: the estate's ids, who calls AWS (a `Caller`: the CloudTrail
identity and the address it calls from), and seeded random generators.

Every id an event carries comes from here, and so from the `Estate`: an access key is the estate's key of
that user, a role session's ARN names the estate's role, an instance is the estate's instance. What no
estate holds (temporary session keys, request ids) is derived from the seed, so the same scenario and
estate give the same events.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from dataclasses import dataclass
from datetime import datetime

from reynard.simulate.environment import Environment, Estate, Instance
from reynard.simulate.reading import ScenarioError

# Where people and machines call from, by kind of caller (one agent per caller, chosen from these).
CLI_AGENTS = (
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off",
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8",
    "aws-sdk-go-v2/1.26.0 os/macos lang/go#1.22.1 md/GOOS#darwin md/GOARCH#arm64 api/ec2#1.152.0",
)
INSTANCE_AGENTS = (
    "aws-sdk-java/2.25.16 Linux/6.1.79-99.167.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.2+13-LTS "
    "Java/21.0.2 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
)
SSM_AGENT = "aws-sdk-go/1.44.329 (go1.21.8; linux; amd64) amazon-ssm-agent/3.3.40.0"
# Address blocks of AWS endpoints in us-east-1 (S3, STS, SSM...): the far side of instances' HTTPS.
AWS_ENDPOINT_BLOCKS = ("52.216.0.0/15", "54.231.0.0/16", "3.5.0.0/19", "52.46.128.0/19", "52.94.0.0/22")
# Internet clients: assorted ISP blocks, none of them documentation, private or VPN space.
CLIENT_FIRST_OCTETS = (23, 24, 31, 37, 46, 62, 68, 71, 73, 77, 81, 86, 88, 91, 94, 99, 108, 151, 176, 212)


@dataclass(frozen=True)
class Caller:
    """Who makes an API call: the CloudTrail `userIdentity`, the address and the user agent."""

    identity: dict
    address: str
    user_agent: str

    @property
    def arn(self) -> str | None:
        return self.identity.get("arn")


class Context:
    """The estate and the seed one play draws on (one per play: it remembers nothing between plays)."""

    def __init__(self, environment: Environment, estate: Estate, seed: int, start: datetime, end: datetime):
        self.environment = environment
        self.estate = estate
        self.seed = seed
        self.start = start
        self.end = end
        self.account = estate.account
        self.region = estate.region
        # Ports the story opens (service, port, network, from when): the security groups after the start.
        self.openings: list[tuple[str, int, str, datetime]] = []

    # -- randomness -------------------------------------------------------------------------------------
    def rng(self, *parts: object) -> random.Random:
        """A generator of its own for each part of the play: a change to one step leaves the others be."""
        return random.Random("\0".join(str(p) for p in (self.seed, *parts)))

    def token(self, *parts: object, length: int = 16, upper: bool = True) -> str:
        """A stable id from the seed and `parts` (hex)."""
        text = "\0".join(str(p) for p in (self.seed, self.estate.vpc_id, *parts))
        digest = hashlib.blake2b(text.encode(), digest_size=32).hexdigest()[:length]
        return digest.upper() if upper else digest

    # -- the estate -------------------------------------------------------------------------------------
    def instance(self, name: str) -> Instance:
        return self.estate.instance(name)

    def instances_of(self, service: str) -> list[Instance]:
        found = self.estate.of_service(service)
        if not found:
            raise ScenarioError(f"the estate has no instance of service {service!r}")
        return found

    def instances_of_role(self, role: str) -> list[Instance]:
        services = {s.name for s in self.environment.services if s.role == role}
        return [i for i in self.estate.instances if i.service in services]

    def role_arn(self, role: str) -> str:
        try:
            return self.estate.role_arns[role]
        except KeyError:
            raise ScenarioError(f"the estate has no role {role!r}") from None

    def api_address(self, instance: Instance) -> str:
        """Where an instance's API calls come from: its public address, else its private one (through a
        VPC endpoint)."""
        return instance.public_ip or instance.private_ip

    def address(self, value: str) -> str:
        """An IP address as written, or an instance's private address by its name."""
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return self.instance(value).private_ip

    def address_for_api(self, value: str) -> str:
        """An IP address as written, or where an instance's API calls come from."""
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return self.api_address(self.instance(value))

    def place(self, value: str, rng: random.Random, clients: list[str]) -> str:
        """A flow's end: `internet` (one of `clients`), `aws` (an AWS endpoint), a service (one of its
        instances), an instance, or an address."""
        if value == "internet":
            return rng.choice(clients)
        if value == "aws":
            return self.endpoint_address(rng)
        if any(s.name == value for s in self.environment.services):
            return rng.choice(self.instances_of(value)).private_ip
        return self.address(value)

    def usual_address(self, user: str) -> str:
        for candidate in self.environment.users:
            if candidate.name == user and candidate.addresses:
                return candidate.addresses[0]
        raise ScenarioError(f"user {user!r} has no usual address (environment.users: addresses)")

    def client_address(self, rng: random.Random) -> str:
        first = rng.choice(CLIENT_FIRST_OCTETS)
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def endpoint_address(self, rng: random.Random) -> str:
        block = ipaddress.ip_network(rng.choice(AWS_ENDPOINT_BLOCKS))
        return str(block[rng.randrange(1, block.num_addresses - 1)])

    # -- callers ----------------------------------------------------------------------------------------
    def user(self, name: str, address: str | None = None, user_agent: str | None = None) -> Caller:
        """An IAM user calling with the estate's access key for it."""
        try:
            key = self.estate.access_keys[name]
        except KeyError:
            raise ScenarioError(f"the estate has no access key for user {name!r}") from None
        identity = {
            "type": "IAMUser",
            "principalId": "AIDA" + self.token("principal", name, length=17),
            "arn": f"arn:aws:iam::{self.account}:user/{name}",
            "accountId": self.account,
            "accessKeyId": key,
            "userName": name,
        }
        agent = user_agent or CLI_AGENTS[int(self.token("agent", name), 16) % len(CLI_AGENTS)]
        return Caller(identity, address or self.usual_address(name), agent)

    def session(
        self, role: str, session: str, address: str, user_agent: str | None = None, mfa: bool = False
    ) -> Caller:
        """A session of a role (temporary credentials: an ASIA key of its own)."""
        arn = self.role_arn(role)
        role_id = "AROA" + self.token("role", role, length=17)
        identity = {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{self.account}:assumed-role/{role}/{session}",
            "accountId": self.account,
            "accessKeyId": "ASIA" + self.token("session", role, session),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": arn,
                    "accountId": self.account,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": f"{self.start:%Y-%m-%dT%H}:00:00Z",
                    "mfaAuthenticated": "true" if mfa else "false",
                },
            },
        }
        if session.startswith("i-"):
            identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
        return Caller(identity, address, user_agent or INSTANCE_AGENTS[0])

    def instance_session(self, role: str, instance: Instance, user_agent: str | None = None) -> Caller:
        """An instance calling with its instance role (the session is named after the instance)."""
        return self.session(role, instance.instance_id, self.api_address(instance), user_agent)

    def aws_service(self, service: str) -> Caller:
        """AWS acting on the account's behalf (no address of its own)."""
        return Caller({"type": "AWSService", "invokedBy": service}, service, service)


__all__ = ["Caller", "Context"]
