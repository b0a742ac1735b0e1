"""Authentication: opaque API tokens, and an OIDC (JWT bearer) verifier.

An :class:`Authenticator` turns a bearer token into a
:class:`~codeproof.security.base.Principal` or raises
:class:`~codeproof.errors.AuthenticationFailed`. The app tries its
authenticators in order (a token that looks like a JWT goes to the OIDC one).

- :class:`TokenAuthenticator`: tokens made by ``codeproof token create``
  (``cp_`` + 256 random bits). Only their SHA-256 is stored, with role, tenant,
  user, optional expiry and a revocation flag.
- :class:`OidcAuthenticator`: RS256 ID/access tokens from an identity provider;
  the signing keys are a JWKS given at construction (fetched and refreshed by the
  deployment, never at request time: nothing here goes to the network). Role and
  tenant come from configurable claims.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from codeproof.errors import AuthenticationFailed, InvalidDecision
from codeproof.security.base import ROLES, Principal
from codeproof.store import tables as t
from codeproof.store.sql import now_iso

__all__ = [
    "Authenticator",
    "ChainAuthenticator",
    "OidcAuthenticator",
    "TokenAuthenticator",
    "create_token",
    "revoke_token",
]

_PREFIX = "cp_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Authenticator(Protocol):
    """Turns a bearer token into a Principal."""

    def authenticate(self, token: str) -> Principal:
        """Return the principal or raise ``AuthenticationFailed``."""
        ...


def create_token(engine: Engine, *, role: str, tenant: str, user: str | None = None,
                 ttl_days: float | None = None) -> tuple[str, str]:
    """Issue an API token; return ``(token_id, token)``. Only the digest is stored."""
    if role not in ROLES or role == "system":
        raise InvalidDecision(f"role must be one of {', '.join(r for r in ROLES if r != 'system')}",
                              role=role)
    if not tenant or len(tenant) > 64:
        raise InvalidDecision("tenant must be 1-64 characters")
    token = _PREFIX + secrets.token_urlsafe(32)
    token_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(insert(t.api_tokens).values(
            id=token_id, token_sha256=_digest(token), user=user or f"{role}@{tenant}",
            role=role, tenant=tenant, created_at=now_iso(),
            expires_at=time.time() + ttl_days * 86400 if ttl_days else None, revoked=False))
    return token_id, token


def revoke_token(engine: Engine, token_id: str) -> bool:
    """Revoke a token by id; False when unknown."""
    with engine.begin() as conn:
        result = conn.execute(update(t.api_tokens).where(t.api_tokens.c.id == token_id)
                              .values(revoked=True))
    return bool(result.rowcount)


class TokenAuthenticator:
    """Opaque tokens from the ``cp_api_tokens`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def authenticate(self, token: str) -> Principal:
        """Look the token's digest up; refuse unknown, revoked and expired tokens."""
        if not token.startswith(_PREFIX) or len(token) > 200:
            raise AuthenticationFailed("not a codeproof API token")
        with self.engine.connect() as conn:
            row = conn.execute(select(t.api_tokens).where(
                t.api_tokens.c.token_sha256 == _digest(token))).first()
        if row is None or row.revoked:
            raise AuthenticationFailed("unknown or revoked token")
        if row.expires_at is not None and row.expires_at < time.time():
            raise AuthenticationFailed("token expired")
        return Principal(user=row.user, role=row.role, tenant=row.tenant)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _int(value: str) -> int:
    return int.from_bytes(_b64(value), "big")


class OidcAuthenticator:
    """Verifies RS256 JWTs from an OIDC provider against a JWKS (no network)."""

    def __init__(self, *, issuer: str, audience: str, jwks: Mapping[str, Any],
                 role_claim: str = "codeproof_role", tenant_claim: str = "codeproof_tenant",
                 leeway_seconds: float = 60.0) -> None:
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim
        self.tenant_claim = tenant_claim
        self.leeway = leeway_seconds
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        for key in jwks.get("keys", []):
            if key.get("kty") == "RSA" and "kid" in key:
                self.keys[str(key["kid"])] = rsa.RSAPublicNumbers(
                    _int(key["e"]), _int(key["n"])).public_key()

    def authenticate(self, token: str) -> Principal:
        """Check signature, ``iss``, ``aud``, ``exp``/``nbf``, then map the claims."""
        parts = token.split(".")
        if len(parts) != 3:
            raise AuthenticationFailed("not a JWT")
        try:
            header = json.loads(_b64(parts[0]))
            claims = json.loads(_b64(parts[1]))
            signature = _b64(parts[2])
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthenticationFailed("malformed JWT") from exc
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise AuthenticationFailed("malformed JWT")
        if header.get("alg") != "RS256":
            raise AuthenticationFailed("only RS256 tokens are accepted")
        key = self.keys.get(str(header.get("kid")))
        if key is None:
            raise AuthenticationFailed("unknown signing key")
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"),
                       padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise AuthenticationFailed("bad JWT signature") from exc
        now = time.time()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not hmac.compare_digest(str(claims.get("iss", "")), self.issuer):
            raise AuthenticationFailed("wrong issuer")
        if self.audience not in audiences:
            raise AuthenticationFailed("wrong audience")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] + self.leeway < now:
            raise AuthenticationFailed("token expired")
        if isinstance(claims.get("nbf"), int | float) and claims["nbf"] - self.leeway > now:
            raise AuthenticationFailed("token not yet valid")
        role, tenant = claims.get(self.role_claim), claims.get(self.tenant_claim)
        if role not in ROLES or role == "system" or not isinstance(tenant, str) or not tenant:
            raise AuthenticationFailed("token lacks a valid role or tenant claim")
        return Principal(user=str(claims.get("sub", "unknown")), role=role, tenant=tenant)


class ChainAuthenticator:
    """Tries JWTs on the OIDC authenticators and ``cp_`` tokens on the token one."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = tuple(authenticators)

    def authenticate(self, token: str) -> Principal:
        """The first authenticator that accepts the token wins."""
        looks_jwt = token.count(".") == 2 and not token.startswith(_PREFIX)
        for auth in self.authenticators:
            if isinstance(auth, OidcAuthenticator) != looks_jwt:
                continue
            return auth.authenticate(token)
        raise AuthenticationFailed("no authenticator accepts this kind of token")
