"""Where uploaded media lives (settings: STORAGES "default" and "private", MEDIA_STORAGE).

Public media (avatars, stream covers, reel videos and thumbnails) is the default storage and has
plain URLs. Private media (frames kept as evidence, age-check selfies and ID documents, the gift
recommender's models) is the "private" storage: its `url()` is always a link signed for
MEDIA_PRIVATE_URL_SECONDS, a presigned URL in a bucket or a link the app serves itself
(`private_media_open`) on the filesystem. Only code that has checked who is asking hands one out.
"""

import json
import threading
import time
from typing import cast

import botocore
import botocore.exceptions
from botocore.config import Config
from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import reverse
from django.utils.functional import LazyObject, empty
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

PRIVATE_LINK_SALT = "halobuzz.private-media"


class _PrivateStorage(LazyObject):
    """STORAGES["private"], looked up when first used and again after STORAGES changes (tests),
    as Django's default_storage is: a field keeps the storage object it was given at import."""

    _wrapped: object  # the Storage once set up; Django's `empty` marker before and after a reset

    def _setup(self) -> None:
        self._wrapped = storages["private"]


private_media_storage = _PrivateStorage()


@receiver(setting_changed)
def _private_storage_reset(*, setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        private_media_storage._wrapped = empty


def private_storage() -> Storage:
    """The storage of files not meant for the world.

    Fields name this callable (`storage=private_storage`), so their migrations do not depend on
    which backend the environment configures.
    """
    return cast(Storage, private_media_storage)  # a proxy of the Storage (django-stubs types default_storage alike)


class SignedFileSystemStorage(FileSystemStorage):
    """Private files on the local disk, outside MEDIA_ROOT (nothing serves the folder as is).

    `url()` is a link to the app that works for MEDIA_PRIVATE_URL_SECONDS: the name and the
    expiry are signed with SECRET_KEY, so a link can be neither forged nor extended.
    """

    def url(self, name: str | None, expire: int | None = None) -> str:
        seconds = expire if expire is not None else settings.MEDIA_PRIVATE_URL_SECONDS
        token = signing.dumps({"name": name, "expires": int(time.time()) + seconds}, salt=PRIVATE_LINK_SALT)
        return reverse("private-media", kwargs={"token": token})


class PrivateLinkInvalid(Exception):
    """A private media link that was forged, altered or has expired."""


def private_media_open(*, token: str) -> File:
    """Open the private file a fresh link from SignedFileSystemStorage names.

    Raises PrivateLinkInvalid for a bad or expired link, FileNotFoundError when the file is gone.
    """
    try:
        claims = signing.loads(token, salt=PRIVATE_LINK_SALT)
    except signing.BadSignature:
        raise PrivateLinkInvalid("bad signature") from None
    if claims["expires"] < time.time():
        raise PrivateLinkInvalid("expired")
    return private_storage().open(claims["name"], "rb")


class BucketStorage(S3Storage):
    """An S3-compatible bucket whose URLs may name the server as browsers reach it.

    A signature covers the host, so a signed URL must be made for the address the browser will
    use. When that differs from the app's own (compose: the app reaches MinIO at minio:9000, a
    browser at localhost:9000), `url_endpoint_url` is that address.
    """

    def __init__(self, *, url_endpoint_url: str = "", **options) -> None:
        super().__init__(**options)
        self.url_endpoint_url = url_endpoint_url
        self._url_clients = threading.local()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_url_clients", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._url_clients = threading.local()

    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        if not self.url_endpoint_url or self.custom_domain:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        params = {**(parameters or {}), "Bucket": self.bucket_name, "Key": self._normalize_name(clean_name(name))}
        return self._url_client().generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )

    def read_bytes(self, name: str) -> bytes:
        """The whole file in one GET. `open()` costs a HEAD, a transfer manager with its own threads
        and a resource object per file: several times the CPU for a small file read whole."""
        try:
            response = self.connection.meta.client.get_object(
                Bucket=self.bucket_name, Key=self._normalize_name(clean_name(name))
            )
        except botocore.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(name) from None
            raise
        return response["Body"].read()

    def write_bytes_new(self, name: str, data: bytes) -> str:
        """Store `data` under a name nobody else can have chosen (one with a random part) in one PUT.
        `save()` first asks with a HEAD whether the name is taken, then uploads through a transfer
        manager with its own threads: two round trips and several times the CPU for a small file."""
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key)
        self.connection.meta.client.put_object(Bucket=self.bucket_name, Key=key, Body=data, **params)
        return cleaned

    def _url_client(self):
        client = getattr(self._url_clients, "client", None)
        if client is None:
            config = self.client_config
            if not self.querystring_auth:
                config = config.merge(Config(signature_version=botocore.UNSIGNED))
            client = self._create_session().client(
                "s3", region_name=self.region_name, endpoint_url=self.url_endpoint_url, config=config
            )
            self._url_clients.client = client
        return client


def storage_read(storage: Storage, name: str) -> bytes:
    """A stored file's bytes, read whole (one GET from a bucket). FileNotFoundError when it is gone."""
    read_bytes = getattr(storage, "read_bytes", None)
    if read_bytes is not None:
        return read_bytes(name)
    with storage.open(name, "rb") as fh:
        return fh.read()


def storage_write_new(storage: Storage, name: str, data: bytes) -> str:
    """Store a new file whose name the caller made unique (a uuid in it): on a bucket one PUT, without
    the existence check and the transfer manager of `save()`. Returns the stored name."""
    write_bytes_new = getattr(storage, "write_bytes_new", None)
    if write_bytes_new is not None:
        return write_bytes_new(name, data)
    return storage.save(name, ContentFile(data))


def public_read_policy(bucket: str) -> dict:
    """The bucket policy that lets anyone read (never list or write) the public media bucket."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicReadObjects",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def media_buckets_ensure(*, public_policy: bool = True) -> list[str]:
    """Create the media buckets that are missing and let anyone read the public one. Returns what it did.

    For MinIO and AWS S3 (a new AWS bucket blocks public policies until that block is lifted).
    Cloudflare R2 and Google Cloud Storage set public access in their own consoles: there, create
    the buckets by hand and run this with public_policy=False, or not at all.
    """
    done: list[str] = []
    for alias in ("default", "private"):
        storage = storages[alias]
        if not isinstance(storage, BucketStorage):
            continue
        client = storage.connection.meta.client
        bucket = storage.bucket_name
        try:
            client.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                raise
            where = {}
            if storage.region_name and storage.region_name not in ("us-east-1", "auto"):
                where = {"CreateBucketConfiguration": {"LocationConstraint": storage.region_name}}
            client.create_bucket(Bucket=bucket, **where)
            done.append(f"created bucket {bucket}")
        if alias == "default" and public_policy:
            client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read_policy(bucket)))
            done.append(f"{bucket}: anyone may read objects")
    return done
