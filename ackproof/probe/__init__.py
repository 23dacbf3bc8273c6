"""ackproof.probe — real brokers judged by the same spec as the reference implementation.

``ackproof probe`` starts a real broker (mosquitto, nats-server, rabbitmq-server) as a
subprocess on loopback, puts a fault-injecting TCP proxy in front of it, and drives a
producer and a consumer — each its own process, killable with SIGKILL — through it with the
mechanism the broker offers for a guarantee (MQTT QoS 1/2 with persistent sessions; AMQP
publisher confirms and manual acks; NATS JetStream acks, with ``Nats-Msg-Id`` dedup). Both
clients write a JSONL trace in the documented format (``impl/TRACE_FORMAT.md``); the run is
judged by :func:`ackproof.validate.judge`, the code ``ackproof validate`` uses, which calls
the one judge, :func:`ackproof.spec.judge.judge`.

Modules:

* ``journal`` — the clients' trace writer and the producer's durable outbox;
* ``proxy`` — the TCP proxy that delays, blackholes and resets connections;
* ``settings`` — per broker, the settings the probe drives and the guarantee each claims;
* ``brokers`` — how each broker is found, configured, started and killed;
* ``mqtt_client``, ``nats_client``, ``amqp_client`` — producer and consumer per protocol;
* ``node`` — the entry point of a client process (``python -m ackproof.probe.node``);
* ``runner`` — one run: broker, proxy, clients, kills, settle, judge;
* ``report`` / ``command`` — the table and the ``ackproof probe`` subcommand.

The client libraries are the optional extra ``probe`` (paho-mqtt, nats-py, pika); the
brokers come from the system's packages.
"""
