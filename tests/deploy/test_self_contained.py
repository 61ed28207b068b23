"""The project stands on its own: no file points at a folder beside the checkout.

Everything it needs (models and test data included) comes from its own set-up and the package
registries. The needles are built at run time, so this file does not match itself.
"""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BESIDE = "shared"
NEEDLES = re.compile(
    "|".join(
        [
            re.escape("../" + BESIDE),  # a relative path out of the checkout
            re.escape(BESIDE.upper() + "_DIR"),  # the setting that pointed there
            re.escape(BESIDE + "/") + "(?:models|testdata|reference)",  # the folder's contents by name
            r"""parents?(?:\[\d+\])?\s*/\s*["']""" + BESIDE + """["']""",  # Path(...).parent / "<folder>"
        ]
    )
)


def _project_files() -> list[Path]:
    """Tracked files and new ones git does not ignore (a copy without git: every file outside .venv and var)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", "var", "media", "staticfiles", "__pycache__"}
        return [p for p in REPO.rglob("*") if p.is_file() and not skipped & set(p.relative_to(REPO).parts)]
    return [REPO / name for name in listed.split("\0") if name and (REPO / name).is_file()]


def test_no_file_points_outside_the_checkout():
    # given every file of the project
    files = _project_files()
    assert len(files) > 100 and Path(__file__) in files  # the listing works (and includes this file)
    # when each text file is searched
    found = []
    for path in files:
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            if NEEDLES.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    # then none mentions the folder beside the checkout
    assert found == [], "\n".join(found)


def test_the_search_finds_what_it_looks_for():
    # the patterns the search must catch, assembled here so that this file stays clean
    for line in [
        "weights at ../" + BESIDE + "/models/x.h5",
        BESIDE.upper() + "_DIR = BASE_DIR.parent / 'x'",
        "exactly as " + BESIDE + "/models/age/README.txt describes",
        'CEILINGS = ROOT.parent / "' + BESIDE + '" / "reference"',
        "TESTDATA = Path(__file__).parents[3] / '" + BESIDE + "'",
    ]:
        assert NEEDLES.search(line), line
    assert not NEEDLES.search("media shared by web and worker pods")
