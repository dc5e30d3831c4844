"""Who is calling the results API: bearer JWTs and API keys, resolved to a :class:`Principal`.

Free of any web framework: :mod:`deeplens.api.security` turns a request's ``Authorization``
header into a call to :meth:`Authenticator.authenticate` and the errors into 401/403.
"""

from deeplens.auth.authenticator import Authenticator
from deeplens.auth.errors import AuthError, AuthMisconfigured, Forbidden, Unauthenticated
from deeplens.auth.principal import ADMIN, READ, SCOPES, WRITE, Principal

__all__ = [
    "ADMIN", "READ", "SCOPES", "WRITE", "AuthError", "AuthMisconfigured", "Authenticator", "Forbidden", "Principal",
    "Unauthenticated",
]
