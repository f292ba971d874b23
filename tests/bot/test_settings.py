import re
from pathlib import Path

import pytest

from bot.settings import PUBLIC_API_BASE_URL, SettingsError, load_settings
from tests.conftest import ROOT

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_env_example_lists_every_setting_read():
    source = (ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read == listed


def test_env_example_loads_as_valid_defaults():
    settings = load_settings(env={}, env_file=ROOT / ".env.example")
    assert settings.telegram_bot_token is None
    assert settings.token_problem().startswith("TELEGRAM_BOT_TOKEN is not set")
    assert settings.telegram_api_base_url == PUBLIC_API_BASE_URL
    assert settings.embedding_model == "bundled:multilingual-e5-small"
    assert settings.fusion.dense_weight is None  # the model's measured profile decides


def test_environment_overrides_the_env_file(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nADMIN_USER_IDS=1, 2\nDATA_DIR=/x\n")
    settings = load_settings(env={"DATA_DIR": "/y", "EMBEDDING_MODEL": "none"}, env_file=env_file)
    assert settings.token_problem() is None
    assert settings.admin_user_ids == {1, 2}
    assert settings.data_dir == Path("/y") and settings.embedding_model is None
    assert settings.engine_config().model is None


def test_file_url_follows_a_self_hosted_api():
    settings = load_settings(
        env={"TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot"}, env_file=None
    )
    assert settings.telegram_file_base_url == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADMIN_USER_IDS", "alice"),
        ("RATE_LIMIT_QUESTIONS", "five"),
        ("LEXICAL_BACKEND", "bm42"),
        ("WATCH_CORPUS", "maybe"),
        ("FEED_URLS", "https://haber.example/rss ftp://haber.example/rss"),
        ("FEED_URLS", "haber.example/rss"),
        ("FEED_INTERVAL_SECONDS", "5"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str):
    with pytest.raises(SettingsError, match=name):
        load_settings(env={name: value}, env_file=None)


def test_malformed_token_is_explained_without_echoing_it():
    settings = load_settings(env={"TELEGRAM_BOT_TOKEN": "not-a-token"}, env_file=None)
    problem = settings.token_problem()
    assert "malformed" in problem and "not-a-token" not in problem


def test_watching_is_on_and_no_feed_is_read_unless_configured():
    settings = load_settings(env={}, env_file=ROOT / ".env.example")
    assert settings.watch_corpus is True
    assert settings.feed_urls == () and settings.feed_interval == 900.0


def test_feed_urls_are_comma_or_space_separated_and_reach_the_ingest_config():
    settings = load_settings(
        env={
            "FEED_URLS": "https://a.example/rss, https://b.example/atom\nhttps://a.example/rss",
            "FEED_INTERVAL_SECONDS": "600",
            "WATCH_CORPUS": "false",
            "DATA_DIR": "/srv/qabot",
        },
        env_file=None,
    )
    assert settings.watch_corpus is False
    config = settings.ingest_config()
    assert config.feed_urls == ("https://a.example/rss", "https://b.example/atom")
    assert config.feed_interval == 600.0
    assert config.state_path == Path("/srv/qabot/ingest.sqlite3")
