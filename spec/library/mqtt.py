"""MQTT 3.1.1: QoS 0, 1 and 2 over a connection, with persistent and clean sessions.

Source: the OASIS MQTT 3.1.1 standard,
https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html — §4.2 (the network
connection is "an ordered, lossless, stream of bytes"), §4.3.1-4.3.3 (QoS 0, 1, 2; figure
4.3, Method A and Method B for the QoS 2 receiver), §3.1.2.4 (Clean Session), §4.4 ("When a
Client reconnects with CleanSession set to 0, both the Client and Server MUST re-send any
unacknowledged PUBLISH Packets (where QoS > 0) and PUBREL Packets using their original
Packet Identifiers. This is the only circumstance where a Client or Server is REQUIRED to
redeliver messages"); and the bug reports of the broken clients below.

The environment, as the standard describes it: the client and the broker talk over one
connection (FIFO, nothing lost or duplicated while it is up) that may drop — every packet
in flight on it is lost — and is then re-established; a retransmission happens only on
reconnect (no timers).  The client and the broker may each crash and restart once (a
crash drops the connection too).  A *persistent session* (CleanSession=0) keeps its state
across both — durable fields (the client stores a message in its session before it sends
it); a *clean session* (CleanSession=1) discards it when the connection ends.
The message is processed when the receiver initiates onward delivery.  Packet ids: QoS 1
uses the message id as its packet id (two in flight, none reused at two messages); QoS 2
uses one packet id, reused by the second message once the first flow completed.

Protocols (two messages each):

* ``mqtt-qos0`` — at most once: a drop loses the PUBLISH (no-loss violated).
* ``mqtt-qos1`` — persistent session: nothing is lost; a PUBACK lost in a drop (or a
  broker restart between delivery and PUBACK) makes the client resend on reconnect, and
  the broker (which keeps no QoS 1 state, as §4.3.2 lets it: "MUST treat any incoming
  PUBLISH ... as being a new publication") delivers again.
* ``mqtt-qos1-clean-session`` — the client discards its unacknowledged messages when the
  connection ends: a PUBLISH lost in a drop is never resent.
* ``mqtt-qos2-method-a`` / ``mqtt-qos2-method-b`` — persistent sessions on both sides:
  exactly once and in order, through drops and a broker restart.
* ``mqtt-qos2-clean-session`` — both sides discard the flow on disconnect: a drop loses a
  message, never duplicates one.
* ``mqtt-qos2-republish-clean-session`` — a clean-session client that keeps its in-flight
  messages in memory and republishes them on reconnect anyway (eclipse-paho/paho.mqtt.python
  #733: "it's possible for QoS 2 to be received twice"), to a broker that discarded the
  session: duplicate — and a client restart still loses them.
* ``mqtt-qos2-method-b-volatile-broker`` — the client's session persists, the broker's
  packet-id set does not survive its restart (no persistence, mosquitto#1734 / emqx#1481):
  the resent PUBLISH is "a new publication", delivered twice.
* ``mqtt-qos2-pubrec-before-persist`` — Method A with the stored message in memory only
  (PUBREC sent before it is persisted, mosquitto#188: "It may actually be impossible to
  implement QoS 2 correctly without writing the message to persistent storage before
  sending the PUBREC"): the client released its copy at PUBREC; a broker restart loses it.
* ``mqtt-qos2-publish-after-pubrel`` — a client that resends the PUBLISH on reconnect
  after it sent PUBREL (fusesource/mqtt-client#120; eclipse-paho/paho.mqtt.golang#788:
  "QoS 2 reconnect replays PUBLISH after PUBREL"), against a correct Method B broker:
  duplicate.
* ``mqtt-qos1-puback-before-processing`` — the receiving client library sends PUBACK, then
  hands the message to the application later (eclipse-mosquitto/mosquitto#188, #2884):
  a client crash in between loses it, though the sender's session is persistent.
"""

from __future__ import annotations

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Connection,
    Ctx,
    Enum,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    Queue,
    protocol,
)
from ackproof.spec.library import Entry, Expected

MQTT_311 = "MQTT 3.1.1 §4.3, §4.4 (https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/)"

#: One connection that drops at most once; client and broker may each restart once.
SESSION = Faults(
    loss=True,
    crash_budgets={"client": 1, "broker": 1},
    links={"client<->broker": Connection(max_drops=1)},
)

ALL = ("no-loss", "no-duplicate", "no-phantom", "in-order")


def _expect(violated: dict[str, int]) -> tuple[dict[str, Expected], dict[str, int]]:
    """Every property of ``ALL``: violated (with its shortest length) or holds."""
    expected: dict[str, Expected] = {p: "violated" if p in violated else "holds" for p in ALL}
    return expected, dict(violated)


# -- QoS 0 ------------------------------------------------------------------------------------
@protocol("mqtt-qos0", claims=["at-most-once"], faults=SESSION)
def mqtt_qos0(p: Builder) -> None:
    """MQTT QoS 0: PUBLISH once, no acknowledgement, no retry (§4.3.1)."""
    client, broker = p.node("client"), p.node("broker")
    publish = p.frame("PUBLISH", client, broker, carries="msg", msg=p.msg)

    @client.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(publish(msg=m))

    @broker.on(publish)
    def on_publish(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


# -- QoS 1 ------------------------------------------------------------------------------------
def qos1(name: str, *, clean: bool, description: str) -> ProtocolDef:
    """PUBLISH / PUBACK; the client resends unacknowledged PUBLISHes on reconnect (§4.4);
    ``clean``: the client discards them when the connection ends (CleanSession=1)."""

    @protocol(name, claims=["at-least-once"], faults=SESSION, description=description)
    def build(p: Builder) -> None:
        client, broker = p.node("client"), p.node("broker")
        publish = p.frame("PUBLISH", client, broker, carries="msg", msg=p.msg)
        puback = p.frame("PUBACK", broker, client, msg=p.msg)
        client.var("unacked", Array(p.msg, Bool), durable=not clean)

        @client.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.unacked[m] = True
            ctx.send(publish(msg=m))

        @client.on(puback)
        def on_puback(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.unacked[f.msg]):
                ctx.unacked[f.msg] = False
                ctx.ack(f.msg)

        @client.on_connect
        def resend(ctx: Ctx, peer: str) -> None:
            for m in range(p.messages):
                with ctx.when(ctx.unacked[m]):
                    ctx.send(publish(msg=m))

        if clean:

            @client.on_disconnect
            def end_session(ctx: Ctx, peer: str) -> None:
                for m in range(p.messages):
                    ctx.unacked[m] = False

        client.holds(lambda ctx, m: ctx.unacked[m])

        @broker.on(publish)
        def on_publish(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)  # accept ownership, initiate onward delivery
            ctx.send(puback(msg=f.msg))

    return build


mqtt_qos1 = qos1("mqtt-qos1", clean=False, description="MQTT QoS 1, persistent session.")
mqtt_qos1_clean = qos1(
    "mqtt-qos1-clean-session",
    clean=True,
    description="MQTT QoS 1, clean session: unacknowledged messages die with the connection.",
)


@protocol(
    "mqtt-qos1-puback-before-processing",
    claims=["at-least-once"],
    faults=Faults(
        loss=True,
        crash_budgets={"client": 1},
        links={"broker<->client": Connection(max_drops=1)},
    ),
)
def mqtt_qos1_puback_before_processing(p: Builder) -> None:
    """MQTT QoS 1 to a client library that PUBACKs before the application has the message."""
    broker, client = p.node("broker"), p.node("client")
    publish = p.frame("PUBLISH", broker, client, carries="msg", msg=p.msg)
    puback = p.frame("PUBACK", client, broker, msg=p.msg)
    broker.var("unacked", Array(p.msg, Bool), durable=True)
    client.var("pending", Queue(p.msg, 2))  # the callback queue, in memory

    @broker.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.unacked[m] = True
        ctx.send(publish(msg=m))

    @broker.on(puback)
    def on_puback(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(ctx.unacked[f.msg]):
            ctx.unacked[f.msg] = False
            ctx.ack(f.msg)

    @broker.on_connect
    def resend(ctx: Ctx, peer: str) -> None:
        for m in range(p.messages):
            with ctx.when(ctx.unacked[m]):
                ctx.send(publish(msg=m))

    broker.holds(lambda ctx, m: ctx.unacked[m])

    @client.on(publish)
    def on_publish(ctx: Ctx, f: FrameView) -> None:
        ctx.send(puback(msg=f.msg))  # the library acknowledges at once
        ctx.queue("pending").push(f.msg)

    @client.timer()
    def on_message(ctx: Ctx) -> None:  # the application's callback, later, in order
        ctx.process(ctx.queue("pending").pop())

    client.holds(lambda ctx, m: ctx.queue("pending").contains(m))


# -- QoS 2 ------------------------------------------------------------------------------------
#: The client's state of its one packet id.
Flow = Enum("Flow", "FREE", "PUBLISHED", "RELEASED")


def qos2(
    name: str,
    *,
    method: str,
    description: str,
    client_durable: bool = True,
    broker_durable: bool = True,
    clean: bool = False,
    client_keeps: bool = False,
    publish_after_pubrel: bool = False,
    resend_pubrel: bool = True,
) -> ProtocolDef:
    """The QoS 2 flow on one reused packet id.

    Client (§4.3.3): a new message waits for the id to be free, goes out as PUBLISH; on
    PUBREC the client sends PUBREL (and never the PUBLISH again, unless
    ``publish_after_pubrel``); on PUBCOMP the id is free.  On reconnect it resends what is
    unacknowledged (§4.4).  Broker: ``method`` "A" stores the message and id and sends
    PUBREC, and on PUBREL delivers it onward, discards it and sends PUBCOMP; "B" stores the
    id and delivers onward at PUBLISH, and on PUBREL discards the id.  ``clean``: both
    discard the session's state when the connection ends — except the client's, if
    ``client_keeps``.  ``resend_pubrel=False``: a client that breaks §4.4 and does not
    resend PUBREL on reconnect (no library entry: the liveness tests' must-fail case)."""
    if method not in ("A", "B"):
        raise ValueError(f"the QoS 2 receiver uses Method A or B, got {method!r}")
    claims = ["at-most-once"] if clean else ["exactly-once", "in-order"]

    @protocol(name, claims=claims, faults=SESSION, description=description)
    def build(p: Builder) -> None:
        client, broker = p.node("client"), p.node("broker")
        pid_t = Int(0, 0)  # one packet id
        publish = p.frame(
            "PUBLISH", client, broker, carries="msg", ghost=["msg"], pid=pid_t, msg=p.msg
        )
        pubrec = p.frame("PUBREC", broker, client, pid=pid_t)
        pubrel = p.frame("PUBREL", client, broker, pid=pid_t)
        pubcomp = p.frame("PUBCOMP", broker, client, pid=pid_t)

        client.var("flow", Flow, init=Flow.FREE, durable=client_durable)
        client.var("inflight", p.msg, ghost=True, durable=client_durable)
        broker.var("stored", Bool, durable=broker_durable)  # the packet id is stored
        if method == "A":
            broker.var("message", p.msg, ghost=True, durable=broker_durable)

        @client.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.flow == Flow.FREE)
            with ctx.atomic():  # the client stores the message in its session first
                ctx.flow = Flow.PUBLISHED
                ctx.inflight = m
            ctx.send(publish(pid=0, msg=m))

        @client.on(pubrec)
        def on_pubrec(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.flow == Flow.PUBLISHED):
                ctx.flow = Flow.RELEASED
                ctx.send(pubrel(pid=0))

        @client.on(pubcomp)
        def on_pubcomp(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.flow == Flow.RELEASED):
                ctx.ack(ctx.inflight)
                ctx.flow = Flow.FREE

        @client.on_connect
        def resend(ctx: Ctx, peer: str) -> None:
            resend_publish = ctx.flow == Flow.PUBLISHED
            if publish_after_pubrel:
                resend_publish = ctx.flow != Flow.FREE
            with ctx.when(resend_publish):
                ctx.send(publish(pid=0, msg=ctx.inflight))
            if resend_pubrel:
                with ctx.when(ctx.flow == Flow.RELEASED):
                    ctx.send(pubrel(pid=0))

        client.holds(lambda ctx, m: (ctx.flow == Flow.PUBLISHED) & (ctx.inflight == m))

        @broker.on(publish)
        def on_publish(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(~ctx.stored), ctx.atomic():
                if method == "A":
                    ctx.message = f.msg
                else:
                    ctx.process(f.msg)
                ctx.stored = True
            ctx.send(pubrec(pid=f.pid))

        @broker.on(pubrel)
        def on_pubrel(ctx: Ctx, f: FrameView) -> None:
            with ctx.atomic():
                if method == "A":
                    with ctx.when(ctx.stored):
                        ctx.process(ctx.message)
                ctx.stored = False
            ctx.send(pubcomp(pid=f.pid))

        if method == "A":
            broker.holds(lambda ctx, m: ctx.stored & (ctx.message == m))

        if clean and not client_keeps:

            @client.on_disconnect
            def client_session_ends(ctx: Ctx, peer: str) -> None:
                ctx.flow = Flow.FREE

        if clean:

            @broker.on_disconnect
            def broker_session_ends(ctx: Ctx, peer: str) -> None:
                ctx.stored = False

    return build


mqtt_qos2_method_a = qos2(
    "mqtt-qos2-method-a",
    method="A",
    description="MQTT QoS 2, Method A receiver (store message, deliver at PUBREL), persistent.",
)
mqtt_qos2_method_b = qos2(
    "mqtt-qos2-method-b",
    method="B",
    description="MQTT QoS 2, Method B receiver (store id, deliver at PUBLISH), persistent.",
)
mqtt_qos2_clean = qos2(
    "mqtt-qos2-clean-session",
    method="B",
    clean=True,
    client_durable=False,
    broker_durable=False,
    description="MQTT QoS 2, clean session: both sides forget the flow when the connection ends.",
)
mqtt_qos2_republish_clean_session = qos2(
    "mqtt-qos2-republish-clean-session",
    method="B",
    clean=True,
    client_keeps=True,
    client_durable=False,
    broker_durable=False,
    description="MQTT QoS 2, a clean-session client that republishes in-flight messages anyway.",
)
mqtt_qos2_method_b_volatile_broker = qos2(
    "mqtt-qos2-method-b-volatile-broker",
    method="B",
    broker_durable=False,
    description="MQTT QoS 2, Method B broker whose packet ids do not survive a restart.",
)
mqtt_qos2_pubrec_before_persist = qos2(
    "mqtt-qos2-pubrec-before-persist",
    method="A",
    broker_durable=False,
    description="MQTT QoS 2, Method A broker that sends PUBREC before persisting the message.",
)
mqtt_qos2_publish_after_pubrel = qos2(
    "mqtt-qos2-publish-after-pubrel",
    method="B",
    publish_after_pubrel=True,
    description="MQTT QoS 2, a client that resends PUBLISH after PUBREL on reconnect.",
)


def _entry(pdef: ProtocolDef, source: str, violated: dict[str, int], note: str = "") -> Entry:
    expected, shortest = _expect(violated)
    return Entry(pdef, "MQTT", source, expected, shortest, note=note)


ENTRIES: list[Entry] = [
    _entry(mqtt_qos0, f"{MQTT_311}, §4.3.1", {"no-loss": 2}),
    _entry(mqtt_qos1, f"{MQTT_311}, §4.3.2", {"no-duplicate": 4}),
    _entry(mqtt_qos1_clean, f"{MQTT_311}, §3.1.2.4", {"no-loss": 2}),
    _entry(
        mqtt_qos1_puback_before_processing,
        "eclipse-mosquitto/mosquitto#188, #2884",
        {"no-loss": 4, "no-duplicate": 7},
    ),
    _entry(mqtt_qos2_method_a, f"{MQTT_311}, §4.3.3 figure 4.3 (Method A)", {}),
    _entry(mqtt_qos2_method_b, f"{MQTT_311}, §4.3.3 figure 4.3 (Method B)", {}),
    _entry(mqtt_qos2_clean, f"{MQTT_311}, §3.1.2.4", {"no-loss": 2}),
    _entry(
        mqtt_qos2_republish_clean_session,
        "eclipse-paho/paho.mqtt.python#733",
        {"no-loss": 2, "no-duplicate": 4},
    ),
    _entry(
        mqtt_qos2_method_b_volatile_broker,
        "eclipse-mosquitto/mosquitto#1734, emqx/emqx#1481",
        {"no-duplicate": 4},
    ),
    _entry(mqtt_qos2_pubrec_before_persist, "eclipse-mosquitto/mosquitto#188", {"no-loss": 4}),
    _entry(
        mqtt_qos2_publish_after_pubrel,
        "fusesource/mqtt-client#120, eclipse-paho/paho.mqtt.golang#788",
        {"no-duplicate": 6},
    ),
]
