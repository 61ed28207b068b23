"""What every app that runs an installed model file needs: its checksum, and the error for a missing file.

`manage.py models_install` (apps/moderation/model_files.py) puts the files under MODELS_DIR; the apps
that load them (moderation's classifiers, accounts' face descriptors) only read them.
"""

import hashlib
from pathlib import Path

INSTALL_COMMAND = "python manage.py models_install"


class ModelUnavailable(RuntimeError):
    """A model file is missing at run time (nothing is ever downloaded instead): the message says what to run."""

    def __init__(self, what: str, path: Path, setting: str) -> None:
        super().__init__(
            f"{what} not found at {path}: run `{INSTALL_COMMAND}` (deploy/bin/setup does), "
            f"or point {setting} at the file"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
