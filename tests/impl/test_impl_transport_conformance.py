"""One conformance suite, run against every transport (like trio's ``check_two_way_stream``)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
import trio
from impl_testing import run_trio

from ackproof.impl.codec import MAX_PAYLOAD, Frame, FrameKind, decode, encode
from ackproof.impl.errors import UsageError
from ackproof.impl.faults import FaultRates, open_faulty_transport
from ackproof.impl.tcp import TCPTransport, tcp_listener, tcp_transport_pair
from ackproof.impl.transport import Transport, memory_transport_pair
from ackproof.impl.udp import UDPTransport, udp_transport_pair

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    make: Callable[[AsyncExitStack], Awaitable[tuple[Transport, Transport]]]
    ordered: bool


async def _memory(stack: AsyncExitStack) -> tuple[Transport, Transport]:
    return memory_transport_pair()


async def _udp(stack: AsyncExitStack) -> tuple[Transport, Transport]:
    a, b = await udp_transport_pair()
    stack.push_async_callback(a.aclose)
    stack.push_async_callback(b.aclose)
    return a, b


async def _tcp(stack: AsyncExitStack) -> tuple[Transport, Transport]:
    a, b = await tcp_transport_pair()
    stack.push_async_callback(a.aclose)
    stack.push_async_callback(b.aclose)
    return a, b


def _faulty(
    inner: Callable[[AsyncExitStack], Awaitable[tuple[Transport, Transport]]],
) -> Callable[[AsyncExitStack], Awaitable[tuple[Transport, Transport]]]:
    async def make(stack: AsyncExitStack) -> tuple[Transport, Transport]:
        a, b = await inner(stack)
        rates = FaultRates()  # a plan with no faults must be transparent
        fa = await stack.enter_async_context(open_faulty_transport(a, rates=rates, seed=1))
        fb = await stack.enter_async_context(open_faulty_transport(b, rates=rates, seed=2))
        return fa, fb

    return make


KINDS = [
    Kind("memory", _memory, ordered=True),
    Kind("udp", _udp, ordered=False),
    Kind("tcp", _tcp, ordered=True),
    Kind("faulty-memory", _faulty(_memory), ordered=True),
    Kind("faulty-udp", _faulty(_udp), ordered=False),
    Kind("faulty-tcp", _faulty(_tcp), ordered=True),
]


@pytest.fixture(params=KINDS, ids=[k.name for k in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    k: Kind = request.param
    return k


def _frame(i: int, size: int = 8) -> bytes:
    return encode(Frame(FrameKind.DATA, i, bytes([i % 256]) * size))


def check(kind: Kind, body: Callable[[Transport, Transport], Awaitable[None]]) -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with AsyncExitStack() as stack:
                a, b = await kind.make(stack)
                await body(a, b)

    run_trio(main)


def test_round_trip_both_directions(kind: Kind) -> None:
    async def body(a: Transport, b: Transport) -> None:
        await a.send(_frame(1))
        assert await b.receive() == _frame(1)
        await b.send(encode(Frame(FrameKind.ACK, 1)))
        assert decode(await a.receive()) == Frame(FrameKind.ACK, 1)

    check(kind, body)


def test_many_frames_arrive_intact(kind: Kind) -> None:
    sent = [_frame(i, size=i % 97) for i in range(300)]

    async def body(a: Transport, b: Transport) -> None:
        await a.send_batch(sent[:150])
        for raw in sent[150:]:
            await a.send(raw)
        got = [await b.receive() for _ in sent]
        assert sorted(got) == sorted(sent)
        if kind.ordered:
            assert got == sent

    check(kind, body)


def test_largest_frame_fits(kind: Kind) -> None:
    big = encode(Frame(FrameKind.DATA, 9, b"z" * MAX_PAYLOAD))

    async def body(a: Transport, b: Transport) -> None:
        await a.send(big)
        assert await b.receive() == big

    check(kind, body)


def test_send_after_close_raises_closed(kind: Kind) -> None:
    async def body(a: Transport, b: Transport) -> None:
        await a.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await a.send(_frame(1))

    check(kind, body)


def test_receive_after_close_raises_closed(kind: Kind) -> None:
    async def body(a: Transport, b: Transport) -> None:
        await b.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await b.receive()

    check(kind, body)


def test_only_loopback_addresses_are_accepted() -> None:
    async def main() -> None:
        with pytest.raises(UsageError):
            await UDPTransport.bind(host="0.0.0.0")
        with pytest.raises(UsageError):
            await TCPTransport.connect(1, host="10.0.0.1")
        with pytest.raises(UsageError):
            await tcp_listener(host="::")

    run_trio(main)
