"""The script-injection corpus (tests/browser/corpus.py) in job args, results, errors,
tracebacks, progress messages, job types, queue names, organisation ids, schedule names,
alert summaries and a user's name, rendered on every page of ``PAGES`` for an admin and
for a user of the (injected) organisation, on both stores. Chromium must run none of it:
no dialog, no console message, no uncaught error, no request to anywhere but the server;
no element or attribute of it in the DOM, before and after a live refresh; and the raw
strings appear only escaped in the HTML."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import product

import pytest
from playwright.sync_api import Browser

from hourhand import Hourhand
from hourhand.ops.actor import Role
from hourhand.web.dashboard.pages import PAGES, Page
from tests.browser import corpus
from tests.browser.conftest import PREFIX, Live, Tab
from tests.browser.live import Guard
from tests.conftest import wait_until

REFRESH_MS = 6_000  # past the script's 5 s refresh interval

# What an injection would leave in the DOM: handlers, scripts not ours, frames, a <base>,
# a meta refresh, links and sources that leave the page or run script. (Our own markup
# has none of these.)
DOM_CHECK = """(prefix) => {
  const bad = [];
  const ours = location.origin + prefix + "/static/";
  const risky = (value) => /^\\s*(javascript|vbscript|data):/i.test(value || "");
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    for (const attr of el.attributes) {
      if (attr.name.toLowerCase().startsWith("on")) bad.push(tag + " " + attr.name);
      if (["href", "src", "action", "formaction", "xlink:href", "srcdoc"].includes(
            attr.name.toLowerCase()) && risky(attr.value))
        bad.push(tag + " " + attr.name + "=" + attr.value);
    }
    if (["iframe", "frame", "embed", "object", "base", "applet"].includes(tag)) bad.push(tag);
    if (tag === "meta" && el.hasAttribute("http-equiv")) bad.push("meta http-equiv");
    if (tag === "script" && !(el.src || "").startsWith(ours)) bad.push("script " + el.src);
    if (tag === "link" && !(el.href || "").startsWith(ours)) bad.push("link " + el.href);
    if (["img", "image", "video", "audio", "source"].includes(tag)) {
      const src = el.getAttribute("src") || el.getAttribute("href") || "";
      if (src && !new URL(src, location.href).href.startsWith(location.origin))
        bad.push(tag + " " + src);
    }
  }
  return bad;
}"""


def seed_live(hh: Hourhand) -> corpus.Evil:
    return corpus.plant(hh)


@pytest.fixture
def evil(live: Live) -> corpus.Evil:
    seeded: corpus.Evil = live.seeded
    return seeded


def urls(page: Page, evil: corpus.Evil) -> Iterator[str]:
    """The page's path for each seeded id its placeholders take."""
    seeded = evil.seeded
    choices = {
        "job_id": list(seeded.jobs.values()),
        "schedule_id": list(seeded.schedules.values()),
        "alert_id": list(seeded.alerts.values()),
    }
    wanted = [key for key in choices if "{" + key + "}" in page.path]
    for values in product(*(choices[key] for key in wanted)):
        yield page.fill(**dict(zip(wanted, values, strict=True)))


def check_html(html: str, evil: corpus.Evil, where: str) -> set[str]:
    """No corpus string raw in the HTML; the fields whose strings appear escaped."""
    shown = set()
    for tag, texts in evil.placed.items():
        for text in texts:
            if corpus.dangerous(text):
                assert text not in html, f"{where}: unescaped {tag} string {text!r}"
            if any(form in html for form in corpus.escaped_forms(text)):
                shown.add(tag)
    return shown


VIEWERS = {
    "admin": ("admin", ""),
    "org": (corpus.EVIL_USER, corpus.EVIL_ORG),
}


@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_no_injected_string_runs_on_any_page(
    live: Live, tab: Callable[..., Tab], evil: corpus.Evil, viewer: str
) -> None:
    name, org = VIEWERS[viewer]
    t = tab(name, org)
    role = Role.ADMIN if viewer == "admin" else Role.OPERATOR
    t.page.clock.install()  # the live refresh's timer runs when the test says
    shown: set[str] = set()
    visited = []
    for page in PAGES:
        if role.rank < Role(page.role).rank or (org and page.cluster_only):
            continue
        for path in urls(page, evil):
            response = t.goto(path)
            html = response.text()
            shown |= check_html(html, evil, path)
            bad = t.page.evaluate(DOM_CHECK, PREFIX)
            assert not bad, f"{path}: injected markup in the DOM: {bad}"
            if t.page.locator("[data-refresh]").count():
                with t.page.expect_response(lambda r: "/fragments/" in r.url):
                    t.page.clock.run_for(REFRESH_MS)
                t.page.wait_for_load_state("networkidle")
                assert t.page.locator("[data-refresh].stale").count() == 0, f"{path}: stale"
                bad = t.page.evaluate(DOM_CHECK, PREFIX)
                assert not bad, f"{path} after a refresh: injected markup in the DOM: {bad}"
            t.guard.assert_clean(path)
            visited.append(path)
    assert visited
    expected = set(corpus.FIELDS)
    assert expected <= shown, f"never shown (escaped) to the {viewer}: {expected - shown}"


def test_the_checks_catch_an_injection(live: Live, browser: Browser) -> None:
    """The watchers are not blind: an injection into a page without our CSP shows a
    dialog, logs and reaches out, and leaves markup the DOM check names; on a dashboard
    page, the CSP refuses the same handler, and says so on the console."""
    context = browser.new_context()
    try:
        guard = Guard(live.server.origin)
        page = guard.attach(context.new_page())
        page.set_content(
            '<img src="x:" onerror="alert(1)"><script>console.log("ran")</script>'
            f'<img src="https://{corpus.EVIL_HOST}/a.png">'
        )
        wait_until(lambda: guard.dialogs and guard.console and guard.foreign, what="the guard")
        assert page.evaluate(DOM_CHECK, PREFIX)

        guard = Guard(live.server.origin)
        page = guard.attach(context.new_page())
        page.goto(live.url("/login"))
        page.evaluate(
            "document.body.insertAdjacentHTML('beforeend', '<img src=\"x:\" onerror=\"alert(2)\">')"
        )
        wait_until(lambda: guard.console, what="a CSP report on the console")
        assert not guard.dialogs, guard.dialogs
        assert "Content Security Policy" in guard.console[0], guard.console
    finally:
        context.close()
