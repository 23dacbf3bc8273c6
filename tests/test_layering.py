import subprocess
import sys


def test_spec_imports_neither_z3_nor_trio() -> None:
    code = (
        "import sys, ackproof.spec; "
        "bad = [m for m in ('z3', 'trio') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
