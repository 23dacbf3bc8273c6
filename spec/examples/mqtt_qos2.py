"""MQTT QoS 2: the four-way exactly-once handshake, with packet identifiers reused.

Sender (MQTT-4.3.3-1): a new message takes a free packet id ``pid`` (here message ``m``
waits for id ``m mod P``; an id is free again once its flow completes), goes out as
``PUBLISH(pid)`` and is resent until ``PUBREC(pid)``; then the sender sends ``PUBREL(pid)``
— and never the PUBLISH again — resending it until ``PUBCOMP(pid)``, when it tells its
producer the message was delivered and frees the id.

Receiver, "Method B" (MQTT figure 4.3): on ``PUBLISH(pid)`` whose id is not stored it
processes the message and stores the id, in one atomic step; whether or not the id was
stored it replies ``PUBREC(pid)``.  On ``PUBREL(pid)`` it forgets the id and replies
``PUBCOMP(pid)``.  Only ``pid`` is on the wire; the message's identity is a ghost field.

Timeouts may fire at any time (premature retransmission); MQTT 3.1 allowed timer-based
retries, 3.1.1/5.0 resend only on reconnect — a subset of these runs.

Expected verdicts:

* ``mqtt_qos2`` — one packet id, lossy FIFO channels, as MQTT's ordered transport (an
  ordered stream whose dropped connection loses frames): exactly-once and in-order hold.
  Every copy of a PUBLISH is ahead of its PUBREL, so none can arrive after the id was
  forgotten.
* ``mqtt_qos2_two_ids`` — two packet ids, two flows at once, same channels: no-duplicate
  and no-phantom hold, and no state ever has a message without a copy; in-order does not
  (it is not claimed): a lost PUBLISH retransmitted by timer is processed after the next
  message's.  MQTT keeps order by resending only on reconnect, in the original order,
  which these timer-driven runs do not model.  Whether every message is *eventually*
  delivered (no-loss's claims, eventual-delivery) is **undecided** at this bound: when
  PUBLISH(0) is lost, premature retransmissions of PUBLISH(1) can fill the channel to
  the receiver while its PUBRECs fill the channel back; then every handler must send
  into a full channel and the bounded model is stuck with message 0 unprocessed.  That
  is the model's bound, not the protocol (a bigger capacity fills up the same way);
  timers that fire only after a loss decide it:
* ``mqtt_qos2_two_ids_patient`` — the same with ``timer(..., early=False)`` (the timeout
  outlasts any round trip): exactly-once and eventual delivery are proved.
* ``mqtt_qos2_reordering`` — one packet id, over a network that duplicates and
  reorders: a stale PUBLISH copy overtaken by the PUBREL arrives after the receiver forgot
  the id, and is taken as a new publication (*no-duplicate*); a stale PUBREC from an
  earlier flow on the same id moves the sender on before the new message is processed,
  and it is acked and dropped unprocessed (*no-loss*).
"""

from __future__ import annotations

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Enum,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    protocol,
)

#: MQTT's transport assumption: ordered; losing frames models a dropped connection.
ORDERED = Faults(loss=True)
#: A datagram-like network: duplicates and reorders (and loses).
DATAGRAM = Faults(loss=True, duplicate=True, reorder=True)

#: The sender's state of one packet id.
Flow = Enum("Flow", "FREE", "PUBLISHED", "RELEASED")


def qos2_handshake(
    packet_ids: int,
    faults: Faults,
    name: str,
    description: str | None = None,
    *,
    early: bool = True,
) -> ProtocolDef:
    """The QoS 2 flow with ``packet_ids`` ids (message ``m`` uses id ``m mod packet_ids``);
    ``early=False``: the retransmission timer fires only when nothing is in flight."""
    # With one id, one flow at a time: messages are processed in submission order.  With
    # more, a lost PUBLISH retransmitted after a later one is processed after it.
    claims = ["exactly-once", "in-order"] if packet_ids == 1 else ["exactly-once"]

    # One more message than ids, so that an id is reused.
    @protocol(name, claims=claims, faults=faults, messages=packet_ids + 1, description=description)
    def build(p: Builder) -> None:
        """PUBLISH / PUBREC / PUBREL / PUBCOMP, Method B receiver, reused packet ids."""
        sender, receiver = p.sender, p.receiver
        pid_t = Int(0, packet_ids - 1)
        publish = p.frame(
            "PUBLISH", sender, receiver, carries="msg", ghost=["msg"], pid=pid_t, msg=p.msg
        )
        pubrec = p.frame("PUBREC", receiver, sender, pid=pid_t)
        pubrel = p.frame("PUBREL", sender, receiver, pid=pid_t)
        pubcomp = p.frame("PUBCOMP", receiver, sender, pid=pid_t)

        sender.var("flow", Array(pid_t, Flow), init=Flow.FREE)
        sender.var("inflight", Array(pid_t, p.msg), ghost=True)  # the message using each id
        receiver.var("stored", Array(pid_t, Bool))

        @sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            pid = m % packet_ids
            ctx.require(ctx.flow[pid] == Flow.FREE)
            ctx.flow[pid] = Flow.PUBLISHED
            ctx.inflight[pid] = m
            ctx.send(publish(pid=pid, msg=m))

        @sender.timer(pid_t, early=early)
        def retransmit(ctx: Ctx, pid: Expr) -> None:
            ctx.require(ctx.flow[pid] != Flow.FREE)
            with ctx.when(ctx.flow[pid] == Flow.PUBLISHED):
                ctx.send(publish(pid=pid, msg=ctx.inflight[pid]))
            with ctx.when(ctx.flow[pid] == Flow.RELEASED):
                ctx.send(pubrel(pid=pid))

        @sender.on(pubrec)
        def on_pubrec(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.flow[f.pid] == Flow.PUBLISHED):
                ctx.flow[f.pid] = Flow.RELEASED
                ctx.send(pubrel(pid=f.pid))

        @sender.on(pubcomp)
        def on_pubcomp(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.flow[f.pid] == Flow.RELEASED):
                ctx.ack(ctx.inflight[f.pid])
                ctx.flow[f.pid] = Flow.FREE
                ctx.inflight[f.pid] = 0

        @sender.holds
        def holds(ctx: Ctx, m: Expr) -> Expr:
            pid = m % packet_ids
            return (ctx.flow[pid] == Flow.PUBLISHED) & (ctx.inflight[pid] == m)

        @receiver.on(publish)
        def on_publish(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(~ctx.stored[f.pid]), ctx.atomic():
                ctx.process(f.msg)
                ctx.stored[f.pid] = True
            ctx.send(pubrec(pid=f.pid))

        @receiver.on(pubrel)
        def on_pubrel(ctx: Ctx, f: FrameView) -> None:
            ctx.stored[f.pid] = False
            ctx.send(pubcomp(pid=f.pid))

    return build


mqtt_qos2 = qos2_handshake(
    1, ORDERED, "mqtt-qos2", "MQTT QoS 2 four-way handshake, one reused packet id, ordered link."
)
mqtt_qos2_two_ids = qos2_handshake(
    2, ORDERED, "mqtt-qos2-two-ids", "MQTT QoS 2 with two packet ids in flight, ordered link."
)
mqtt_qos2_two_ids_patient = qos2_handshake(
    2,
    ORDERED,
    "mqtt-qos2-two-ids-patient",
    "MQTT QoS 2 with two ids whose retransmission timer waits until nothing is in flight.",
    early=False,
)
mqtt_qos2_reordering = qos2_handshake(
    1,
    DATAGRAM,
    "mqtt-qos2-reordering",
    "MQTT QoS 2 over a duplicating, reordering network (broken: a stale PUBLISH is new).",
)
