"""Hotkey signing checked against substrate-interface (the SDK's library); config.resolve."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from substrateinterface import Keypair

from chutes_tui.client.api import ChutesClient
from chutes_tui.client.errors import ConfigError, ExitCode
from chutes_tui.client.signing import Credentials, Hotkey
from chutes_tui.config import (
    DEFAULT_API_URL,
    Connection,
    no_credentials_message,
    require_credentials,
    resolve,
)

SEED = "4f1c" + "ab" * 30
OTHER_SEED = "77" * 32
seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)


def sdk_address(seed: str) -> str:
    return Keypair.create_from_seed(seed_hex=seed).ss58_address


def verifies(ss58: str, message: str | bytes, signature_hex: str) -> bool:
    data = message.encode() if isinstance(message, str) else message
    return Keypair(ss58_address=ss58).verify(data, bytes.fromhex(signature_hex))


# signing


@settings(max_examples=30, deadline=None)
@given(seed=seeds)
def test_address_matches_substrate_interface(seed):
    hotkey = Hotkey.from_seed(seed)
    assert hotkey.ss58 == sdk_address(seed)
    assert len(hotkey.ss58) == 48 and hotkey.ss58.startswith("5")
    assert Hotkey.from_seed("0x" + seed.upper()).ss58 == hotkey.ss58
    hotkey.check()  # a derived pair always matches


@settings(max_examples=30, deadline=None)
@given(seed=seeds, message=st.binary(max_size=200))
def test_signatures_verify_with_substrate_interface(seed, message):
    hotkey = Hotkey.from_seed(seed)
    signature = hotkey.sign(message)
    assert len(signature) == 128 and not signature.startswith("0x")
    assert verifies(hotkey.ss58, message, signature)
    assert not verifies(hotkey.ss58, message + b"!", signature)
    assert not verifies(sdk_address(OTHER_SEED), message, signature)


def test_substrate_signatures_verify_against_our_address():
    hotkey = Hotkey.from_seed(SEED)
    pair = Keypair.create_from_seed(seed_hex=SEED)
    assert verifies(hotkey.ss58, b"hello", pair.sign(b"hello").hex())


def test_body_hash_form_hashes_the_exact_bytes():
    hotkey = Hotkey.from_seed(SEED, user_id="user-1")
    body = b'{"chute_id_or_name":"hello-world","user_id_or_name":"bob"}'
    headers = hotkey.headers(body=body, nonce=1768419806)
    digest = hashlib.sha256(body).hexdigest()
    assert digest == "1de3de13f89b98f742a5b05deb95f314a36ba4f7dfdb23afcdd3a96a04abc976"
    assert headers["X-Chutes-Hotkey"] == hotkey.ss58
    assert headers["X-Chutes-Nonce"] == "1768419806"
    assert headers["X-Chutes-UserID"] == "user-1"
    signature = headers["X-Chutes-Signature"]
    assert verifies(hotkey.ss58, f"{hotkey.ss58}:1768419806:{digest}", signature)
    # the same JSON with other spacing is other bytes
    spaced = hashlib.sha256(json.dumps(json.loads(body)).encode()).hexdigest()
    assert not verifies(hotkey.ss58, f"{hotkey.ss58}:1768419806:{spaced}", signature)
    # an empty body still has a hash, and a body wins over a purpose
    empty = hotkey.headers(body=b"", purpose="chutes", nonce=5)
    assert verifies(
        hotkey.ss58,
        f"{hotkey.ss58}:5:{hashlib.sha256(b'').hexdigest()}",
        empty["X-Chutes-Signature"],
    )


def test_purpose_form_message():
    hotkey = Hotkey.from_seed(SEED)
    headers = hotkey.headers(purpose="chutes", nonce=1768419806)
    assert verifies(hotkey.ss58, f"{hotkey.ss58}:1768419806:chutes", headers["X-Chutes-Signature"])
    assert not verifies(
        hotkey.ss58, f"{hotkey.ss58}:1768419806:images", headers["X-Chutes-Signature"]
    )
    assert "X-Chutes-UserID" not in headers  # no user id configured
    with pytest.raises(ValueError):
        hotkey.headers()


def test_nonce_is_the_current_time():
    hotkey = Hotkey.from_seed(SEED)
    before = int(time.time())
    headers = hotkey.headers(purpose="me")
    after = int(time.time())
    nonce = headers["X-Chutes-Nonce"]
    assert nonce.isdigit() and before <= int(nonce) <= after
    assert verifies(hotkey.ss58, f"{hotkey.ss58}:{nonce}:me", headers["X-Chutes-Signature"])


def test_credentials_pick_the_scheme():
    hotkey = Hotkey.from_seed(SEED)
    both = Credentials(api_key="cpk_key", hotkey=hotkey)
    assert both.headers("chutes", None, "GET") == {"Authorization": "cpk_key"}
    only_hotkey = Credentials(hotkey=hotkey)
    assert only_hotkey.headers("chutes", None, "GET")["X-Chutes-Hotkey"] == hotkey.ss58
    posted = only_hotkey.headers(None, b"{}", "POST")
    digest = hashlib.sha256(b"{}").hexdigest()
    assert verifies(
        hotkey.ss58,
        f"{hotkey.ss58}:{posted['X-Chutes-Nonce']}:{digest}",
        posted["X-Chutes-Signature"],
    )
    assert only_hotkey.headers(None, None, "GET") == {}  # cannot be signed
    assert Credentials().headers("me", None, "GET") == {}
    assert not Credentials().present and both.present and only_hotkey.present


@pytest.mark.parametrize("seed", ["", "abc", "zz" * 32, "ab" * 31, "ab" * 33])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="64 hex characters"):
        Hotkey.from_seed(seed)
    with pytest.raises(ValueError, match="64 hex characters"):
        Hotkey.from_config(seed, sdk_address(SEED))


def test_check_raises_for_a_mismatching_address():
    other = sdk_address(OTHER_SEED)
    hotkey = Hotkey.from_config(SEED, other)
    with pytest.raises(ValueError) as caught:
        hotkey.check()
    assert other in str(caught.value)
    assert SEED not in str(caught.value)
    Hotkey.from_config(SEED, sdk_address(SEED)).check()


def test_repr_hides_the_seed():
    hotkey = Hotkey.from_seed(SEED, user_id="u")
    creds = Credentials(api_key="cpk_very_secret", hotkey=hotkey)
    for text in (repr(hotkey), repr(creds), str(creds)):
        assert SEED not in text and "cpk_very_secret" not in text
    assert hotkey.ss58 in repr(hotkey)


async def test_client_signs_the_bytes_it_sends():
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"username": "demo", "user_id": "u"})
        return httpx.Response(200, json={"status": "ok"})

    hotkey = Hotkey.from_seed(SEED, user_id="u-1")
    conn = Connection("https://api.test", Credentials(hotkey=hotkey))
    async with ChutesClient(conn, transport=httpx.MockTransport(handler)) as client:
        await client.me()
        await client.share("hello-world", "bob")
    get, post = sent
    assert get.content == b""
    assert verifies(
        hotkey.ss58,
        f"{hotkey.ss58}:{get.headers['X-Chutes-Nonce']}:me",
        get.headers["X-Chutes-Signature"],
    )
    assert post.content == b'{"chute_id_or_name":"hello-world","user_id_or_name":"bob"}'
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["X-Chutes-UserID"] == "u-1"
    digest = hashlib.sha256(post.content).hexdigest()
    assert verifies(
        hotkey.ss58,
        f"{hotkey.ss58}:{post.headers['X-Chutes-Nonce']}:{digest}",
        post.headers["X-Chutes-Signature"],
    )


# config files


def write_ini(
    path: Path,
    seed: str | None = SEED,
    address: str | None = None,
    base_url: str | None = None,
    username: str = "alice",
) -> Path:
    lines = []
    if base_url is not None:
        lines += ["[api]", f"base_url = {base_url}", ""]
    lines += ["[auth]", f"username = {username}", "user_id = 9d3c5c0e-1f55-5b0e-8a33-0d3cfa2f0e11"]
    if seed is not None:
        lines.append(f"hotkey_seed = {seed}")
        lines.append(f"hotkey_ss58address = {address or sdk_address(seed)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_prefs(path: Path, text: str) -> dict[str, str]:
    path.write_text(text)
    return {"CHUTES_TUI_CONFIG": str(path)}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home directory, so ~/.chutes/config.ini is ours to create or leave out."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def test_file_gives_url_and_hotkey(tmp_path, home):
    ini = write_ini(tmp_path / "c.ini", base_url="http://127.0.0.1:8765/")
    conn = resolve(config_path=ini, env={})
    assert conn.base_url == "http://127.0.0.1:8765"  # trailing slash dropped
    assert conn.credentials.api_key is None
    assert conn.credentials.hotkey.ss58 == sdk_address(SEED)
    assert conn.credentials.hotkey.user_id == "9d3c5c0e-1f55-5b0e-8a33-0d3cfa2f0e11"
    assert conn.username == "alice"
    assert conn.config_path == ini
    assert conn.source == str(ini)


def test_env_url_ignored_when_the_file_has_base_url(tmp_path, home):
    ini = write_ini(tmp_path / "c.ini", base_url="http://from-file")
    env = {"CHUTES_API_URL": "http://from-env"}
    assert resolve(config_path=ini, env=env).base_url == "http://from-file"


def test_env_url_used_when_the_file_has_none(tmp_path, home):
    ini = write_ini(tmp_path / "c.ini")
    assert resolve(config_path=ini, env={"CHUTES_API_URL": "http://from-env/"}).base_url == (
        "http://from-env"
    )
    assert resolve(config_path=ini, env={}).base_url == DEFAULT_API_URL


def test_default_url_without_any_file(home):
    conn = resolve(env={})
    assert conn.base_url == DEFAULT_API_URL == "https://api.chutes.ai"
    assert conn.config_path is None
    assert not conn.credentials.present
    assert conn.source == "no credentials"


def test_default_sdk_file_in_home(home):
    (home / ".chutes").mkdir()
    ini = write_ini(home / ".chutes" / "config.ini", base_url="http://home-file")
    conn = resolve(env={})
    assert conn.base_url == "http://home-file"
    assert conn.config_path == ini
    assert conn.credentials.hotkey is not None


def test_chutes_config_path(tmp_path, home):
    ini = write_ini(tmp_path / "env.ini", base_url="http://env-file", username="bob")
    conn = resolve(env={"CHUTES_CONFIG_PATH": str(ini)})
    assert conn.base_url == "http://env-file"
    assert conn.username == "bob"
    assert conn.config_path == ini
    flag = write_ini(tmp_path / "flag.ini", base_url="http://flag-file")
    assert resolve(config_path=flag, env={"CHUTES_CONFIG_PATH": str(ini)}).base_url == (
        "http://flag-file"
    )


def test_precedence_flag_profile_env_file(tmp_path, home):
    file_ini = write_ini(tmp_path / "file.ini", base_url="http://file")
    profile_ini = write_ini(tmp_path / "profile.ini", base_url="http://profile-file")
    env = write_prefs(
        tmp_path / "prefs.toml",
        f"""
[profiles.sandbox]
config = "{profile_ini}"
api_url = "http://profile-url"
api_key_env = "CHUTES_SANDBOX_API_KEY"

[profiles.bare]
config = "{profile_ini}"
""",
    )
    env |= {
        "CHUTES_CONFIG_PATH": str(file_ini),
        "CHUTES_API_URL": "http://env-url",
        "CHUTES_API_KEY": "cpk_env",
        "CHUTES_SANDBOX_API_KEY": "cpk_profile",
    }
    # no profile: the env file, whose base_url beats CHUTES_API_URL; key from env
    plain = resolve(env=env)
    assert (plain.base_url, plain.config_path, plain.credentials.api_key) == (
        "http://file",
        file_ini,
        "cpk_env",
    )
    # profile beats env
    profiled = resolve(profile="sandbox", env=env)
    assert profiled.profile == "sandbox"
    assert profiled.base_url == "http://profile-url"
    assert profiled.config_path == profile_ini
    assert profiled.credentials.api_key == "cpk_profile"
    # a profile without api_url uses its config file's base_url
    assert resolve(profile="bare", env=env).base_url == "http://profile-file"
    # CHUTES_TUI_PROFILE selects a profile too
    assert resolve(env=env | {"CHUTES_TUI_PROFILE": "sandbox"}).profile == "sandbox"
    # flags beat everything
    flagged = resolve(
        config_path=file_ini, api_url="http://flag", api_key="cpk_flag", profile="sandbox", env=env
    )
    assert flagged.base_url == "http://flag"
    assert flagged.config_path == file_ini
    assert flagged.credentials.api_key == "cpk_flag"
    assert flagged.source == "an API key"


def test_profile_with_api_key_env(tmp_path, home):
    env = write_prefs(
        tmp_path / "prefs.toml",
        '[profiles.prod]\napi_key_env = "PROD_KEY"\napi_url = "https://prod.example"\n',
    )
    conn = resolve(profile="prod", env=env | {"PROD_KEY": "cpk_prod", "CHUTES_API_KEY": "cpk_x"})
    assert conn.credentials.api_key == "cpk_prod"
    assert conn.base_url == "https://prod.example"
    # the named variable is unset: CHUTES_API_KEY is the fallback
    assert resolve(profile="prod", env=env | {"CHUTES_API_KEY": "cpk_x"}).credentials.api_key == (
        "cpk_x"
    )
    assert resolve(profile="prod", env=env).credentials.api_key is None


def test_unknown_profile_lists_the_profiles(tmp_path, home):
    env = write_prefs(tmp_path / "prefs.toml", "[profiles.prod]\n[profiles.sandbox]\n")
    with pytest.raises(ConfigError) as caught:
        resolve(profile="staging", env=env)
    message = caught.value.message
    assert "'staging'" in message
    assert "prod, sandbox" in message
    assert str(tmp_path / "prefs.toml") in message
    assert caught.value.exit_code == ExitCode.AUTH
    with pytest.raises(ConfigError, match="none defined"):
        resolve(profile="staging", env={"CHUTES_TUI_CONFIG": str(tmp_path / "absent.toml")})


def test_malformed_prefs_is_config_error(tmp_path, home):
    env = write_prefs(tmp_path / "prefs.toml", "[profiles.prod\nnot toml")
    with pytest.raises(ConfigError, match="cannot read"):
        resolve(profile="prod", env=env)


@pytest.mark.parametrize("how", ["flag", "env", "profile"])
def test_missing_explicit_config_file_names_it(tmp_path, home, how):
    missing = tmp_path / "nowhere" / "config.ini"
    env: dict[str, str] = {}
    kwargs = {}
    if how == "flag":
        kwargs["config_path"] = missing
    elif how == "env":
        env["CHUTES_CONFIG_PATH"] = str(missing)
    else:
        env = write_prefs(tmp_path / "prefs.toml", f'[profiles.p]\nconfig = "{missing}"\n')
        kwargs["profile"] = "p"
    with pytest.raises(ConfigError) as caught:
        resolve(env=env, **kwargs)
    assert str(missing) in caught.value.message
    assert "does not exist" in caught.value.message


@pytest.mark.parametrize(
    "text",
    ["not an ini file\n", "[auth]\nhotkey_seed = a\nhotkey_seed = b\n", "[auth\nusername=x\n"],
    ids=["no-section", "duplicate-key", "broken-header"],
)
def test_malformed_ini_is_config_error(tmp_path, home, text):
    ini = tmp_path / "bad.ini"
    ini.write_text(text)
    with pytest.raises(ConfigError) as caught:
        resolve(config_path=ini, env={})
    assert caught.value.message.startswith(f"cannot read {ini}")


def test_unreadable_ini_is_config_error(tmp_path, home):
    ini = tmp_path / "binary.ini"
    ini.write_bytes(b"\xff\xfe\x00[auth]")
    with pytest.raises(ConfigError, match="cannot read"):
        resolve(config_path=ini, env={})


@pytest.mark.parametrize("seed", ["xyz", "ab" * 31, "zz" * 32])
def test_bad_hotkey_seed_is_config_error(tmp_path, home, seed):
    ini = write_ini(tmp_path / "c.ini", seed=None)
    ini.write_text(
        ini.read_text() + f"hotkey_seed = {seed}\nhotkey_ss58address = {sdk_address(SEED)}\n"
    )
    with pytest.raises(ConfigError) as caught:
        resolve(config_path=ini, env={})
    assert caught.value.message == f"hotkey_seed in {ini} is not 64 hex characters"
    assert seed not in caught.value.message


def test_ini_without_hotkey_keeps_the_username(tmp_path, home):
    ini = write_ini(tmp_path / "c.ini", seed=None, username="carol")
    conn = resolve(config_path=ini, env={})
    assert conn.credentials.hotkey is None and conn.username == "carol"
    assert not conn.credentials.present
    empty = tmp_path / "empty.ini"
    empty.write_text("[api]\nbase_url = http://x\n")
    assert resolve(config_path=empty, env={}).credentials.hotkey is None


async def test_client_refuses_a_mismatched_seed_and_address(tmp_path, home):
    ini = write_ini(tmp_path / "c.ini", address=sdk_address(OTHER_SEED), base_url="https://a.test")
    conn = resolve(config_path=ini, env={})  # the pair is checked on first use
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"username": "x", "user_id": "u"})

    async with ChutesClient(conn, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ConfigError) as caught:
            await client.me()
        with pytest.raises(ConfigError):
            await client.share("hello-world", "bob")
    assert requests == []
    message = caught.value.message
    assert str(ini) in message and sdk_address(OTHER_SEED) in message
    assert SEED not in message
    assert caught.value.exit_code == ExitCode.AUTH


async def test_api_key_makes_the_hotkey_check_moot(tmp_path, home):
    ini = write_ini(tmp_path / "c.ini", address=sdk_address(OTHER_SEED), base_url="https://a.test")
    conn = resolve(config_path=ini, api_key="cpk_flag", env={})

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "cpk_flag"
        return httpx.Response(200, json={"username": "x", "user_id": "u"})

    async with ChutesClient(conn, transport=httpx.MockTransport(handler)) as client:
        assert (await client.me()).username == "x"


def test_require_credentials(tmp_path, home):
    conn = resolve(env={})
    with pytest.raises(ConfigError) as caught:
        require_credentials(conn)
    message = caught.value.message
    assert "CHUTES_API_KEY" in message
    assert "--api-key" in message
    assert str(home / ".chutes" / "config.ini") in message
    assert "CHUTES_CONFIG_PATH" in message
    assert "chutes-tui sandbox serve" in message
    assert "chutes-tui sandbox config" in message
    assert caught.value.exit_code == ExitCode.AUTH

    ini = write_ini(tmp_path / "nokey.ini", seed=None)
    with pytest.raises(ConfigError) as caught:
        require_credentials(resolve(config_path=ini, env={}))
    assert str(ini) in caught.value.message
    assert no_credentials_message(ini) == caught.value.message

    keyed = resolve(env={"CHUTES_API_KEY": "cpk_x"})
    assert require_credentials(keyed) is keyed
    hotkeyed = resolve(config_path=write_ini(tmp_path / "ok.ini"), env={})
    assert require_credentials(hotkeyed) is hotkeyed


@pytest.mark.parametrize(
    "text",
    ['[profiles]\nprod = "oops"\n', "profiles = 3\n", "[profiles.prod]\nconfig = 5\n"],
    ids=["profile-not-a-table", "profiles-not-a-table", "config-not-a-string"],
)
def test_prefs_with_the_wrong_shape_is_config_error(tmp_path, home, text):
    env = write_prefs(tmp_path / "prefs.toml", text)
    with pytest.raises(ConfigError):
        resolve(profile="prod", env=env)
