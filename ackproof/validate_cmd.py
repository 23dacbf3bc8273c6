"""``ackproof validate`` and ``ackproof demo`` as commands: the namespace read into a
typed request, the outcome printed and mapped to the exit code."""

from __future__ import annotations

import argparse
import json

from ackproof.output import exit_for


def cmd_validate(args: argparse.Namespace) -> int:
    from ackproof.validate import Request, run  # the trace reader and judge: validate only

    request = Request(tuple(args.trace), args.guarantee, args.protocol, args.protocol_name)
    outcome = run(request)
    if args.json:
        print(json.dumps(outcome.to_json(), indent=2))
    else:
        print("\n".join(outcome.lines()))
    return exit_for(outcome.status)


def cmd_demo(args: argparse.Namespace) -> int:
    from ackproof.impl.demo import run as run_demo  # trio and the implementation: demo only

    return int(run_demo(args))
