"""The local development token issuer (embedded default only; production uses OIDC).

`make token ROLE=<role> ORG=<org> [SUB=<user>] [TEAM=<partner type>]` prints one signed
token on stdout (TEAM: the `team` claim of a partner user, see services/signals/README.md).
The key pair is generated on first use under var/keys/ and never committed.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.auth import Role
from shared.devfiles import made_once, replaced
from shared.settings import VAR, ServiceSettings

KEY_DIR = VAR / "keys"


def ensure_key_pair(key_dir: Path = KEY_DIR) -> tuple[Path, Path]:
    """Create an EC P-256 key pair once; returns (private, public) PEM paths. Of processes
    that start at once (`make run`, `make token`) the first key made is everyone's."""
    private, public = key_dir / "issuer-private.pem", key_dir / "issuer-public.pem"
    if private.is_file() and public.is_file():  # what every token minted asks
        return private, public
    key = serialization.load_pem_private_key(made_once(private, ec.generate_private_key(
        ec.SECP256R1()).private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())), password=None)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    if not public.is_file() or public.read_bytes() != pem:
        replaced(public, pem, mode=0o644)
    return private, public


def mint(
    roles: list[str],
    org: str,
    sub: str | None = None,
    *,
    ttl_s: int = 8 * 3600,
    key_dir: Path = KEY_DIR,
    settings: ServiceSettings | None = None,
    **extra: object,
) -> str:
    s = settings or ServiceSettings()
    private, _ = ensure_key_pair(key_dir)
    now = int(time.time())
    claims = {
        "iss": s.auth_issuer, "aud": s.auth_audience, "sub": sub or f"dev-{roles[0]}@{org}",
        "org": org, "roles": roles, "iat": now, "nbf": now, "exp": now + ttl_s,
        "jti": str(uuid.uuid4()), **extra,
    }
    return jwt.encode(claims, private.read_text(), algorithm="ES256")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a signed development token.")
    parser.add_argument("--role", required=True,
                        help="comma-separated: " + ", ".join(r.value for r in Role))
    parser.add_argument("--org", required=True, help="organisation id, e.g. demo-corp-a")
    parser.add_argument("--sub", default=None, help="user id (default derived)")
    parser.add_argument("--team", default=None,
                        help="comma-separated partner types of a partner user (claim `team`), "
                        "e.g. wijkteam or debt-help")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="seconds (default 8h)")
    args = parser.parse_args(argv)
    roles = [r.strip() for r in args.role.split(",") if r.strip()]
    unknown = [r for r in roles if r not in {x.value for x in Role}]
    if unknown or not roles:
        print(f"unknown role(s): {', '.join(unknown) or '(none)'}", file=sys.stderr)
        return 2
    teams = [t.strip() for t in (args.team or "").split(",") if t.strip()]
    if teams:
        print(mint(roles, args.org, args.sub, ttl_s=args.ttl,
                   team=teams[0] if len(teams) == 1 else teams))
    else:
        print(mint(roles, args.org, args.sub, ttl_s=args.ttl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
