"""Key rotation at the verifiers: the JWKS cached for a bounded time, refreshed on a new kid at a bounded rate.

The key cache's clock is a test clock (time moves when the test says so, no sleeping); the JWKS is a
real HTTP server whose key set each test changes, and which counts the requests it gets.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from shopkit import auth
from shopkit.auth import InvalidToken, KeysNotCached, KeysUnavailable, verify_access_token
from shopkit.testing.jwks import JwksServer
from shopkit.testing.tokens import KeyPair, access_token, new_keypair

pytestmark = [pytest.mark.urls("shopkit_tests.core_urls")]

CACHE_SECONDS = 300.0
MIN_REFRESH_SECONDS = 5.0
STALE_IF_ERROR_SECONDS = 600.0


class Clock:
    """The key cache's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Keys:
    previous: KeyPair
    current: KeyPair
    attacker: KeyPair


@pytest.fixture(scope="module")
def pairs() -> Keys:
    return Keys(previous=new_keypair(), current=new_keypair(), attacker=new_keypair())


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(auth, "keys", auth.KeySource(clock=clock))
    return clock


@pytest.fixture
def jwks(settings: Any, clock: Clock) -> Iterator[JwksServer]:
    """A verifier configured as every service is (no PEM, only the JWKS URL), against a real JWKS server."""
    server = JwksServer()
    settings.JWT_PUBLIC_KEY = ""
    settings.JWT_JWKS_URL = server.url
    settings.JWT_JWKS_CACHE_SECONDS = CACHE_SECONDS
    settings.JWT_JWKS_MIN_REFRESH_SECONDS = MIN_REFRESH_SECONDS
    settings.JWT_JWKS_STALE_IF_ERROR_SECONDS = STALE_IF_ERROR_SECONDS
    yield server
    server.stop()


def _token(pair: KeyPair, kid: str, user_id: uuid.UUID | None = None) -> str:
    return access_token(user_id or uuid.uuid4(), private_pem=pair.private_pem, kid=kid)


def _outcome(token: str) -> str:
    try:
        verify_access_token(token)
    except (InvalidToken, KeysUnavailable) as exc:
        return type(exc).__name__
    return "verified"


def test_tokens_of_the_current_and_the_previous_key_both_verify_during_the_overlap(
    jwks: JwksServer, pairs: Keys
) -> None:
    # given: users serves the key it signs with now and the one it rotated out
    jwks.serve({"current": pairs.current, "previous": pairs.previous})
    old_user, new_user = uuid.uuid4(), uuid.uuid4()

    # when
    old = verify_access_token(_token(pairs.previous, "previous", old_user))
    new = verify_access_token(_token(pairs.current, "current", new_user))

    # then
    assert (old.user_id, new.user_id) == (old_user, new_user)
    assert jwks.requests == 1


def test_a_key_dropped_from_the_jwks_stops_verifying_when_the_cache_lifetime_ends(
    jwks: JwksServer, pairs: Keys, clock: Clock
) -> None:
    # given: a verifier that has cached both keys of a rotation
    jwks.serve({"current": pairs.current, "previous": pairs.previous})
    old_token, new_token = _token(pairs.previous, "previous"), _token(pairs.current, "current")
    verify_access_token(old_token)

    # when: users drops the previous key
    jwks.serve({"current": pairs.current})
    clock.advance(CACHE_SECONDS - 1)
    just_before = _outcome(old_token)
    clock.advance(1)
    at_the_bound = _outcome(old_token)

    # then
    assert (just_before, at_the_bound) == ("verified", "InvalidToken")
    assert _outcome(new_token) == "verified"
    assert jwks.requests == 2


def test_the_first_token_of_a_new_key_refreshes_the_key_set_once(jwks: JwksServer, pairs: Keys, clock: Clock) -> None:
    # given: a verifier holding the key set from before the rotation
    jwks.serve({"previous": pairs.previous})
    verify_access_token(_token(pairs.previous, "previous"))
    clock.advance(MIN_REFRESH_SECONDS)

    # when: users rotates, and tokens of its new key arrive long before the cache expires
    jwks.serve({"current": pairs.current, "previous": pairs.previous})
    outcomes = [_outcome(_token(pairs.current, "current")) for _ in range(5)]

    # then
    assert outcomes == ["verified"] * 5
    assert jwks.requests == 2


def test_a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval(
    jwks: JwksServer, pairs: Keys, clock: Clock
) -> None:
    # given: a verifier with a fresh key set, and 60 tokens with made-up kids
    jwks.serve({"current": pairs.current})
    customer = _token(pairs.current, "current")
    verify_access_token(customer)
    clock.advance(MIN_REFRESH_SECONDS)
    forged = [_token(pairs.attacker, f"made-up-{n}") for n in range(60)]

    # when: they arrive at once, from 12 threads
    with ThreadPoolExecutor(max_workers=12) as pool:
        flood = list(pool.map(_outcome, forged))
    after_flood = jwks.requests
    clock.advance(MIN_REFRESH_SECONDS - 1)
    within_interval = [_outcome(token) for token in forged[:20]]
    requests_within_interval = jwks.requests
    clock.advance(1)
    next_interval = [_outcome(token) for token in forged[:20]]

    # then: one refresh for the whole flood, one more once the interval has passed; customers unaffected
    assert flood == ["InvalidToken"] * 60
    assert within_interval == next_interval == ["InvalidToken"] * 20
    assert (after_flood, requests_within_interval, jwks.requests) == (2, 2, 3)
    assert _outcome(customer) == "verified"


@pytest.mark.parametrize(
    ("issued_ago", "lifetime", "outcome"),
    [
        pytest.param(dt.timedelta(0), dt.timedelta(seconds=900), "verified", id="at-the-maximum"),
        pytest.param(
            dt.timedelta(0),
            dt.timedelta(seconds=901),
            "token lifetime exceeds the accepted maximum",
            id="one-second-more",
        ),
        pytest.param(
            dt.timedelta(0), dt.timedelta(days=365), "token lifetime exceeds the accepted maximum", id="a-year"
        ),
        pytest.param(
            dt.timedelta(days=1),
            dt.timedelta(days=1, minutes=1),
            "token lifetime exceeds the accepted maximum",
            id="old-iat",
        ),
        pytest.param(-dt.timedelta(days=1), dt.timedelta(minutes=1), "token is invalid", id="iat-in-the-future"),
    ],
)
def test_a_token_living_longer_than_the_accepted_maximum_is_refused(
    settings: Any, issued_ago: dt.timedelta, lifetime: dt.timedelta, outcome: str
) -> None:
    # given: a token signed with the right key, as whoever holds it could mint one
    settings.JWT_MAX_ACCESS_TOKEN_LIFETIME_SECONDS = 900
    user_id = uuid.uuid4()
    token = access_token(user_id, issued_at=dt.datetime.now(tz=dt.UTC) - issued_ago, lifetime=lifetime)

    # when
    try:
        result = str(verify_access_token(token).user_id)
    except InvalidToken as exc:
        result = str(exc)

    # then
    assert result == (str(user_id) if outcome == "verified" else outcome)


def test_an_unreachable_jwks_keeps_cached_keys_for_the_stale_time_and_is_retried_once_per_interval(
    jwks: JwksServer, pairs: Keys, clock: Clock
) -> None:
    # given: a verifier with the key set cached, then users stops answering
    jwks.serve({"current": pairs.current})
    token = _token(pairs.current, "current")
    verify_access_token(token)
    jwks.forced_status = 503

    # when: the cache expires, many requests follow, and the outage lasts past the stale time
    clock.advance(CACHE_SECONDS)
    stale = [_outcome(token) for _ in range(10)]
    attempts_in_first_interval = jwks.requests - 1
    clock.advance(MIN_REFRESH_SECONDS)
    retried = _outcome(token)
    clock.advance(STALE_IF_ERROR_SECONDS - MIN_REFRESH_SECONDS)
    too_old = _outcome(token)
    jwks.forced_status = None
    clock.advance(MIN_REFRESH_SECONDS)
    recovered = _outcome(token)

    # then
    assert stale == ["verified"] * 10
    assert attempts_in_first_interval == 1
    assert (retried, too_old, recovered) == ("verified", "KeysUnavailable", "verified")
    assert jwks.requests == 5


def test_a_verifier_that_never_got_the_keys_asks_users_once_per_interval(
    jwks: JwksServer, pairs: Keys, clock: Clock
) -> None:
    # given: users is down when the verifier starts
    jwks.serve({"current": pairs.current})
    jwks.forced_status = 503
    token = _token(pairs.current, "current")

    # when
    down = [_outcome(token) for _ in range(10)]
    requests_while_down = jwks.requests
    jwks.forced_status = None
    clock.advance(MIN_REFRESH_SECONDS)
    up = _outcome(token)

    # then
    assert down == ["KeysUnavailable"] * 10
    assert (requests_while_down, up, jwks.requests) == (1, "verified", 2)


def test_verifying_without_fetching_never_calls_the_jwks(jwks: JwksServer, pairs: Keys, clock: Clock) -> None:
    # given: the gateway verifies on its event loop only what needs no I/O
    jwks.serve({"current": pairs.current})
    user_id = uuid.uuid4()
    token = _token(pairs.current, "current", user_id)

    # when
    with pytest.raises(KeysNotCached):
        verify_access_token(token, fetch=False)
    requests_before = jwks.requests
    verify_access_token(token)
    cached = verify_access_token(token, fetch=False)
    clock.advance(CACHE_SECONDS)
    with pytest.raises(KeysNotCached):
        verify_access_token(token, fetch=False)

    # then
    assert (requests_before, cached.user_id, jwks.requests) == (0, user_id, 1)


def test_a_pem_bundle_verifies_tokens_of_each_of_its_keys(settings: Any, pairs: Keys) -> None:
    # given: the users service verifies its own tokens with its current and previous public key (any PEM form)
    previous_pkcs1 = (
        load_pem_public_key(pairs.previous.public_pem.encode())
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        .decode()
    )
    settings.JWT_PUBLIC_KEY = pairs.current.public_pem + previous_pkcs1
    old_user, new_user = uuid.uuid4(), uuid.uuid4()

    # when
    old = verify_access_token(_token(pairs.previous, "previous", old_user)).user_id
    new = verify_access_token(_token(pairs.current, "current", new_user)).user_id
    forged = _outcome(_token(pairs.attacker, "current"))

    # then
    assert (old, new, forged) == (old_user, new_user, "InvalidToken")
