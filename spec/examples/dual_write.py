"""The dual write: a service commits its state, then publishes an event, as two steps.

A service handles a request (the producer's call) by committing a row to its database
and then publishing an event to a consumer.  The two writes are not one transaction, so
a crash between them leaves the row committed and the event never published: the event
is lost (the "dual write problem"; the transactional outbox, below, is the fix).

* ``dual-write`` — commit, then publish; the producer gives up when its call is cut
  short (the default).  no-loss is violated in one step: ``submit(m=0), crash after 1
  effect``.
* ``dual-write-retry-skips`` — the producer retries a call cut short, but the handler
  treats an id it already committed as done and returns at once (the usual idempotency
  check).  The retry never publishes: no-loss is violated in two steps.
* ``dual-write-retry`` — the producer retries and the handler publishes whether or not
  the row was already there: nothing is lost (the consumer may see an event twice, so it
  claims at-least-once only).
* ``transactional-outbox`` — commit the row and an outbox entry in one transaction; a
  relay timer publishes outbox entries until the consumer acknowledges them; the
  consumer keeps a durable inbox of processed ids: exactly-once.

The service is the only node that crashes, once (``max_crashes=1``); the network is
reliable, so every loss found here is the service's doing.
"""

from ackproof.spec import Array, Bool, Builder, Ctx, Expr, Faults, FrameView, protocol

SERVICE_CRASHES = Faults(crash=("service",), max_crashes=1)


@protocol("dual-write", claims=["at-least-once"], faults=SERVICE_CRASHES)
def dual_write(p: Builder) -> None:
    """Commit, then publish: a crash between the two loses the event."""
    service, consumer = p.node("service"), p.node("consumer")
    event = p.frame("EVENT", service, consumer, carries="msg", msg=p.msg)
    service.var("db", Array(p.msg, Bool), durable=True)

    @service.on_submit
    def commit_then_publish(ctx: Ctx, m: Expr) -> None:
        ctx.db[m] = True  # durable commit
        ctx.send(event(msg=m))  # publish

    @consumer.on(event)
    def on_event(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


@protocol("dual-write-retry-skips", claims=["at-least-once"], faults=SERVICE_CRASHES)
def dual_write_retry_skips(p: Builder) -> None:
    """The producer retries, but a retry of a committed id returns before publishing."""
    service, consumer = p.node("service"), p.node("consumer")
    event = p.frame("EVENT", service, consumer, carries="msg", msg=p.msg)
    service.var("db", Array(p.msg, Bool), durable=True)

    @service.on_submit(retry=True)
    def commit_then_publish(ctx: Ctx, m: Expr) -> None:
        with ctx.when(~ctx.db[m]):  # "already done": an idempotency check
            ctx.db[m] = True
            ctx.send(event(msg=m))

    @consumer.on(event)
    def on_event(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


@protocol("dual-write-retry", claims=["at-least-once"], faults=SERVICE_CRASHES)
def dual_write_retry(p: Builder) -> None:
    """The producer retries and every call publishes: nothing lost."""
    service, consumer = p.node("service"), p.node("consumer")
    event = p.frame("EVENT", service, consumer, carries="msg", msg=p.msg)
    service.var("db", Array(p.msg, Bool), durable=True)

    @service.on_submit(retry=True)
    def commit_then_publish(ctx: Ctx, m: Expr) -> None:
        ctx.db[m] = True
        ctx.send(event(msg=m))

    @consumer.on(event)
    def on_event(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


@protocol("transactional-outbox", claims=["exactly-once"], faults=SERVICE_CRASHES)
def transactional_outbox(p: Builder) -> None:
    """Row and outbox entry in one transaction; a relay publishes until acknowledged."""
    service, consumer = p.node("service"), p.node("consumer")
    event = p.frame("EVENT", service, consumer, carries="msg", msg=p.msg)
    done = p.frame("DONE", consumer, service, msg=p.msg)
    service.var("db", Array(p.msg, Bool), durable=True)
    service.var("outbox", Array(p.msg, Bool), durable=True)
    consumer.var("inbox", Array(p.msg, Bool), durable=True)

    @service.on_submit
    def commit(ctx: Ctx, m: Expr) -> None:
        with ctx.atomic():  # one database transaction
            ctx.db[m] = True
            ctx.outbox[m] = True

    @service.timer(p.msg)
    def relay(ctx: Ctx, m: Expr) -> None:
        ctx.require(ctx.outbox[m])
        ctx.send(event(msg=m))

    @service.on(done)
    def on_done(ctx: Ctx, f: FrameView) -> None:
        ctx.outbox[f.msg] = False

    service.holds(lambda ctx, m: ctx.outbox[m])  # the relay will publish it

    @consumer.on(event)
    def on_event(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
            ctx.process(f.msg)
            ctx.inbox[f.msg] = True
        ctx.send(done(msg=f.msg))
