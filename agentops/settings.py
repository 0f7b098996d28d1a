"""Settings for every deployment shape, configured from the environment.

With no environment at all (and DEBUG=1) the project runs embedded: SQLite in WAL mode, the
django-q2 ORM broker, the in-memory channel layer and the offline demo model. `DATABASE_URL`
switches to PostgreSQL, `REDIS_URL` to the Redis broker and channel layer.

A `.env` file beside manage.py supplies what the environment does not set (`make run` writes one
on a development machine: DEBUG=1 and a generated SECRET_KEY). Every default lives here: code reads
`settings.X`, never `getattr(settings, "X", default)`.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from agentops.outbound import DEFAULT_PORTS, parse_allowance

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# KEY=VALUE lines, read into the environment without overriding it: a real environment variable
# wins over the file. AGENTOPS_ENV_FILE names another file, or none when empty (the test settings
# set it empty, so that a developer's .env cannot change what the tests run with).
ENV_FILE = os.environ.get("AGENTOPS_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)
else:
    ENV_FILE = ""

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (on a development machine, `make run` writes a .env "
            "with DEBUG=1 and a generated SECRET_KEY; or set DEBUG=1)."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_q",
    "channels",
    "django_htmx",
    "template_partials",
    "axes",
    "agentops.tenancy",
    "agentops.audit",
    "agentops.secrets",
    "agentops.agents",
    "agentops.llm",
    "agentops.memory",
    "agentops.webhooks",
    "runs",
    "tools",
    "approvals",
    "evals",
]
# The demo (tables, seed_demo, its Python tools, the billing endpoint), on top of every other app:
# on by default so that `make run` shows the product at work; AGENTOPS_DEMO=0 leaves it out.
AGENTOPS_DEMO = env.bool("AGENTOPS_DEMO", default=True)
if AGENTOPS_DEMO:
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Where its documentation puts it. It is synchronous only: under ASGI whatever is above it
    # runs synchronously too, and all below it, ours included, asynchronously.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "agentops.api.ApiRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "agentops.tenancy.middleware.CurrentTenantMiddleware",
    # Last, so that it sees the login view's answer and replaces it with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "agentops.urls"
WSGI_APPLICATION = "agentops.wsgi.application"
ASGI_APPLICATION = "agentops.asgi.application"

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
                "agentops.tenancy.context_processors.tenancy",
                "runs.context_processors.budgets",
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    """A DATABASES entry for `url`; SQLite gets WAL, IMMEDIATE transactions and a busy timeout.

    IMMEDIATE makes every transaction take the write lock at BEGIN, so two writers queue on the
    busy timeout instead of failing with "database is locked" when one upgrades a read lock.

    No `PRAGMA synchronous` for SQLite: the backend runs every connection to the write-ahead log
    with synchronous=NORMAL and, after each commit that wrote, fdatasyncs the log itself once the
    writer lock is free, returning only then. A commit is as durable as with FULL, but other
    writers no longer wait out its fsync (agentops/sqlite/base.py); a level set here would be
    overridden.
    """
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["ENGINE"] = "agentops.sqlite"  # Django's, with writers queued on a lock file (see there)
        config.setdefault("CONN_MAX_AGE", 60)  # reconnecting costs a re-read schema and a cold page cache
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
            ),
        }
    elif config["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
        config["ENGINE"] = "django.db.backends.postgresql"
        # Parameters bound on the server: no quoting of every value in Python, and statements a
        # connection repeats are prepared once. Off for poolers that cannot keep prepared statements.
        config.setdefault("OPTIONS", {})["server_side_binding"] = env.bool("DATABASE_SERVER_SIDE_BINDING", default=True)
        config.setdefault("CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
if AGENTOPS_DEMO:
    # The demo shop's own database (its orders, customers, articles, tickets, refunds), apart from
    # the platform's: its SQL tool may read it, as tools never reach the platform's database.
    # A SQLite file next to the main one (demo.sqlite3), which `seed_demo` creates and fills.
    _main = DATABASES["default"]
    _beside = Path(_main["NAME"]).parent if _main["ENGINE"] == "agentops.sqlite" else BASE_DIR
    DEMO_DATABASE_URL = env.str("DEMO_DATABASE_URL", default=f"sqlite:///{_beside / 'demo.sqlite3'}")
    DATABASES["demo"] = database_from_url(DEMO_DATABASE_URL)
    DATABASE_ROUTERS = ["demo.routers.DemoRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

# Workers. A run task works for at most RUN_SLICE_SECONDS and then re-enqueues itself, so
# django-q2's timeout bounds only one slice; `retry` must stay above `timeout`.
# Successful task results are not kept (save_limit -1): a run's record is its Run row and
# journal, and keeping N results makes django-q2 lock and load all N rows after every task.
# Failed tasks are always kept (admin: Failed tasks).
Q_CLUSTER = {
    "name": "agentops",
    "workers": env.int("WORKERS", default=2),
    "timeout": env.int("TASK_TIMEOUT", default=900),
    "retry": env.int("TASK_TIMEOUT", default=900) + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": env.int("TASK_SAVE_LIMIT", default=-1),
    "poll": env.float("QUEUE_POLL_SECONDS", default=0.02),
    "label": "Task queue",
}
# The database broker polls every QUEUE_IDLE_POLL_SECONDS instead once it found no task for
# QUEUE_IDLE_AFTER_SECONDS (0: never slower), so an idle worker costs next to nothing; the first
# task after a quiet spell waits up to that long (agentops.taskqueue).
QUEUE_IDLE_AFTER_SECONDS = env.float("QUEUE_IDLE_AFTER_SECONDS", default=10)
QUEUE_IDLE_POLL_SECONDS = env.float("QUEUE_IDLE_POLL_SECONDS", default=0.1)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["broker_class"] = "agentops.taskqueue.DatabaseBroker"

# Run engine. A worker's lease on a run lasts RUN_LEASE_SECONDS and is renewed every third of
# it while it works; a run whose worker died on another machine is taken over when it runs out
# (on the same machine at once, see runs/recovery.py). Every worker process looks for such runs,
# due timers and overdue approvals every RUN_RECOVERY_INTERVAL_SECONDS (0: only at its start and
# in the minute's sweep). Modules listed in WORKFLOW_MODULES are imported at start so their
# @workflow functions register.
RUN_LEASE_SECONDS = env.float("RUN_LEASE_SECONDS", default=10)
RUN_RECOVERY_INTERVAL_SECONDS = env.float("RUN_RECOVERY_INTERVAL_SECONDS", default=2)
# Workers with the same machine name judge each other's processes dead from their pids; by default
# the host name and pid namespace. Give each a name of its own where they cannot see each other's pids.
RUN_WORKER_MACHINE = env.str("RUN_WORKER_MACHINE", default="")
RUN_SLICE_SECONDS = env.float("RUN_SLICE_SECONDS", default=300)
RUN_INLINE_SLEEP_SECONDS = env.float("RUN_INLINE_SLEEP_SECONDS", default=10)
# Repeatable steps (model calls, read-only tool calls) are committed with the run's next write,
# at the latest after this long (0: every step is committed on its own); see runs/engine/recorder.py.
RUN_DEFER_SECONDS = env.float("RUN_DEFER_SECONDS", default=1)
# After its own run, a run task goes on with other queued runs for up to this long (0: never).
RUN_DRAIN_SECONDS = env.float("RUN_DRAIN_SECONDS", default=5)
# How long configuration read from the database (agents, tools, rights, prices, webhooks) is
# used before it is read again, in whole seconds (0: always read); a change made through the
# services is seen at once wherever the cache is shared (CACHES["config"], agentops.config_cache).
CONFIG_CACHE_SECONDS = env.int("CONFIG_CACHE_SECONDS", default=5)
JOURNAL_BLOB_THRESHOLD = env.int("JOURNAL_BLOB_THRESHOLD", default=8192)
# The most JSON one page of `GET /api/v1/runs/{id}/steps/` holds (a single larger step comes alone).
STEPS_PAGE_MAX_BYTES = env.int("STEPS_PAGE_MAX_BYTES", default=1_000_000)
WORKFLOW_MODULES = env.list("WORKFLOW_MODULES", default=[])
# The run event stream (`GET /api/v1/runs/{id}/events/`, docs/streaming.md): a keepalive comment
# after this long without an event; each web process asks the database which followed runs
# changed this often (with Redis the worker's notices wake streams at once, the poll only catches
# a lost notice); the worker hands the model's text on every RUN_DELTAS_FLUSH_SECONDS. Without
# Redis the text goes to the web processes of this machine through the datagram sockets in
# RUN_DELTAS_SOCKET_DIR (default: a directory in the temp dir named after the database).
RUN_EVENTS_KEEPALIVE_SECONDS = env.float("RUN_EVENTS_KEEPALIVE_SECONDS", default=15)
# Under ASGI, how many requests at once run their synchronous part (middleware and view), each in
# a thread with its database connection; more wait, as coroutines (agentops/asgi_handler.py).
# Keep it, times the web processes, under the database's connection limit.
ASGI_REQUEST_THREADS = env.int("ASGI_REQUEST_THREADS", default=32)
RUN_EVENTS_POLL_SECONDS = env.float("RUN_EVENTS_POLL_SECONDS", default=2 if REDIS_URL else 0.25)
RUN_EVENTS_RETRY_MS = env.int("RUN_EVENTS_RETRY_MS", default=3000)
RUN_DELTAS_FLUSH_SECONDS = env.float("RUN_DELTAS_FLUSH_SECONDS", default=0.1)
RUN_DELTAS_SOCKET_DIR = env.str("RUN_DELTAS_SOCKET_DIR", default="")

# OpenTelemetry: with an OTLP/HTTP endpoint set (the standard variables), each ended run is sent
# as a trace by a task, off the run's path (runs/telemetry.py, docs/observability.md). Prompts,
# answers, tool arguments and results go only with AGENTOPS_OTEL_CAPTURE_CONTENT=true.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="agentops")
AGENTOPS_OTEL_CAPTURE_CONTENT = env.bool("AGENTOPS_OTEL_CAPTURE_CONTENT", default=False)
AGENTOPS_OTEL_EXPORT_TIMEOUT_SECONDS = env.float("AGENTOPS_OTEL_EXPORT_TIMEOUT_SECONDS", default=10)

CHANNEL_LAYERS = {
    "default": (
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}


def shared_cache(name: str, max_entries: int) -> dict:
    """A CACHES entry: in Redis when REDIS_URL is set, one cache for every process; else in each
    process's memory."""
    if REDIS_URL:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": name}
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": name,
            "OPTIONS": {"MAX_ENTRIES": max_entries}}


CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # The configuration cache (agentops.config_cache). In memory, a change made in one process
    # reaches the others when their entries expire; in Redis it is seen everywhere at once.
    "config": shared_cache("agentops-config", 10_000),
    # The API's request counts (agentops.ratelimit). In Redis every process counts in one place
    # (INCR is atomic); in memory each process counts its own requests, which is exact for the
    # embedded default's single web process.
    "throttle": shared_cache("agentops-throttle", 100_000),
}

# API rate limits, per API key (or, for a browser session, per user), per minute: reads (GET,
# HEAD, OPTIONS) and writes (every other method) have separate budgets. A tenant may have its own
# (Tenant.api_rate_read_per_minute / api_rate_write_per_minute, in the admin); these are the default.
API_RATE_READ_PER_MINUTE = env.int("API_RATE_READ_PER_MINUTE", default=600)
API_RATE_WRITE_PER_MINUTE = env.int("API_RATE_WRITE_PER_MINUTE", default=120)

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]

# Login throttling (django-axes) for the login page and the admin's: after AXES_FAILURE_LIMIT
# failed passwords for one username from one address, that pair is refused until
# LOGIN_COOLOFF_MINUTES after its last failure (a failure while locked out starts the wait again);
# a successful login clears the count. Other users at that address, and that user elsewhere, can
# still log in. Failures are kept in the database, not a cache: every web process sees them
# without Redis, they survive a restart, and the admin lists them ("Access attempts") to unlock
# someone early. API keys never pass through here.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "agentops.views.login_locked_out"
AXES_DISABLE_ACCESS_LOG = True  # failures are what lockouts need; a row per good login is not
AXES_VERBOSE = False  # no start-up banner

ANONYMOUS_USER_NAME = None  # no guardian anonymous user: every action has a real principal

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=None)  # only for `collectstatic`; see below
# daphne serves no static files itself: WhiteNoise does, from the apps' static folders directly
# (no collectstatic step), with far-future caching only for hashed names.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agentops.tenancy.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["agentops.tenancy.permissions.TenantMember"],
    # JSON only, in and out: the API never answers HTML, and every body goes through the limits of
    # agentops.api.JSONParser.
    "DEFAULT_PARSER_CLASSES": ["agentops.api.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "agentops.api_schema.ApiSchema",
    "DEFAULT_PAGINATION_CLASS": "agentops.api.Pagination",
    "EXCEPTION_HANDLER": "agentops.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["agentops.ratelimit.ApiRateThrottle"],
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AgentOps API",
    "DESCRIPTION": "Run agents as durable workflows, decide approvals, read traces.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "ENUM_NAME_OVERRIDES": {
        "StepKindEnum": "runs.models.StepKind",
        "RunStatusEnum": "runs.models.RunStatus",
        "ToolKindEnum": "tools.models.ToolKind",
        "EvalRunStatusEnum": "evals.models.EvalRunStatus",
        "EvalResultStatusEnum": "evals.models.EvalResultStatus",
        "MemoryScopeEnum": "agentops.memory.models.MemoryScope",
        "MemoryKindEnum": "agentops.memory.models.MemoryKind",
    },
}

# Model gateway: without a key or base URL the offline demo provider answers.
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")

# Evaluations (evals/, docs/evals.md): how many of an eval run's cases run at once on the workers,
# and the judge of `llm-rubric` assertions (a provider name of agentops.llm.registry, its model,
# and how many verdicts it is asked for; the majority decides).
EVAL_CONCURRENCY = env.int("EVAL_CONCURRENCY", default=4)
# An eval run not ended this long after it started fails, its unfinished runs cancelled.
EVAL_RUN_TIMEOUT_SECONDS = env.float("EVAL_RUN_TIMEOUT_SECONDS", default=3600)
EVAL_JUDGE_PROVIDER = env.str("EVAL_JUDGE_PROVIDER", default="default")
EVAL_JUDGE_MODEL = env.str("EVAL_JUDGE_MODEL", default="gpt-4o-mini")
EVAL_JUDGE_SAMPLES = env.int("EVAL_JUDGE_SAMPLES", default=1)

# Long-term memory (agentops.memory): size limits of an item; how alike two items' words must be
# (token-set Jaccard) for a save to merge them; search's reciprocal rank fusion of the full-text
# and vector rankings (weights, and k: larger flattens the difference between ranks).
AGENTOPS_MEMORY_MAX_CONTENT_CHARS = env.int("AGENTOPS_MEMORY_MAX_CONTENT_CHARS", default=4000)
AGENTOPS_MEMORY_MAX_METADATA_BYTES = env.int("AGENTOPS_MEMORY_MAX_METADATA_BYTES", default=4000)
AGENTOPS_MEMORY_DEDUPE_SIMILARITY = env.float("AGENTOPS_MEMORY_DEDUPE_SIMILARITY", default=0.8)
AGENTOPS_MEMORY_LEXICAL_WEIGHT = env.float("AGENTOPS_MEMORY_LEXICAL_WEIGHT", default=1.0)
AGENTOPS_MEMORY_VECTOR_WEIGHT = env.float("AGENTOPS_MEMORY_VECTOR_WEIGHT", default=1.0)
AGENTOPS_MEMORY_RRF_K = env.int("AGENTOPS_MEMORY_RRF_K", default=60)
# Embeddings for memory search: any OpenAI-compatible /v1/embeddings. Empty model: full-text only.
# Base URL and key default to the model gateway's.
AGENTOPS_EMBEDDINGS_MODEL = env.str("AGENTOPS_EMBEDDINGS_MODEL", default="")
AGENTOPS_EMBEDDINGS_BASE_URL = env.str("AGENTOPS_EMBEDDINGS_BASE_URL", default=OPENAI_BASE_URL)
AGENTOPS_EMBEDDINGS_API_KEY = env.str("AGENTOPS_EMBEDDINGS_API_KEY", default=OPENAI_API_KEY)

# Secret references {{ secret:NAME }} (agentops.secrets): a tenant's tools and webhooks resolve
# them from the tenant's own encrypted secrets; global tools from AGENTOPS_SECRET_<NAME>
# environment variables, then this file.
AGENTOPS_SECRETS_FILE = env.str("AGENTOPS_SECRETS_FILE", default="")
# Fernet keys encrypting tenants' secrets, comma-separated: the first encrypts, all decrypt
# (rotation: `manage.py secrets rotate`). Empty: one derived from SECRET_KEY (development).
AGENTOPS_SECRET_KEYS = env.list("AGENTOPS_SECRET_KEYS", default=[])
# Django database aliases global SQL tools may name; never "default" or the platform's own database
# (tools/adapters/sql.py). A tenant's SQL tool names a PostgreSQL URL among its own secrets instead.
AGENTOPS_TOOL_DATABASES = env.list("AGENTOPS_TOOL_DATABASES", default=["demo"] if AGENTOPS_DEMO else [])
# Modules whose @tool functions every process registers at start; a project adds its own.
AGENTOPS_TOOL_MODULES = env.list("AGENTOPS_TOOL_MODULES", default=[])
# A tool result longer than this (bytes of JSON) is journaled and shown to the model as a note
# with its beginning: a large page or table would cost tokens on every later model call.
TOOL_OUTPUT_LIMIT = env.int("TOOL_OUTPUT_LIMIT", default=32 * 1024)
AGENTOPS_PUBLIC_URL = env.str("AGENTOPS_PUBLIC_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")
# Addresses tenant tools and webhooks may reach although they are loopback, private or link-local
# (agentops.outbound): CIDRs ("10.20.0.0/16") and host[:port] entries ("billing.internal:8443").
# With the demo, its refund tool (a tenant's HTTP tool) calls this server's billing endpoint, so the
# default is this server's own host and port; setting the variable, even empty, replaces it.
_public = urlsplit(AGENTOPS_PUBLIC_URL)
AGENTOPS_OUTBOUND_ALLOW = env.list(
    "AGENTOPS_OUTBOUND_ALLOW",
    default=[f"{_public.hostname}:{_public.port or DEFAULT_PORTS[_public.scheme]}"] if AGENTOPS_DEMO else [],
)
for _entry in AGENTOPS_OUTBOUND_ALLOW:
    try:
        parse_allowance(_entry)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None

# The audit log (agentops.audit.keys): `id:secret` pairs signing each tenant's chain, the signing key
# first (without them a key derived from SECRET_KEY signs); where `manage.py audit anchor` and its
# hourly schedule write each chain's signed head, outside the database.
AGENTOPS_AUDIT_KEYS = env.list("AGENTOPS_AUDIT_KEYS", default=[])
AGENTOPS_AUDIT_ANCHOR_DIR = env.str("AGENTOPS_AUDIT_ANCHOR_DIR", default="")
AGENTOPS_AUDIT_ANCHOR_URL = env.str("AGENTOPS_AUDIT_ANCHOR_URL", default="")
# Events are written pending and linked into their chain by the sequencer (agentops.audit.sequencer),
# which each worker process runs every AGENTOPS_AUDIT_SEAL_INTERVAL_SECONDS (0: only on demand, with
# `manage.py audit seal`, verify, anchor); `audit verify` reports events left pending longer than
# AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS: a sequencer that stopped.
AGENTOPS_AUDIT_SEAL_INTERVAL_SECONDS = env.float("AGENTOPS_AUDIT_SEAL_INTERVAL_SECONDS", default=1)
AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS = env.float("AGENTOPS_AUDIT_SEAL_MAX_DELAY_SECONDS", default=60)

# LOG_FORMAT=json: one JSON object a line; text (the default): readable lines. Either way an
# engine line carries its run, tenant and step (agentops/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "agentops.logs.ContextFilter"}},
    "formatters": {"text": {"()": "agentops.logs.TextFormatter"}, "json": {"()": "agentops.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes: failed logins and lockouts are warnings; each good login and logout would be a line.
    # django-q: a line per task processed and saved at INFO (Q_LOG_LEVEL=INFO brings them back).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"},
                "django-q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# /metrics (agentops/metrics.py): with a token, only `Authorization: Bearer <token>`; without one,
# only clients on the loopback address.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
