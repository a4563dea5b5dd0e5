"""Error codes and application errors of the accounts app (each becomes a problem-details response)."""

from __future__ import annotations

from shopkit.errors import ApplicationError, Conflict, ErrorCode, NotFound, Unauthenticated


class AccountsErrorCode(ErrorCode):
    EMAIL_TAKEN = "email-taken"
    INVALID_CREDENTIALS = "invalid-credentials"
    INVALID_REFRESH_TOKEN = "invalid-refresh-token"  # noqa: S105 - an error code, not a secret
    INVALID_PASSWORD = "invalid-password"  # noqa: S105 - an error code, not a secret
    WRONG_CURRENT_PASSWORD = "wrong-current-password"  # noqa: S105 - an error code, not a secret
    FIELD_NOT_EDITABLE = "field-not-editable"
    USER_NOT_FOUND = "user-not-found"


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "An account with this e-mail address already exists.",
            code=AccountsErrorCode.EMAIL_TAKEN,
            extra={"errors": {"email": ["An account with this e-mail address already exists."]}},
        )


class InvalidCredentials(Unauthenticated):
    """Wrong e-mail, wrong password or an inactive account: one answer, so accounts cannot be probed."""

    def __init__(self) -> None:
        super().__init__("The e-mail address or the password is wrong.", code=AccountsErrorCode.INVALID_CREDENTIALS)


class InvalidRefreshToken(Unauthenticated):
    def __init__(self, detail: str = "The refresh token is invalid, expired or revoked.") -> None:
        super().__init__(detail, code=AccountsErrorCode.INVALID_REFRESH_TOKEN)


class InvalidPassword(ApplicationError):
    """The new password fails the password validators (too short, too common, like the e-mail...)."""

    def __init__(self, *, field: str, messages: list[str]) -> None:
        super().__init__(
            "The password is not strong enough.",
            code=AccountsErrorCode.INVALID_PASSWORD,
            extra={"errors": {field: messages}},
        )


class WrongCurrentPassword(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            "The current password is wrong.",
            code=AccountsErrorCode.WRONG_CURRENT_PASSWORD,
            extra={"errors": {"current_password": ["The current password is wrong."]}},
        )


class FieldNotEditable(ApplicationError):
    def __init__(self, *, fields: list[str]) -> None:
        super().__init__(
            "Only first_name and last_name can be changed here.",
            code=AccountsErrorCode.FIELD_NOT_EDITABLE,
            extra={"errors": {name: ["This field cannot be changed here."] for name in fields}},
        )


class UserNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The user does not exist.", code=AccountsErrorCode.USER_NOT_FOUND)
