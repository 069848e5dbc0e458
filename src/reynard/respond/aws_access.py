"""Errors that say AWS will not take a call from us: no credentials, credentials AWS does not accept, or a
call the credentials are not allowed to make.

None of them is transient, so none is `States.TaskFailed` (which a playbook's `States.ALL` retrier would
retry, four attempts of waiting for nothing): each has a name of its own that a playbook lists with
`MaxAttempts: 0` (`actions.PERMANENT_ERRORS`).

- `Reynard.AwsCredentials`: no credentials were found (environment, shared credentials file or
  config, SSO, container or instance role), or AWS refused the ones given: an unknown key
  (`InvalidClientTokenId`, `UnrecognizedClientException`, `AuthFailure`, `InvalidAccessKeyId`), an expired
  token (`ExpiredToken`), a wrong secret (`SignatureDoesNotMatch`).
- `Reynard.AccessDenied`: the credentials are good and the call is not allowed (`AccessDenied*`,
  `UnauthorizedOperation`, SNS's `AuthorizationError`), or any other answer with HTTP status 403.

`NoAwsCredentials` is raised by `AwsClients.client` before any request, when no credentials can be found:
a dry run takes it as "nothing can be read" (see `actions.base.Action.invoke`), a real run fails with it.
"""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoAuthTokenError,
    NoCredentialsError,
    PartialCredentialsError,
    SSOError,
    TokenRetrievalError,
)

from .errors import StatesError

AWS_CREDENTIALS = "Reynard.AwsCredentials"
ACCESS_DENIED = "Reynard.AccessDenied"

NO_CREDENTIALS = (
    "no AWS credentials (looked in the environment, the shared credentials and config files, SSO, the "
    "container and instance roles)"
)

# Codes AWS answers when it does not accept the credentials themselves.
CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
    }
)
# Codes AWS answers when the credentials are good and the call is not allowed.
DENIED_CODES = frozenset(
    {"UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError", "AuthorizationErrorException"}
)
_CREDENTIAL_EXCEPTIONS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    NoAuthTokenError,
    TokenRetrievalError,
    SSOError,
)


class NoAwsCredentials(StatesError):
    """No credentials could be found: raised before any request is made."""

    def __init__(self, where: str):
        super().__init__(AWS_CREDENTIALS, f"{where}: {NO_CREDENTIALS}")


class AwsAccessError(StatesError):
    """AWS refused the credentials or the call; `code` is AWS's error code."""

    def __init__(self, error: str, cause: str, code: str):
        super().__init__(error, cause)
        self.code = code


def access_error(exc: Exception, where: str, place: str) -> StatesError | None:
    """The StatesError when `exc` (from the call `where`, to `place`) says AWS will not take the call from
    us; None for any other failure."""
    if isinstance(exc, _CREDENTIAL_EXCEPTIONS):
        if isinstance(exc, NoCredentialsError):
            return NoAwsCredentials(where)
        return StatesError(AWS_CREDENTIALS, f"{where}: the AWS credentials could not be loaded: {exc}")
    if not isinstance(exc, ClientError):
        return None
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in CREDENTIAL_CODES:
        cause = f"{where}: {place} did not accept the AWS credentials: {code}: {message}"
        return AwsAccessError(AWS_CREDENTIALS, cause, code)
    if code in DENIED_CODES or code.startswith("AccessDenied") or status == 403:
        cause = f"{where}: refused by {place} (HTTP {status}): {code}: {message}"
        return AwsAccessError(ACCESS_DENIED, cause, code)
    return None


__all__ = [
    "ACCESS_DENIED",
    "AWS_CREDENTIALS",
    "CREDENTIAL_CODES",
    "DENIED_CODES",
    "AwsAccessError",
    "NoAwsCredentials",
    "access_error",
]
