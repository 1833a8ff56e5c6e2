"""hourhand.email against a real local SMTP server (aiosmtpd), run by a real worker:
templates from strings and files, escaping, recipients, failures and bad parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hourhand import Hourhand, InvalidArguments, JobState
from tests.conftest import WorkerThread, wait_until
from tests.integration.test_channels import Mailbox, free_port


class Smtp:
    def __init__(self) -> None:
        self.box = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    yield server
    server.controller.stop()


def configure(
    app: Hourhand,
    folder: Path,
    port: int,
    extra: str = "",
    sender: str = "hourhand@example.com",
) -> Path:
    """hourhand.toml with [smtp] and a template folder holding budget.html and budget.txt."""
    (folder / "emails").mkdir(exist_ok=True)
    (folder / "emails" / "budget.html").write_text(
        "<p>{{ project }} has used <b>{{ used }}%</b> of its budget.</p>\n"
    )
    (folder / "emails" / "budget.txt").write_text("{{ project }}: {{ used }}%\n")
    config = folder / "hourhand.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsender = "{sender}"\n'
        f'timeout = 3\n\n[email]\ntemplates = "emails"\n\n{extra}'
    )
    app.load_config(config)
    return config


def finished(hh: Hourhand, job_id: int) -> Any:
    job = hh.wait(job_id, 15)
    assert job.state in (JobState.COMPLETED, JobState.FAILED), job
    return job


def test_an_email_from_templates_reaches_the_smtp_server(
    hh: Hourhand,
    smtp: Smtp,
    tmp_path: Path,
    run_worker: Callable[..., WorkerThread],
) -> None:
    configure(hh, tmp_path, smtp.port, sender="Budgets <hourhand@example.com>")
    job_id = hh.enqueue(
        "hourhand.email",
        {
            "to": ["ana@example.com"],
            "cc": ["ops@example.com"],
            "bcc": ["audit@example.com"],
            "reply_to": "budgets@example.com",
            "subject": "Budget alert:\n{{ project }}",
            "text": "{{ project }} is at {{ used }}% <of> budget",
            "html_file": "budget.html",
            "variables": {"project": "Apollo & <Sons>", "used": 91},
        },
    )
    run_worker()
    job = finished(hh, job_id)
    assert job.state == JobState.COMPLETED, job.error
    [(recipients, message)] = smtp.box.messages
    assert recipients == ["ana@example.com", "ops@example.com", "audit@example.com"]
    assert message["Subject"] == "Budget alert: Apollo & <Sons>"  # one line
    assert message["From"] == "Budgets <hourhand@example.com>"  # a sender with a name
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Cc"] == "ops@example.com" and message["Reply-To"] == "budgets@example.com"
    assert message["Bcc"] is None  # blind copies are not in the headers
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text == "Apollo & <Sons> is at 91% <of> budget\n"  # text: as written
    assert html == "<p>Apollo &amp; &lt;Sons&gt; has used <b>91%</b> of its budget.</p>\n"
    assert job.result["to"] == ["ana@example.com"] and job.result["bcc"] == 1
    assert job.result["subject"] == "Budget alert: Apollo & <Sons>"
    assert job.result["refused"] == {} and job.result["message_id"] == message["Message-ID"]


def test_a_template_that_fails_to_render_fails_the_job_at_once_and_a_down_server_retries(
    lite: Hourhand,
    smtp: Smtp,
    tmp_path: Path,
    lite_worker: Callable[..., WorkerThread],
) -> None:
    configure(lite, tmp_path, smtp.port)
    undefined = lite.enqueue(
        "hourhand.email", {"to": ["a@example.com"], "subject": "hi", "text": "{{ nobody }}"}
    )
    unsafe = lite.enqueue(
        "hourhand.email",
        {"to": ["a@example.com"], "subject": "x", "text": "{{ ''.__class__.__mro__ }}"},
    )
    worker = lite_worker()
    job = finished(lite, undefined)
    assert job.state == JobState.FAILED and job.attempt == 1  # not retried
    assert job.error == (
        "DoNotRetry: the text template failed: UndefinedError: 'nobody' is undefined"
    )
    assert "SecurityError" in finished(lite, unsafe).error
    assert smtp.box.messages == []
    nobody = free_port()
    configure(lite, tmp_path, nobody)  # a server that is not there: the attempt fails
    down = lite.enqueue("hourhand.email", {"to": ["a@example.com"], "subject": "s", "text": "t"})
    wait_until(lambda: lite.get_job(down).state == JobState.RETRYING, what="a retry")
    error = lite.get_job(down).error or ""
    assert error.startswith(f"EmailFailed: SMTP server 127.0.0.1:{nobody}: ")
    assert worker.thread.is_alive()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"to": ["a@example.com"], "subject": "s"}, "give a body"),
        ({"to": [], "subject": "s", "text": "t"}, "argument 'to'"),
        ({"to": ["not an address"], "subject": "s", "text": "t"}, "argument 'to'[0]"),
        ({"to": "a@example.com", "subject": "s", "text": "t"}, "argument 'to'"),
        ({"to": ["a@example.com"], "subject": "s", "text": "{% if %}"}, "template error on line 1"),
        ({"to": ["a@example.com"], "subject": "{{ x", "text": "t"}, "argument 'subject'"),
        ({"to": ["a@example.com"], "subject": "s", "text": "t", "text_file": "b.txt"}, "not both"),
        ({"to": ["a@example.com"], "subject": "s", "html_file": "../etc/passwd"}, "html_file"),
        ({"to": ["a@example.com"], "subject": "s", "html_file": "nope.html"}, "no template file"),
        ({"to": ["a@example.com"], "subject": "s", "text": "t", "from": "x"}, "'from'"),
    ],
)
def test_bad_parameters_are_refused_at_enqueue(
    lite: Hourhand, tmp_path: Path, args: dict[str, Any], message: str
) -> None:
    configure(lite, tmp_path, free_port())
    with pytest.raises(InvalidArguments) as refused:
        lite.enqueue("hourhand.email", args)
    assert message in str(refused.value)


def test_without_smtp_settings_an_email_is_refused_at_enqueue(lite: Hourhand) -> None:
    with pytest.raises(InvalidArguments, match=r"no SMTP server: add an \[smtp\] table"):
        lite.enqueue("hourhand.email", {"to": ["a@example.com"], "subject": "s", "text": "t"})
