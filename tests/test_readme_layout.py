"""The README's Layout names every module of the packages and scripts, and no file that is gone.

It had left out modules added later (agents/curves.py, vlm/prompts.py, vlm/record.py) without a word.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ["agents", "envs", "vlm", "scripts"]
# A file named in a folder's description (the cartridge's game.s, the task modules).
NAME = re.compile(r"[\w./-]+\.(?:py|s|gb|md)\b")


def layout(readme: str) -> dict[str, str]:
    """The Layout block's entries: each path (a folder's entries indented two spaces under it; a line
    indented further continues the description above) and its description."""
    block = readme.split("\n## Layout\n")[1].split("```")[1]
    entries: dict[str, str] = {}
    folders: list[str] = []
    path = ""
    for line in block.splitlines()[1:]:
        indent = len(line) - len(line.lstrip())
        if indent > 4:
            entries[path] += " " + line.strip()
            continue
        name, _, description = line.strip().partition(" ")
        folders = folders[: indent // 2]
        path = "".join([*folders, name])
        entries[path] = description.strip()
        folders.append(name)
    return entries


def named_files(entries: dict[str, str]) -> set[str]:
    """Every path the block names: its entries, and the files named in a folder's description (under
    that folder, or from the repository's root where the name has a folder in it)."""
    named = set(entries)
    for path, description in entries.items():
        if path.endswith("/"):
            named.update(name if "/" in name else path + name for name in NAME.findall(description))
    return named


def described(entries: dict[str, str]) -> set[str]:
    """The paths the block describes: each entry with a description, and each file a folder's description
    names in that folder (the task modules, the cartridge's files). A path only mentioned elsewhere (docs/
    naming scripts/plot_curve.py) or a bare name with no description has no line saying what it is for."""
    paths = {path for path, description in entries.items() if description}
    for path, description in entries.items():
        if path.endswith("/"):
            paths.update(path + name for name in NAME.findall(description) if "/" not in name)
    return paths


def holds_code(module: Path) -> bool:
    """Whether a module defines anything (an ``__init__.py`` holding only a docstring does not)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in tree.body)


def test_layout_names_each_module_and_only_files_that_exist():
    entries = layout((ROOT / "README.md").read_text(encoding="utf-8"))
    gone = sorted(p for p in named_files(entries) if not (ROOT / p).exists())
    named = described(entries)
    modules = (m for package in PACKAGES for m in (ROOT / package).rglob("*.py"))
    unnamed = sorted(
        path
        for m in modules
        if (path := m.relative_to(ROOT).as_posix()) not in named
        and "__pycache__" not in m.parts
        and (m.name != "__init__.py" or holds_code(m))
    )
    assert (gone, unnamed) == ([], [])


def test_layout_reads_nested_entries_and_names_in_a_folders_description():
    readme = (
        "\n## Layout\n\n```\na/        package\n  b.py    one\n  c/      two: d.py and\n"
        "                  scripts/e.py\n    f.py  three\ng/        four\n```\n"
    )
    entries = layout(readme)
    assert list(entries) == ["a/", "a/b.py", "a/c/", "a/c/f.py", "g/"]
    assert entries["a/c/"] == "two: d.py and scripts/e.py"
    assert named_files(entries) == {*entries, "a/c/d.py", "scripts/e.py"}
    assert described(entries) == {*entries, "a/c/d.py"}  # scripts/e.py is only mentioned


def test_layout_counts_a_module_without_a_description_as_undescribed():
    entries = layout("\n## Layout\n\n```\na/        package\n  b.py\n  c.py    one\n```\n")
    assert described(entries) == {"a/", "a/c.py"}
