"""The rule ids of RULES.md, each with the section that first states it: the list every rule
id must be cited against by a test (``tests/test_rule_registry.py``).

Provenance: copied from the project's RULES.md ("Domain rules — what the regulations require
of the ledger", the team's distillation of the seed regulations GZ20, NH, GZ16, PY, FZ and the
Administrative Licensing Law ALL), as it stood on 2026-12-06 (sha256 of that file
40f482a3319636d8…). Only the ids ``<file>·<article>`` are copied (sub-items such as
``FZ·26(二)`` count as their article); the repository never reads the original. When RULES.md
changes, copy its ids again and record the new digest here.

Layer: domain data (standard library only).
"""

from __future__ import annotations

from typing import Final

__all__ = ["RULE_IDS", "SECTIONS", "SOURCES"]

SOURCES: Final = {
    "GZ20": "Guangzhou, revised draft ~2020 (seeds/000_35a83d9a56008233.txt)",
    "NH": "Foshan Nanhai, 2018 (seeds/001_2eac415877199561.txt)",
    "GZ16": "Guangzhou, 2016 (seeds/002_f6c726f4fdbaddc4.txt)",
    "PY": "Panyu smart services (seeds/003_921c5844867ac6e1.txt)",
    "FZ": "Fuzhou, 2018 (seeds/004_1f290e98f322d079.txt)",
    "ALL": "Administrative Licensing Law of the PRC",
}
"""What each file prefix of a rule id names (RULES.md's preamble)."""

SECTIONS: Final = (
    "Identity and access",
    "Service catalogue",
    "Case lifecycle",
    "E-certificates and seals",
    "Ratings (好差评)",
    "Supervision (电子监察)",
    "Blacklist and credit",
    "Consultations and complaints",
    "Kiosks (自助终端)",
    "Archiving",
    "Time",
    "Accountability of officials",
    "Further obligations (added after an audit of the seeds against this file)",
)
"""The sections of RULES.md after its vocabulary, in order: what a registry ``article`` names."""

RULE_IDS: Final[dict[str, str]] = {
    "GZ20·2": "Service catalogue",
    "GZ20·6": "Accountability of officials",
    "GZ20·8": "Consultations and complaints",
    "GZ20·9": "Case lifecycle",
    "GZ20·10": "Case lifecycle",
    "GZ20·11": "Case lifecycle",
    "GZ20·12": "Case lifecycle",
    "GZ20·13": "Case lifecycle",
    "GZ20·14": "Kiosks (自助终端)",
    "GZ20·15": "Case lifecycle",
    "GZ20·16": "Ratings (好差评)",
    "GZ20·18": "Further obligations (added after an audit of the seeds against this file)",
    "GZ20·19": "E-certificates and seals",
    "GZ20·21": "E-certificates and seals",
    "GZ20·23": "E-certificates and seals",
    "GZ20·24": "Case lifecycle",
    "GZ20·25": "Identity and access",
    "GZ20·26": "Supervision (电子监察)",
    "GZ20·27": "Supervision (电子监察)",
    "GZ20·28": "Blacklist and credit",
    "GZ16·4": "Case lifecycle",
    "GZ16·7": "Identity and access",
    "GZ16·8": "Consultations and complaints",
    "GZ16·9": "Case lifecycle",
    "GZ16·10": "Service catalogue",
    "GZ16·11": "Case lifecycle",
    "GZ16·12": "Case lifecycle",
    "GZ16·13": "Case lifecycle",
    "GZ16·14": "Service catalogue",
    "GZ16·15": "Case lifecycle",
    "GZ16·16": "Further obligations (added after an audit of the seeds against this file)",
    "GZ16·17": "Ratings (好差评)",
    "GZ16·18": "Service catalogue",
    "GZ16·21": "Identity and access",
    "GZ16·22": "Case lifecycle",
    "NH·6": "Supervision (电子监察)",
    "NH·7": "Identity and access",
    "NH·8": "Consultations and complaints",
    "NH·9": "Case lifecycle",
    "NH·10": "Service catalogue",
    "NH·11": "Case lifecycle",
    "NH·12": "Case lifecycle",
    "NH·13": "Case lifecycle",
    "NH·14": "Case lifecycle",
    "NH·15": "Case lifecycle",
    "NH·16": "Case lifecycle",
    "NH·17": "Ratings (好差评)",
    "NH·18": "Further obligations (added after an audit of the seeds against this file)",
    "NH·19": "E-certificates and seals",
    "NH·20": "Case lifecycle",
    "NH·21": "Case lifecycle",
    "NH·22": "Case lifecycle",
    "NH·23": "Identity and access",
    "NH·24": "Identity and access",
    "NH·25": "Blacklist and credit",
    "PY·4": "Further obligations (added after an audit of the seeds against this file)",
    "PY·7": "Identity and access",
    "PY·11": "Case lifecycle",
    "PY·12": "Further obligations (added after an audit of the seeds against this file)",
    "PY·13": "Case lifecycle",
    "PY·14": "Case lifecycle",
    "PY·16": "Further obligations (added after an audit of the seeds against this file)",
    "PY·17": "Ratings (好差评)",
    "PY·18": "Further obligations (added after an audit of the seeds against this file)",
    "PY·20": "Kiosks (自助终端)",
    "PY·21": "Kiosks (自助终端)",
    "PY·23": "Kiosks (自助终端)",
    "PY·24": "Further obligations (added after an audit of the seeds against this file)",
    "PY·28": "Blacklist and credit",
    "FZ·4": "E-certificates and seals",
    "FZ·6": "Case lifecycle",
    "FZ·7": "Service catalogue",
    "FZ·8": "Identity and access",
    "FZ·9": "Consultations and complaints",
    "FZ·10": "Case lifecycle",
    "FZ·11": "Case lifecycle",
    "FZ·13": "Case lifecycle",
    "FZ·15": "Case lifecycle",
    "FZ·16": "Further obligations (added after an audit of the seeds against this file)",
    "FZ·17": "Case lifecycle",
    "FZ·18": "Case lifecycle",
    "FZ·19": "Case lifecycle",
    "FZ·20": "Case lifecycle",
    "FZ·21": "Case lifecycle",
    "FZ·22": "Ratings (好差评)",
    "FZ·23": "Service catalogue",
    "FZ·24": "Supervision (电子监察)",
    "FZ·26": "Supervision (电子监察)",
    "ALL·32": "Case lifecycle",
    "ALL·42": "Further obligations (added after an audit of the seeds against this file)",
    "ALL·45": "Case lifecycle",
}
"""Every rule id RULES.md cites → the RULES.md section that first states it."""
