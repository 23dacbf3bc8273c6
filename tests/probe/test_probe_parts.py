"""The probe's parts: the fault proxy, the durable records, bad input, SIGTERM (mosquitto)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_brokers import mosquitto_fixture  # noqa: F401 (the fixture)

from ackproof.cli import main
from ackproof.events import TraceEvent
from ackproof.probe import brokers
from ackproof.probe.journal import Outbox, Trace, append_line, recover_submits
from ackproof.probe.proxy import FaultyProxy, ProxyFaults

#: The broker tests share one pytest-xdist worker (./scripts/test): one broker at a time,
#: and on a fresh machine one ``apt-get install`` at a time (``probe_brokers.require``).
pytestmark = pytest.mark.xdist_group("brokers")


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A loopback echo server (the stand-in broker)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the proxy may reset it
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


def roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got


def test_proxy_without_faults_relays_both_ways(echo_port: int) -> None:
    with FaultyProxy(echo_port, ProxyFaults()) as proxy:
        assert roundtrip(proxy.port, b"hello broker") == b"hello broker"
        stats = proxy.statistics()
    assert (stats.connections, stats.resets, stats.blackholes) == (1, 0, 0)


def test_proxy_delays_keep_the_bytes_in_order(echo_port: int) -> None:
    faults = ProxyFaults(delay_rate=1.0, delay=0.01)
    with FaultyProxy(echo_port, faults, seed=3) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            got = b""
            for i in range(5):
                s.sendall(b"%d;" % i)
                got += s.recv(64)
        assert got == b"0;1;2;3;4;"
        assert proxy.statistics().delayed >= 5


def reply_or_reset(port: int, payload: bytes) -> bytes:
    """What comes back for ``payload``; b"" if the connection is closed or reset (even at
    connect: a proxy that resets at once may beat the handshake's last step)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(payload)
            return s.recv(16)
    except ConnectionResetError:
        return b""


def test_proxy_reset_cuts_the_connection(echo_port: int) -> None:
    with FaultyProxy(echo_port, ProxyFaults(reset_rate=1.0)) as proxy:
        assert reply_or_reset(proxy.port, b"x") == b""
        assert proxy.statistics().resets == 1


def test_proxy_blackhole_swallows_then_resets(echo_port: int) -> None:
    with FaultyProxy(echo_port, ProxyFaults(blackhole_rate=1.0, hold=0.2)) as proxy:
        assert reply_or_reset(proxy.port, b"lost") == b""  # the reset ends the wait
        assert proxy.statistics().blackholes == 1


def test_proxy_refuses_when_the_broker_is_down() -> None:
    with FaultyProxy(brokers.free_port(), ProxyFaults()) as proxy:
        assert reply_or_reset(proxy.port, b"hello") == b""
        assert proxy.statistics().refused == 1


def test_outbox_recovers_unacked_ids_and_next_id(tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "outbox.jsonl")
    for m in (0, 1, 2):
        box.submit(m)
    box.ack(0)
    box.ack(2)
    again = Outbox.open(tmp_path / "outbox.jsonl")
    assert again.unacked() == [1]
    assert again.next_id == 3


def test_submit_durable_but_untraced_is_traced_as_recovered(tmp_path: Path) -> None:
    trace = Trace(tmp_path / "sender.jsonl", node="sender", guarantee="exactly-once")
    box = Outbox.open(tmp_path / "outbox.jsonl")
    box.submit(0)
    trace.line(TraceEvent.SUBMIT, 0)
    box.submit(1)  # the producer dies here: durable, not traced
    trace.close()
    append_line(tmp_path / "sender.jsonl", {"node": "sender", "event": "crash"})
    restarted = Trace(tmp_path / "sender.jsonl", node="sender", guarantee="exactly-once")
    recover_submits(Outbox.open(tmp_path / "outbox.jsonl"), restarted)
    lines = [json.loads(x) for x in (tmp_path / "sender.jsonl").read_text().splitlines()]
    assert [(x["event"], x.get("msg"), x.get("recovered")) for x in lines] == [
        ("submit", 0, None),
        ("crash", None, None),
        ("submit", 1, True),
    ]
    assert [x["seq"] for x in lines] == [0, 1, 2]
    assert all(a["t"] <= b["t"] for a, b in itertools.pairwise(lines))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--broker", "kafka"], "unknown broker 'kafka'"),
        (["--fault", "kill-broker,meteor"], "unknown fault 'meteor'"),
        (
            ["--setting", "qos3"],
            "unknown setting 'qos3' for mosquitto (known: qos1, qos2,",
        ),
        (["--broker", "all", "--setting", "qos1"], "--setting needs one --broker"),
        (["--messages", "0"], "--messages must be >= 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", *args]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err


def test_a_broker_that_is_not_installed_is_named_with_its_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(brokers, "find_binary", lambda name: None)
    with pytest.raises(brokers.BrokerUnavailable, match="apt-get install nats-server"):
        brokers.Broker("nats", tmp_path)
    assert main(["probe", "--broker", "nats", "--fault", "none"]) == 4
    assert "nats-server not found" in capsys.readouterr().err


def test_trace_lines_from_two_threads_keep_t_and_seq_in_file_order(tmp_path: Path) -> None:
    """paho confirms on its network thread while the main thread submits."""
    trace = Trace(tmp_path / "sender.jsonl", node="sender", guarantee="at-least-once")

    def write(event: TraceEvent) -> None:
        for m in range(1500):
            trace.line(event, m)

    threads = [threading.Thread(target=write, args=(e,)) for e in (TraceEvent.SEND, TraceEvent.ACK)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = [json.loads(x) for x in (tmp_path / "sender.jsonl").read_text().splitlines()]
    assert [x["seq"] for x in lines] == list(range(3000))
    assert all(a["t"] <= b["t"] for a, b in itertools.pairwise(lines))


def test_sigterm_ends_the_run_and_its_processes(mosquitto: str, tmp_path: Path) -> None:
    """Exit 143 with one line, and no broker or client process of the run left behind."""
    argv = [sys.executable, "-m", "ackproof.cli", "probe", "--broker", mosquitto]
    argv += ["--fault", "none", "--messages", "100000", "--timeout", "60"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob("ackproof-probe-*/*/sender.jsonl")):
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.1)
    run_dir = next(tmp_path.glob("ackproof-probe-*/*"))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert err.decode().strip().splitlines()[-1] == "ackproof probe: interrupted (SIGTERM)"
    assert not run_dir.exists()  # the temporary folder is gone with the processes using it
    left = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(run_dir) not in left


def test_inbox_consumer_skips_what_its_trace_shows_processed(tmp_path: Path) -> None:
    """The process line is the dedup record: a restarted consumer reads it back."""
    path = tmp_path / "receiver.jsonl"
    first = Trace(path, node="receiver", guarantee="exactly-once")
    assert first.process(4, inbox=True)
    assert not first.process(4, inbox=True)
    first.close()
    restarted = Trace(path, node="receiver", guarantee="exactly-once")
    assert not restarted.process(4, inbox=True)
    assert restarted.process(5, inbox=True)
    assert restarted.process(4, inbox=False)  # without the inbox every copy is processed
    events = [json.loads(x)["msg"] for x in path.read_text().splitlines()]
    assert events == [4, 5, 4]


def test_the_mqtt_clients_read_their_qos_from_the_setting_not_its_name() -> None:
    """Every MQTT setting carries its QoS level as data (the clients used to test whether
    the setting's name began with "qos2"); no other broker's setting has one."""
    from ackproof.probe.settings import KILLS, SETTINGS

    assert {s.name: s.qos for s in SETTINGS if s.broker == "mosquitto"} == {
        "qos1": 1,
        "qos2": 2,
        "qos1-autosave": 1,
        "qos1-autosave-inbox": 1,
    }
    assert all(s.qos is None for s in SETTINGS if s.broker != "mosquitto")
    assert set(KILLS) == {"kill-broker", "kill-consumer", "kill-producer"}
