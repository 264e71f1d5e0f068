"""The README's commands are honest: its CLI block runs as written, its make targets exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algodesk.entrypoints.cli.app import app

README = Path(__file__).parents[2] / "README.md"
MAKEFILE = Path(__file__).parents[2] / "Makefile"


def test_the_readme_opens_with_make_run_and_make_test() -> None:
    head = README.read_text().splitlines()[:12]
    assert any(line.startswith("make run") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_every_make_target_the_readme_names_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE.read_text(), re.MULTILINE))
    named = set(re.findall(r"`make ([a-z-]+)`", README.read_text()))
    assert named
    assert named <= targets


def test_the_readme_cli_blocks_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(README.parent)  # the blocks name files in the repository
    blocks = [part.split("```", 1)[0] for part in README.read_text().split("```console")[1:]]
    commands = [
        line[2:]
        for block in blocks
        for line in block.splitlines()
        if line.startswith("$ algodesk ")
    ]
    assert len(commands) >= 4
    runner = CliRunner()
    for command in commands:
        args = shlex.split(command.replace("./data", str(tmp_path / "data")))[1:]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{command}\n{result.output}"
    assert (
        "OK: 5 entries in 1 accounts"
        in runner.invoke(app, ["ledger", "verify", "--data-dir", str(tmp_path / "data")]).output
    )


def test_the_gate_table_matches_the_gates() -> None:
    from algodesk.domain.risk.pipeline import GATES

    text = README.read_text()
    table = text.split("## Risk gates", 1)[1].split("\n\n", 3)[2]
    rows = [line for line in table.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert [int(r.split("|")[1]) for r in rows] == list(range(1, len(GATES) + 1))
    sources = "".join(
        p.read_text() for p in (Path(__file__).parents[2] / "src/algodesk/domain/risk").glob("*.py")
    )
    for row in rows:
        for code in re.findall(r"`([A-Z_]+)`", row.split("|")[3]):
            assert f'"{code}"' in sources, f"README lists {code}, which no gate emits"
