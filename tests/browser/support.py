"""Helpers shared by the browser tests: logging in, reading emails, running axe-core."""

from __future__ import annotations

import email
import email.policy
import functools
import os
import re
from pathlib import Path
from typing import Any

import pytest

# What a screen-reader or keyboard user cannot get past: these fail a test; the rest is printed.
BLOCKING_IMPACTS = ("serious", "critical")
# WCAG 2.2 level AA (which includes 2.0 and 2.1 A/AA) and axe's best practices. Named, so that
# rules such as the 2.2 target size are run whatever axe's defaults are in a given version.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def unavailable(reason: str) -> None:
    """Skip, or fail under CI: CI must run the browser tests, not silently skip them."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI requires the browser tests)")
    pytest.skip(reason)


def log_in(page: Any, email_address: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email_address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/"))


def emails_to(mail_dir: Path, address: str) -> list[email.message.EmailMessage]:
    """The `.eml` files the file transport wrote to `address`, oldest first."""
    found = []
    for path in sorted(mail_dir.rglob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]):
            found.append(message)
    return found


def link_in(message: email.message.EmailMessage, path_prefix: str) -> str:
    """The first link in the text part whose path starts with `path_prefix`."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "the email has no text part"
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"\S+)", body.get_content())
    assert match, f"no {path_prefix} link in:\n{body.get_content()}"
    return match.group(1)


def subscribe(page: Any, email_address: str) -> None:
    page.goto("/subscribe")
    page.get_by_label("Email address").fill(email_address)
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your inbox").wait_for()


@functools.cache
def axe_source() -> str:
    """axe-core's browser script, as shipped inside the `axe-playwright-python` package."""
    from importlib.resources import files

    try:
        script = files("axe_playwright_python").joinpath("axe.min.js")
    except ModuleNotFoundError:
        unavailable("axe-core is not installed (pip install -e '.[test]')")
    return script.read_text(encoding="utf-8")


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now.

    The script is evaluated through the DevTools protocol, which the site's
    Content-Security-Policy does not govern, so pages are checked with their real headers.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        """async (tags) => await axe.run(document, {
            runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']
        })""",
        AXE_TAGS,
    )
    return result["violations"]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            if node.get("failureSummary"):
                summary = node["failureSummary"].replace("\n", " ")
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)
