"""The docs runner itself (tests/docs/runner.py): it finds the shell blocks and their expected
output as the convention says, refuses fences it cannot classify, matches ``…`` as documented,
reports the failing block by its line, and stops what a document leaves running."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.runner import (
    Block,
    DocFormatError,
    failures,
    output_matches,
    run_blocks,
    shell_blocks,
    with_ports,
)
from tests.suite_checks import live_descendants

DOC = """# A page

```sh
echo one
```

```text
one
```

Prose between.

```sh
echo two
```

Some words, so the next block is not this one's output:

```text
not expected
```

```json
{"not": "run"}
```
"""


def test_shell_blocks_come_in_order_with_the_text_block_right_after_them() -> None:
    assert shell_blocks(DOC) == [Block(3, "echo one", "one"), Block(13, "echo two", None)]


def test_a_fence_without_a_language_is_refused_naming_its_line() -> None:
    with pytest.raises(DocFormatError, match="line 3: a fence without a language"):
        shell_blocks("intro\n\n```\necho hi\n```\n")


def test_a_fence_never_closed_is_refused_naming_its_line() -> None:
    with pytest.raises(DocFormatError, match="line 2: a fence that is never closed"):
        shell_blocks("intro\n```sh\necho hi\n")


@pytest.mark.parametrize(
    ("expected", "actual", "match"),
    [
        ("201", "201\n", True),
        ("201", "200", False),
        ('{"id":"…"} 201', '{"id":"GZ-SCJG"} 201', True),
        ('{"id":"…"} 201', '{"id":"GZ-SCJG"} 200', False),
        ("a\n…\nz", "a\nb\nc\nz", True),
        ("a\n…\nz", "a\nz", True),
        ("a\n…\nz", "a\nb", False),
        ("a", "a\nextra", False),
        ("x…y", "x.*y is not a regex", False),
        ("(a+)…", "(a+) literally", True),
    ],
)
def test_expected_output_matches_line_by_line_with_the_wildcard(
    expected: str, actual: str, match: bool
) -> None:
    assert output_matches(expected, actual) is match


def test_documented_ports_are_replaced_whole_only() -> None:
    text = "localhost:8080 --port 8700 18080 80800"
    assert with_ports(text, {8080: 41000, 8700: 41001}) == (
        "localhost:41000 --port 41001 18080 80800"
    )


def test_variables_carry_from_block_to_block_and_a_failure_names_its_line(
    tmp_path: Path,
) -> None:
    blocks = shell_blocks(
        "```sh\nNAME=world\n```\n\n```sh\necho hello $NAME\n```\n\n```text\nhello world\n```\n"
        "\n```sh\necho $UNSET_VARIABLE\n```\n\n```sh\necho never\n```\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    ran, problem = run_blocks(blocks, work, tmp_path / "session", timeout=60)
    assert problem == ""
    assert [r.status for r in ran] == [0, 0, 1, None]
    assert ran[1].output == "hello world\n"
    found = failures("page.md", ran, problem)
    assert len(found) == 1 and found[0].startswith("page.md line 13: the block exited 1")
    assert "UNSET_VARIABLE: unbound variable" in found[0]


def test_a_wrong_output_is_reported_with_both_versions(tmp_path: Path) -> None:
    blocks = shell_blocks("```sh\necho 200\n```\n\n```text\n201\n```\n")
    work = tmp_path / "work"
    work.mkdir()
    ran, problem = run_blocks(blocks, work, tmp_path / "session", timeout=60)
    (found,) = failures("page.md", ran, problem)
    assert "the output is not what the document shows" in found
    assert "--- expected\n201" in found and "--- actual\n200" in found


def test_what_a_document_leaves_running_is_stopped(tmp_path: Path) -> None:
    blocks = shell_blocks("```sh\nsleep 600 &\necho $! > sleeper.pid\n```\n")
    work = tmp_path / "work"
    work.mkdir()
    before = set(live_descendants())
    ran, problem = run_blocks(blocks, work, tmp_path / "session", timeout=60)
    assert problem == "" and ran[0].status == 0
    pid = int((work / "sleeper.pid").read_text())
    assert pid not in live_descendants() and set(live_descendants()) <= before
    state = Path(f"/proc/{pid}/stat")
    assert not state.exists() or state.read_text().rpartition(")")[2].split()[0] == "Z"


def test_a_session_that_does_not_end_is_stopped_and_reported(tmp_path: Path) -> None:
    blocks = shell_blocks("```sh\necho started\n```\n\n```sh\nsleep 600\n```\n")
    work = tmp_path / "work"
    work.mkdir()
    ran, problem = run_blocks(blocks, work, tmp_path / "session", timeout=2)
    assert ran[0].status == 0 and ran[1].status is None
    (found,) = failures("page.md", ran, problem)
    assert found == "the session did not end within 2 s (in the block at line 5)"
