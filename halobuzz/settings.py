"""HaloBuzz settings: one module, two modes, everything read through django-environ.

Embedded default (no variables set): SQLite, in-memory channel layer, eager Celery, local-memory
cache, DEBUG on. Production (DATABASE_URL and REDIS_URL set): PostgreSQL, Redis for the channel
layer, cache and Celery, SECRET_KEY required, secure cookies and HSTS. `.env.example` lists every
variable.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
SHARED_DIR = BASE_DIR.parent / "shared"

env = environ.Env()
if env.bool("HALOBUZZ_READ_DOT_ENV", default=False):
    env.read_env(str(BASE_DIR / ".env"))

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not DATABASE_URL and not REDIS_URL
if not EMBEDDED and not (DATABASE_URL and REDIS_URL):
    raise ImproperlyConfigured("Production mode needs both DATABASE_URL and REDIS_URL.")

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
    "apps.core",
    "apps.accounts",
    "apps.wallet",
    "apps.gifts",
    "apps.live",
    "apps.og",
    "apps.games",
    "apps.moderation",
    "apps.reels",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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
if EMBEDDED:
    # Several threads (daphne, eager tasks) share the file: wait for the lock rather than fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

if EMBEDDED:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env.str("CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"),
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}  # each app adds its periodic tasks in its AppConfig.ready()

# --- Auth and API -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.JwtAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exception_handler.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="6000/min"),
        "signup": env.str("THROTTLE_SIGNUP", default="10/hour"),
        "login": env.str("THROTTLE_LOGIN", default="20/min"),
    },
}

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
    "DESCRIPTION": "Mobile API of HaloBuzz: accounts, live streams, gifts, wallet, OG, games, reels.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
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

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if EMBEDDED
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = EMBEDDED
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LANGUAGE_CODE = "en-us"
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
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain" if EMBEDDED else "json"}},
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
# How often Celery beat folds appended credits into stored balances (seconds).
LEDGER_ROLLUP_SECONDS = env.int("LEDGER_ROLLUP_SECONDS", default=5)

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
LIVE_CHAT_MAX_LENGTH = env.int("LIVE_CHAT_MAX_LENGTH", default=300)
LIVE_CHAT_RATE_COUNT = env.int("LIVE_CHAT_RATE_COUNT", default=5)
LIVE_CHAT_RATE_SECONDS = env.int("LIVE_CHAT_RATE_SECONDS", default=10)
LIVE_CHAT_HISTORY = env.int("LIVE_CHAT_HISTORY", default=30)
LIVE_LIKES_BROADCAST_MS = env.int("LIVE_LIKES_BROADCAST_MS", default=300)
LIVE_VIEWERS_BROADCAST_SECONDS = env.float("LIVE_VIEWERS_BROADCAST_SECONDS", default=2.0)
LIVE_PRESENCE_REFRESH_SECONDS = env.float("LIVE_PRESENCE_REFRESH_SECONDS", default=5.0)
LIVE_PRESENCE_TTL_SECONDS = env.float("LIVE_PRESENCE_TTL_SECONDS", default=15.0)
LIVE_LINKCAST_INVITE_SECONDS = env.int("LIVE_LINKCAST_INVITE_SECONDS", default=60)

# OG membership: how often Celery beat grants the daily bonus (once per member per local day,
# whatever the interval) and marks expired memberships (seconds).
OG_DAILY_BONUS_SECONDS = env.int("OG_DAILY_BONUS_SECONDS", default=3600)
OG_EXPIRE_SECONDS = env.int("OG_EXPIRE_SECONDS", default=300)

# Games: the highest return to player a prize table may have (an exact decimal string), the most a user may
# lose (stakes minus payouts) per local day in coins, and whether games need a verified age.
GAMES_RTP_CAP = env.str("GAMES_RTP_CAP", default="0.97")  # read as Decimal(str(...)), never float
GAMES_DAILY_LOSS_LIMIT = env.int("GAMES_DAILY_LOSS_LIMIT", default=50_000)
GAMES_REQUIRE_AGE_VERIFIED = env.bool("GAMES_REQUIRE_AGE_VERIFIED", default=True)
