"""Shared by the test_respond_* modules: moto in server mode on loopback, a small AWS estate built through
real boto3 calls, and Reynard's task resources wired as the interpreter will wire them (`register_all`).

No test lives here. Everything is a real HTTP call to moto's server; nothing of Reynard's is mocked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import urllib3

from reynard.respond.actions import MemoryIncidentSink, PythonActions, register_all
from reynard.respond.dispatch import Dispatch
from reynard.respond.resources import TaskContext
from reynard.settings import Settings, parse_settings

REGION = "us-east-1"
AMI = "ami-12c6146b"  # one of moto's built-in images
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's ThreadedMotoServer on a free loopback port, test credentials in the environment."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    with pytest.MonkeyPatch.context() as mp:
        for key, value in CREDENTIALS.items():
            mp.setenv(key, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def reset(endpoint: str) -> None:
    urllib3.request("POST", f"{endpoint}/moto-api/reset")


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def context(
    state: str = "Step", *, dry_run: bool = False, execution: str = "exec-1", **extra: Any
) -> TaskContext:
    return TaskContext(execution_id=execution, state=state, attempt=1, dry_run=dry_run, **extra)


def settings(**respond: Any) -> Settings:
    """Settings as a reynard.toml would give them; verification re-reads without waiting."""
    tables: dict[str, Any] = {
        "aws": {"region": REGION},
        "actions": {"verify_attempts": 2, "verify_delay_seconds": 0},
    }
    tables.update(respond)
    return parse_settings({"respond": tables})


@dataclass
class Reynard:
    """The task resources, as the interpreter reaches them: one TaskInvoker, `invoke(resource, args, ctx)`."""

    table: Dispatch
    incidents: MemoryIncidentSink
    python_actions: PythonActions

    def run(self, resource: str, arguments: Any, ctx: TaskContext | None = None) -> Any:
        return self.table.invoke(resource, arguments, ctx or context())

    def action(self, name: str, arguments: Any, ctx: TaskContext | None = None) -> Any:
        result = self.run(f"reynard:{name}", arguments, ctx)
        json.dumps(result)  # every result is JSON as it is
        return result


def reynard(endpoint: str, **respond: Any) -> Reynard:
    table, incidents, python_actions = Dispatch(), MemoryIncidentSink(), PythonActions()
    register_all(
        table,
        settings(**respond),
        endpoint_url=endpoint,
        incidents=incidents,
        python_actions=python_actions,
        sleep=lambda seconds: None,
    )
    return Reynard(table, incidents, python_actions)


@dataclass
class World:
    """The estate the actions act on; ids of everything a test reads back."""

    endpoint: str
    vpc: str
    subnets: list[str]
    web_sg: str
    admin_sg: str
    instance: str
    primary_eni: str
    secondary_eni: str
    addresses: list[str]  # allocation ids: one on the primary ENI, one on the secondary
    role: str
    profile: str
    asg: str
    target_group: str
    classic_elb: str
    user: str
    access_key: str
    bucket: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, service: str) -> Any:  # world.ec2, world.iam, ...: boto3 clients at the endpoint
        if service.startswith("_"):
            raise AttributeError(service)
        return client(self.endpoint, service)

    def eni_groups(self, eni: str) -> list[str]:
        found = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
        return [g["GroupId"] for g in found["Groups"]]

    def instance_tags(self) -> dict[str, str]:
        found = self.ec2.describe_instances(InstanceIds=[self.instance])["Reservations"][0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in found.get("Tags", [])}

    def describe(self) -> dict[str, Any]:
        return self.ec2.describe_instances(InstanceIds=[self.instance])["Reservations"][0]["Instances"][0]


def build_world(endpoint: str) -> World:
    """A VPC with two subnets, an instance with two volumes and two ENIs (each with an Elastic IP), an
    instance profile with a role, an Auto Scaling group and a target group holding the instance, a classic
    ELB, an IAM user with an access key, and a bucket.

    The instance is launched with its groups on the primary ENI (`NetworkInterfaces`), not with
    `SecurityGroupIds`: moto keeps instance-level groups apart from the ENI's and reports their union on
    every attached ENI, a thing real EC2 does not have (an instance's groups are its primary ENI's).
    """
    ec2, iam = client(endpoint, "ec2"), client(endpoint, "iam")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
        for cidr in ("10.0.1.0/24", "10.0.2.0/24")
    ]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    admin = ec2.create_security_group(GroupName="admin", Description="admin", VpcId=vpc)["GroupId"]
    role = iam.create_role(
        RoleName="web-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["RoleName"]
    profile = iam.create_instance_profile(InstanceProfileName="web-profile")["InstanceProfile"][
        "InstanceProfileName"
    ]
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    instance = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnets[0], "Groups": [web, admin]}],
        BlockDeviceMappings=[
            {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}},
            {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 4, "DeleteOnTermination": True}},
        ],
        IamInstanceProfile={"Name": profile},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "miner"}]}],
    )["Instances"][0]
    instance_id = instance["InstanceId"]
    primary = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    secondary = ec2.create_network_interface(SubnetId=subnets[1], Groups=[web])["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    ec2.attach_network_interface(NetworkInterfaceId=secondary, InstanceId=instance_id, DeviceIndex=1)
    addresses = []
    for eni in (primary, secondary):
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=eni)
        addresses.append(allocation)

    autoscaling = client(endpoint, "autoscaling")
    template = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=1,
        VPCZoneIdentifier=subnets[0],
    )
    autoscaling.attach_instances(InstanceIds=[instance_id], AutoScalingGroupName="web-asg")

    elbv2 = client(endpoint, "elbv2")
    target_group = elbv2.create_target_group(
        Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": instance_id, "Port": 80}])
    elb = client(endpoint, "elb")
    elb.create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=[subnets[0]],
    )
    elb.register_instances_with_load_balancer(
        LoadBalancerName="legacy", Instances=[{"InstanceId": instance_id}]
    )

    user = iam.create_user(UserName="deploy")["User"]["UserName"]
    access_key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="evidence-and-data")
    return World(
        endpoint=endpoint,
        vpc=vpc,
        subnets=subnets,
        web_sg=web,
        admin_sg=admin,
        instance=instance_id,
        primary_eni=primary,
        secondary_eni=secondary,
        addresses=addresses,
        role=role,
        profile=profile,
        asg="web-asg",
        target_group=target_group,
        classic_elb="legacy",
        user=user,
        access_key=access_key,
        bucket="evidence-and-data",
    )


class AnswerServer(ThreadingHTTPServer):
    """A local HTTP endpoint that answers every request with one canned AWS error, counting requests."""

    daemon_threads = True

    def __init__(self, status: int, body: bytes, content_type: str, headers: dict[str, str]):
        super().__init__(("127.0.0.1", 0), _Answer)
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Answer(BaseHTTPRequestHandler):
    server: AnswerServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests += 1
        self.send_response(self.server.status)
        self.send_header("content-type", self.server.content_type)
        self.send_header("content-length", str(len(self.server.body)))
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def answering(
    status: int, body: bytes, content_type: str = "text/xml", headers: dict[str, str] | None = None
) -> Iterator[AnswerServer]:
    server = AnswerServer(status, body, content_type, headers or {})
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def ec2_throttling_body() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>Throttling</Code>'
        b"<Message>Rate exceeded</Message></Error></Errors><RequestID>req-throttled</RequestID></Response>"
    )
