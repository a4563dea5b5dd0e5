"""Fault switches: feature flags read through OpenFeature with flagd's provider in in-process file mode.

One flags file in flagd's format (`SHOP_FAULTS_FILE`, default var/faults.json) is watched by every
process: the provider polls its mtime every `SHOP_FAULTS_POLL_MS` (default 500 ms) and keeps the flags in
memory, so a check costs no file I/O and a change reaches every running process without a restart.
Every fault is off unless the file turns it on; in production (SHOP_ENV=production) the provider is not
even started unless `SHOP_FAULTS_ENABLED=true`. `python -m tools.faults` (`make fault`) edits the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType

from shopkit.dual_middleware import DualModeMiddleware
from shopkit.errors import ServiceUnavailable
from shopkit.logging import get_logger
from shopkit.process import ProcessLocal
from shopkit.settings import VAR_DIR, env, is_production

log = get_logger(__name__)

FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
# The OpenFeature domain of the faults, so an application's own flags (if any) keep their provider.
DOMAIN = "shop-faults"
# A forgotten leak must not take the machine down: it stops growing at this many bytes per process.
MEMORY_LEAK_CAP_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    """One switch: its flag key, the type and meaning of its value, the value `make fault` uses, and its
    effect where a generic hook (FaultMiddleware, apply_call) applies it."""

    name: str
    kind: type[bool] | type[int] | type[float]
    default_on: bool | int | float
    description: str
    effect: str = "switch"


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault("products-http-latency", int, 500, "milliseconds added to every products HTTP request", "latency"),
        Fault("products-grpc-latency", int, 500, "milliseconds added to every products gRPC call", "latency"),
        Fault(
            "products-errors",
            float,
            0.5,
            "share (0..1) of products HTTP and gRPC calls that fail (503 / UNAVAILABLE)",
            "errors",
        ),
        Fault("catalog-cache-off", bool, True, "the products catalog cache misses every read"),
        Fault("carts-unavailable", bool, True, "orders cannot read carts (checkout answers 503 carts-unavailable)"),
        Fault("orders-db-slow", int, 200, "milliseconds added to every SQL statement of an orders HTTP request", "db"),
        Fault("outbox-relay-stalled", bool, True, "every outbox relay loops without publishing (backlog grows)"),
        Fault("kafka-unreachable", bool, True, "the outbox relays' producers point at an address nobody listens on"),
        Fault("consumer-fail-every-event", bool, True, "every Kafka consumer handler fails (events dead-lettered)"),
        Fault("memory-leak", int, 64, "KiB kept per HTTP request by the products process (capped at 256 MiB)", "leak"),
        Fault("gateway-cpu-burn", int, 50, "milliseconds of busy work per gateway request", "burn"),
    )
}


class FaultInjected(ServiceUnavailable):
    """A failure switched on by a fault flag: answered as 503 / gRPC UNAVAILABLE like any outage."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Fault '{name}' is switched on.", code="fault-injected")
        log.warning("fault_injected", fault=name)


def _problem(exc: FaultInjected) -> HttpResponse:
    # Imported here: the CLI and the relay use this module without DRF's machinery.
    from shopkit.problems import application_error_response

    return application_error_response(exc)


def faults_file() -> Path:
    return Path(env.str("SHOP_FAULTS_FILE", default=str(VAR_DIR / "faults.json")))


def faults_allowed() -> bool:
    """Outside production always; in production only with SHOP_FAULTS_ENABLED=true."""
    return not is_production() or env.bool("SHOP_FAULTS_ENABLED", default=False)


def write_flags(path: Path, flags: dict[str, Any]) -> None:
    """Replace the flags file atomically (temporary file + rename): a watcher never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"$schema": FLAGD_SCHEMA, "flags": flags}
    fd, tmp = tempfile.mkstemp(prefix=".faults-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_flags(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    flags: dict[str, Any] = json.loads(path.read_text()).get("flags", {})
    return flags


# -- editing the flags file (tools.faults, tests) ----------------------------------------
def parse_value(fault: Fault, raw: str | None) -> bool | int | float:
    if raw is None or raw == "":
        return fault.default_on
    if fault.kind is bool:
        lowered = raw.lower()
        if lowered not in {"true", "false", "1", "0", "on", "off"}:
            raise ValueError(f"{fault.name} takes true or false, not {raw!r}")
        return lowered in {"true", "1", "on"}
    if fault.kind is int:
        value: int | float = int(raw)
    else:
        value = float(raw)
        if not 0 <= value <= 1:
            raise ValueError(f"{fault.name} takes a share between 0 and 1, not {raw!r}")
    if value < 0:
        raise ValueError(f"{fault.name} takes a value of 0 or more, not {raw!r}")
    return value


def _off_value(fault: Fault) -> bool | int | float:
    return fault.kind()


def flag_definition(fault: Fault, value: bool | int | float, *, on: bool) -> dict[str, Any]:
    return {
        "state": "ENABLED",
        "variants": {"on": value, "off": _off_value(fault)},
        "defaultVariant": "on" if on else "off",
    }


def fault_set(path: Path, name: str, raw: str | None) -> bool | int | float:
    """Switch `name` on with `raw` (as typed; None: the fault's usual value); returns the value written."""
    fault = FAULTS[name]
    value = parse_value(fault, raw)
    flags = read_flags(path)
    flags[name] = flag_definition(fault, value, on=True)
    write_flags(path, flags)
    return value


def fault_off(path: Path, name: str) -> None:
    fault = FAULTS[name]
    flags = read_flags(path)
    last = flags.get(name, {}).get("variants", {}).get("on", fault.default_on)
    flags[name] = flag_definition(fault, last, on=False)
    write_flags(path, flags)


def fault_states(path: Path) -> list[tuple[str, bool, Any, str]]:
    """(name, on, value, description) for every known fault, as the file has it."""
    flags = read_flags(path)
    rows: list[tuple[str, bool, Any, str]] = []
    for name, fault in FAULTS.items():
        flag: dict[str, Any] = flags.get(name) or {}
        on = flag.get("state") == "ENABLED" and flag.get("defaultVariant") == "on"
        value = flag.get("variants", {}).get("on", fault.default_on)
        rows.append((name, on, value, fault.description))
    return rows


@dataclass(frozen=True)
class _Flags:
    """A started flagd file provider and the OpenFeature client reading it."""

    provider: FlagdProvider
    client: OpenFeatureClient


def _start_flags() -> _Flags:
    path = faults_file()
    if not path.exists():
        # The provider refuses a missing file; an empty one means every fault off.
        write_flags(path, {})
    provider = FlagdProvider(
        resolver_type=ResolverType.FILE,
        offline_flag_source_path=str(path),
        deadline_ms=env.int("SHOP_FAULTS_POLL_MS", default=500),
    )
    api.set_provider_and_wait(provider, domain=DOMAIN)
    log.info("faults_provider_started", path=str(path))
    return _Flags(provider=provider, client=api.get_client(DOMAIN))


# Started once per process, again after a fork (the provider's watcher thread does not survive one).
_flags: ProcessLocal[_Flags] = ProcessLocal(_start_flags, close=lambda flags: flags.provider.shutdown())
# After a failed start (an unwritable var/, say), every fault is off until this monotonic time.
START_RETRY_SECONDS = 30.0
_retry_at = 0.0


def _get_client() -> OpenFeatureClient | None:
    """The faults' OpenFeature client, or None when faults are not allowed here (or failed to start lately)."""
    global _retry_at
    if (started := _flags.peek()) is not None:
        return started.client
    if not faults_allowed() or time.monotonic() < _retry_at:
        return None
    try:
        return _flags.get().client
    except Exception as exc:  # noqa: BLE001 - a fault switch must never break the service: off, retried later
        _retry_at = time.monotonic() + START_RETRY_SECONDS
        log.warning("faults_unavailable", path=str(faults_file()), error=f"{type(exc).__name__}: {exc}")
        return None


def fault_value(name: str, default: Any) -> Any:
    """The fault's value when it is on, else `default` (off, unknown, unreadable file, or not allowed)."""
    fault = FAULTS[name]
    client = _get_client()
    if client is None:
        return default
    if fault.kind is bool:
        return client.get_boolean_value(name, default)
    if fault.kind is int:
        return client.get_integer_value(name, default)
    return client.get_float_value(name, float(default))


def fault_enabled(name: str) -> bool:
    """Whether the fault is on: true for a boolean fault, a positive value for a numeric one."""
    fault = FAULTS[name]
    return bool(fault_value(name, fault.kind()))


def apply_latency(name: str) -> None:
    """Sleep the fault's milliseconds (added latency)."""
    milliseconds = fault_value(name, 0)
    if milliseconds > 0:
        time.sleep(milliseconds / 1000)


def apply_errors(name: str) -> None:
    """Raise FaultInjected for the fault's share of calls (0..1)."""
    share = fault_value(name, 0.0)
    if share > 0 and random.random() < share:  # noqa: S311 - a share of calls, not a secret
        raise FaultInjected(name)


def apply_failure(name: str) -> None:
    """Raise FaultInjected on every call while the fault is on ("fail every event")."""
    if fault_enabled(name):
        raise FaultInjected(name)


def is_stalled(name: str) -> bool:
    """Whether a loop should do nothing this round ("stalled")."""
    return fault_enabled(name)


_leak: list[bytes] = []
_leaked_bytes = 0
_leak_lock = threading.Lock()


def apply_memory_leak(name: str) -> int:
    """Keep the fault's KiB for good (bounded by MEMORY_LEAK_CAP_BYTES); returns the bytes kept so far."""
    global _leaked_bytes
    kibibytes = fault_value(name, 0)
    if kibibytes <= 0:
        return _leaked_bytes
    with _leak_lock:
        size = min(kibibytes * 1024, MEMORY_LEAK_CAP_BYTES - _leaked_bytes)
        if size > 0:
            # Random bytes: pages the allocator cannot share or compress away.
            _leak.append(os.urandom(size))
            _leaked_bytes += size
        return _leaked_bytes


def leaked_bytes() -> int:
    """How much the memory-leak fault has kept in this process so far."""
    return _leaked_bytes


def apply_cpu_burn(name: str) -> None:
    """Busy work for the fault's milliseconds of this thread's CPU time (so a busy machine does not shrink
    it), given up after ten times that in wall-clock time (so the loop always ends)."""
    milliseconds = fault_value(name, 0)
    if milliseconds <= 0:
        return
    cpu_deadline = time.thread_time() + milliseconds / 1000
    wall_deadline = time.monotonic() + 10 * milliseconds / 1000
    value = 0
    while time.thread_time() < cpu_deadline and time.monotonic() < wall_deadline:
        for _ in range(1000):
            value = (value * 31 + 7) % 1_000_003


def apply_call(names: Iterable[str]) -> None:
    """Apply each named fault by its effect at the start of a call (a request, a gRPC method)."""
    for name in names:
        effect = FAULTS[name].effect
        if effect == "latency":
            apply_latency(name)
        elif effect == "errors":
            apply_errors(name)
        elif effect == "leak":
            apply_memory_leak(name)
        elif effect == "burn":
            apply_cpu_burn(name)
        elif effect == "db":
            continue  # applied around a request's queries (FaultMiddleware), not at the start of a call
        else:
            apply_failure(name)


class _SlowQueries:
    """A database execute wrapper (Django's `connection.execute_wrapper`) that sleeps before each statement."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        time.sleep(self.seconds)
        return execute(sql, params, many, context)


class FaultMiddleware(DualModeMiddleware):
    """Applies the service's `SHOP_HTTP_FAULTS` to every request but health and metrics. Last in
    MIDDLEWARE, so its 503 and its latency go through the metrics middleware like a view's would."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.names: tuple[str, ...] = tuple(getattr(settings, "SHOP_HTTP_FAULTS", ()))

    def _applies(self, request: HttpRequest) -> bool:
        return bool(self.names) and not request.path.startswith(("/health", "/metrics"))

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        if not self._applies(request):
            return self.get_response(request)
        try:
            apply_call(self.names)
        except FaultInjected as exc:
            return _problem(exc)
        with contextlib.ExitStack() as stack:
            for name in self.names:
                if FAULTS[name].effect == "db" and (milliseconds := fault_value(name, 0)) > 0:
                    stack.enter_context(connection.execute_wrapper(_SlowQueries(milliseconds / 1000)))
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if self._applies(request):
            try:
                for name in self.names:
                    if FAULTS[name].effect == "db":
                        continue  # sync services only: the ORM's connection is per thread
                    if FAULTS[name].effect == "latency":
                        # Never block the event loop for added latency (CPU burn blocks it on purpose).
                        await asyncio.sleep(fault_value(name, 0) / 1000)
                    else:
                        apply_call((name,))
            except FaultInjected as exc:
                return _problem(exc)
        awaitable: Awaitable[HttpResponse] = self.get_response(request)
        return await awaitable


def reset() -> None:
    """Stop this process's provider (tests, or a process that changed SHOP_FAULTS_FILE); the next check starts
    it again."""
    global _retry_at
    _retry_at = 0.0
    _flags.reset()
