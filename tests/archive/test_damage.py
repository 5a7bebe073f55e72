"""Every kind of damage to a package is caught by ``archive check`` and named; beside each, the
independent ``bagit`` package's verdict (full and fast), so the table shows where it misses
what ours catches (issue 8: size-preserving edits with --fast, deleted tag manifests, unlisted
tag files, rewrites with every manifest recomputed)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from anchors.codec import canonical_json
from api.cli.main import main
from ledger.chain.signing import Ed25519Signer
from ledger.encoding import canonical, decode_canonical
from projections.archive.checker import check_package
from projections.archive.second_opinion import bagit_opinion
from tests.archive.damage import copy, first, flip_byte, make_executable, recompute
from tests.archive.world import pdf

Damage = Callable[[Path], None]


def flipped_byte_in_a_material(bag: Path) -> None:
    flip_byte(first(bag, "data/materials/*.pdf"))


def changed_size_of_a_document(bag: Path) -> None:
    path = first(bag, "data/documents/*.msgpack")
    path.write_bytes(path.read_bytes() + b"\x00")


def deleted_document(bag: Path) -> None:
    first(bag, "data/documents/*.msgpack").unlink()


def added_unlisted_payload_file(bag: Path) -> None:
    (bag / "data/materials/extra.pdf").write_bytes(pdf("not part of the case"))


def added_unlisted_tag_file(bag: Path) -> None:
    (bag / "metadata/notes.json").write_text('{"note": "added later"}\n')


def deleted_tag_manifest(bag: Path) -> None:
    (bag / "tagmanifest-sha512.txt").unlink()


def edited_manifest_line_recomputed_to_match(bag: Path) -> None:
    """Change the retention code in case.json (same size) and fix its manifest line only."""
    path = bag / "data/case.json"
    path.write_bytes(path.read_bytes().replace(b'"retention": "D30"', b'"retention": "D10"'))
    digest = hashlib.sha512(path.read_bytes()).hexdigest()
    manifest = bag / "manifest-sha512.txt"
    lines = [
        f"{digest}  data/case.json" if line.endswith("  data/case.json") else line
        for line in manifest.read_text().splitlines()
    ]
    manifest.write_text("\n".join(lines) + "\n")


def event_removed_and_manifests_recomputed(bag: Path) -> None:
    last = sorted(bag.glob("data/events/v*.state.msgpack"))[-1]
    last.unlink()
    Path(str(last).replace(".state.", ".entry.")).unlink()
    recompute(bag)


def document_signed_by_a_wrong_key(bag: Path) -> None:
    path = first(bag, "data/documents/*acceptance_receipt.msgpack")
    document = decode_canonical(path.read_bytes())
    forger = Ed25519Signer.generate("forger")
    document["key_id"] = forger.key_id
    document["signature"] = forger.sign(b"caseledger/document/v1\n" + document["content_hash"])
    path.write_bytes(canonical(document))
    recompute(bag)


def checkpoint_with_too_few_cosignatures(bag: Path) -> None:
    path = bag / "data/proof/case-bundle.json"
    bundle = json.loads(path.read_bytes())
    text = bundle["receipt"]["checkpoint"]
    body, _, signatures = text.partition("\n\n")
    lines = signatures.splitlines()
    kept = lines[:2]  # the ledger's signature and one validator's cosignature (k = 3)
    bundle["receipt"]["checkpoint"] = body + "\n\n" + "\n".join(kept) + "\n"
    path.write_bytes(canonical_json(bundle))
    recompute(bag)


def path_traversal_name(bag: Path) -> None:
    evil = hashlib.sha512(b"evil").hexdigest()
    with (bag / "manifest-sha512.txt").open("a") as fh:
        fh.write(f"{evil}  data/../../etc/passwd\n")
    recompute_tags_only(bag)


def recompute_tags_only(bag: Path) -> None:
    names = ["bagit.txt", "bag-info.txt", "manifest-sha512.txt", "metadata/provenance.json",
             "metadata/transfer-bundle.json"]  # fmt: skip
    lines = [f"{hashlib.sha512((bag / n).read_bytes()).hexdigest()}  {n}\n" for n in sorted(names)]
    (bag / "tagmanifest-sha512.txt").write_text("".join(lines))


def symbolic_link(bag: Path) -> None:
    (bag / "data/materials/link.pdf").symlink_to("/etc/passwd")


def executable_file(bag: Path) -> None:
    make_executable(first(bag, "data/materials/*.pdf"))


def pdf_with_javascript_recomputed(bag: Path) -> None:
    path = first(bag, "data/materials/*.pdf")
    data = path.read_bytes().replace(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>",
    )
    path.write_bytes(data)
    recompute(bag)


def encrypted_pdf_recomputed(bag: Path) -> None:
    path = first(bag, "data/materials/*.pdf")
    path.write_bytes(path.read_bytes().replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 9 0 R"))
    recompute(bag)


def truncated_png_recomputed(bag: Path) -> None:
    path = first(bag, "data/materials/*.png")
    path.write_bytes(path.read_bytes()[:-20])
    recompute(bag)


def script_in_index_recomputed(bag: Path) -> None:
    path = bag / "data/index.html"
    path.write_bytes(path.read_bytes().replace(b"</body>", b"<script>alert(1)</script></body>"))
    recompute(bag)


def provenance_naming_another_payload(bag: Path) -> None:
    path = bag / "metadata/provenance.json"
    text = path.read_text()
    i = text.index('"sha512:') + len('"sha512:')
    path.write_text(text[:i] + ("1" if text[i] == "0" else "0") + text[i + 1 :])
    recompute_tags_only(bag)


# (damage, items our check must name, bagit full valid?, bagit fast valid?)
MATRIX: list[tuple[Damage, set[str], bool, bool]] = [
    (flipped_byte_in_a_material, {"bag.payload-fixity", "materials.digests"}, False, True),
    (
        changed_size_of_a_document,
        {"bag.payload-fixity", "bag.oxum", "register.sizes"},
        False,
        False,
    ),
    (deleted_document, {"bag.payload-fixity", "contents.complete", "register.sizes"}, False, False),
    (added_unlisted_payload_file, {"bag.payload-fixity", "contents.complete"}, False, False),
    (added_unlisted_tag_file, {"bag.tag-fixity"}, True, True),
    (deleted_tag_manifest, {"bag.manifests", "bag.tag-fixity"}, True, True),
    (
        edited_manifest_line_recomputed_to_match,
        {"bag.tag-fixity", "transfer.record", "metadata.valid"},
        False,
        True,
    ),
    (
        event_removed_and_manifests_recomputed,
        {"events.sequence", "transfer.record", "contents.complete"},
        True,
        True,
    ),
    (document_signed_by_a_wrong_key, {"documents.seals", "transfer.record"}, True, True),
    (checkpoint_with_too_few_cosignatures, {"proof.case", "transfer.record"}, True, True),
    (path_traversal_name, {"paths.safe", "bag.manifests"}, False, False),
    (symbolic_link, {"files.links"}, False, False),
    (executable_file, {"files.permissions"}, True, True),
    (pdf_with_javascript_recomputed, {"content.active", "materials.digests"}, True, True),
    (encrypted_pdf_recomputed, {"formats.no-encryption"}, True, True),
    (truncated_png_recomputed, {"formats.open", "materials.digests"}, True, True),
    (script_in_index_recomputed, {"content.active", "index.renders"}, True, True),
    (provenance_naming_another_payload, {"transfer.record"}, True, True),
]


@pytest.mark.parametrize(
    ("damage", "named", "bagit_full", "bagit_fast"), MATRIX, ids=[m[0].__name__ for m in MATRIX]
)
def test_damage_is_caught_and_named(
    package: Path,
    tmp_path: Path,
    damage: Damage,
    named: set[str],
    bagit_full: bool,
    bagit_fast: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bag = copy(package, tmp_path / "bag")
    assert check_package(bag).ok  # an intact copy passes
    damage(bag)
    report = check_package(bag)
    assert not report.ok
    assert named <= set(report.failed), report.table()
    for item in named:  # each failure says why
        assert report.item(item).problems and report.item(item).why
    assert main(["archive", "check", str(bag), "--no-bagit"]) == 1
    printed = capsys.readouterr().out
    assert all(name in printed for name in named)
    opinion = bagit_opinion(bag)
    assert (opinion.valid, opinion.fast_valid) == (bagit_full, bagit_fast), opinion.detail


def test_an_intact_package_passes_both_checks(package: Path) -> None:
    assert check_package(package).ok
    opinion = bagit_opinion(package)
    assert opinion.available and opinion.valid and opinion.fast_valid
