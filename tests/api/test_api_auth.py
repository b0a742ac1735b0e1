"""API tokens (digest, expiry, revocation) and the OIDC RS256 verifier."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select

from codeproof.api.auth import (
    ChainAuthenticator,
    OidcAuthenticator,
    TokenAuthenticator,
    create_token,
    revoke_token,
)
from codeproof.errors import AuthenticationFailed, InvalidDecision
from codeproof.store import tables as t

ISSUER, AUDIENCE = "https://idp.example.org", "codeproof"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(key: rsa.RSAPrivateKey, kid: str = "k1") -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {"keys": [{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                      "n": _b64(numbers.n.to_bytes(256, "big")),
                      "e": _b64(numbers.e.to_bytes(3, "big"))}]}


def jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any], *, kid: str = "k1",
        alg: str = "RS256") -> str:
    header = _b64(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": time.time() + 300,
            "codeproof_role": "coder", "codeproof_tenant": "acme"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(("overrides", "ok"), [
    ({}, True),
    ({"aud": ["other", AUDIENCE]}, True),                   # list audience
    ({"exp": time.time() - 30}, True),                      # borderline: inside leeway
    ({"exp": time.time() - 3600}, False),                   # expired
    ({"exp": None}, False),                                 # no expiry
    ({"nbf": time.time() + 3600}, False),                   # not yet valid
    ({"aud": "someone-else"}, False),
    ({"iss": "https://evil.example"}, False),
    ({"codeproof_role": "system"}, False),                  # never grantable
    ({"codeproof_role": "superuser"}, False),
    ({"codeproof_tenant": None}, False),
])
def test_oidc_claims(rsa_key: rsa.RSAPrivateKey, overrides: dict[str, Any], ok: bool) -> None:
    auth = OidcAuthenticator(issuer=ISSUER, audience=AUDIENCE, jwks=jwks(rsa_key))
    token = jwt(rsa_key, claims(**overrides))
    if ok:
        who = auth.authenticate(token)
        assert (who.user, who.role, who.tenant) == ("alice", "coder", "acme")
    else:
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(token)


def test_oidc_signature_checks(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = OidcAuthenticator(issuer=ISSUER, audience=AUDIENCE, jwks=jwks(rsa_key))
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = jwt(rsa_key, claims())
    head, body, sig = good.split(".")
    tampered = f"{head}.{_b64(json.dumps(claims(codeproof_role='admin')).encode())}.{sig}"
    for token in (jwt(forger, claims()), tampered, jwt(rsa_key, claims(), kid="k2"),
                  jwt(rsa_key, claims(), alg="HS256"), "a.b", "!!.??.##"):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(token)


def test_app_accepts_oidc_and_api_tokens(api_factory: Any, rsa_key: rsa.RSAPrivateKey) -> None:
    oidc = OidcAuthenticator(issuer=ISSUER, audience=AUDIENCE, jwks=jwks(rsa_key))
    api = api_factory(authenticators=[oidc])
    with api.client:
        me = api.client.get("/v1/me", headers={"Authorization":
                                                f"Bearer {jwt(rsa_key, claims())}"})
        assert me.json()["tenant"] == "acme"
        assert api.client.get("/v1/me", headers=api.h("coder")).json()["tenant"] == "default"


def test_tokens_digest_expiry_revocation(api_factory: Any) -> None:
    api = api_factory()
    engine = api.app.state.cp.store.engine
    auth = TokenAuthenticator(engine)
    token_id, token = create_token(engine, role="cdi", tenant="t1", user="carol")
    with engine.connect() as conn:
        stored = conn.execute(select(t.api_tokens.c.token_sha256)).scalars().all()
    assert token not in stored and all(len(s) == 64 for s in stored)
    assert auth.authenticate(token).user == "carol"
    assert revoke_token(engine, token_id) and not revoke_token(engine, "nope")
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(token)
    _, short = create_token(engine, role="coder", tenant="t1", ttl_days=-1)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(short)
    for role, tenant in (("system", "t1"), ("root", "t1"), ("coder", "")):
        with pytest.raises(InvalidDecision):
            create_token(engine, role=role, tenant=tenant)
    with pytest.raises(AuthenticationFailed):
        ChainAuthenticator([auth]).authenticate("x.y.z")
