"""gunicorn's settings for `make serve`, the Dockerfile and compose.yaml: `gunicorn -c gunicorn.conf.py stateset.wsgi`.

Workers: 2 x cores + 1 (the cores this process may run on), capped by WEB_CONCURRENCY when it is set.
BIND: the address (default 127.0.0.1:$PORT, PORT 8000; the container sets 0.0.0.0:8000).
The access log is one JSON object per line on stdout; the application's own log (stateset.access, with the
route, API key and query count) is beside it.
"""

import json
import os
from datetime import UTC, datetime

from gunicorn.glogging import Logger

_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
workers = 2 * _cores + 1
if os.environ.get("WEB_CONCURRENCY"):
    workers = max(1, min(workers, int(os.environ["WEB_CONCURRENCY"])))

bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# A request taking longer is killed; keep IDEMPOTENCY_LEASE_SECONDS (60) above it.
timeout = 30
graceful_timeout = 30
keepalive = 5  # behind nginx, which keeps its upstream connections open
# Recycle a worker now and then so a slow leak cannot grow forever (jitter: not all at once).
max_requests = 2000
max_requests_jitter = 200
# The heartbeat files on tmpfs where there is one (a container's /tmp may be an overlay on disk).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# nginx in front sets X-Forwarded-For/-Proto; trust them from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn 25+ opens a control socket at one path per user: two servers on one machine (several deployments,
# the tests' two processes) would take it from each other. Nothing here uses gunicornc.
control_socket_disable = True

# No request-line limit here: gunicorn answers a URL past its limit with a plain-text 414, which no API client
# can read. The application bounds the URL itself (stateset.limits.MAX_URL_LENGTH) and answers the JSON 414.
limit_request_line = 0

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


class JsonAccessLogger(Logger):
    """gunicorn's access log as JSON (its format string cannot escape a quote in a path)."""

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        line = {
            "time": datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
            "logger": "gunicorn.access",
            "request_id": next((v for k, v in resp.headers if k.lower() == "x-request-id"), "-"),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(str(resp.status).split()[0]) if resp.status else None,
            # A file sent with sendfile (WhiteNoise) is not counted in `sent`; its Content-Length is.
            "bytes": resp.sent or resp.response_length,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        try:
            self.access_log.info(json.dumps(line))
        except Exception:  # noqa: BLE001 - a log line must never fail a request
            self.exception("could not write the access log line")


logger_class = JsonAccessLogger
