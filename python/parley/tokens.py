"""JWTs as Supabase issues them: HS256, signed with the project's secret."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

ALGORITHM = "HS256"
API_ROLES = ("anon", "authenticated", "service_role")


class TokenError(ValueError):
    """A JWT is malformed, badly signed or expired."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def mint(
    secret: str,
    *,
    role: str = "authenticated",
    user_id: str | uuid.UUID | None = None,
    email: str | None = None,
    expires_in: int = 3600,
    app_metadata: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a token with the claims GoTrue puts in an access token.

    ``anon`` and ``service_role`` tokens carry no ``sub``, like Supabase's API keys.
    """
    if role not in API_ROLES:
        raise ValueError(f"role must be one of {API_ROLES}, not {role!r}")
    now = int(time.time())
    claims: dict[str, Any] = {"role": role, "iat": now, "exp": now + expires_in, "iss": "parley"}
    if user_id is not None:
        claims.update(
            {
                "sub": str(user_id),
                "aud": "authenticated",
                "email": email,
                "app_metadata": app_metadata or {},
                "user_metadata": user_metadata or {},
                "session_id": str(uuid.uuid4()),
                "is_anonymous": False,
            }
        )
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> dict[str, Any]:
    """Check signature, expiry and role the way PostgREST does; return the claims.

    Raises TokenError with PostgREST's codes: PGRST301 (invalid, or a role
    claim that is not one of API_ROLES), PGRST303 (expired).
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_aud": False, "require": ["exp"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenError("PGRST303", "JWT expired") from error
    except jwt.PyJWTError as error:
        raise TokenError("PGRST301", f"JWT invalid: {error}") from error
    if claims.get("role") not in API_ROLES:
        raise TokenError("PGRST301", f"JWT role {claims.get('role')!r} is not an API role")
    return claims
