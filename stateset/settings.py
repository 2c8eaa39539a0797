"""Settings, all from the environment.

DATABASE_URL   any dj-database-url URL; default an SQLite file at var/stateset.sqlite3
SECRET_KEY     required when DEBUG is off; a development default otherwise
DEBUG          1/true/yes to turn on (default off)
ALLOWED_HOSTS  comma separated (default localhost,127.0.0.1)
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG")

# The development key lets management commands and tests run anywhere; stateset/wsgi.py (which
# runserver and any WSGI server load) refuses to serve with it unless DEBUG is on.
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]

INSTALLED_APPS = [
    # django.contrib.admin with the back office's site (the dashboard index, export on every changelist).
    "backoffice.admin_site.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "django_fsm_log",
    "import_export",
    "stateset",
    "crm",
    "inventory",
    "orders",
    "returns",
    "manufacturing",
    # The staff site above the domains (dashboard, roles, demo data): last, it may use every app above.
    "backoffice",
]

MIDDLEWARE = [
    "stateset.middleware.RequestIdMiddleware",
    # One line per request (JSON with LOG_FORMAT=json): route, status, duration, queries.
    "stateset.middleware.AccessLogMiddleware",
    # GET and HEAD under /v1 may read from DATABASE_REPLICA_URL (stateset/routers.py).
    "stateset.routers.ReadReplicaMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS) from the app itself, with DEBUG off too: no nginx rule needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "stateset.idempotency.IdempotencyMiddleware",
]

# The API serves every route with and without a trailing slash itself; CommonMiddleware must never
# redirect a POST (the official Python client posts to "orders/42/cancel").
APPEND_SLASH = False

ROOT_URLCONF = "stateset.urls"
WSGI_APPLICATION = "stateset.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'stateset.sqlite3'}",
        # Persistent connections, checked before each request's first query: a new connection costs ~3 ms a
        # request on PostgreSQL, and a connection lost since the last request is replaced, not a 500.
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
# An optional read replica: read-only API requests (GET/HEAD under /v1) read from it outside any transaction;
# everything else, and every write, uses the primary (stateset/routers.py).
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True
    )
    # Tests see the primary through the replica alias (no second test database).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["stateset.routers.ReplicaRouter"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait for the lock instead of failing at once, and take the write lock
    # at BEGIN so that a read-then-write transaction cannot deadlock against another writer. WAL lets
    # readers run beside the writer; synchronous=NORMAL is WAL's recommended durability (no corruption on
    # power loss, at worst the last commits are lost), and saves an fsync per commit.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# With DEBUG off, collectstatic writes hashed, compressed copies that WhiteNoise serves with far-future cache
# headers; tests/conftest.py uses the plain storage (the tests run with DEBUG off and no collectstatic).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# The cache holds the rate limit's counters and the API-key cache (stateset/auth.py): with REDIS_URL every
# process shares them; without it each process has its own (fine for `make run`, wrong for several workers).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        # Several deployments (or test runs) can share one Redis.
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "stateset"),
    }

LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "stateset.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["stateset.permissions.ModelPermissions"],
    "DEFAULT_RENDERER_CLASSES": ["stateset.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["stateset.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "stateset.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "stateset.schema.ResourceAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["stateset.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("API_RATE_LIMIT", "6000/min")},
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "DATE_FORMAT": "%Y-%m-%d",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "StateSet One API",
    "DESCRIPTION": (
        "Orders, returns, warranties, inventory, manufacturing and CRM. "
        "Send `Authorization: Token <key>` or `Authorization: Bearer <key>`. "
        "Errors share one shape (see the Error component)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["stateset.schema.drop_alias_routes"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "stateset.schema.tighten_unions"],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <key>` or `Bearer <key>`",
            }
        }
    },
    "SECURITY": [{"ApiKey": []}],
    "AUTHENTICATION_WHITELIST": [],
    "ENUM_NAME_OVERRIDES": {
        # Several resources call their status field `status` / `line_status`; name each vocabulary once.
        "BomStatusEnum": "manufacturing.states.BomStatus",
        "BomLineStatusEnum": "manufacturing.states.BomLineStatus",
        "WorkOrderStatusEnum": "manufacturing.states.WorkOrderStatus",
        "WorkOrderLineStatusEnum": "manufacturing.states.WorkOrderLineStatus",
        "ManufactureOrderStatusEnum": "manufacturing.states.ManufactureOrderStatus",
        "ManufactureOrderLineStatusEnum": "manufacturing.states.ManufactureOrderLineStatus",
        "OrderStatusEnum": "orders.states.OrderStatus",
        "DiscountTypeEnum": "orders.states.DiscountType",
        "PromotionTypeEnum": "orders.states.PromotionType",
        "OrderLineStatusEnum": "orders.states.LineStatus",
        "WholesaleOrderStatusEnum": "orders.states.WholesaleStatus",
        "ShipmentStatusEnum": "orders.states.ShipmentStatus",
        "ReturnStatusEnum": "returns.states.ReturnStatus",
        "ReturnLineStatusEnum": "returns.states.ReturnLineStatus",
        "WarrantyStatusEnum": "returns.states.WarrantyStatus",
        "ReturnConditionEnum": "returns.states.Condition",
    },
    "DISABLE_ERRORS_AND_WARNINGS": False,
}

# django-fsm-log writes a StateLog row on every transition, inside the transaction of the write.
DJANGO_FSM_LOG_STORAGE_METHOD = "django_fsm_log.backends.SimpleBackend"
# Transition buttons in the admin show only where a transition says custom={"admin": True}.
FSM_ADMIN_FORCE_PERMIT = False

# django-import-export (the back office's import and export): exporting needs the model's view permission;
# importing needs add and change (stateset.admin.ImportExportAdminMixin). An import is one transaction, so a
# row that fails leaves nothing written (the resources in stateset/resources.py insist on it too).
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

# An API key and its owner's permissions are cached this long (stateset/auth.py); 0 turns the cache off.
API_KEY_CACHE_SECONDS = int(os.environ.get("API_KEY_CACHE_SECONDS", "5"))

# Stored responses for Idempotency-Key are kept at least this long (contract §1.7).
IDEMPOTENCY_TTL_HOURS = int(os.environ.get("IDEMPOTENCY_TTL_HOURS", "24"))
# Events and webhooks (issue #17; stateset/events.py, stateset/webhooks.py).
EVENT_RETENTION_DAYS = int(os.environ.get("EVENT_RETENTION_DAYS", "30"))
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE")
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_RETRY_HOURS = float(os.environ.get("WEBHOOK_RETRY_HOURS", "72"))
WEBHOOK_SECRET_GRACE_HOURS = float(os.environ.get("WEBHOOK_SECRET_GRACE_HOURS", "24"))
# A claim in flight is a lease: after this many seconds with no stored response, a retry may take it over
# (the holder died). Keep it above the longest request (the server's worker timeout).
IDEMPOTENCY_LEASE_SECONDS = int(os.environ.get("IDEMPOTENCY_LEASE_SECONDS", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "stateset.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {"()": "stateset.logging.JsonFormatter"},
    },
    "handlers": {
        # stdout: the process manager (honcho, Docker, systemd) collects it.
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json" if os.environ.get("LOG_FORMAT", "plain") == "json" else "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "INFO"},
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)

# HTTPS behind a proxy (`manage.py check --deploy` is clean with these on). Each is off unless asked for, so
# plain http on localhost keeps working; the proxy (deploy/nginx.conf) sets X-Forwarded-Proto.
if env_bool("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
# Load balancers probe over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# Celery (stateset/celery.py reads every CELERY_* setting). Without CELERY_BROKER_URL the broker is a folder
# in var/ (kombu's filesystem transport): `make run` starts a worker beside runserver and needs no server.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True  # tasks report through the database and the log, not a result backend
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again (tasks are idempotent)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the worker logs through LOGGING (JSON with LOG_FORMAT=json)
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {"task": "stateset.tasks.purge_idempotency_keys", "schedule": 3600.0},
    "purge-events": {"task": "stateset.tasks.purge_events", "schedule": crontab(minute="10", hour="3")},
    "sweep-webhooks": {"task": "stateset.tasks.sweep_webhooks", "schedule": 15.0},
    "check-inventory": {
        "task": "inventory.tasks.check_inventory",
        "schedule": crontab(minute="30", hour="2"),  # nightly, 02:30 UTC
    },
}
