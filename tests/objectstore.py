"""The S3-compatible server of the test run: moto's S3 in server mode, checking presigned URLs too.

deploy/bin/test puts media in two buckets at MEDIA_S3_ENDPOINT_URL (a free port on 127.0.0.1);
the session fixture in tests/conftest.py starts this server there (`python -m tests.objectstore
PORT`) when nothing answers, so the test process and every server or worker it starts share it.

moto answers anonymous reads from the bucket policy and object ACLs as S3 does, but it serves any
request that carries a query-string signature without checking it. Here such a request is checked
as S3 checks it (AWS Signature Version 4 over the query, with the test run's credentials, and the
X-Amz-Expires window): a forged, altered or expired link is refused with 403, so a test can tell
a link that really expires from one that does not.
"""

import argparse
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parents[1]
SIGV4_TIME = "%Y%m%dT%H%M%SZ"


def _error(start_response, status: str, code: str, message: str) -> list[bytes]:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body.encode()]


class PresignedUrlCheck:
    """WSGI middleware: refuse query-signed requests whose signature or expiry S3 would refuse."""

    def __init__(self, app, *, secrets: dict[str, str]) -> None:
        self.app = app
        self.secrets = secrets

    def __call__(self, environ, start_response):
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = dict(query)
        if "X-Amz-Signature" not in params:
            return self.app(environ, start_response)
        refusal = self.refusal(environ, query, params)
        if refusal is not None:
            return _error(start_response, "403 Forbidden", *refusal)
        return self.app(environ, start_response)

    def refusal(self, environ, query: list[tuple[str, str]], params: dict[str, str]) -> tuple[str, str] | None:
        try:
            access_key, _date, region, service, _ = params["X-Amz-Credential"].split("/")
            signed_at = datetime.strptime(params["X-Amz-Date"], SIGV4_TIME).replace(tzinfo=UTC)
            expires = int(params["X-Amz-Expires"])
        except (KeyError, ValueError):
            return "AuthorizationQueryParametersError", "Malformed query-string authentication."
        if access_key not in self.secrets:
            return "InvalidAccessKeyId", "The access key does not exist."
        if time.time() > signed_at.timestamp() + expires:
            return "AccessDenied", "Request has expired"
        raw_path = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]).split("?", 1)[0]
        unsigned_query = urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"])
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"http://{environ['HTTP_HOST']}{raw_path}?{unsigned_query}",
            headers={"host": environ["HTTP_HOST"]},
        )
        request.context["timestamp"] = params["X-Amz-Date"]
        auth = S3SigV4QueryAuth(Credentials(access_key, self.secrets[access_key]), service, region, expires=expires)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        if expected != params["X-Amz-Signature"]:
            return "SignatureDoesNotMatch", "The request signature we calculated does not match."
        return None


def serve(port: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    secrets = {os.environ["MEDIA_S3_ACCESS_KEY_ID"]: os.environ["MEDIA_S3_SECRET_ACCESS_KEY"]}
    app = PresignedUrlCheck(DomainDispatcherApplication(create_backend_app), secrets=secrets)
    make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler).serve_forever()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ObjectStore:
    """The server process this test run started (None of it when one was already answering)."""

    def __init__(self, endpoint_url: str, log_path: Path) -> None:
        parts = urlsplit(endpoint_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.proc: subprocess.Popen | None = None
        if _answers(self.host, self.port):
            return
        if self.host not in ("127.0.0.1", "localhost"):
            raise RuntimeError(f"no S3-compatible server answers at {endpoint_url}")
        self.log = open(log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.objectstore", str(self.port)], cwd=REPO, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 30
        while not _answers(self.host, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test object store did not start; see {log_path}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    serve(parser.parse_args().port)
