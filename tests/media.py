"""Reading back stored media in tests, whichever storage the run uses (buckets or the filesystem)."""

from urllib.parse import parse_qsl, urlsplit

import requests
from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.http import Http404
from django.test import Client, RequestFactory
from django.views.static import serve


def stored_names(storage: Storage, folder: str = "") -> list[str]:
    """Every file name under `folder` of a storage, recursively (an absent folder is empty)."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    prefix = f"{folder.rstrip('/')}/" if folder else ""
    names = [prefix + name for name in files]
    for sub in folders:
        names += stored_names(storage, prefix + sub)
    return sorted(names)


def fetch(url: str, client: Client | None = None) -> tuple[int, bytes]:
    """GET a media URL as a browser would: an object store's over HTTP, the app's own through `client`."""
    parts = urlsplit(url)
    if parts.hostname in (None, "testserver") and parts.path.startswith(settings.MEDIA_URL):
        # filesystem media: what the embedded app or, in production, the proxy in front serves
        try:
            response = serve(
                RequestFactory().get(parts.path), parts.path.removeprefix(settings.MEDIA_URL), default_storage.location
            )
        except Http404:
            return 404, b""
        return response.status_code, b"".join(response.streaming_content)
    if parts.hostname in (None, "testserver"):
        response = (client or Client()).get(parts.path + (f"?{parts.query}" if parts.query else ""))
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, body
    response = requests.get(url, timeout=10)
    return response.status_code, response.content


def assert_private_link(url: str, *, name: str) -> None:
    """`url` is a short-lived signed link to the private file `name`, never a public media URL."""
    from django.core import signing

    from apps.core.storage import PRIVATE_LINK_SALT

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    assert not parts.path.startswith(settings.MEDIA_URL), url
    if settings.MEDIA_STORAGE == "s3":
        bucket, _, key = parts.path.lstrip("/").partition("/")
        assert bucket == settings.MEDIA_PRIVATE_BUCKET and (key == name or key.endswith(f"/{name}")), url
        assert query["X-Amz-Expires"] == str(settings.MEDIA_PRIVATE_URL_SECONDS) and query["X-Amz-Signature"]
    else:
        assert parts.path.startswith("/media-private/"), url
        claims = signing.loads(parts.path.removeprefix("/media-private/"), salt=PRIVATE_LINK_SALT)
        assert claims["name"] == name
