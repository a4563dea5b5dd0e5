"""The gateway's Django Ninja body parser: the same strict JSON objects as every DRF service."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

from shopkit.parsers import load_json_object


class JSONObjectNinjaParser(Parser):
    """Ninja wraps what parse_body raises in HttpError(400) with the cause kept as __cause__."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return load_json_object(request.body)
