"""``ackproof list``: the built-in protocols, broken and example variants, the library,
fault models, properties and guarantees."""

from __future__ import annotations

import argparse

from ackproof.loader import shipped
from ackproof.obligations import FAULT_MEANINGS
from ackproof.output import EXIT_OK
from ackproof.spec.history import GUARANTEE_STATEMENTS, GUARANTEES, PROPERTIES
from ackproof.spec.protocols import BROKEN, BUILTIN


def cmd_list(args: argparse.Namespace) -> int:
    del args
    print("built-in protocols:")
    for name, p in BUILTIN.items():
        print(f"  {name:30} {p.description}")
    print("\nbroken variants (the checker must catch each):")
    for name, (p, prop) in BROKEN.items():
        print(f"  {name:30} breaks {prop}: {p.description}")
    examples = {k: v for k, v in shipped().items() if k not in BUILTIN and k not in BROKEN}
    if examples:
        print("\nexample variants:")
        for name, p in examples.items():
            print(f"  {name:30} {p.description}")
    from ackproof.library_cmd import listing

    print("\n" + listing())
    print("\nfault models (prove's columns; check --faults takes loss,dup,reorder,crash):")
    for name, meaning in FAULT_MEANINGS.items():
        print(f"  {name:30} {meaning}")
    print("\nproperties:")
    for name, sentence in PROPERTIES.items():
        print(f"  {name:30} {sentence}")
    print("\nguarantees:")
    for name, props in GUARANTEES.items():
        print(f"  {name:30} {' + '.join(props)}: {GUARANTEE_STATEMENTS[name]}")
    return EXIT_OK
