"""The documentation's tables that mirror code are the code's: a stale one fails here.

Refresh them with ``python3 -m agent.cli.doc_tables --write`` (see CONTRIBUTING.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from agent.cli import doc_tables
from agent.cli.doc_tables import TABLES, DocTableError, stale_tables

ROOT = Path(__file__).resolve().parents[2]


def test_every_generated_table_matches_the_code() -> None:
    stale = stale_tables(ROOT)
    assert not stale, (
        f"stale generated tables: {', '.join(stale)}; run python3 -m agent.cli.doc_tables --write"
    )


def _copy_docs(tmp_path: Path) -> Path:
    for name in ("README.md", "CONTRIBUTING.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_an_edited_table_is_stale_until_rewritten(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    server = root / "docs" / "server.md"
    text = server.read_text()
    edited = text.replace("| `AGENT_PORT` | `3002` |", "| `AGENT_PORT` | `3003` |")
    assert edited != text
    server.write_text(edited)
    assert stale_tables(root) == ["docs/server.md: server-settings"]
    assert stale_tables(root, write=True) == ["docs/server.md: server-settings"]
    assert server.read_text() == text
    assert stale_tables(root) == []


def test_the_command_checks_by_default_and_writes_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy_docs(tmp_path)
    mcp = root / "docs" / "mcp.md"
    mcp.write_text(mcp.read_text().replace("Open a URL in the current tab.", "Open a URL."))
    assert doc_tables.main(["--root", str(root)]) == 1
    out, err = capsys.readouterr()
    assert "stale: docs/mcp.md: mcp-tools" in out and "--write" in err
    assert doc_tables.main(["--root", str(root), "--write"]) == 0
    assert "rewrote docs/mcp.md: mcp-tools" in capsys.readouterr().out
    assert "Open a URL in the current tab." in mcp.read_text()
    assert doc_tables.main(["--root", str(root)]) == 0


def test_every_table_is_in_some_file_and_every_marker_names_a_table(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    extra = root / "docs" / "extra.md"
    extra.write_text("<!-- generated: nonsense -->\n<!-- end generated -->\n")
    with pytest.raises(DocTableError, match="unknown generated table 'nonsense'"):
        stale_tables(root)
    extra.unlink()
    config = root / "docs" / "configuration.md"
    config.write_text(config.read_text().replace("<!-- generated: settings -->", ""))
    with pytest.raises(DocTableError, match="no file holds the generated table"):
        stale_tables(root)
    assert set(TABLES) >= {"settings", "server-settings", "mcp-tools", "browser-commands"}


def test_a_setting_without_a_description_or_with_a_computed_default_is_refused() -> None:
    class Undescribed(BaseModel):
        quiet: bool = False

    class Computed(BaseModel):
        cores: int = Field(default_factory=lambda: 4, description="Cores.")

    with pytest.raises(DocTableError, match=r"Undescribed\.quiet has no description"):
        doc_tables._settings_rows(Undescribed)
    with pytest.raises(DocTableError, match=r"Computed\.cores: its default is computed"):
        doc_tables._settings_rows(Computed)


def test_a_cell_keeps_markdown_from_reading_text_as_html_or_emphasis() -> None:
    cell = doc_tables._cell("a <select> in `a|b` or **/done | max_tokens")
    assert cell == "a &lt;select> in `a\\|b` or \\*\\*/done \\| max\\_tokens"
