"""GET /trace: the server-rendered trace page, its cookie sign-in, and a real headless Chromium.

The page is tested through the Flask test client on both engines; the browser test drives
Debian's ``/usr/bin/chromium`` through Selenium and ``/usr/bin/chromedriver`` against a live
server, on PostgreSQL (a live server thread shares the test's connection, which SQLite's
driver refuses across threads). Its screenshot goes to ``$UDI_ARTIFACTS_DIR`` (CI keeps it).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests.e2e.test_trace_api import build_history
from tests.movements_world import STENT, World, build_world, token
from warehouse import tables
from warehouse.domain.roles import Role
from warehouse.tokens import hash_token
from warehouse.web.trace_page import (
    COOKIE,
    COOKIES_DISABLED,
    CROSS_SITE,
    DEVELOPMENT_SECRET_KEY,
)

SCAN = f"(01){STENT}(10)L1(21)S1"


@pytest.fixture
def world(db_session: Session) -> World:
    world = build_world(db_session)
    build_history(world)
    return world


def secret_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


SAME_SITE = {"Origin": "http://localhost"}  # the test client's host, as a browser sends it


def sign_in(client: FlaskClient, secret: str, scan: str = SCAN) -> Any:
    return client.post("/trace/login", data={"token": secret, "udi": scan}, headers=SAME_SITE)


def token_id(session: Session, secret: str) -> str:
    query = select(tables.api_tokens.c.id).where(
        tables.api_tokens.c.token_sha256 == hash_token(secret)
    )
    found = session.execute(query).scalar_one()
    session.rollback()
    return str(found)


def cookie_of(response: Any) -> str:
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=")
    return header[len(COOKIE) + 1 : header.index(";")]


def test_without_a_session_the_page_asks_for_a_token_and_never_reads_one_from_the_url(
    client: FlaskClient, world: World
) -> None:
    secret = secret_of(token(world, "X"))
    for url in (f"/trace?udi={quote(SCAN)}", f"/trace?udi={quote(SCAN)}&token={secret}"):
        response = client.get(url)
        assert response.status_code == 401
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert 'id="login"' in page
        assert 'id="timeline"' not in page
    assert client.get("/api/v1/trace/unit?di=x&serial=y").status_code == 401  # API: header only


def test_signing_in_sets_a_short_lived_httponly_strict_cookie_and_shows_the_trace(
    client: FlaskClient, world: World
) -> None:
    secret = secret_of(token(world, "X"))
    response = sign_in(client, secret)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/trace?udi={quote(SCAN, safe='')}"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/trace", "Max-Age=900"):
        assert attribute in cookie
    assert secret not in cookie  # the cookie names the token (signed id); it is not the token
    page = client.get(response.headers["Location"])
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    steps = re.findall(r'data-step="([a-z_]+)"', html)
    assert steps[:4] == ["receiving", "inspecting", "storing", "shipping"]
    assert steps[-1] == "dispensing"
    assert len(steps) == 19
    assert 'id="lot-graph"' in html
    assert html.count('class="node') == 8  # the wide and the phone layout
    assert "鹭岛第一医院" in html  # the current holder
    assert "pt-9" not in html  # X is not the hospital that used it
    assert page.headers["Cache-Control"] == "no-store"
    # Not no-referrer: under it browsers post our forms with "Origin: null" (refused).
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none'
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_a_bad_token_a_revoked_token_and_logging_out_end_the_session(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    bad = sign_in(client, "udi_not-a-token")
    assert bad.status_code == 401
    assert "not valid" in bad.get_data(as_text=True)
    headers = token(world, "H")
    assert sign_in(client, secret_of(headers)).status_code == 303
    assert client.get(f"/trace?udi={quote(SCAN)}").status_code == 200
    out = client.post("/trace/logout", headers=SAME_SITE)
    assert out.status_code == 303
    assert f"{COOKIE}=;" in out.headers["Set-Cookie"]
    assert client.get(f"/trace?udi={quote(SCAN)}").status_code == 401
    assert sign_in(client, secret_of(headers)).status_code == 303
    db_session.execute(update(tables.api_tokens).values(revoked_at=tables.api_tokens.c.created_at))
    db_session.commit()
    assert client.get(f"/trace?udi={quote(SCAN)}").status_code == 401


def test_the_page_takes_a_bearer_header_and_answers_unknown_and_unreadable_scans_in_html(
    client: FlaskClient, world: World
) -> None:
    headers = token(world, "H")
    page = client.get(f"/trace?udi={quote(SCAN)}", headers=headers).get_data(as_text=True)
    assert "pt-9" in page  # the hospital that used it sees its patient reference
    missing = client.get(f"/trace?udi={quote(f'(01){STENT}(10)L1(21)NOPE')}", headers=headers)
    assert missing.status_code == 404
    assert 'role="alert"' in missing.get_data(as_text=True)
    broken = client.get("/trace?udi=(01)06931234100042(21)S1", headers=headers)
    assert broken.status_code == 422
    assert "check digit" in broken.get_data(as_text=True)
    lot_only = client.get(f"/trace?udi={quote(f'(01){STENT}(10)L1')}", headers=headers)
    html = lot_only.get_data(as_text=True)
    assert lot_only.status_code == 200
    assert 'id="lot-graph"' in html
    assert 'id="timeline"' not in html
    unknown_lot = client.get(f"/trace?udi={quote(f'(01){STENT}(10)NOPE')}", headers=headers)
    assert unknown_lot.status_code == 404
    empty = client.get("/trace", headers=headers)
    assert empty.status_code == 200
    assert 'id="search"' in empty.get_data(as_text=True)


def test_a_cookie_signed_with_the_key_but_not_bound_to_the_token_is_refused(
    app: Flask, client: FlaskClient, world: World, db_session: Session
) -> None:
    admin, other = secret_of(token(world, "H", Role.ADMIN)), secret_of(token(world, "X"))
    admin_id = token_id(db_session, admin)
    # Token ids are not secret, and the key may be the public development one: what a forger
    # can sign is the id, and a binding made from anything but the token's stored hash.
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="udi-trace-page")
    genuine = cookie_of(sign_in(client, other))
    theirs = signer.loads(genuine)
    forgeries = [
        signer.dumps({"token_id": admin_id}),
        signer.dumps({"token_id": admin_id, "binding": theirs["binding"]}),  # X's binding
        signer.dumps({"token_id": admin_id, "binding": hash_token(admin)}),  # unkeyed
        signer.dumps({"token_id": admin_id, "binding": None}),
        signer.dumps({"token_id": admin_id, "binding": "非十六进制"}),  # not ASCII
        signer.dumps(["not", "a", "mapping"]),
    ]
    for forged in forgeries:
        client.set_cookie(COOKIE, forged, path="/trace")
        page = client.get(f"/trace?udi={quote(SCAN)}")
        assert page.status_code == 401, forged
        assert 'id="login"' in page.get_data(as_text=True)
    client.set_cookie(COOKIE, genuine, path="/trace")
    assert client.get(f"/trace?udi={quote(SCAN)}").status_code == 200


def test_cookie_sign_in_is_refused_on_the_development_key_unless_testing_or_debugging(
    app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secret_of(token(world, "X"))
    monkeypatch.setitem(app.config, "SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    cookie = cookie_of(sign_in(client, secret))  # testing: the development key is fine
    monkeypatch.setitem(app.config, "TESTING", False)
    monkeypatch.setitem(app.config, "DEBUG", False)
    refused = sign_in(client, secret)
    assert refused.status_code == 503
    assert "Set-Cookie" not in refused.headers
    assert "development SECRET_KEY" in refused.get_data(as_text=True)
    client.set_cookie(COOKIE, cookie, path="/trace")
    page = client.get(f"/trace?udi={quote(SCAN)}")
    assert page.status_code == 401  # a cookie signed with the public key is not read either
    assert COOKIES_DISABLED.split(":")[0] in page.get_data(as_text=True)
    headers = token(world, "X")
    assert client.get(f"/trace?udi={quote(SCAN)}", headers=headers).status_code == 200
    monkeypatch.setitem(app.config, "DEBUG", True)
    assert sign_in(client, secret).status_code == 303
    monkeypatch.setitem(app.config, "DEBUG", False)
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-real-secret-key-from-the-environment")
    signed_in = sign_in(client, secret)
    assert signed_in.status_code == 303
    assert client.get(signed_in.headers["Location"]).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "https://localhost"},  # another scheme is another origin
        {"Origin": "http://localhost:99999"},
        {"Referer": "https://evil.example/trace"},
        {},
    ],
    ids=["evil", "null", "suffix", "scheme", "bad-port", "evil-referer", "none"],
)
def test_cross_site_or_unattributed_posts_neither_sign_in_nor_out(
    client: FlaskClient, world: World, headers: dict[str, str]
) -> None:
    secret = secret_of(token(world, "X"))
    forged = client.post("/trace/login", data={"token": secret, "udi": SCAN}, headers=headers)
    assert forged.status_code == 403
    assert "Set-Cookie" not in forged.headers
    assert CROSS_SITE in forged.get_data(as_text=True)
    assert client.get(f"/trace?udi={quote(SCAN)}").status_code == 401
    assert sign_in(client, secret).status_code == 303
    out = client.post("/trace/logout", headers=headers)
    assert out.status_code == 403
    assert "Set-Cookie" not in out.headers
    assert client.get(f"/trace?udi={quote(SCAN)}").status_code == 200  # still signed in


def test_a_same_site_referer_stands_in_for_a_missing_origin_and_a_tls_proxy_is_https(
    app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secret_of(token(world, "X"))
    referer = {"Referer": f"http://localhost/trace?udi={quote(SCAN)}"}
    response = client.post("/trace/login", data={"token": secret}, headers=referer)
    assert response.status_code == 303
    monkeypatch.setitem(app.config, "TRACE_COOKIE_SECURE", True)  # behind a TLS proxy
    proxied = client.post(
        "/trace/login", data={"token": secret}, headers={"Origin": "https://localhost"}
    )
    assert proxied.status_code == 303
    assert sign_in(client, secret).status_code == 403  # http://localhost is not the page's


# --- A real browser -------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def live_server(app: Flask, db_session: Session, engine_name: str) -> Iterator[str]:
    if engine_name == "sqlite":
        pytest.skip("live server shares the test connection: PostgreSQL only")
    if not (Path(CHROMIUM).exists() and shutil.which("chromedriver")):
        message = "Debian chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("UDI_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN"):
        options.add_argument(argument)
    options.add_argument("--window-size=390,844")  # a phone
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def test_in_chromium_a_distributor_signs_in_and_reads_the_stents_hops_on_a_phone(
    live_server: str, browser: Any, world: World, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(f"{live_server}/trace?udi={quote(SCAN)}")
    browser.find_element(By.ID, "token").send_keys(secret_of(token(world, "X", Role.ORG_MANAGER)))
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.ID, "lot-graph-phone"))
    )
    hops = browser.find_elements(By.CSS_SELECTOR, "#timeline li.hop")
    steps = [hop.get_attribute("data-step") for hop in hops]
    assert steps[:4] == ["receiving", "inspecting", "storing", "shipping"]
    assert steps.count("shipping") == 3
    assert steps[-1] == "dispensing"
    parties = [hop.find_element(By.CLASS_NAME, "party").text for hop in hops]
    assert parties[0] == "鹭康医疗"
    assert parties[-1] == "鹭岛第一医院"
    assert "闽海器械" in parties
    assert browser.find_element(By.ID, "holder").text == "鹭岛第一医院"
    assert "dispensed" in browser.find_element(By.ID, "current-status").text
    redacted = browser.find_elements(By.CSS_SELECTOR, "#timeline li.redacted")
    assert redacted
    # X was no party to the maker's own hops nor to the hospital's: those show names only.
    others = {hop.find_element(By.CLASS_NAME, "party").text for hop in redacted}
    assert others == {"鹭康医疗", "鹭岛第一医院"}
    assert not browser.find_element(By.ID, "lot-graph").is_displayed()  # the wide layout
    graph = browser.find_element(By.ID, "lot-graph-phone")
    assert graph.is_displayed()
    assert len(graph.find_elements(By.CSS_SELECTOR, "g.node")) == 4
    assert len(graph.find_elements(By.CSS_SELECTOR, "g.node.on-path")) == 4
    assert graph.size["width"] > 300
    (cookie,) = [c for c in browser.get_cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    # Readable on a phone: nothing wider than the screen but the graph's own scroller.
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
    folder = Path(os.environ.get("UDI_ARTIFACTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(390, min(int(height) + 100, 8000))
    assert browser.save_screenshot(str(folder / "trace-page.png"))
    assert (folder / "trace-page.png").stat().st_size > 10_000
    assert graph.screenshot(str(folder / "trace-lot-graph.png"))
