"""Load a user's protocol variant from a Python file, or a shipped protocol by name.

Every way this can go wrong (no file, a syntax error, an error at import, no protocol,
two protocols and no choice) raises :class:`InputError` with one line naming what and
where; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from ackproof.spec import ProtocolDef, SpecError


class InputError(Exception):
    """Bad input from the user: a file, a flag, a variant."""


class Stop(BaseException):
    """ackproof's own reasons to stop whatever runs (a time limit, SIGTERM): never taken
    for an error of the user's code, even when raised while that code runs."""


def shipped() -> dict[str, ProtocolDef]:
    """Every protocol ackproof ships: built-ins, broken variants, examples."""
    # Imported here, not at the top: building every shipped protocol waits until a
    # command names one (start-up stays fast).
    from ackproof.spec.examples import EXAMPLES
    from ackproof.spec.protocols import BROKEN, BUILTIN

    out: dict[str, ProtocolDef] = dict(BUILTIN)
    out.update({k: v for k, (v, _) in BROKEN.items()})
    out.update(EXAMPLES)
    return out


def load_file(path: str) -> dict[str, ProtocolDef]:
    """The protocols defined at the top level of the Python file ``path``."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if not p.is_file():
        raise InputError(f"{path}: not a file")
    try:
        source = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    try:
        compile(source, str(p), "exec")
    except SyntaxError as e:
        raise InputError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    name = f"ackproof_user_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SpecError as e:
        line = "" if e.where is not None else _user_line(e, p)
        raise InputError(f"{path}{line}: {e}") from None
    except (KeyboardInterrupt, Stop):
        raise
    except SystemExit as e:  # a variant that exits at import has checked nothing
        line = _user_line(e, p)
        raise InputError(
            f"{path}{line}: the file calls sys.exit({e.code!r}) while loading; "
            "a variant must only define protocols"
        ) from None
    except Exception as e:
        line = _user_line(e, p)
        raise InputError(f"{path}{line}: error while loading: {type(e).__name__}: {e}") from None
    except BaseException as e:
        if isinstance(e, GeneratorExit | Stop):
            raise  # ackproof's own signals (a time limit, a termination) pass through
        line = _user_line(e, p)
        raise InputError(f"{path}{line}: error while loading: {type(e).__name__}: {e}") from None
    finally:
        sys.modules.pop(name, None)
    found: dict[str, ProtocolDef] = {}
    for value in vars(module).values():
        if isinstance(value, ProtocolDef):
            found.setdefault(value.name, value)
    return found


def _user_line(e: BaseException, p: Path) -> str:
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if Path(frame.filename).resolve() == p.resolve():
            return f":{frame.lineno}"
    return ""


def _is_path(target: str, names: dict[str, ProtocolDef]) -> bool:
    """A file, not a shipped name: it ends in ``.py``, has a directory part, or is an
    existing file that no shipped protocol is named after (a folder named
    ``exactly-once`` in the working directory does not hide the shipped protocol)."""
    if target.endswith(".py") or "/" in target or "\\" in target:
        return True
    return target not in names and Path(target).exists()


def resolve(target: str, protocol: str | None = None, *, flag: str = "--protocol") -> ProtocolDef:
    """A protocol from a file path or a shipped protocol's name; ``protocol`` picks one of
    a file's protocols (``flag`` is the option that gives it, for the error messages)."""
    names = shipped()
    if _is_path(target, names):
        found = load_file(target)
        where = target
    else:
        found = names
        if target in found:
            if protocol is not None and protocol != target:
                raise InputError(
                    f"{target} is a shipped protocol; {flag} {protocol} names "
                    "another (give one of them)"
                )
            return found[target]
        from ackproof.spec.library import LIBRARY

        library = {e.name: e.protocol for e in LIBRARY}
        if target in library:  # ``ackproof explain mqtt-qos0``
            return library[target]
        if protocol is None:
            raise InputError(
                f"{target}: neither a Python file nor a known protocol "
                f"(known: {', '.join(sorted(found))})"
            )
        where = "the shipped protocols"
    if not found:
        raise InputError(f"{where}: no protocol found (decorate a build function with @protocol)")
    if protocol is not None:
        if protocol not in found:
            raise InputError(
                f"{where}: no protocol named {protocol!r} (found: {', '.join(sorted(found))})"
            )
        return found[protocol]
    if len(found) > 1:
        raise InputError(
            f"{where}: defines {len(found)} protocols ({', '.join(sorted(found))}); "
            f"choose one with {flag} NAME"
        )
    return next(iter(found.values()))
