"""The lint configuration holds in a checkout that has been used as the README says."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_an_export_under_datasets_does_not_make_the_datasets_package_first_party(tmp_path):
    # The README exports to `--out datasets/snake` (gitignored); ruff then took the folder for a first-party
    # package `datasets` and `ruff check .` reported vlm/formats.py's imports as unsorted.
    pytest.importorskip("ruff")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "vlm").mkdir()
    for name in ("__init__.py", "formats.py"):
        shutil.copy(ROOT / "vlm" / name, tmp_path / "vlm")
    (tmp_path / "datasets" / "snake").mkdir(parents=True)
    (tmp_path / "datasets" / "snake" / "train.jsonl").write_text("{}\n")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "I", "vlm"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
