"""Settings: the only code that reads the environment or `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the bot; environment names are those of DESIGN.md §3.4."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # -- data ------------------------------------------------------------
    data_dir: Path = Path("data")
    """Where the index, the database and logs live."""
    seeds_dir: Path = Path("seeds")
    """Source documents and their manifest `sources.yaml`."""
    personas_dir: Path = Path("personas")
    """Persona profiles, one YAML file each."""
    max_source_bytes: int = 5_000_000
    """Larger source files are rejected."""

    # -- telegram --------------------------------------------------------
    telegram_token: SecretStr = SecretStr("")
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    """Telegram user ids allowed to run admin commands."""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")
    telegram_webhook_listen: str = "0.0.0.0"
    """Address the webhook server binds to (behind a TLS-terminating proxy or load balancer)."""
    telegram_webhook_port: int = 8443
    """Port the webhook server listens on."""
    telegram_concurrent_updates: int = 16
    """Updates handled at once; one chat's updates are still handled in order."""
    telegram_rate_limit: int = Field(default=30, ge=0)
    """Messages per second across all chats (Telegram allows about 30; 0 turns the limiter off)."""
    telegram_jobs: bool = True
    """Run the scheduled jobs (reload, daily quotes) in this process; with replicas, in one only."""

    # -- wechat ----------------------------------------------------------
    wechat_token: SecretStr = SecretStr("")
    """The Token of the Official Account's server settings; signs every callback. Empty: WeChat off."""
    wechat_app_id: str = ""
    """AppID: checked inside encrypted messages and used with the secret to fetch access tokens."""
    wechat_app_secret: SecretStr = SecretStr("")
    """AppSecret, for the access tokens of the customer-service API."""
    wechat_aes_key: SecretStr = SecretStr("")
    """EncodingAESKey (43 characters) for safe and compatible mode; empty: plain mode only."""
    wechat_host: str = "0.0.0.0"
    """Address the callback server binds to (behind a TLS-terminating proxy)."""
    wechat_port: int = 8080
    """Port the callback server listens on."""
    wechat_path: str = "/wechat"
    """Path of the callback URL configured in the Official Account."""
    wechat_api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    """Official Account API base URL (`token`, `message/custom/send` are relative to it)."""
    wechat_customer_service: bool = False
    """Push late answers with the customer-service API; false: deliver them on the user's next message."""
    wechat_admin_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    """Openids allowed to run admin commands."""
    wechat_reply_seconds: float = Field(default=4.0, gt=0, le=4.5)
    """How long an answer may take to go back in the reply itself (WeChat gives up after 5 s)."""

    # -- retrieval -------------------------------------------------------
    embedder: Literal["e5", "use"] = "e5"
    """Sentence encoder (both ship inside their packages): `e5` (multilingual-e5-small) or `use`."""

    # -- llm -------------------------------------------------------------
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_seconds: float = Field(default=20.0, gt=0)
    """Longest wait for one model call; then the persona answers extractively."""
    llm_budget_seconds: float = Field(default=30.0, gt=0)
    """Longest a question waits for the model, across all the personas answering it."""
    llm_concurrency: int = Field(default=4, ge=1)
    """Model calls in flight at once in this process; more wait (within the budget) for a free one."""
    llm_breaker_failures: int = Field(default=3, ge=1)
    """Failed or timed-out calls in a row after which the model is skipped for a cool-down."""
    llm_breaker_cooldown_seconds: float = Field(default=60.0, gt=0)
    """How long the model is skipped once the breaker opens; then one call tries it again."""

    # -- stores ----------------------------------------------------------
    chroma_host: str = ""
    chroma_port: int = Field(default=8000)
    database_url: str = ""
    """Chat state store; empty means SQLite under `data_dir`."""

    # -- chat ------------------------------------------------------------
    reload_interval_minutes: int = Field(default=10, ge=1)
    """How often the scheduler checks `seeds/` for changes and reloads."""
    timezone: str = "Asia/Shanghai"
    """IANA time zone of daily-quote subscriptions that name none."""

    @field_validator("telegram_admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept a comma-separated string of ids."""
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("wechat_admin_ids", mode="before")
    @classmethod
    def _split_openids(cls, value: object) -> object:
        """Accept a comma-separated string of openids."""
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def ingest_cache_dir(self) -> Path:
        """Where ingest keeps the attributions of unchanged sources."""
        return self.data_dir / "ingest"

    def secret_values(self) -> list[str]:
        """Return every secret that is set (token, webhook secret, keys), for masking in logs."""
        return [
            value.get_secret_value()
            for value in vars(self).values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]

    @property
    def llm_enabled(self) -> bool:
        """Whether an OpenAI-compatible endpoint is configured."""
        return bool(self.llm_base_url and self.llm_model)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
