"""Swagger UI in headless Chromium, driven like a user: Try it out, Authorize, log out."""

import json
import re
from urllib.parse import urlsplit

import pytest
from clientkit import artefact
from helpers import PASSWORD
from live import call
from playwright.sync_api import expect

pytestmark = pytest.mark.live

USERNAME = "swagger_user"
TIMEOUT = 15_000  # ms for the UI to show a response


class SwaggerUI:
    """The /docs page, operated through its visible controls."""

    def __init__(self, page, base, prefix=""):
        self.page = page
        self.base = base
        self.prefix = prefix  # screenshot names: <prefix><n>-<name>.png
        self.shots = []

    def open(self, reload=False):
        if reload:
            self.page.reload()
        else:
            self.page.goto(self.base + "/docs")
        expect(self.page.get_by_text("JWT Auth API").first).to_be_visible(timeout=TIMEOUT)

    def operation(self, tag, operation_id):
        """Expand the operation and switch it to "Try it out"."""
        block = self.page.locator(f"#operations-{tag}-{operation_id}")
        summary = block.locator(".opblock-summary-control")
        if summary.get_attribute("aria-expanded", timeout=TIMEOUT) != "true":
            summary.click()
        try_it = block.get_by_role("button", name="Try it out")
        execute = block.get_by_role("button", name="Execute")
        expect(try_it.or_(execute)).to_be_visible(timeout=TIMEOUT)
        if try_it.is_visible():
            try_it.click()
        expect(execute).to_be_visible()
        return block

    def execute(self, tag, operation_id, body=None):
        """Run the operation; return (status shown, response body shown)."""
        block = self.operation(tag, operation_id)
        if body is not None:
            block.get_by_role("textbox").first.fill(json.dumps(body))
        clear = block.get_by_role("button", name="Clear")
        if clear.count():
            clear.click()
        block.get_by_role("button", name="Execute").click()
        status = block.locator(".live-responses-table .response .response-col_status")
        expect(status).to_have_text(re.compile(r"^\d{3}$"), timeout=TIMEOUT)
        status.scroll_into_view_if_needed()
        shown = block.locator(".live-responses-table .response-col_description pre")
        text = shown.first.inner_text() if shown.count() else ""
        return int(status.inner_text()), text

    def authorize(self, token):
        """Paste a token into the bearerAuth scheme of the "Authorize" dialog."""
        self.page.locator(".scheme-container").get_by_role("button", name="Authorize").click()
        dialog = self.page.locator(".modal-ux")
        section = dialog.locator(".auth-container").filter(has_text="bearerAuth")
        expect(section).to_be_visible()
        section.get_by_role("textbox").fill(token)
        section.get_by_role("button", name="Apply credentials").click()
        expect(section.get_by_text("Authorized", exact=True)).to_be_visible()
        self.shot("authorized")
        section.get_by_role("button", name="Close", exact=True).click()
        expect(dialog).to_be_hidden()

    def shot(self, name):
        path = artefact("swagger-ui", f"{self.prefix}{len(self.shots) + 1:02d}-{name}.png")
        self.page.screenshot(path=str(path), full_page=False)
        self.shots.append(path.name)
        print("screenshot:", path)


def test_swagger_ui_login_authorize_protected_logout(live_server, browser):
    assert (
        call(live_server, "POST", "/auth/register", {"username": USERNAME, "password": PASSWORD})[0]
        == 201
    )
    host = urlsplit(live_server).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    requests, csp_errors = [], []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and csp_errors.append(message.text)
        ),
    )
    ui = SwaggerUI(page, live_server)
    try:
        ui.open()
        ui.shot("docs")

        status, text = ui.execute("auth", "login", {"username": USERNAME, "password": PASSWORD})
        assert status == 200, text
        pair = json.loads(text)
        assert pair["token_type"] == "Bearer"
        ui.shot("login-200")

        ui.authorize(pair["access_token"])
        status, text = ui.execute("protected", "getProtected")
        assert (status, json.loads(text)["username"]) == (200, USERNAME)
        ui.shot("protected-200")

        ui.open(reload=True)  # persistAuthorization keeps the token across a reload
        status, text = ui.execute("protected", "getProtected")
        assert status == 200, f"authorization lost on reload: {text}"
        assert json.loads(text)["username"] == USERNAME
        ui.shot("protected-200-after-reload")

        status, _ = ui.execute("auth", "logout", {"refresh_token": pair["refresh_token"]})
        assert status == 204
        ui.shot("logout-204")

        status, text = ui.execute("protected", "getProtected")
        problem = json.loads(text)
        assert (status, problem["status"]) == (401, 401)
        assert problem["title"] == "Unauthorized"
        ui.shot("protected-401-after-logout")
    finally:
        context.close()

    foreign = [url for url in requests if urlsplit(url).scheme not in {"data", "blob"}
               and urlsplit(url).netloc != host]  # fmt: skip
    assert not foreign, f"requests to other hosts: {foreign}"
    assert any(url.endswith("/swagger-ui-assets/swagger-ui-bundle.js") for url in requests)
    assert not csp_errors
    print("requests:", len(requests), "all to", host)
    print("screenshots:", ", ".join(ui.shots))


def test_swagger_ui_two_factor_login(live_server, browser):
    """Login answers an mfa_token; /auth/mfa with a code gives the pair; Authorize; 200."""
    import time

    import pyotp

    username = "swagger_mfa"
    login = {"username": username, "password": PASSWORD}
    assert call(live_server, "POST", "/auth/register", login)[0] == 201
    token = call(live_server, "POST", "/auth/login", login)[2]["access_token"]
    secret = call(live_server, "POST", "/users/me/mfa/totp", {"password": PASSWORD}, token)[2][
        "secret"
    ]
    totp, step = pyotp.TOTP(secret), int(time.time() // 30)
    confirmed = call(
        live_server, "POST", "/users/me/mfa/totp/confirm", {"code": totp.generate_otp(step)}, token
    )
    assert confirmed[0] == 200

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    ui = SwaggerUI(context.new_page(), live_server, prefix="mfa-")
    try:
        ui.open()
        status, text = ui.execute("auth", "login", login)
        challenge = json.loads(text)
        assert (status, challenge["mfa_required"]) == (200, True), text
        ui.shot("login-mfa-required")

        # the next step's code: the confirming one is spent (one step of skew is allowed)
        body = {"mfa_token": challenge["mfa_token"], "code": totp.generate_otp(step + 1)}
        status, text = ui.execute("auth", "verifyMfa", body)
        assert status == 200, text
        pair = json.loads(text)
        ui.shot("mfa-200")

        ui.authorize(pair["access_token"])
        status, text = ui.execute("protected", "getProtected")
        assert (status, json.loads(text)["username"]) == (200, username)
        ui.shot("mfa-protected-200")
    finally:
        context.close()


def test_swagger_ui_authorize_with_password_flow(live_server, browser):
    """The oauth2 password flow: Authorize with username and password, then GET /protected."""
    username = "swagger_oauth"
    assert (
        call(live_server, "POST", "/auth/register", {"username": username, "password": PASSWORD})[0]
        == 201
    )
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    token_requests = []
    context.on(
        "request",
        lambda request: request.url.endswith("/oauth/token") and token_requests.append(request),
    )
    page = context.new_page()
    ui = SwaggerUI(page, live_server)
    try:
        ui.open()
        page.locator(".scheme-container").get_by_role("button", name="Authorize").click()
        dialog = page.locator(".modal-ux")
        section = dialog.locator(".auth-container").filter(has_text="oauth2")
        expect(section.get_by_text("Flow:")).to_be_visible()
        section.locator("#oauth_username").fill(username)
        section.locator("#oauth_password").fill(PASSWORD)
        ui.shot("oauth2-credentials")
        section.get_by_role("button", name="Apply given OAuth2 credentials").click()
        expect(section.get_by_role("button", name="Remove authorization")).to_be_visible(
            timeout=TIMEOUT
        )
        ui.shot("oauth2-authorized")
        section.get_by_role("button", name="Close", exact=True).click()
        expect(dialog).to_be_hidden()

        status, text = ui.execute("protected", "getProtected")
        assert (status, json.loads(text)["username"]) == (200, username)
        ui.shot("oauth2-protected-200")
    finally:
        context.close()
    (sent,) = token_requests
    assert sent.method == "POST"
    assert sent.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "grant_type=password" in sent.post_data
