"""The probe's table (like ``ackproof demo``'s) and its JSON document."""

from __future__ import annotations

import json
from dataclasses import asdict

from ackproof.probe.runner import RunResult
from ackproof.spec.judge import Verdict
from ackproof.spec.judge import overall as judged_overall

LEGEND = (
    "counted per message id by the judge `ackproof validate` uses: lost = submitted, not "
    "processed when the run settled;\nduplicated = ids processed more than once (extra = "
    "processings beyond the first); out of order = ids first processed after a later-"
    "submitted one;\nkills = broker+consumer+producer SIGKILLs; proxy = connection resets + "
    "blackholes + delayed chunks."
)


def verdict_text(r: RunResult) -> str:
    match r.verdict:
        case "kept":
            return f"kept: {r.claim}"
        case "broken":
            return f"BROKEN: {r.claim} ({', '.join(r.violated)})"
        case _:
            return f"unfinished: {r.note}"


def render_table(results: list[RunResult]) -> str:
    head = (
        "broker",
        "setting",
        "fault",
        "submitted",
        "processed",
        "lost",
        "duplicated",
        "extra",
        "out of order",
        "kills",
        "proxy",
        "elapsed",
        "claim",
    )
    rows = [head]
    for r in results:
        k, p = r.kills, r.proxy
        rows.append(
            (
                r.broker,
                r.setting,
                r.fault,
                str(r.submitted),
                str(r.processed),
                str(r.lost),
                str(r.duplicated),
                str(r.extra_deliveries),
                str(r.out_of_order),
                f"{k['broker']}+{k['consumer']}+{k['producer']}",
                f"{p['resets']}+{p['blackholes']}+{p['delayed']}",
                f"{r.elapsed:.1f}s",
                verdict_text(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    table = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    return table + "\n" + LEGEND


def overall(results: list[RunResult]) -> Verdict:
    return judged_overall(r.verdict for r in results)


def to_json(results: list[RunResult], skipped: dict[str, str]) -> str:
    runs = [asdict(r) for r in results]
    return json.dumps({"verdict": overall(results), "runs": runs, "skipped": skipped}, indent=2)
