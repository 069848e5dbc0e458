"""`reynard serve` over TLS (a self-signed certificate made here), `reynard ingest`'s hand-off to it,
and the warning for a server other machines can reach without TLS."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner
from hygiene_support import self_signed

from helpers import api_token, bearer, free_port
from reynard.cli import main
from reynard.settings import Settings
from reynard.web.server import exposure_warning, server_config


@contextmanager
def reynard_serve(
    data_dir: Path, *args: str, url: str, verify: ssl.SSLContext | bool = True
) -> Iterator[dict]:
    """`reynard serve ARGS` in a child process until the block ends; yields its stdout and stderr (read
    once it stopped) in a dict."""
    command = [sys.executable, "-m", "reynard", "serve", "--data-dir", str(data_dir), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output: dict = {}
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read())
            try:
                if httpx.get(f"{url}/status", timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield output
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        output.update(stdout=out, stderr=err)


def pinned(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_serve_over_tls_and_hand_ingest_to_it(tmp_path):
    cert, key = self_signed(tmp_path)
    data, port = tmp_path / "data", free_port()
    url = f"https://127.0.0.1:{port}"
    args = ("--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key))
    with reynard_serve(data, *args, url=url, verify=pinned(cert)) as output:
        status = httpx.get(f"{url}/status", verify=pinned(cert))
        assert status.status_code == 200
        assert status.headers["strict-transport-security"] == "max-age=31536000"
        assert "server" not in status.headers
        with pytest.raises(httpx.HTTPError):  # no clear-text HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/status", timeout=5)
        with pytest.raises(httpx.ConnectError):  # an unknown certificate is refused by a client
            httpx.get(f"{url}/status")
        announced = orjson.loads((data / "server.json").read_bytes())
        assert announced["url"] == url and announced["tls_cert"] == str(cert.resolve())

        # `reynard ingest` hands its events to the server over TLS, pinning the announced certificate.
        log = tmp_path / "auth.log"
        log.write_text(
            "".join(
                f"Nov 20 10:00:{i:02d} host sshd[{i}]: Failed password for root from 203.0.113.9"
                " port 22 ssh2\n"
                for i in range(30)
            )
        )
        ingest = subprocess.run(
            [sys.executable, "-m", "reynard", "ingest", "--data-dir", str(data), str(log)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ingest.returncode == 0, ingest.stderr
        admin = bearer(api_token(data))
        assert httpx.get(f"{url}/api/stats", verify=pinned(cert), headers=admin).json()["events"] == 30
    assert f"on https://127.0.0.1:{port}" in output["stdout"]
    assert "without TLS" not in output["stderr"]


def test_a_non_loopback_bind_without_tls_warns_on_stderr(tmp_path):
    port = free_port()
    with reynard_serve(
        tmp_path / "data", "--host", "0.0.0.0", "--port", str(port), url=f"http://127.0.0.1:{port}"
    ) as output:
        pass
    warning = output["stderr"].splitlines()[0]
    assert warning.startswith("warning: serving on 0.0.0.0 without TLS:")
    assert "API tokens" in warning and "events" in warning and "clear text" in warning

    cert, key = self_signed(tmp_path)
    port = free_port()
    args = ("--host", "0.0.0.0", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key))
    with reynard_serve(
        tmp_path / "data", *args, url=f"https://127.0.0.1:{port}", verify=pinned(cert)
    ) as output:
        pass
    assert "without TLS" not in output["stderr"]


def test_tls_1_2_at_least_and_only_aead_suites_with_forward_secrecy(tmp_path):
    cert, key = self_signed(tmp_path)

    async def app(scope, receive, send) -> None: ...

    config = server_config(app, Settings(tls_cert=cert, tls_key=key))
    config.load()  # what uvicorn does before it serves: builds its SSLContext
    assert config.ssl.minimum_version >= ssl.TLSVersion.TLSv1_2
    suites = [c for c in config.ssl.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert suites and all(
        c["name"].startswith(("ECDHE-RSA-", "ECDHE-ECDSA-", "DHE-RSA-"))
        and ("GCM" in c["name"] or "CHACHA20" in c["name"])
        for c in suites
    )


@pytest.mark.parametrize(
    ("host", "warns"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("[::1]", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("10.0.0.5", True),
        ("siem.example.com", True),
    ],
)
def test_which_binds_warn(host, warns):
    assert (exposure_warning(Settings(host=host)) is not None) is warns


def test_tls_mistakes_are_one_line_errors(tmp_path):
    data = str(tmp_path / "data")
    missing = CliRunner().invoke(
        main, ["serve", "--data-dir", data, "--tls-cert", "nope.pem", "--tls-key", "nope.key"]
    )
    assert missing.exit_code == 2
    assert missing.stderr == (
        "reynard: settings tls_cert and tls_key: cannot use nope.pem with nope.key:"
        " No such file or directory\n"
    )
    cert, _ = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = self_signed(tmp_path / "other")
    mismatch = CliRunner().invoke(
        main, ["serve", "--data-dir", data, "--tls-cert", str(cert), "--tls-key", str(other_key)]
    )
    assert mismatch.exit_code == 2 and "KEY_VALUES_MISMATCH" in mismatch.stderr
    alone = CliRunner().invoke(main, ["serve", "--data-dir", data, "--tls-cert", str(cert)])
    assert alone.exit_code == 2
    assert alone.stderr == "reynard: setting tls_cert needs tls_key too (both or neither)\n"
