"""The checks of ``hourhand.email`` at enqueue: a bulk enqueue parses each template once."""

from __future__ import annotations

from pathlib import Path

from hourhand import Hourhand
from hourhand.builtin import mail


def test_a_bulk_enqueue_parses_each_template_once(tmp_path: Path) -> None:
    (tmp_path / "emails").mkdir()
    (tmp_path / "emails" / "note.txt").write_text("Hello {{ name }} ({{ n }})\n")
    config = tmp_path / "hourhand.toml"
    config.write_text(
        '[smtp]\nhost = "127.0.0.1"\nsender = "a@example.com"\n\n[email]\ntemplates = "emails"\n'
    )
    hh = Hourhand(f"sqlite:///{tmp_path}/hh.db")
    hh.load_config(config)
    mail.syntax_problem.cache_clear()
    args = [
        {
            "to": [f"u{n}@example.com"],
            "subject": "Note {{ n }}",
            "text_file": "note.txt",
            "variables": {"name": "Ana", "n": n},
        }
        for n in range(100)
    ]
    assert len(hh.enqueue_many("hourhand.email", args)) == 100
    assert mail.syntax_problem.cache_info().misses == 2  # the subject and the file
    problem = mail.syntax_problem("{% if %}")  # a bad one is still refused
    assert problem is not None and problem.startswith("template error on line 1")
    hh.close()
