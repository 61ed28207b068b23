"""The sandbox's service account key: generated on this machine at first use, never committed."""

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

SANDBOX_CLIENT_EMAIL = "halobuzz-push@sandbox.iam.gserviceaccount.com"


def sandbox_key_info(*, token_uri: str, project_id: str) -> dict[str, Any]:
    """A new service account key in Google's JSON layout, with a fresh RSA key, for the sandbox."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": SANDBOX_CLIENT_EMAIL,
        "client_id": "0",
        "token_uri": token_uri,
    }


def sandbox_key_write(path: Path, *, token_uri: str, project_id: str) -> Path:
    """Write a new key to `path` (mode 0600) unless one is there; processes racing agree on one file."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    info = sandbox_key_info(token_uri=token_uri, project_id=project_id)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fcm-key-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(info, handle)
        try:
            os.link(tmp, path)  # fails if another process wrote it first: theirs wins
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path


def sandbox_credentials_ensure() -> Path:
    """The sandbox key of this deployment (EMBEDDED_DIR), its token_uri the sandbox under SITE_URL."""
    return sandbox_key_write(
        Path(settings.EMBEDDED_DIR) / "fcm-sandbox-service-account.json",
        token_uri=f"{settings.SITE_URL.rstrip('/')}/sandbox/fcm/token",
        project_id=settings.FCM_PROJECT_ID,
    )
