"""Django settings for HQ, built from a database URL instead of a settings module.

`kiosk-hq` is a command, not a site: its database comes from ``--db``. :func:`configure`
sets Django up once per process with that database as ``default``; :func:`alias_for`
registers any further URL (a test's second database, a second collector's) as its own
connection alias, so one process may hold several stores.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from device.errors import SyncError

HERE = Path(__file__).resolve().parent
TIME_ZONE = "Asia/Shanghai"

APPS = [
    "hq.fleet",
    "hq.accounts",
    "hq.workorders",
    "hq.wall",
    "hq.reports",
    "hq.publish",
    "hq.holidays",
    "hq.alerts",
]

_lock = threading.Lock()


def database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for ``url``: a path, ``sqlite:///path`` or
    ``postgresql://user:pass@host:port/db``."""
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        if not parts.path.strip("/"):
            raise SyncError(f"the database URL {redact_url(url)} names no database. Fix: "
                            "add it after the host, e.g. postgresql://hq@db.example/hq.")
        # libpq's query parameters: host= (a socket directory) and port= override the
        # authority; the rest (sslmode=, ...) pass through as connection options.
        query = dict(parse_qsl(parts.query))
        return {"ENGINE": "django.db.backends.postgresql", "NAME": unquote(parts.path[1:]),
                "USER": unquote(parts.username or ""), "PASSWORD": unquote(parts.password or ""),
                "HOST": query.pop("host", parts.hostname or ""),
                "PORT": query.pop("port", str(parts.port or "")),
                "CONN_MAX_AGE": None, "OPTIONS": query}
    if "://" in url and not url.startswith("sqlite:///"):
        raise SyncError(f"unknown database URL {redact_url(url)}. Fix: give a SQLite path or "
                        "a postgresql://user@host/db URL.")
    path = url.removeprefix("sqlite:///")
    if path in ("", ":memory:"):
        raise SyncError("the HQ database must be a file: each collector thread has its own "
                        "connection, and an in-memory database would be one per thread. "
                        "Fix: give a path such as hq.db")
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(Path(path).absolute()),
            "CONN_MAX_AGE": None,
            # IMMEDIATE: a write transaction takes the lock at BEGIN, so two collectors
            # never deadlock upgrading a read lock. FULL: the collector acknowledges a
            # message only after its commit and the device then forgets it; a power cut at
            # HQ must not lose it either (one fsync per batch).
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"}}


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def settings_for(url: str, *, debug: bool = False) -> dict[str, Any]:
    secret = os.environ.get("KIOSK_HQ_SECRET_KEY") or _secret_beside(url)
    return {
        "DEBUG": debug,
        "SECRET_KEY": secret,
        "ALLOWED_HOSTS": os.environ.get("KIOSK_HQ_ALLOWED_HOSTS", "*").split(","),
        "DATABASES": {"default": database(url)},
        "INSTALLED_APPS": [
            "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
            "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
            "axes", *APPS,
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "whitenoise.middleware.WhiteNoiseMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.locale.LocaleMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "axes.middleware.AxesMiddleware",
        ],
        "AUTHENTICATION_BACKENDS": ["axes.backends.AxesStandaloneBackend",
                                    "django.contrib.auth.backends.ModelBackend"],
        "ROOT_URLCONF": "hq.urls",
        "TEMPLATES": [{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(HERE / "templates")], "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hq.accounts.context.nav",
            ]},
        }],
        "LANGUAGE_CODE": "zh-hans", "LANGUAGES": [("zh-hans", "简体中文")],
        "USE_I18N": True, "USE_TZ": True, "TIME_ZONE": TIME_ZONE,
        "STATIC_URL": "/static/", "STATIC_ROOT": None,  # whitenoise serves from the apps
        "STATICFILES_DIRS": [str(HERE / "static")],
        "WHITENOISE_USE_FINDERS": True,
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "LOGIN_URL": "/accounts/login/", "LOGIN_REDIRECT_URL": "/",
        "SESSION_COOKIE_HTTPONLY": True, "CSRF_COOKIE_HTTPONLY": False,
        "SESSION_COOKIE_SECURE": os.environ.get("KIOSK_HQ_TLS_PROXY") == "1",
        "CSRF_COOKIE_SECURE": os.environ.get("KIOSK_HQ_TLS_PROXY") == "1",
        "SECURE_PROXY_SSL_HEADER": (("HTTP_X_FORWARDED_PROTO", "https")
                                    if os.environ.get("KIOSK_HQ_TLS_PROXY") == "1" else None),
        "CSRF_TRUSTED_ORIGINS": [o for o in os.environ.get(
            "KIOSK_HQ_TRUSTED_ORIGINS", "").split(",") if o],
        "X_FRAME_OPTIONS": "DENY",
        # Five wrong passwords for one user from one address: locked for 15 minutes.
        "AXES_FAILURE_LIMIT": 5, "AXES_COOLOFF_TIME": 0.25,
        "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
        "AXES_RESET_ON_SUCCESS": True, "AXES_VERBOSE": False,
        "AXES_LOCKOUT_TEMPLATE": "accounts/locked.html",
        "LOGGING_CONFIG": None,  # the program's own logging (kiosk.logsetup) stays in charge
        "AUTH_PASSWORD_VALIDATORS": [
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
             "OPTIONS": {"min_length": 10}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
        ],
        "PASSWORD_HASHERS": (["django.contrib.auth.hashers.MD5PasswordHasher"]
                             if os.environ.get("KIOSK_HQ_FAST_HASH") == "1" else
                             ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]),
    }


def _secret_beside(url: str) -> str:
    """A per-database secret kept next to a SQLite file (0600), so sessions survive a
    restart without a secret in a config file; PostgreSQL installs set the variable."""
    if url.startswith(("postgresql://", "postgres://")):
        return hashlib.sha256(("kiosk-hq-unset" + url).encode()).hexdigest()
    path = Path(url.removeprefix("sqlite:///")).absolute()
    key = path.with_name(path.name + ".secret")
    try:
        return key.read_text().strip()
    except FileNotFoundError:
        pass
    import secrets

    key.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return key.read_text().strip()


def configure(url: str, *, debug: bool = False) -> None:
    """Set Django up with ``url`` as the default database (once per process)."""
    from django.conf import settings

    with _lock:
        if settings.configured:
            return
        import django

        settings.configure(**settings_for(url, debug=debug))
        django.setup()


def alias_for(url: str) -> str:
    """The connection alias for ``url``: ``default`` for the database Django was set up
    with, otherwise one registered now (the first URL of the process becomes default)."""
    configure(url)
    from django.db import connections

    wanted = database(url)
    with _lock:
        for alias, cfg in connections.settings.items():
            if all(cfg.get(k, "") == wanted.get(k, "") for k in ("ENGINE", "NAME", "HOST", "PORT")):
                return alias
        alias = "hq_" + hashlib.sha1(url.encode()).hexdigest()[:10]
        # configure_settings fills in the defaults Django expects of every alias.
        connections.settings[alias] = connections.configure_settings({"default": wanted})["default"]
        return alias
