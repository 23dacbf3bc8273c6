"""Fixtures for the probe tests: a real broker, installed on demand, or a clear skip.

(Not a conftest.py: mypy checks tests/ as one tree and tests/conformance has one. A test
module imports the fixture it needs, e.g. ``from probe_brokers import mosquitto_fixture``.)

``mosquitto``, ``nats_server`` and ``rabbitmq`` (session-scoped) make sure the broker's
executable exists: if it is missing and the tests run as root on a machine with
``apt-get``, they install the Debian package (``apt-get install``, then ``apt-get update``
and again if the first attempt fails), time-boxed to ``INSTALL_TIMEOUT`` seconds per
command; otherwise — not root, no apt, no network, the dpkg lock held — the test is
skipped with the reason. The client library of each broker must be importable (the dev
extra installs it); each test starts its own broker on a free loopback port.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess

import pytest

from ackproof.probe.brokers import PACKAGES, find_binary

INSTALL_TIMEOUT = 300.0
CLIENTS = {"mosquitto": "paho.mqtt", "nats": "nats", "rabbitmq": "pika"}
_tried: dict[str, str | None] = {}


def _apt(*args: str) -> subprocess.CompletedProcess[str] | None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(
            ["apt-get", *args],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None


def _install(broker: str) -> str | None:
    """None when the broker can be run; else why not (the skip reason)."""
    package = PACKAGES[broker]
    if importlib.util.find_spec(CLIENTS[broker].split(".")[0]) is None:
        return f"client library for {broker} missing: pip install -e '.[probe]'"
    if find_binary(broker) is not None:
        return None
    if os.geteuid() != 0:
        return f"{package} not installed, and not root to apt-get install it"
    if shutil.which("apt-get") is None:
        return f"{package} not installed, and no apt-get to install it"
    run = _apt("install", "-y", "--no-install-recommends", package)
    if run is None or run.returncode != 0:
        _apt("update")
        run = _apt("install", "-y", "--no-install-recommends", package)
    if find_binary(broker) is not None:
        return None
    if run is None:
        return f"apt-get install {package} took more than {INSTALL_TIMEOUT:.0f} s"
    tail = " | ".join((run.stderr or run.stdout).strip().splitlines()[-2:])
    return f"apt-get install {package} failed (exit {run.returncode}): {tail}"


def require(broker: str) -> str:
    if broker not in _tried:
        _tried[broker] = _install(broker)
    reason = _tried[broker]
    if reason is not None:
        pytest.skip(reason)
    return broker


@pytest.fixture(scope="session", name="mosquitto")
def mosquitto_fixture() -> str:
    return require("mosquitto")


@pytest.fixture(scope="session", name="nats_server")
def nats_server_fixture() -> str:
    return require("nats")


@pytest.fixture(scope="session", name="rabbitmq")
def rabbitmq_fixture() -> str:
    return require("rabbitmq")
