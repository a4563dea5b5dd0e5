"""Errors of the events package: programming errors at the emitting site and malformed envelopes."""

from __future__ import annotations


class EmitOutsideTransaction(RuntimeError):
    """`emit_event` ran outside `transaction.atomic()`: the event would not commit with the change."""


class InvalidEvent(ValueError):
    """The event to emit breaks a bound (empty or too long topic, type or key; data not an object)."""


class EnvelopeError(ValueError):
    """A consumed Kafka message is not a CloudEvents 1.0 JSON envelope: a poison message."""
