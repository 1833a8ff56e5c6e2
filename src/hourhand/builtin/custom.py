"""Custom job kinds: ``[kinds.NAME]`` tables of ``hourhand.toml``, each a preset of a
built-in kind with parameters of its own. They are job types like any other: enqueued by
name with their parameters (checked by name and type), listed with a JSON schema of them,
usable in schedules.

::

    [kinds.refresh-tenant]
    base = "hourhand.http"
    description = "Ask a tenant's API to refresh"
    queue = "webhooks"
    args = { method = "POST", url = "https://api.example.com/tenants/{tenant}/refresh",
             headers = { Authorization = { secret = "API_TOKEN" } } }

    [kinds.refresh-tenant.params.tenant]
    type = "string"
    description = "The tenant's id"

How parameters reach the preset:

- a string of the preset that is exactly ``"{name}"`` becomes the parameter's value, of
  its type (a number stays a number, a list a list);
- ``{name}`` inside a longer string is replaced by the value's text (URL-encoded in
  ``url``); braces that do not name a parameter are left as they are;
- ``hourhand.email``: every parameter is also a template variable (``{{ name }}``), and the
  subject and bodies take no ``{name}``, being templates themselves;
- ``hourhand.sql``: without ``params`` in the preset, the parameters are the statement's
  named bind parameters (``%(name)s`` on PostgreSQL, ``:name`` on SQLite); the statement
  and the function name take no ``{name}``: values are bound, never pasted into SQL.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote

from pydantic import Field

from hourhand import checks
from hourhand.builtin.config import (
    DEFAULT_DATABASE_NAME,
    BuiltinSettings,
    KindParam,
    KindSettings,
)
from hourhand.errors import ConfigurationError, DoNotRetry, InvalidArguments, InvalidInput
from hourhand.jobs import CheckDepth, JobContext, JobSpec
from hourhand.ratelimits import RateLimit
from hourhand.retry import Retry

if TYPE_CHECKING:
    from hourhand.alert_config import SmtpSettings

PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z][A-Za-z0-9_]*)\}(?!\})")
WHOLE = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")
CONTEXT = "_ctx"  # the handler's first parameter (parameter names start with a letter)
PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list[Any],
    "object": dict[str, Any],
    "any": Any,
}
# Arguments whose text is a template or SQL: no {name} goes in there.
VERBATIM: dict[str, dict[str, str]] = {
    "hourhand.sql": {
        "sql": "pass values as bind parameters (%(NAME)s on PostgreSQL, :NAME on SQLite)",
        "function": "pass values as bind parameters ('params': [...])",
    },
    "hourhand.email": {
        "subject": "parameters are template variables: write {{ NAME }}",
        "text": "parameters are template variables: write {{ NAME }}",
        "html": "parameters are template variables: write {{ NAME }}",
    },
}


class Preset:
    """A custom kind's preset: how its parameters become the base kind's arguments."""

    def __init__(self, name: str, kind: KindSettings, base: JobSpec) -> None:
        self.name = name
        self.kind = kind
        self.base = base
        self.verbatim = VERBATIM.get(kind.base, {})

    def values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters' values: those given, the defaults of the others."""
        defaults = {n: p.default for n, p in self.kind.params.items() if not p.required}
        return copy.deepcopy({**defaults, **given})

    def expand(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The base kind's arguments for these parameters."""
        values = self.values(given)
        args: dict[str, Any] = {}
        for key, value in self.kind.args.items():
            if key in self.verbatim:
                args[key] = copy.deepcopy(value)
            else:
                args[key] = _fill(value, values, url=key == "url")
        if self.kind.base == "hourhand.email" and values:
            args["variables"] = {**(args.get("variables") or {}), **values}
        if self.kind.base == "hourhand.sql" and self.kind.params and "params" not in args:
            args["params"] = values
        return args

    def base_args(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The base kind's arguments when a job runs, converted for its handler;
        DoNotRetry if the job's parameters or the filled preset no longer fit (the kind
        changed since the job was enqueued): another attempt would not fit either."""
        params = self.kind.params
        unknown = sorted(set(given) - set(params))
        missing = sorted(n for n, p in params.items() if p.required and n not in given)
        if unknown or missing:
            what = f"unknown {unknown[0]!r}" if unknown else f"{missing[0]!r} missing"
            raise DoNotRetry(
                f"the kind {self.name!r} changed: its parameters no longer fit ({what})"
            )
        args = self.expand(given)
        try:
            self.base.check_args(args, depth="args")
        except InvalidArguments as exc:
            raise DoNotRetry(
                f"the preset {self.name!r} no longer fits: {self._reason(exc)}"
            ) from None
        return self.base.types.for_handler(args)

    def check(self, args: Mapping[str, Any], depth: CheckDepth) -> None:
        """At enqueue: the preset filled with ``args`` must be a good job of the base kind."""
        try:
            self.base.check_args(self.expand(args), depth=depth)
        except InvalidArguments as exc:
            raise InvalidArguments(
                f"job {self.name!r} (a preset of {self.base.name}): {self._reason(exc)}"
            ) from None

    def _reason(self, exc: InvalidArguments) -> str:
        return str(exc).removeprefix(f"job {self.base.name!r}: ")

    # -- when the config file is read -----------------------------------------------------
    def problems(self, settings: BuiltinSettings, smtp: SmtpSettings | None) -> str | None:
        """What is wrong with the preset that can be known without a job's values, or
        None: unknown or missing arguments of the base kind, values of the wrong type,
        {name} where it cannot go, unused parameters, an unknown database, no SMTP."""
        params = self.kind.params
        used: set[str] = set()
        for key, value in self.kind.args.items():
            names = set(_placeholders(value))
            used |= names
            wrong = sorted(n for n in names if n in params) if key in self.verbatim else []
            if wrong:
                hint = self.verbatim[key].replace("NAME", wrong[0])
                return f"'args.{key}': {{{wrong[0]}}} cannot be replaced there: {hint}"
            if key == "url" and self.kind.base == "hourhand.http":
                unknown = sorted(n for n in names if n not in params)
                if unknown:
                    known = ", ".join(params) or "none"
                    return f"'args.url': {{{unknown[0]}}} is not a parameter (parameters: {known})"
        explicit = self.kind.base == "hourhand.http" or (
            self.kind.base == "hourhand.sql" and "params" in self.kind.args
        )
        unused = [n for n in params if n not in used] if explicit else []
        if unused:
            return f"parameter {unused[0]!r} is not used in 'args' (write {{{unused[0]}}} there)"
        keys = set(self.kind.args) | set(self.expand_sample())
        try:
            self.base.signature.bind(None, **dict.fromkeys(keys))
        except TypeError as exc:
            return f"'args': {exc} (the arguments of {self.kind.base})"
        static = {k: v for k, v in self.kind.args.items() if not _placeholders(v)}
        try:
            self.base.types.check(checks.encode_json(static))
            if not any(_placeholders(v) for v in self.kind.args.values()):
                self.base.check_args(self.expand_sample(), depth="args")
        except (InvalidInput, TypeError, ValueError) as exc:
            return f"'args': {self._reason(exc) if isinstance(exc, InvalidArguments) else exc}"
        return self._settings_problem(settings, smtp)

    def expand_sample(self) -> dict[str, Any]:
        """The preset expanded with each parameter's default or a sample of its type."""
        samples = {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "array": []}
        given = {
            n: (p.choices[0] if p.choices else samples.get(p.type, {}))
            for n, p in self.kind.params.items()
            if p.required
        }
        return self.expand(given)

    def _settings_problem(self, settings: BuiltinSettings, smtp: SmtpSettings | None) -> str | None:
        args = self.kind.args
        if self.kind.base == "hourhand.sql":
            name = args.get("database", DEFAULT_DATABASE_NAME)
            known = {DEFAULT_DATABASE_NAME, *settings.databases}
            if not _placeholders(name) and name not in known:
                names = ", ".join(sorted(known))
                return f"'args.database': unknown database {name!r} (databases: {names})"
        if self.kind.base == "hourhand.email":
            if smtp is None:
                return "it sends e-mail: add an [smtp] table"
            folder = settings.templates_folder()
            for key in ("text_file", "html_file"):
                file = args.get(key)
                if isinstance(file, str) and not _placeholders(file):
                    if folder is None:
                        return f"'args.{key}': no template folder: add [email] templates"
                    if ".." in Path(file).parts or not (folder / file).is_file():
                        return f"'args.{key}': no template file {file!r} in {folder}"
        return None


def custom_specs(
    base_specs: Mapping[str, JobSpec],
    settings: BuiltinSettings,
    smtp: SmtpSettings | None,
    path: str | Path,
) -> dict[str, JobSpec]:
    """The job types of the ``[kinds.*]`` tables (not registered yet);
    ConfigurationError naming the file, the table and the problem."""
    specs: dict[str, JobSpec] = {}
    for name, kind in settings.kinds.items():
        where = f"{path}: [kinds.{name}]"
        preset = Preset(name, kind, base_specs[kind.base])
        problem = preset.problems(settings, smtp)
        if problem:
            raise ConfigurationError(f"{where}: {problem}")
        try:
            specs[name] = _spec(preset)
        except InvalidInput as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
    return specs


def _spec(preset: Preset) -> JobSpec:
    kind, base = preset.kind, preset.base
    what = f"job {preset.name!r}: rate_limit"
    return JobSpec(
        name=preset.name,
        handler=_handler(preset),
        queue=kind.queue or base.queue,
        max_attempts=kind.max_attempts or base.max_attempts,
        retry=base.retry if kind.retry_delays is None else Retry.fixed(kind.retry_delays),
        timeout=kind.timeout if kind.timeout is not None else base.timeout,
        concurrency=kind.concurrency,
        priority=kind.priority if kind.priority is not None else base.priority,
        rate_limit=None if kind.rate_limit is None else RateLimit.parse(kind.rate_limit, what),
        check=preset.check,
    )


def _handler(preset: Preset) -> Callable[..., Any]:
    """A handler whose signature is the kind's parameters (so that the checks at enqueue,
    the listing of job types and its JSON schema treat it as any other), calling the
    base kind's handler with the preset filled in."""
    base = preset.base
    handler: Callable[..., Any]
    if base.is_async:

        async def run_async(ctx: JobContext, **params: Any) -> Any:
            return await base.handler(ctx, **preset.base_args(params))

        handler = run_async
    else:

        def run(ctx: JobContext, **params: Any) -> Any:
            return base.handler(ctx, **preset.base_args(params))

        handler = run
    parameters = [inspect.Parameter(CONTEXT, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {CONTEXT: JobContext}
    for name, param in preset.kind.params.items():
        hint = _hint(param)
        default = inspect.Parameter.empty if param.required else param.default
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint
            )
        )
        annotations[name] = hint
    name = "kind_" + re.sub(r"[^A-Za-z0-9_]", "_", preset.name)
    for attribute, value in (
        ("__signature__", inspect.Signature(parameters)),
        ("__annotations__", annotations),
        ("__doc__", preset.kind.description or f"A preset of {base.name}."),
        ("__name__", name),
        ("__qualname__", name),
    ):
        setattr(handler, attribute, value)
    return handler


def _hint(param: KindParam) -> Any:
    hint = PYTHON_TYPES[param.type]
    if param.choices is not None:
        hint = Literal[tuple(param.choices)]
    if param.description:
        hint = Annotated[hint, Field(description=param.description)]
    return hint


def _placeholders(value: Any) -> list[str]:
    """The ``{name}``s in a preset value (in every string of it)."""
    if isinstance(value, str):
        return PLACEHOLDER.findall(value)
    if isinstance(value, list):
        return [n for v in value for n in _placeholders(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _placeholders(v)]
    return []


def _fill(value: Any, values: Mapping[str, Any], *, url: bool = False) -> Any:
    if isinstance(value, str):
        whole = WHOLE.fullmatch(value)
        if whole and whole[1] in values:
            return copy.deepcopy(values[whole[1]])

        def text(match: re.Match[str]) -> str:
            if match[1] not in values:
                return match[0]
            out = _text(values[match[1]])
            return quote(out, safe="") if url else out

        return PLACEHOLDER.sub(text, value)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return copy.deepcopy(value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))
