"""Example variants: protocols from the literature, written as a user would write them.

Each module imports only :mod:`ackproof.spec` and exposes module-level
:class:`~ackproof.spec.ProtocolDef` s; its docstring explains the protocol and the
verdicts to expect.  Correct configurations and broken ones are both here: a broken one
claims what it fails to keep, under the fault model that breaks it.

* :mod:`.alternating_bit` — the alternating-bit protocol: FIFO (correct), reordering
  (broken).
* :mod:`.sliding_window` — selective repeat, ``sliding_window(window, modulus)``: window
  at most half the sequence space (correct), wider (broken).
* :mod:`.mqtt_qos2` — the MQTT QoS 2 handshake with reused packet ids: ordered transport
  (correct), duplicating and reordering network (broken).
* :mod:`.dedup_window` — a dedup window of the last ``K`` ids, ``dedup_window(k)``: big
  enough (correct), too small (broken).
* :mod:`.compaction` — bounded dedup state: a contiguous watermark plus the sparse set above
  it (correct), the set also pruned by count (broken).
* :mod:`.dual_write` — commit, then publish (broken, also with a retrying producer that
  skips committed ids), a producer that retries and republishes (correct), and the
  transactional outbox (correct).
"""

from ..protocol import ProtocolDef
from .alternating_bit import alternating_bit, alternating_bit_reordering
from .compaction import compaction, compaction_by_count, compaction_watermark
from .dedup_window import dedup_window, dedup_window_forgetful, dedup_window_roomy
from .dual_write import dual_write, dual_write_retry, dual_write_retry_skips, transactional_outbox
from .mqtt_qos2 import (
    mqtt_qos2,
    mqtt_qos2_reordering,
    mqtt_qos2_two_ids,
    mqtt_qos2_two_ids_patient,
    qos2_handshake,
)
from .sliding_window import sliding_window, sliding_window_ok, sliding_window_too_wide

#: Protocol name -> definition, for tools that enumerate the examples.
EXAMPLES: dict[str, ProtocolDef] = {
    p.name: p
    for p in (
        alternating_bit,
        alternating_bit_reordering,
        sliding_window_ok,
        sliding_window_too_wide,
        mqtt_qos2,
        mqtt_qos2_two_ids,
        mqtt_qos2_two_ids_patient,
        mqtt_qos2_reordering,
        dedup_window_forgetful,
        dedup_window_roomy,
        compaction_watermark,
        compaction_by_count,
        dual_write,
        dual_write_retry_skips,
        dual_write_retry,
        transactional_outbox,
    )
}

__all__ = [
    "EXAMPLES",
    "alternating_bit",
    "alternating_bit_reordering",
    "compaction",
    "compaction_by_count",
    "compaction_watermark",
    "dedup_window",
    "dedup_window_forgetful",
    "dedup_window_roomy",
    "dual_write",
    "dual_write_retry",
    "dual_write_retry_skips",
    "mqtt_qos2",
    "mqtt_qos2_reordering",
    "mqtt_qos2_two_ids",
    "mqtt_qos2_two_ids_patient",
    "qos2_handshake",
    "sliding_window",
    "sliding_window_ok",
    "sliding_window_too_wide",
    "transactional_outbox",
]
