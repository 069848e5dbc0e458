"""The sandbox's AWS side: an `Environment` created on an AWS endpoint (moto) through real boto3 calls, then
read back, as the `Estate` the player and the playbooks use and as the live view `reynard sandbox status`
prints.

Nothing is taken as created until the endpoint says so: the Estate holds the ids moto answered when asked
again, and a resource that does not read back as asked (an instance missing from its Auto Scaling group, a
target not registered) fails the seeding, naming it. Every call signs with the sandbox's fixed test
credentials (`CREDENTIALS`), never the user's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reynard.errors import ReynardError
from reynard.respond.aws_sdk import sandbox_session
from reynard.settings import SandboxCredentials

from .environment import Environment, Estate, Instance, Service

# moto accepts any credentials; these say what they are wherever they show up (moto's log, an audit trail).
CREDENTIALS = SandboxCredentials("REYNARDSANDBOXTEST01", "reynard-sandbox-test-credentials")
INSTANCE_TYPE = "t3.micro"
# Two of the images moto ships in every region (moto/ec2/resources/amis.json): nothing is downloaded.
IMAGES = {"linux": "ami-04681a1dbd79675a5", "windows": "ami-b7e93bce"}  # Amazon Linux 2, Windows 2016
ALL_TCP = (0, 65535)


class SandboxError(ReynardError):
    """The sandbox cannot do what was asked: start, seed, read back or stop."""


class SandboxClients:
    """boto3 clients on the sandbox's endpoint, with the sandbox's test credentials and a short retry."""

    def __init__(self, endpoint_url: str, region: str):
        self.endpoint_url, self.region = endpoint_url, region
        self._session = sandbox_session(CREDENTIALS, region)
        self._config = Config(
            connect_timeout=2, read_timeout=30, retries={"mode": "standard", "total_max_attempts": 2}
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service, endpoint_url=self.endpoint_url, config=self._config
                )
            return self._clients[service]


@contextmanager
def aws_step(what: str) -> Iterator[None]:
    """A failed call as one SandboxError naming what was being done, with AWS's code and message."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise SandboxError(f"{what}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise SandboxError(f"{what}: {exc}") from None


def tags(**values: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in values.items()]


def tag_map(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or ()}


# -- creating ----------------------------------------------------------------------------------------------
def seed(environment: Environment, clients: SandboxClients) -> Estate:
    """Create the environment on the endpoint and return it as read back (`read_estate`)."""
    ec2 = clients("ec2")
    with aws_step(f"VPC {environment.vpc_cidr} (environment.vpc_cidr)"):
        vpc = ec2.create_vpc(
            CidrBlock=environment.vpc_cidr,
            TagSpecifications=[{"ResourceType": "vpc", "Tags": tags(Name="reynard-sandbox")}],
        )["Vpc"]["VpcId"]
        gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    subnets = _subnets(environment, ec2, vpc)
    groups = {s.name: _security_group(environment, s, ec2, vpc) for s in environment.services}
    _identities(environment, clients("iam"))
    for n, (service, name) in enumerate(environment.instance_names()):
        _instance(ec2, service, name, subnets[n % len(subnets)], groups[service.name])
    for service in environment.services:
        _auto_scaling_group(service, clients, subnets, groups[service.name])
        _load_balancer(service, clients, vpc, subnets, groups[service.name])
    for bucket in environment.buckets:
        _bucket(environment, bucket, clients("s3"))
    with aws_step("GuardDuty detector"):
        clients("guardduty").create_detector(Enable=True)
    return read_estate(environment, clients)


def _subnets(environment: Environment, ec2: Any, vpc: str) -> list[str]:
    """Two subnets in two zones (an application load balancer needs two), the VPC's first two quarters."""
    import ipaddress

    network = ipaddress.ip_network(environment.vpc_cidr)
    halves = list(network.subnets(prefixlen_diff=2))[:2] if network.prefixlen <= 26 else [network]
    subnets = []
    for n, cidr in enumerate(halves):
        zone = f"{environment.region}{'ab'[n]}"
        with aws_step(f"subnet {cidr} in {zone}"):
            subnet = ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=str(cidr),
                AvailabilityZone=zone,
                TagSpecifications=[{"ResourceType": "subnet", "Tags": tags(Name=f"reynard-sandbox-{zone}")}],
            )["Subnet"]["SubnetId"]
        subnets.append(subnet)
    return subnets


def _security_group(environment: Environment, service: Service, ec2: Any, vpc: str) -> str:
    """The service's group, as the scenario's traffic assumes it (`Service.public_ports`,
    `vpn_ports`): its public ports from anywhere, its VPN ports from the corporate and VPN ranges, every
    TCP port from the corporate ranges."""
    permissions = [
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        for p in service.public_ports
    ]
    permissions += [
        {
            "IpProtocol": "tcp",
            "FromPort": p,
            "ToPort": p,
            "IpRanges": [{"CidrIp": c, "Description": "vpn"} for c in environment.vpn_cidrs],
        }
        for p in service.vpn_ports
        if environment.vpn_cidrs and p not in service.public_ports
    ]
    permissions.append(
        {
            "IpProtocol": "tcp",
            "FromPort": ALL_TCP[0],
            "ToPort": ALL_TCP[1],
            "IpRanges": [{"CidrIp": c, "Description": "inside"} for c in environment.corporate_cidrs],
        }
    )
    with aws_step(f"security group of service {service.name}"):
        group = ec2.create_security_group(
            GroupName=service.name,
            Description=f"Reynard sandbox: {service.name}",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags(Service=service.name)}],
        )["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions)
    return group


def _trust(principal: dict[str, str]) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _identities(environment: Environment, iam: Any) -> None:
    """The services' instance roles (each with its instance profile, same name), the other roles, the users
    with an access key each."""
    instance_roles = dict.fromkeys(s.role for s in environment.services)
    for role in instance_roles:
        with aws_step(f"instance role {role}"):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=_trust({"Service": "ec2.amazonaws.com"}))
            iam.create_instance_profile(InstanceProfileName=role)
            iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    for role in dict.fromkeys(r for r in environment.roles if r not in instance_roles):
        with aws_step(f"role {role}"):
            account_root = f"arn:aws:iam::{environment.account}:root"
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=_trust({"AWS": account_root}))
    for user in environment.users:
        with aws_step(f"user {user.name}"):
            iam.create_user(UserName=user.name)
            iam.create_access_key(UserName=user.name)


def _instance(ec2: Any, service: Service, name: str, subnet: str, group: str) -> None:
    """One instance, its groups on the primary network interface (moto reports instance-level groups on
    every interface, which real EC2 does not), a root and a data volume, tagged Name/Service/Production."""
    labels = tags(Name=name, Service=service.name, Production=str(service.production).lower())
    with aws_step(f"instance {name}"):
        ec2.run_instances(
            ImageId=IMAGES[service.platform],
            MinCount=1,
            MaxCount=1,
            InstanceType=INSTANCE_TYPE,
            NetworkInterfaces=[
                {
                    "DeviceIndex": 0,
                    "SubnetId": subnet,
                    "Groups": [group],
                    "AssociatePublicIpAddress": service.reachable,
                }
            ],
            BlockDeviceMappings=[
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}},
                {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 20, "DeleteOnTermination": True}},
            ],
            IamInstanceProfile={"Name": service.role},
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": labels},
                {"ResourceType": "volume", "Tags": labels},
            ],
        )


def _service_instances(ec2: Any, service: str) -> list[str]:
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Service", "Values": [service]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def _auto_scaling_group(service: Service, clients: SandboxClients, subnets: list[str], group: str) -> None:
    """A group from a launch template, created empty (moto would launch instances to meet a desired
    capacity), then the service's instances attached: the desired capacity becomes their number."""
    if not service.auto_scaling_group:
        return
    ec2, autoscaling = clients("ec2"), clients("autoscaling")
    name = service.auto_scaling_group
    with aws_step(f"Auto Scaling group {name}"):
        template = ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={
                "ImageId": IMAGES[service.platform],
                "InstanceType": INSTANCE_TYPE,
                "IamInstanceProfile": {"Name": service.role},
                "SecurityGroupIds": [group],
            },
        )["LaunchTemplate"]["LaunchTemplateId"]
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            MinSize=0,
            MaxSize=2 * service.instances,
            DesiredCapacity=0,
            VPCZoneIdentifier=",".join(subnets),
            Tags=[
                {"Key": "Service", "Value": service.name, "PropagateAtLaunch": True},
                {"Key": "Production", "Value": str(service.production).lower(), "PropagateAtLaunch": True},
            ],
        )
        autoscaling.attach_instances(
            AutoScalingGroupName=name, InstanceIds=_service_instances(ec2, service.name)
        )


def _load_balancer(
    service: Service, clients: SandboxClients, vpc: str, subnets: list[str], group: str
) -> None:
    """An internet-facing application load balancer (same name as its target group) listening on the
    service's first public port, forwarding to the instances; the service's group, if any, feeds it too."""
    if not service.load_balancer:
        return
    elbv2, ec2 = clients("elbv2"), clients("ec2")
    name = service.load_balancer
    port = service.public_ports[0] if service.public_ports else 80
    with aws_step(f"load balancer {name}"):
        target_group = elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=port, VpcId=vpc, TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]
        balancer = elbv2.create_load_balancer(
            Name=name,
            Subnets=subnets,
            SecurityGroups=[group],
            Scheme="internet-facing",
            Type="application",
            Tags=tags(Service=service.name),
        )["LoadBalancers"][0]["LoadBalancerArn"]
        elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
        )
        elbv2.register_targets(
            TargetGroupArn=target_group,
            Targets=[{"Id": i, "Port": port} for i in _service_instances(ec2, service.name)],
        )
        if service.auto_scaling_group:
            clients("autoscaling").attach_load_balancer_target_groups(
                AutoScalingGroupName=service.auto_scaling_group, TargetGroupARNs=[target_group]
            )


def _bucket(environment: Environment, bucket: Any, s3: Any) -> None:
    """A bucket with its tags; a public one (on purpose) with a public-read ACL and a policy granting
    s3:GetObject to everyone, the others with every public access blocked (AWS's default for new ones)."""
    where = {} if environment.region == "us-east-1" else {"LocationConstraint": environment.region}
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    with aws_step(f"bucket {bucket.name}"):
        s3.create_bucket(Bucket=bucket.name, **({"CreateBucketConfiguration": where} if where else {}))
        if bucket.tags:
            s3.put_bucket_tagging(Bucket=bucket.name, Tagging={"TagSet": tags(**dict(bucket.tags))})
        s3.put_public_access_block(
            Bucket=bucket.name,
            PublicAccessBlockConfiguration={flag: not bucket.public for flag in flags},
        )
        if bucket.public:
            s3.put_bucket_ownership_controls(
                Bucket=bucket.name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
            )
            s3.put_bucket_acl(Bucket=bucket.name, ACL="public-read")
            s3.put_bucket_policy(Bucket=bucket.name, Policy=public_policy(bucket.name))


def public_policy(bucket: str) -> str:
    statement = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# -- reading back ------------------------------------------------------------------------------------------
def read_estate(environment: Environment, clients: SandboxClients) -> Estate:
    """The environment as the endpoint holds it now; SandboxError naming what is missing or not as asked."""
    ec2, iam = clients("ec2"), clients("iam")
    with aws_step("reading the instances back"):
        found = {
            tag_map(i.get("Tags")).get("Name"): i
            for r in ec2.describe_instances(
                Filters=[
                    {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
                ]
            )["Reservations"]
            for i in r["Instances"]
        }
    instances = []
    vpc = None
    for service, name in environment.instance_names():
        if name not in found:
            raise SandboxError(f"instance {name} of service {service.name} is not in the sandbox")
        instances.append(_instance_of(found[name], service.name))
        vpc = found[name]["VpcId"]
    with aws_step("reading the users' access keys back"):
        keys = {u.name: _access_key(iam, u.name) for u in environment.users}
    roles = [*(s.role for s in environment.services), *environment.roles]
    with aws_step("reading the roles back"):
        role_arns = {r: iam.get_role(RoleName=r)["Role"]["Arn"] for r in dict.fromkeys(roles)}
    with aws_step("reading the buckets back"):
        present = {b["Name"] for b in clients("s3").list_buckets()["Buckets"]}
    missing = [b.name for b in environment.buckets if b.name not in present]
    if missing:
        raise SandboxError(f"bucket(s) not in the sandbox: {', '.join(missing)}")
    balancers, target_groups = _read_balancers(environment, clients, instances)
    groups = _read_auto_scaling_groups(environment, clients, instances)
    with aws_step("reading the GuardDuty detector back"):
        detectors = clients("guardduty").list_detectors()["DetectorIds"]
    return Estate(
        account=environment.account,
        region=environment.region,
        source="sandbox",
        vpc_id=str(vpc),
        instances=tuple(instances),
        access_keys=keys,
        role_arns=role_arns,
        buckets=tuple(b.name for b in environment.buckets),
        load_balancer_arns=balancers,
        target_group_arns=target_groups,
        auto_scaling_groups=groups,
        endpoint_url=clients.endpoint_url,
        detector_id=detectors[0] if detectors else None,
    )


def _instance_of(described: dict[str, Any], service: str) -> Instance:
    primary = next(e for e in described["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)
    return Instance(
        name=tag_map(described.get("Tags"))["Name"],
        service=service,
        instance_id=described["InstanceId"],
        private_ip=described["PrivateIpAddress"],
        public_ip=described.get("PublicIpAddress"),
        subnet_id=described["SubnetId"],
        security_group_ids=tuple(g["GroupId"] for g in primary["Groups"]),
        volume_ids=tuple(b["Ebs"]["VolumeId"] for b in described.get("BlockDeviceMappings", [])),
        eni_id=primary["NetworkInterfaceId"],
    )


def _access_key(iam: Any, user: str) -> str:
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    if not keys:
        raise SandboxError(f"user {user} has no access key in the sandbox")
    return keys[0]["AccessKeyId"]


def _read_balancers(
    environment: Environment, clients: SandboxClients, instances: list[Instance]
) -> tuple[dict[str, str], dict[str, str]]:
    elbv2 = clients("elbv2")
    balancers, target_groups = {}, {}
    for service in environment.services:
        name = service.load_balancer
        if not name:
            continue
        with aws_step(f"reading load balancer {name} back"):
            balancer = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"][0]["LoadBalancerArn"]
            group = elbv2.describe_target_groups(LoadBalancerArn=balancer)["TargetGroups"][0][
                "TargetGroupArn"
            ]
            health = elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        _same(
            f"targets of load balancer {name}",
            {h["Target"]["Id"] for h in health},
            {i.instance_id for i in instances if i.service == service.name},
        )
        balancers[name], target_groups[name] = balancer, group
    return balancers, target_groups


def _read_auto_scaling_groups(
    environment: Environment, clients: SandboxClients, instances: list[Instance]
) -> tuple[str, ...]:
    names = []
    for service in environment.services:
        name = service.auto_scaling_group
        if not name:
            continue
        with aws_step(f"reading Auto Scaling group {name} back"):
            found = clients("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        groups = found["AutoScalingGroups"]
        members = {i["InstanceId"] for i in groups[0]["Instances"]} if groups else set()
        _same(
            f"instances of Auto Scaling group {name}",
            members,
            {i.instance_id for i in instances if i.service == service.name},
        )
        names.append(name)
    return tuple(names)


def _same(what: str, found: set[str], expected: set[str]) -> None:
    if found != expected:
        raise SandboxError(f"{what} read back as {sorted(found) or 'none'}, not {sorted(expected)} as seeded")


# -- the live view -----------------------------------------------------------------------------------------
def live_view(clients: SandboxClients) -> dict[str, Any]:
    """What the sandbox holds right now, read from it (not from estate.json): what `status` prints."""
    readers: dict[str, Callable[[SandboxClients], Any]] = {
        "instances": _live_instances,
        "buckets": _live_buckets,
        "users": _live_users,
        "auto_scaling_groups": _live_groups,
        "load_balancers": _live_balancers,
        "snapshots": _live_snapshots,
        "guardduty_detectors": lambda c: c("guardduty").list_detectors()["DetectorIds"],
    }
    view = {}
    for key, reader in readers.items():
        with aws_step(f"reading {key.replace('_', ' ')} from the sandbox"):
            view[key] = reader(clients)
    return view


def _live_instances(clients: SandboxClients) -> list[dict[str, Any]]:
    ec2 = clients("ec2")
    names = {g["GroupId"]: g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    found = []
    for reservation in ec2.describe_instances()["Reservations"]:
        for i in reservation["Instances"]:
            labels = tag_map(i.get("Tags"))
            groups = sorted({g["GroupId"] for e in i.get("NetworkInterfaces", []) for g in e["Groups"]})
            found.append(
                {
                    "name": labels.get("Name"),
                    "service": labels.get("Service"),
                    "instance_id": i["InstanceId"],
                    "state": i["State"]["Name"],
                    "private_ip": i.get("PrivateIpAddress"),
                    "public_ip": i.get("PublicIpAddress"),
                    "security_groups": [{"id": g, "name": names.get(g)} for g in groups],
                    "volumes": [b["Ebs"]["VolumeId"] for b in i.get("BlockDeviceMappings", [])],
                }
            )
    return sorted(found, key=lambda i: (i["name"] or "", i["instance_id"]))


def _live_buckets(clients: SandboxClients) -> list[dict[str, Any]]:
    s3 = clients("s3")
    found = []
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        try:
            labels = tag_map(s3.get_bucket_tagging(Bucket=name)["TagSet"])
        except ClientError:  # NoSuchTagSet
            labels = {}
        try:
            public = s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"]
        except ClientError:  # NoSuchBucketPolicy
            public = False
        found.append({"name": name, "public_policy": public, "tags": labels})
    return found


def _live_users(clients: SandboxClients) -> list[dict[str, Any]]:
    iam = clients("iam")
    return [
        {
            "name": u["UserName"],
            "access_keys": [
                {"id": k["AccessKeyId"], "status": k["Status"]}
                for k in iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
            ],
        }
        for u in iam.list_users()["Users"]
    ]


def _live_groups(clients: SandboxClients) -> list[dict[str, Any]]:
    groups = clients("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    return [
        {
            "name": g["AutoScalingGroupName"],
            "desired_capacity": g["DesiredCapacity"],
            "instances": sorted(i["InstanceId"] for i in g["Instances"]),
        }
        for g in groups
    ]


def _live_balancers(clients: SandboxClients) -> list[dict[str, Any]]:
    elbv2 = clients("elbv2")
    found = []
    for balancer in elbv2.describe_load_balancers()["LoadBalancers"]:
        targets = []
        for group in elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "TargetGroups"
        ]:
            health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
            targets += [
                {"id": h["Target"]["Id"], "state": h["TargetHealth"]["State"]}
                for h in health["TargetHealthDescriptions"]
            ]
        found.append(
            {"name": balancer["LoadBalancerName"], "dns_name": balancer["DNSName"], "targets": targets}
        )
    return found


def _live_snapshots(clients: SandboxClients) -> list[dict[str, Any]]:
    """Snapshots of the sandbox's volumes (moto's images come with snapshots of volumes that are not)."""
    ec2 = clients("ec2")
    volumes = sorted(v["VolumeId"] for v in ec2.describe_volumes()["Volumes"])
    if not volumes:
        return []
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": volumes}])["Snapshots"]
    return [
        {"snapshot_id": s["SnapshotId"], "volume_id": s["VolumeId"], "state": s["State"]} for s in snapshots
    ]


__all__ = ["CREDENTIALS", "SandboxClients", "SandboxError", "live_view", "read_estate", "seed"]
