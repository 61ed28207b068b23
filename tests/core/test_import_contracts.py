"""The import contract import-linter's own types cannot state (halobuzz/import_contracts.py), run
through the real `lint-imports` on a small package."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[importlinter]
root_package = shop
contract_types =
    imported_names: halobuzz.import_contracts.ImportedNamesContract

[importlinter:contract:user-only]
name = Of shop.accounts.models, other packages import only User
type = imported_names
module = shop.accounts.models
owner = shop.accounts
allowed_names =
    User
"""


def _lint(tmp_path: Path, orders_source: str) -> subprocess.CompletedProcess:
    root = tmp_path / "shop"
    for package in (root, root / "accounts", root / "orders"):
        package.mkdir(exist_ok=True)
        (package / "__init__.py").write_text("")
    (root / "accounts" / "models.py").write_text("class User: ...\n\n\nclass Block: ...\n")
    (root / "accounts" / "services.py").write_text("from shop.accounts.models import Block, User\n")
    (root / "orders" / "services.py").write_text(orders_source)
    (tmp_path / ".importlinter").write_text(CONFIG)
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_allowed_name_passes_and_the_owner_may_import_anything(tmp_path):
    result = _lint(tmp_path, "from shop.accounts.models import User\n")
    assert result.returncode == 0, result.stdout + result.stderr


def test_another_name_or_the_whole_module_breaks_it(tmp_path):
    source = "from shop.accounts.models import (\n    Block,\n    User,\n)\n\n\n"
    source += "def f():\n    import shop.accounts.models\n"
    result = _lint(tmp_path, source)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "shop.orders.services:1 imports Block from shop.accounts.models" in result.stdout
    assert "shop.orders.services:8 imports * from shop.accounts.models" in result.stdout
    assert "shop.accounts.services" not in result.stdout
