"""The console's settings: where the APIs are, how people sign in, how sessions are kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ROOT, ServiceSettings

#: Where `make console-assets` installs the npm packages (ignored by git, never committed).
ASSETS = ROOT / "services" / "console" / "assets" / "node_modules"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DDK_CONSOLE_", extra="ignore",
                                      hide_input_in_errors=True)

    service_name: str = "console"
    port: int = 8000

    # The services' public base URLs (the console calls nothing else).
    signals_url: str = "http://127.0.0.1:8001"
    indicators_url: str = "http://127.0.0.1:8002"
    funding_url: str = "http://127.0.0.1:8003"
    api_timeout_s: float = 10.0

    # Development sign-in: the dev issuer's private key (as `make token` uses). Empty: the
    # dev sign-in page is refused; people sign in with OpenID Connect.
    dev_signin_key_file: str = ""
    dev_token_ttl_s: int = 8 * 3600

    # OpenID Connect (authorization code flow with PKCE) against the organisation's IdP.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scopes: str = "openid profile"

    # Sessions live in an encrypted cookie; every replica needs the same secret. Empty: a
    # random one per process (sessions end when it restarts; fine for one dev process).
    session_secret: SecretStr = SecretStr("")
    session_max_age_s: int = 8 * 3600

    assets_dir: str = str(ASSETS)

    def api_url(self, service: str) -> str:
        urls = {"signals": self.signals_url, "indicators": self.indicators_url,
                "funding": self.funding_url}
        return urls[service].rstrip("/")

    def assets_path(self) -> Path:
        return Path(self.assets_dir)
