"""My exactly-once: retry until acked; dedup by id in a durable inbox."""

from ackproof.spec import Array, Bool, Builder, Ctx, Expr, Faults, FrameView, protocol

ANY_FAULT = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))


@protocol("my-exactly-once", claims=["exactly-once"], faults=ANY_FAULT)
def my_exactly_once(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
    p.sender.var("unacked", Array(p.msg, Bool), durable=True)
    p.receiver.var("inbox", Array(p.msg, Bool), durable=True)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.unacked[m] = True
        ctx.send(data(msg=m))

    @p.sender.timer(p.msg)
    def retransmit(ctx: Ctx, m: Expr) -> None:
        ctx.require(ctx.unacked[m])
        ctx.send(data(msg=m))

    @p.sender.on(ack)
    def on_ack(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(ctx.unacked[f.msg]):
            ctx.unacked[f.msg] = False
            ctx.ack(f.msg)

    p.sender.holds(lambda ctx, m: ctx.unacked[m])  # a copy it will resend

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
            ctx.process(f.msg)
            ctx.inbox[f.msg] = True
        ctx.send(ack(msg=f.msg))
