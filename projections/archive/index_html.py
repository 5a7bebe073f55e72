"""The human-readable index (``data/index.html``) an archivist opens in any browser.

Layer: projections, archive (pure rendering). One static HTML5 page, UTF-8, no script, no external
resource, every value escaped: the case's metadata (DA/T 70-2018 items, stage codes of RULES.md
"Archiving"), its events, its signed documents with their bodies, its materials and
e-certificate versions as relative links, and where the proofs stand. The page is part of the
payload and is a pure function of the package content, so the checker re-renders it and
compares bytes (a rebuild gives the same page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

from projections.archive.content import CertificateFile, DocumentFile, MaterialItem, json_value
from projections.archive.layout import PAYLOAD_DIR, STAGES

__all__ = ["render_index"]

KIND_NAMES: Final = {
    "application_receipt": "申请回执",
    "correction_notice": "补齐补正通知书",
    "acceptance_receipt": "受理回执",
    "non_acceptance_notice": "不予受理通知书",
    "return_notice": "退件通知书",
    "special_procedure_notice": "特殊程序告知书",
    "extension_notice": "延长期限告知书",
    "approval_decision": "批准决定书",
    "disapproval_decision": "不予批准决定书",
    "result_document": "结果文书",
    "delivery_receipt": "送达回证",
    "window_veto_report": "窗口否决报备单",
}
RETENTION_NAMES: Final = {"Y": "永久 permanent", "D30": "30年 30 years", "D10": "10年 10 years"}
_STYLE: Final = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}"
    "code{font-size:.9em}"
)


def _e(value: Any) -> str:
    if isinstance(value, dict | list):
        return escape(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return escape("" if value is None else str(value))


def _rel(path: str) -> str:
    return escape(path.removeprefix(PAYLOAD_DIR + "/"))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render_index(
    metadata: Mapping[str, Any],
    documents: Sequence[DocumentFile],
    materials: Sequence[MaterialItem],
    certificates: Sequence[CertificateFile],
    proof: Mapping[str, Any],
) -> bytes:
    """The index page's bytes (deterministic for the same arguments)."""
    m = metadata
    item, dept, dates = m["item"], m["department"], m["dates"]
    title = f"办件归档 {m['serial']} — {item['name']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<p>单套归档电子档案包 (GZ20·24) — BagIt 1.0 (RFC 8493); 四性检测 DA/T 70-2018. "
        "Check it with <code>caseledger archive check DIR</code>.</p>",
        "<h2>元数据 Metadata</h2>",
        _table(
            ["item", "value"],
            [
                ["申请流水号 serial", _e(m["serial"])],
                ["统一审批编码 approval code", _e(m["approval_code"])],
                [
                    "事项 item",
                    f"{_e(item['name'])} ({_e(item['implementation_code'])}, "
                    f"type {_e(item['type_code'])}, guide v{_e(item['guide_version'])})",
                ],
                ["法律依据 legal basis", _e("；".join(item["legal_basis"]))],
                ["实施主体 department", f"{_e(dept['name'])} ({_e(dept['code'])})"],
                ["申请人 applicant", _e(m["applicant"])],
                ["渠道 / 办理方式", f"{_e(m['channel'])} / {_e(m['handling_mode'])}"],
                [
                    "状态 state",
                    f"{_e(m['state'])} (stage {_e(m['final_stage'])} "
                    f"{_e(STAGES.get(m['final_stage'], ''))})",
                ],
                [
                    "保管期限 retention",
                    f"{_e(m['retention'])} {_e(RETENTION_NAMES.get(m['retention'], ''))}",
                ],
                *[[_e(k), _e(v)] for k, v in sorted(dates.items())],
                ["counts", _e(m["counts"])],
            ],
        ),
        "<h2>事件 Events</h2>",
        _table(
            ["version", "sequence", "event", "stage", "at", "files"],
            [
                [
                    _e(e["version"]),
                    _e(e["sequence"]),
                    _e(e["topic"].rpartition(":")[2]),
                    f"{_e(e['stage'])} {_e(STAGES.get(e['stage'], ''))}",
                    _e(e["at"]),
                    f'<a href="events/v{e["version"]:04d}.state.msgpack">state</a> '
                    f'<a href="events/v{e["version"]:04d}.entry.msgpack">entry</a>',
                ]
                for e in m["events"]
            ],
        ),
        "<h2>文书 Signed documents</h2>",
    ]
    for d in documents:
        v = json_value(d.value)
        parts.append(
            f'<h3><a href="{_rel(d.path)}">{escape(d.path.rpartition("/")[2])}</a> '
            f"{escape(KIND_NAMES.get(d.kind, d.kind))}</h3>"
        )
        parts.append(
            _table(
                ["field", "value"],
                [
                    ["issuer", _e(v["issuer_department"])],
                    ["issued at", _e(v["issued_at"])],
                    ["event", f"v{d.version} (sequence {d.sequence}) .{_e(d.field)}"],
                    ["seal key id", f"<code>{_e(v['key_id'])}</code>"],
                    ["content SHA-256", f"<code>{_e(v['content_hash'])}</code>"],
                    *[[_e(k), _e(b)] for k, b in sorted(v["body"].items())],
                ],
            )
        )
    parts.append("<h2>材料 Materials</h2>")
    parts.append(
        _table(
            ["file", "code", "event", "type", "bytes", "SHA-256"],
            [
                [
                    f'<a href="{_rel(x.path)}">{escape(x.path.rpartition("/")[2])}</a>',
                    _e(x.code),
                    f"v{x.version}",
                    _e(x.media_type),
                    _e(x.size),
                    f"<code>{x.sha256.hex()}</code>",
                ]
                for x in materials
            ],
        )
    )
    parts.append("<h2>电子证照 E-certificates</h2>")
    parts.append(
        _table(
            ["file", "identifier", "version", "issued at", "issuer"],
            [
                [
                    f'<a href="{_rel(c.path)}">{escape(c.path.removeprefix("data/"))}</a>',
                    _e(c.value["subject"]),
                    _e(c.number),
                    _e(json_value(c.value["issued_at"])),
                    _e(c.value["issuer"]),
                ]
                for c in certificates
            ],
        )
    )
    parts.append("<h2>证明 Proofs</h2>")
    parts.append(
        _table(
            ["item", "value"],
            [[_e(k), _e(v)] for k, v in sorted(proof.items())]
            + [
                [
                    "case proof bundle",
                    '<a href="proof/case-bundle.json">proof/case-bundle.json</a>',
                ],
                ["trust policy", '<a href="policy.json">policy.json</a>'],
                ["file register", '<a href="register.json">register.json</a>'],
                ["metadata", '<a href="case.json">case.json</a>'],
            ],
        )
    )
    parts.append("</body></html>\n")
    return "\n".join(parts).encode("utf-8")
