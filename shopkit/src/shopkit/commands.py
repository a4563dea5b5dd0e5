"""Management commands' output as log events in JSON log mode, so container logs stay one JSON object a line."""

from __future__ import annotations

import io
import logging
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, OutputWrapper
from django.core.management.color import no_style

from shopkit.logging import get_logger


class LogStream(io.TextIOBase):
    """A text stream whose every completed write becomes one log event, its text in `output`.

    Django's OutputWrapper adds the line ending; a line written in pieces (`ending=""`, as migrate's
    progress does) is held until it ends. A block of several lines (system check warnings) is one event.
    """

    def __init__(self, *, command: str, event: str, level: int) -> None:
        super().__init__()
        self._log = get_logger(f"shopkit.commands.{command}")
        self._command = command
        self._event = event
        self._level = level
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if self._pending.endswith("\n"):
            output, self._pending = self._pending.strip(), ""
            if output:
                self._log.log(self._level, self._event, command=self._command, output=output)
        return len(text)

    def flush(self) -> None:
        """Partial lines wait for their end: flushing one would split it into two events."""

    def isatty(self) -> bool:
        return False


def _stream(command: str, event: str, level: int) -> TextIO:
    # OutputWrapper is typed for a TextIO; it only ever calls write, flush and isatty.
    return cast(TextIO, LogStream(command=command, event=event, level=level))


class LogOutputMixin(BaseCommand):
    """With LOG_FORMAT=json, what a command writes to stdout is logged as `command_output` (INFO) and what
    it writes to stderr (a CommandError's message) as `command_error` (ERROR). Console mode, and a caller
    that passes its own stdout (`call_command(..., stdout=...)`), get the plain text as before.
    """

    def execute(self, *args: Any, **options: Any) -> Any:
        if settings.LOG_FORMAT == "json":
            command = type(self).__module__.rsplit(".", 1)[-1]
            self.style = no_style()
            if not options.get("stdout"):
                self.stdout = OutputWrapper(_stream(command, "command_output", logging.INFO))
            if not options.get("stderr"):
                self.stderr = OutputWrapper(_stream(command, "command_error", logging.ERROR))
        return super().execute(*args, **options)
