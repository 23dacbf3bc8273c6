"""ackproof: message-delivery guarantees as checked state machines.

The work lives in three subpackages: :mod:`ackproof.spec` (protocols as typed state
machines, pure Python), :mod:`ackproof.proofs` (engines that check them) and
:mod:`ackproof.impl` (a trio reference implementation).
"""

__version__ = "0.1.0"
