"""Gunicorn settings for the web pods (REST API and admin; sync workers, see README "Production mode").

Environment: PORT (8000), WEB_CONCURRENCY (workers, default 2 x CPUs + 1), GUNICORN_TIMEOUT (30 s),
GUNICORN_MAX_REQUESTS (20000, recycles workers to bound memory), GUNICORN_PRELOAD (true),
PROMETHEUS_MULTIPROC_DIR (metrics of all workers added up; wiped at start, dead workers marked).
"""

import glob
import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# Import the app once in the master: a recycled or crashed worker is then a cheap fork, not seconds of
# imports on a busy CPU (measured: worker recycling every ~2,000 requests put 5 s stalls into the p99).
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() == "true"
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - heartbeat files, not data
# The ingress terminates TLS and sets X-Forwarded-*; Django trusts only X-Forwarded-Proto (settings).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "true").lower() == "true" else None
access_log_format = (
    '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":%(B)s,"ms":%(M)s,'
    '"request_id":"%({x-request-id}o)s","agent":"%(a)s"}'
)
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
