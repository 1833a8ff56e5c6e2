"""``hourhand.email``: an e-mail rendered from Jinja2 templates, sent through the
``[smtp]`` server of the settings.

::

    hh.enqueue("hourhand.email", {
        "to": ["ana@example.com"],
        "subject": "Budget alert: {{ project }}",
        "text": "{{ project }} has used {{ used }}% of its budget.",
        "html_file": "budget.html",          # a file in [email] templates
        "variables": {"project": "Apollo", "used": 91},
    })

The subject and the bodies are templates: a string (``text``, ``html``) or a file of the
``[email] templates`` folder (``text_file``, ``html_file``), rendered in Jinja2's sandbox
with ``variables``; HTML is autoescaped, a variable that is not given is an error. A
template that does not parse is refused at enqueue; one that fails to render fails the job
at once (another attempt would fail the same way). A server that cannot be reached or
refuses the message fails the attempt, and the retry policy applies.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from hourhand.builtin.common import KindFailed, invalid, json_safe
from hourhand.errors import DoNotRetry
from hourhand.jobs import CheckDepth, JobContext, JobSpec

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from hourhand.app import Hourhand

NAME = "hourhand.email"
MAX_RECIPIENTS = 100
ADDRESS = r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$"
TEMPLATE_FILE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$"

Address = Annotated[str, Field(pattern=ADDRESS, max_length=320)]
Recipients = Annotated[list[Address], Field(min_length=1, max_length=MAX_RECIPIENTS)]
Subject = Annotated[str, Field(min_length=1, max_length=2000, description="a template")]
Template = Annotated[str, Field(min_length=1, max_length=1_000_000, description="a template")]
TemplateFile = Annotated[
    str, Field(pattern=TEMPLATE_FILE, max_length=500, description="a file of [email] templates")
]


class EmailFailed(KindFailed):
    """The SMTP server could not be reached or refused the message."""


def make_spec(app: Hourhand) -> JobSpec:
    """The ``hourhand.email`` job type of ``app`` (its ``[smtp]`` and ``[email]`` settings
    read when a job runs)."""

    async def send_email(
        ctx: JobContext,
        to: Recipients,
        subject: Subject,
        text: Template | None = None,
        html: Template | None = None,
        text_file: TemplateFile | None = None,
        html_file: TemplateFile | None = None,
        variables: dict[str, Any] | None = None,
        cc: list[Address] | None = None,
        bcc: list[Address] | None = None,
        reply_to: Address | None = None,
    ) -> dict[str, Any]:
        """Send an e-mail rendered from Jinja2 templates (a string or a file) with
        variables, through the [smtp] server."""
        rendered = await asyncio.to_thread(  # rendering is CPU work: not on the worker's loop
            functools.partial(
                render,
                app,
                subject=subject,
                text=text,
                html=html,
                text_file=text_file,
                html_file=html_file,
                variables=variables or {},
            )
        )
        return await send(app, rendered, to=to, cc=cc or [], bcc=bcc or [], reply_to=reply_to)

    def check(args: Mapping[str, Any], depth: CheckDepth) -> None:
        for kind in ("text", "html"):
            if args.get(kind) is not None and args.get(f"{kind}_file") is not None:
                raise invalid(NAME, f"give '{kind}' or '{kind}_file', not both")
        if all(args.get(k) is None for k in ("text", "html", "text_file", "html_file")):
            raise invalid(NAME, "give a body: 'text', 'html', 'text_file' or 'html_file'")
        for key in ("subject", "text", "html"):
            if args.get(key) is not None:
                problem = syntax_problem(args[key])
                if problem:
                    raise invalid(NAME, f"argument {key!r}: {problem}")
        if depth != "args":
            if app.alerting.smtp is None:
                raise invalid(NAME, "no SMTP server: add an [smtp] table to hourhand.toml")
            for key in ("text_file", "html_file"):
                if args.get(key) is not None:
                    problem = file_problem(app, args[key])
                    if problem:
                        raise invalid(NAME, f"argument {key!r}: {problem}")

    return JobSpec(name=NAME, handler=send_email, check=check, admin_only=True)


def environment(app: Hourhand | None, *, html: bool) -> SandboxedEnvironment:
    """Jinja2's sandbox, strict about undefined variables, autoescaping for HTML, loading
    files from the ``[email] templates`` folder (if there is one)."""
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    folder = None if app is None else app.builtin.templates_folder()
    loader = None if folder is None else FileSystemLoader(str(folder))
    return SandboxedEnvironment(
        loader=loader, autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True
    )


@functools.lru_cache(maxsize=256)
def syntax_problem(source: str) -> str | None:
    """Why a template does not parse (with its line), or None. Remembered per source: a
    bulk enqueue of e-mails from the same templates parses each once, not once per item
    (100 e-mails from a subject and two files were 300 parses, 3 ms an e-mail)."""
    from jinja2 import TemplateSyntaxError

    try:
        environment(None, html=False).parse(source)
    except TemplateSyntaxError as exc:
        return f"template error on line {exc.lineno}: {exc.message}"
    return None


def file_problem(app: Hourhand, name: str) -> str | None:
    """Why template file ``name`` cannot be used here, or None."""
    folder = app.builtin.templates_folder()
    if folder is None:
        return "no template folder: add [email] templates = FOLDER to hourhand.toml"
    if ".." in Path(name).parts or not (folder / name).is_file():
        return f"no template file {name!r} in {folder}"
    return syntax_problem((folder / name).read_text())


class Rendered:
    def __init__(self, subject: str, text: str | None, html: str | None) -> None:
        self.subject = subject
        self.text = text
        self.html = html


def render(
    app: Hourhand,
    *,
    subject: str,
    text: str | None,
    html: str | None,
    text_file: str | None,
    html_file: str | None,
    variables: dict[str, Any],
) -> Rendered:
    """The subject and bodies rendered; DoNotRetry naming the template if one fails."""
    from jinja2 import TemplateError

    plain, marked = environment(app, html=False), environment(app, html=True)

    def one(env: SandboxedEnvironment, what: str, source: str | None, file: str | None) -> Any:
        if source is None and file is None:
            return None
        try:
            if source is not None:
                template = env.from_string(source)
            else:
                template = env.get_template(str(file))
            return template.render(variables)
        except TemplateError as exc:
            name = what if source is not None else f"{what} ({file})"
            raise DoNotRetry(f"the {name} template failed: {type(exc).__name__}: {exc}") from None

    title = one(plain, "subject", subject, None)
    return Rendered(
        re.sub(r"\s*[\r\n]+\s*", " ", title).strip(),
        one(plain, "text", text, text_file),
        one(marked, "html", html, html_file),
    )


async def send(
    app: Hourhand,
    rendered: Rendered,
    *,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    reply_to: str | None,
) -> dict[str, Any]:
    import aiosmtplib

    from hourhand.channels import smtp_send

    smtp = app.alerting.smtp
    if smtp is None:
        raise EmailFailed("no SMTP server in this worker: add an [smtp] table to hourhand.toml")
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = rendered.subject
    address = parseaddr(smtp.sender)[1]  # the sender may have a name: "Ops <ops@example.com>"
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    if rendered.text is not None:
        message.set_content(rendered.text)
        if rendered.html is not None:
            message.add_alternative(rendered.html, subtype="html")
    else:
        message.set_content(rendered.html or "", subtype="html")
    recipients = [*to, *cc, *bcc]
    try:
        refused, answer = await smtp_send(smtp, message, recipients)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise EmailFailed(
            f"SMTP server {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}"
        ) from None
    result = {
        "to": to,
        "cc": cc,
        "bcc": len(bcc),
        "subject": rendered.subject,
        "message_id": message["Message-ID"],
        "refused": {address: str(reply) for address, reply in refused.items()},
        "answer": answer,
    }
    safe: dict[str, Any] = json_safe(result)
    return safe
