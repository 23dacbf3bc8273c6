"""A lowered :class:`~ackproof.spec.System` as a Promela model, for SPIN as an outside baseline.

Theory of operation
-------------------
The system is already a flat transition system, so the model is one process with one
``do`` loop: a branch per ground action, ``atomic { guard -> updates; assert(INV) }``.
Updates are parallel assignments, so every new value is computed into a temporary first
and assigned after.  The property's invariant is asserted in the initial state and after
every step; SPIN's breadth-first search (``-DBFS``) then reports a shortest violation,
whose length the trail gives as the number of loop iterations.

Every environment construct (links and their budgets, connections with their drop and
reconnect steps and handlers, crash budgets, patient timers, the clock's tick, ages and
timed channels, several producers and senders, shared state) is already lowered into the
flat system's guards and updates, so the model carries it with no special case.  What a
safety search cannot carry is refused with :class:`PromelaError`, never exported wrong:

* a property that is liveness only (``eventual-delivery``: fair runs, with reconnects,
  ticks and timers taken fairly once faults stop) — there is no invariant to assert;
* a property whose meaning includes response obligations (``no-loss`` trusts each
  ``holds()`` claim, which is itself checked on fair runs) — unless the caller asks for
  its invariant alone (``invariant_only=True``): a SPIN violation is then a violation,
  and no violation says nothing about the claims.

A step's well-formedness checks (a value in its field's range, an index in bounds) are
asserted too, through a separate flag ``wf``: :func:`run_spin` raises
:class:`PromelaError` when SPIN reaches an ill-formed step, as the concrete interpreter
raises on it, instead of reporting a verdict about a model that overflowed.

Nothing here imports z3 or runs SPIN: :func:`run_spin` shells out only when asked (the
benchmark and a test that skips when ``spin`` is absent).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias, assert_never

from ackproof.spec.expr import TRUE, Expr, and_, walk
from ackproof.spec.ops import Leaf, Op, Source, infix
from ackproof.spec.system import Slot, System


def _promela(op: Op) -> Source:
    match op:
        case Op.NOT:
            return lambda a: f"(!{a[0]})"
        case Op.AND:
            return lambda a: "(" + " && ".join(a) + ")"
        case Op.OR:
            return lambda a: "(" + " || ".join(a) + ")"
        case Op.EQ:
            return infix("==")
        case Op.LT:
            return infix("<")
        case Op.LE:
            return infix("<=")
        case Op.ADD:
            return infix("+")
        case Op.SUB:
            return infix("-")
        case Op.MUL:
            return infix("*")
        case Op.MOD:  # Python's (Euclidean) % for a positive constant divisor
            return lambda a: f"((({a[0]}) % {a[1]} + {a[1]}) % {a[1]})"
        case Op.ITE:
            return lambda a: f"({a[0]} -> {a[1]} : {a[2]})"
        case Op.MIN:
            return lambda a: f"({a[0]} < {a[1]} -> {a[0]} : {a[1]})"
        case Op.MAX:
            return lambda a: f"({a[0]} > {a[1]} -> {a[0]} : {a[1]})"
        case _:
            assert_never(op)


#: The Promela expression for every operator, on its arguments' sources.
PROMELA: dict[Op, Source] = {op: _promela(op) for op in Op}


def expression(e: Expr) -> str:
    """``e`` as a Promela expression over the model's slot variables ``s0``, ``s1``, …"""
    return _src(e, {})


def _src(e: Expr, names: dict[int, str]) -> str:
    if id(e) in names:
        return names[id(e)]
    match e.op:
        case Leaf.CONST:
            return ("true" if e.value else "false") if e.sort == "bool" else str(e.value)
        case Leaf.SLOT:
            return f"s{e.value}"
        case Leaf.ARRAY:
            raise PromelaError("an array field is not a value")
        case Op() as op:
            return PROMELA[op]([_src(x, names) for x in e.args])
        case _:
            assert_never(e.op)


class PromelaError(ValueError):
    """A property or a model the Promela export cannot carry faithfully (it says which)."""


def _exportable(system: System, prop: str, invariant_only: bool) -> str:
    """What the model checks of ``prop``; raises :class:`PromelaError` if nothing sound."""
    if prop not in system.properties:
        known = ", ".join(system.properties)
        raise PromelaError(f"unknown property {prop!r} for {system.protocol}; use one of {known}")
    p = system.properties[prop]
    if not p.eventually:
        return f"property {prop}"
    if p.invariant is TRUE:
        raise PromelaError(
            f"{prop} of {system.protocol} is a liveness property (every fair run, with "
            "reconnects, ticks and timers taken fairly once faults stop, processes every "
            "submitted message): the Promela export asserts invariants only; check it with "
            "ackproof's engines (explicit, bmc, pdr, kinduction)"
        )
    if not invariant_only:
        whose = sorted({node for ob in p.eventually for node, _ in ob.claims})
        claims = f" ({', '.join(whose)}'s holds() claims)" if whose else ""
        raise PromelaError(
            f"{prop} of {system.protocol} includes response obligations{claims}, checked on "
            "fair runs, that a safety search cannot check: pass invariant_only=True to export "
            "its invariant alone (a violation is then a violation; no violation says nothing "
            "about the obligations)"
        )
    return f"property {prop}, its invariant only (its response obligations are not exported)"


def promela(system: System, prop: str, *, invariant_only: bool = False) -> str:
    """The Promela model of ``system`` with ``prop``'s invariant asserted after every step.

    Raises :class:`PromelaError` for a liveness property, and for a property with response
    obligations unless ``invariant_only`` (see the module docstring)."""
    what = _exportable(system, prop, invariant_only)
    inv = system.properties[prop].invariant
    out = [
        f"/* ackproof: {system.protocol} under {system.faults.name}, "
        f"N = {system.messages}, {what} */"
    ]
    for s in system.slots:
        kind = _promela_type(s)
        init = ("true" if s.init else "false") if s.sort == "bool" else str(int(s.init))
        out.append(f"{kind} s{s.index} = {init};  /* {s.name} */")
    out.append(f"#define INV ({_src(inv, {})})")
    temps = max((len(a.updates) for a in system.actions), default=0)
    shared = 0
    branches: list[str] = []
    for a in system.actions:
        if not a.updates:
            continue  # a step that changes nothing reaches nothing new (SPIN refuses self-loops)
        refs: dict[int, int] = {}
        for e in walk([v for _, v in a.updates]):
            for x in e.args:
                refs[id(x)] = refs.get(id(x), 0) + 1
        names: dict[int, str] = {}
        body: list[str] = []
        for e in walk([v for _, v in a.updates]):
            if not isinstance(e.op, Leaf) and refs.get(id(e), 0) > 1:
                name = f"c{len(names)}"
                body.append(f"{name} = {_src(e, names)}")
                names[id(e)] = name
        shared = max(shared, len(names))
        if a.checks:  # well-formedness: SPIN stops on it, run_spin says so (never a verdict)
            body.append(f"wf = {_src(and_(*(c.cond for c in a.checks)), names)}")
            body.append("assert(wf)")
        body += [f"n{k} = {_src(v, names)}" for k, (_, v) in enumerate(a.updates)]
        body += [f"s{i} = n{k}" for k, (i, _) in enumerate(a.updates)]
        # scratch values are part of SPIN's state vector (BFS refuses `hidden`): zero them,
        # or states differing only in a step's leftovers count twice (2,776 became 34,423)
        body += [f"n{k} = 0" for k in range(len(a.updates))]
        body += [f"c{k} = 0" for k in range(len(names))]
        body.append("assert(INV)")
        # an always-enabled branch starts with its first assignment (SPIN rejects `true ->`
        # at the head of a loop branch as an unconditional self-loop)
        head = "" if a.guard.is_const else f"{_src(a.guard, {})} -> "
        branches.append(
            f"  :: atomic {{ {head}/* {a.label} */\n       " + ";\n       ".join(body) + " }"
        )
    out.append("bool wf = true;  /* the last step was well-formed */")
    out.append("init {")
    decls = [f"int n{k}" for k in range(temps)] + [f"int c{k}" for k in range(shared)]
    out += [f"  {d};" for d in decls]
    out.append("  assert(INV);")
    out.append("  do")
    out += branches
    out.append("  od")
    out.append("}")
    return "\n".join(out) + "\n"


def _promela_type(s: Slot) -> str:
    """The smallest Promela type that holds the slot's range (SPIN's state vector is the
    sum of these: a modeller writing the model by hand would choose them too)."""
    if s.sort == "bool":
        return "bool"
    if s.lo >= 0 and s.hi <= 255:
        return "byte"
    if s.lo >= -32768 and s.hi <= 32767:
        return "short"
    return "int"


@dataclass(frozen=True, slots=True)
class SpinResult:
    violated: bool
    #: Steps of the shortest counterexample (loop iterations in the trail), if violated.
    length: int | None
    states: int
    #: Time to generate and compile the verifier, and time of the search itself.
    compile_seconds: float
    seconds: float
    complete: bool
    #: Why an incomplete search stopped: ``"memory"`` (its bound) or ``"time"``.
    stopped: Literal["memory", "time"] | None = None
    #: SPIN's own figure for the memory it used, in MB (0 if it printed none).
    memory_mb: float = 0.0


#: SPIN's search modes: ``bfs`` gives shortest counterexamples (``-DBFS``); ``dfs`` is
#: SPIN's default depth-first search with state compression (``-DCOLLAPSE``), its fastest
#: exhaustive mode for a safety property that holds (at N = 3, at-least-once no-loss:
#: 1.8 s against BFS's 3.3 s, same states).
SpinSearch: TypeAlias = Literal["bfs", "dfs"]


def spin_available() -> bool:
    return shutil.which("spin") is not None and shutil.which("gcc") is not None


def run_spin(
    system: System,
    prop: str,
    *,
    timeout: float = 60.0,
    invariant_only: bool = False,
    search: SpinSearch = "bfs",
    memory_mb: int = 4096,
) -> SpinResult:
    """Generate, compile and run a SPIN verification of ``prop`` (``search``: see
    :data:`SpinSearch`).

    At ``timeout`` seconds the search is interrupted (SIGINT: SPIN prints its statistics
    and stops) and the result is incomplete, with the states it had stored.  Raises
    :class:`PromelaError` where :func:`promela` refuses, and when SPIN reaches an
    ill-formed step (the model is wrong, not the property)."""
    model = promela(system, prop, invariant_only=invariant_only)
    flags = ["-DBFS", "-DSAFETY"] if search == "bfs" else ["-DSAFETY", "-DCOLLAPSE"]
    with tempfile.TemporaryDirectory(prefix="ackproof-spin-") as d:
        work = Path(d)
        (work / "model.pml").write_text(model)
        start = time.monotonic()
        subprocess.run(["spin", "-a", "model.pml"], cwd=work, check=True, capture_output=True)
        subprocess.run(
            ["gcc", "-O2", *flags, f"-DMEMLIM={memory_mb}", "-w", "-o", "pan", "pan.c"],
            cwd=work,
            check=True,
            capture_output=True,
        )
        compiled = time.monotonic()
        text, timed_out = _run_pan(work, timeout)
        seconds = time.monotonic() - compiled
        if re.search(r"assertion violated \(?wf\b", text):
            raise PromelaError(
                f"{system.protocol}: SPIN reached an ill-formed step (a value outside its "
                "field's range, or an index out of bounds); `ackproof check` names it"
            )
        m = re.search(r"errors: (\d+)", text)
        errors = int(m.group(1)) if m else 0
        sm = re.search(r"(\d+) states, stored", text)
        states = int(sm.group(1)) if sm else 0
        mm = re.search(r"([\d.]+)\s+total actual memory usage", text)
        length = None
        if errors and (work / "model.pml.trail").exists():
            replay = subprocess.run(
                ["spin", "-t", "-p", "model.pml"], cwd=work, capture_output=True, text=True
            )
            steps = {
                int(m.group(1))
                for m in re.finditer(
                    r"^\s*(\d+):\s+proc\s+\d+ .*\(state \d+\)\t\[", replay.stdout, re.M
                )
            }
            length = len(steps) - 1  # step 1 is the initial assert
        # SPIN 6.5 says "Search not completed" when it stops at an error, too
        short = any(
            why in text.lower()
            for why in ("search not completed", "search was not completed", "memlim bound")
        )
        stopped: Literal["memory", "time"] | None = None
        if not errors and (timed_out or short):
            stopped = "time" if timed_out else "memory"
        return SpinResult(
            violated=errors > 0,
            length=length,
            states=states,
            compile_seconds=compiled - start,
            seconds=seconds,
            complete=errors > 0 or stopped is None,
            stopped=stopped,
            memory_mb=float(mm.group(1)) if mm else 0.0,
        )


def _run_pan(work: Path, timeout: float) -> tuple[str, bool]:
    """Run the verifier; at ``timeout``, interrupt it and read what it printed then."""
    with subprocess.Popen(
        ["./pan", "-E", "-m1000000"], cwd=work, stdout=subprocess.PIPE, text=True
    ) as pan:
        try:
            out, _ = pan.communicate(timeout=timeout)
            return out, False
        except subprocess.TimeoutExpired:
            pan.send_signal(signal.SIGINT)  # SPIN's handler prints the statistics, then exits
            try:
                out, _ = pan.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                pan.kill()
                out, _ = pan.communicate()
            return out, True
