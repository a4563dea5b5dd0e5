"""factory_boy factories of the users service's models."""

from __future__ import annotations

from typing import Any

from factory.declarations import Sequence
from factory.django import DjangoModelFactory

from user_svc.accounts.models import User

DEFAULT_PASSWORD = "correct-horse-battery"


class UserFactory(DjangoModelFactory[User]):
    """Users made by the real manager (normalised e-mail, hashed password): `UserFactory.create(...)`."""

    class Meta:
        model = User

    email = Sequence(lambda n: f"user{n}@example.com")  # type: ignore[no-untyped-call]
    password = DEFAULT_PASSWORD
    first_name = "Grace"
    last_name = "Hopper"
    is_active = True
    is_staff = False

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        return model_class.objects.create_user(**kwargs)
