"""gunicorn settings for the DRF services; values come from the environment."""

import multiprocessing
import os

from shopkit.logging import logging_config

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines (start-up, worker boots and exits, signals) go through the services' formatter:
# JSON with LOG_FORMAT=json. The arbiter never loads Django, so its lines say service "shop".
logconfig_dict = logging_config(log_format=os.environ.get("LOG_FORMAT", "console"), level=loglevel.upper())
# gunicorn 27 opens a control socket at one per-user path by default; several services on one host
# would fight over it, and nothing here uses `gunicornc`.
control_socket_disable = True


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Drop a dead worker's files so multi-process Prometheus metrics stay correct."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
