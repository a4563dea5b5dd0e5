"""`manage.py replay_dead_letters`: list this service's dead-lettered events, or replay them once fixed."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shopkit.events.conf import EventSettings
from shopkit.events.consumer import ConsumerCommand, DeadLetter, EventConsumer, Outcome


class Command(BaseCommand):
    help = (
        "List the events this service's consumer dead-lettered; with --all or --event-id, run them through "
        "its handlers again (each at most once: handled events are recognised by id). --by names the staff "
        "member, logged with every replay."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--by", default="", help="Who replays (staff e-mail); required to replay.")
        parser.add_argument("--event-id", action="append", default=[], type=uuid.UUID, help="Replay this event.")
        parser.add_argument("--all", action="store_true", help="Replay every dead letter of this consumer.")
        parser.add_argument("--consumer", default="consume_events", help="The service's consumer command.")
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds to read the dead-letter topics.")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = self._consumer(options["consumer"])
        dead = consumer.dead_letters(timeout=options["timeout"])
        wanted: set[uuid.UUID] = set(options["event_id"])
        if not options["all"] and not wanted:
            self._list(dead)
            return
        if not options["by"].strip():
            raise CommandError("--by is required to replay: the log records who replayed each event")
        selected = [d for d in dead if options["all"] or d.event_id in wanted]
        if missing := wanted - {d.event_id for d in selected}:
            raise CommandError(f"not among {consumer.group_id}'s dead letters: {', '.join(sorted(map(str, missing)))}")
        results = consumer.replay(selected, requested_by=options["by"].strip())
        for result in results:
            d = result.dead_letter
            self.stdout.write(f"{d.topic}[{d.partition}]@{d.offset} {d.event_id} {result.outcome.value} {result.error}")
        failed = [r for r in results if r.outcome not in (Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.SKIPPED)]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} replays did not succeed; they stay dead-lettered")

    def _consumer(self, name: str) -> EventConsumer:
        app = get_commands().get(name)
        command = load_command_class(app, name) if isinstance(app, str) else None
        if not isinstance(command, ConsumerCommand):
            raise CommandError(f"{name!r} is not a consumer command of this service")
        return command.build_consumer(EventSettings.load())

    def _list(self, dead: list[DeadLetter]) -> None:
        if not dead:
            self.stdout.write("no dead letters")
        for d in dead:
            self.stdout.write(f"{d.topic}[{d.partition}]@{d.offset} {d.event_id} {d.event_type} {d.reason}")
