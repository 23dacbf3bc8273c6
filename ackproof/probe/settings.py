"""What each broker claims, per setting: the mechanism the probe drives and its guarantee."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    broker: str
    name: str
    claim: str  # a guarantee of ackproof.spec.history.GUARANTEES
    mechanism: str
    broker_config: tuple[str, ...] = ()  # extra lines for the broker's configuration file
    inbox: bool = False  # the consumer deduplicates (the inbox pattern) on top of the broker
    qos: int | None = None  # MQTT settings: the QoS level both clients use


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "mosquitto",
        "qos1",
        "at-least-once",
        "MQTT 3.1.1 QoS 1, persistent sessions (clean session off), broker persistence on",
        qos=1,
    ),
    Setting(
        "mosquitto",
        "qos2",
        "exactly-once",
        "MQTT 3.1.1 QoS 2, persistent sessions (clean session off), broker persistence on",
        qos=2,
    ),
    Setting(
        "mosquitto",
        "qos1-autosave",
        "at-least-once",
        "as qos1, and mosquitto saves its database after every change (autosave_on_changes)",
        ("autosave_on_changes true", "autosave_interval 1"),
        qos=1,
    ),
    Setting(
        "mosquitto",
        "qos1-autosave-inbox",
        "exactly-once",
        "as qos1-autosave, and the consumer skips ids it processed before (the inbox pattern)",
        ("autosave_on_changes true", "autosave_interval 1"),
        inbox=True,
        qos=1,
    ),
    Setting(
        "nats",
        "ack",
        "at-least-once",
        "JetStream file stream, publish awaits the PubAck, durable pull consumer, explicit ack",
    ),
    Setting(
        "nats",
        "msgid",
        "exactly-once",
        "as 'ack', plus Nats-Msg-Id dedup on publish and a double ack (ack_sync) on consume",
    ),
    Setting(
        "nats",
        "msgid-inbox",
        "exactly-once",
        "as 'msgid', and the consumer skips ids it processed before (the inbox pattern)",
        inbox=True,
    ),
    Setting(
        "rabbitmq",
        "confirms",
        "at-least-once",
        "AMQP 0-9-1 durable queue, persistent messages, publisher confirms, manual acks",
    ),
    Setting(
        "rabbitmq",
        "confirms-inbox",
        "exactly-once",
        "as 'confirms', and the consumer skips ids it processed before (the inbox pattern)",
        inbox=True,
    ),
)

BROKERS = ("mosquitto", "nats", "rabbitmq")
#: The faults that kill a process (``kills`` times over a run).
KILLS = ("kill-broker", "kill-consumer", "kill-producer")
FAULTS = ("none", *KILLS, "proxy")


def settings_of(broker: str) -> list[Setting]:
    return [s for s in SETTINGS if s.broker == broker]


def find(broker: str, name: str) -> Setting:
    for s in SETTINGS:
        if s.broker == broker and s.name == name:
            return s
    known = ", ".join(s.name for s in settings_of(broker))
    raise KeyError(f"unknown setting {name!r} for {broker} (known: {known})")
