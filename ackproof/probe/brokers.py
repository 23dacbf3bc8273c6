"""The brokers: how each is found, configured on loopback, started, killed and restarted.

A :class:`Broker` runs one broker process in its own session (its own process group, so a
SIGKILL reaches every process it started and nothing else) with its data in a work folder
that outlives the process: a restart after a kill finds whatever the broker made durable.
Each broker listens on a free loopback port; readiness is a TCP connect that succeeds.

Settings chosen for durability (what a user asking for the guarantee would configure):

* **mosquitto** — ``persistence true`` with a persistence folder; the default
  ``autosave_interval`` (1800 s: mosquitto writes its database on that period and at a
  clean shutdown, not per message);
* **nats-server** — JetStream on, file storage in the work folder;
* **rabbitmq-server** — a node of its own (name, ports, database, logs in the work
  folder); durable queue, persistent messages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SEARCH_PATH = ("/usr/sbin", "/usr/lib/rabbitmq/bin", "/usr/local/sbin")
PACKAGES = {"mosquitto": "mosquitto", "nats": "nats-server", "rabbitmq": "rabbitmq-server"}
BINARIES = {"mosquitto": "mosquitto", "nats": "nats-server", "rabbitmq": "rabbitmq-server"}


class BrokerUnavailable(Exception):
    """The broker cannot be run here (not installed, or it did not start); says which/why."""


def find_binary(broker: str) -> str | None:
    """The broker's executable, on PATH or in the folders Debian installs daemons in."""
    name = BINARIES[broker]
    path = os.pathsep.join([os.environ.get("PATH", ""), *SEARCH_PATH])
    if broker == "rabbitmq":  # the /usr/sbin wrapper re-execs as the rabbitmq user
        direct = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        if direct.exists():
            return str(direct)
    return shutil.which(name, path=path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Broker:
    """One broker of kind ``name`` (``mosquitto``, ``nats``, ``rabbitmq``) in ``workdir``."""

    name: str
    workdir: Path
    startup_timeout: float = 60.0
    config: tuple[str, ...] = ()  # extra configuration lines (mosquitto)

    def __post_init__(self) -> None:
        binary = find_binary(self.name)
        if binary is None:
            raise BrokerUnavailable(
                f"{BINARIES[self.name]} not found (install the Debian package "
                f"{PACKAGES[self.name]!r}: apt-get install {PACKAGES[self.name]})"
            )
        self.binary = binary
        self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.starts = 0
        self._epmd: subprocess.Popen[bytes] | None = None
        self._dist_port = free_port()
        self._epmd_port = free_port()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        argv, env = self._command()
        if self.name == "rabbitmq" and self._epmd is None:
            self._start_epmd()
        log = (self.workdir / "broker.log").open("ab")
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + self.startup_timeout
        while not _listening(self.port):
            if self.process.poll() is not None:
                self.stop()
                raise BrokerUnavailable(
                    f"{self.name} exited with code {self.process.returncode} at start "
                    f"(log: {self.workdir / 'broker.log'}): {self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerUnavailable(
                    f"{self.name} did not listen on port {self.port} within "
                    f"{self.startup_timeout:.0f} s: {self._log_tail()}"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the broker (its whole process group) and wait until it is gone."""
        self._signal(signal.SIGKILL)
        self.kills += 1

    def restart(self) -> None:
        self.start()

    def stop(self) -> None:
        """End the broker (SIGKILL: nothing is judged after this) and its epmd."""
        self._signal(signal.SIGKILL)
        if self._epmd is not None and self._epmd.poll() is None:
            self._epmd.kill()
            self._epmd.wait()

    def _start_epmd(self) -> None:
        """Erlang's port mapper, in the foreground: ``rabbitmq-server`` would start a daemon
        that outlives the probe. A broker kill leaves it running, as a real host would."""
        epmd = shutil.which("epmd", path="/usr/lib/erlang/bin:/usr/bin")
        if epmd is None:
            raise BrokerUnavailable("epmd (Erlang's port mapper) not found: is erlang installed?")
        self._epmd = subprocess.Popen(
            [epmd, "-port", str(self._epmd_port), "-address", "127.0.0.1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not _listening(self._epmd_port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _signal(self, sig: int) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10)
        deadline = time.monotonic() + 5  # the listening socket goes with the last process
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            text = (self.workdir / "broker.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-3:]) or "(empty log)"

    # -- per broker --------------------------------------------------------------------------
    def _command(self) -> tuple[list[str], dict[str, str]]:
        d = self.workdir
        if self.name == "mosquitto":
            conf = d / "mosquitto.conf"
            (d / "data").mkdir(exist_ok=True)
            conf.write_text(
                f"listener {self.port} 127.0.0.1\n"
                "allow_anonymous true\n"
                "persistence true\n"
                f"persistence_location {d / 'data'}/\n"
                "max_queued_messages 0\n"
                # as root, mosquitto would switch to the user 'mosquitto', who cannot write
                # the persistence folder: every save would fail and a restart find nothing
                + ("user root\n" if os.geteuid() == 0 else "")
                + f"log_dest file {d / 'mosquitto.log'}\n"
                + "".join(f"{line}\n" for line in self.config)
            )
            return [self.binary, "-c", str(conf)], {}
        if self.name == "nats":
            return [
                self.binary,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(d / "jetstream"),
                "-n",
                "probe",
            ], {}
        if self.name == "rabbitmq":
            return [self.binary], self._rabbitmq_env()
        raise BrokerUnavailable(f"unknown broker {self.name!r}")

    def _rabbitmq_env(self) -> dict[str, str]:
        d = self.workdir
        (d / "home").mkdir(exist_ok=True)
        conf = d / "rabbitmq.conf"
        conf.write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "management.tcp.port = 0\n"
        )
        (d / "enabled_plugins").write_text("[].\n")
        return {
            "HOME": str(d / "home"),
            "RABBITMQ_NODENAME": f"probe{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self._dist_port),
            "ERL_EPMD_PORT": str(self._epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_BASE": str(d),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(d / "rabbit.pid"),
            "RABBITMQ_USE_LONGNAME": "false",
        }
