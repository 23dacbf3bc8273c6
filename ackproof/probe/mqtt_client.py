"""MQTT producer and consumer (paho-mqtt, MQTT 3.1.1) for mosquitto.

Producer: client id ``probe-producer``, clean session off, QoS 1 or 2; an id is acked when
paho reports the PUBACK (QoS 1) or PUBCOMP (QoS 2). paho keeps in-flight messages in memory
and resends them after a reconnect; a restarted producer republishes its outbox's unacked
ids as new PUBLISH packets (paho's packet ids die with the process).

Consumer: client id ``probe-consumer``, clean session off, subscribes on every connect (a
broker that lost its session forgets the subscription); paho sends the PUBACK / PUBREC
after ``on_message`` returns, so a message is processed (traced) before it is acked.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ackproof.events import TraceEvent
from ackproof.probe.settings import find

if TYPE_CHECKING:
    from ackproof.probe.journal import Outbox, Trace
    from ackproof.probe.node import NodeArgs

TOPIC = "probe/messages"


def _client(name: str) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=name,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    c.reconnect_delay_set(min_delay=1, max_delay=2)
    return c


def _qos(args: NodeArgs) -> int:
    qos = find("mosquitto", args.setting).qos
    if qos is None:
        raise ValueError(f"setting {args.setting!r} names no MQTT QoS level")
    return qos


def produce(args: NodeArgs, outbox: Outbox, trace: Trace) -> int:
    qos = _qos(args)
    client = _client("probe-producer")
    client.max_inflight_messages_set(20)
    lock = threading.Lock()
    pending: dict[int, int] = {}  # paho packet id -> message id
    early: set[int] = set()  # confirmations that came before publish() returned
    everything = threading.Event()

    def acked(msg: int) -> None:
        outbox.ack(msg)
        trace.line(TraceEvent.ACK, msg)
        if len(outbox.acked) >= args.messages:
            everything.set()

    def on_publish(
        c: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any
    ) -> None:  # paho's network thread
        with lock:
            msg = pending.pop(mid, None)
            if msg is None:
                early.add(mid)
                return
        acked(msg)

    def publish(msg: int) -> None:
        trace.line(TraceEvent.SEND, msg)
        info = client.publish(TOPIC, str(msg).encode(), qos=qos)
        with lock:
            if info.mid in early:
                early.discard(info.mid)
                done = True
            else:
                pending[info.mid] = msg
                done = False
        if done:
            acked(msg)

    client.on_publish = on_publish
    client.connect_async("127.0.0.1", args.port, keepalive=2)
    client.loop_start()
    for msg in outbox.unacked():
        publish(msg)
    gap = 1.0 / args.rate
    for msg in range(outbox.next_id, args.messages):
        outbox.submit(msg)
        trace.line(TraceEvent.SUBMIT, msg)
        publish(msg)
        time.sleep(gap)
    if len(outbox.acked) >= args.messages:
        everything.set()
    everything.wait()
    client.disconnect()
    client.loop_stop()
    return 0


def consume(args: NodeArgs, trace: Trace) -> int:
    qos = _qos(args)
    client = _client("probe-consumer")
    ready = args.state / "ready"

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        c.subscribe(TOPIC, qos=qos)

    def on_subscribe(c: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        ready.touch()

    def on_message(c: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        msg = int(message.payload)
        trace.line(
            TraceEvent.RECEIVE, msg, frame={"redelivered": bool(message.dup), "mid": message.mid}
        )
        trace.process(msg, inbox=args.inbox)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect_async("127.0.0.1", args.port, keepalive=2)
    client.loop_forever(retry_first_connection=True)
    return 0
