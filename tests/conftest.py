import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real log samples in ../shared/data (see its README for origins and licenses)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """moto in server mode on loopback, one per test module: its endpoint URL."""
    from respond_support import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def world(aws: str):
    """A fresh AWS account in moto with the workshop's world in it (respond_support.World)."""
    from respond_support import build_world, reset

    reset(aws)
    return build_world(aws)


# CI runs the same examples every time (a red CI then means a change broke something, not a new draw);
# developers' runs explore new examples each time.
if os.environ.get("CI"):
    settings.register_profile("ci", derandomize=True, database=None)
    settings.load_profile("ci")


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path) -> None:
    """No AWS credentials anywhere boto3 looks: no AWS_* variables, empty shared files, no IMDS."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
