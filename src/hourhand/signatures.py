"""Handler signatures: what a job type's function must look like, and its arguments' types.

A handler takes the job context first, then the job's arguments by name. The signature is
checked when the job type is registered (a handler without the context parameter is refused
then, not at its first run), and the arguments of every enqueue are checked against the
handler's type hints before anything is stored.

Arguments travel as JSON. The check validates the JSON text the job will carry, in pydantic's
strict JSON mode: ``"5"`` is not an ``int``, ``"red"`` is a ``Color`` enum member if it is one
of its values, ``"2026-12-01"`` is a ``date``. Where a hint is richer than JSON (an enum, a
date, a tuple, a dataclass or pydantic model, ``Annotated`` constraints), the worker converts
the stored JSON to it before calling the handler, so the handler gets what it annotated.
Hints are resolved at the first enqueue, so a class defined further down the module is found.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import types
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Union

from hourhand.errors import DoNotRetry, InvalidArguments, InvalidInput

if TYPE_CHECKING:  # pydantic is imported at the first check: `import hourhand` stays quick
    from pydantic import TypeAdapter, ValidationError

logger = logging.getLogger(__name__)

_STRICT = {"strict": True, "arbitrary_types_allowed": True}  # pydantic ConfigDicts
_LAX = {"strict": False, "arbitrary_types_allowed": True}
_UNCHECKED = (inspect.Parameter.empty, Any, object)
_JSON_SCALARS = (int, float, str, bool, type(None), None)
MAX_ERRORS_SHOWN = 3  # problems named in one message


def check_handler(name: str, handler: Callable[..., Any], context: type) -> inspect.Signature:
    """The handler's signature, if it can take the job context first and its arguments by
    name. Raises InvalidInput naming the job type otherwise: no parameters at all, a
    keyword-only first parameter, a first parameter annotated with another type than
    JobContext, or a positional-only parameter after it (a job passes arguments by name)."""
    if not callable(handler):
        raise InvalidInput(f"job {name!r}: the handler must be a function, got {handler!r}")
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"job {name!r}: cannot read the handler's signature: {exc}") from None
    params = list(signature.parameters.values())
    hint = f"define it as def {getattr(handler, '__name__', 'handler')}(ctx: JobContext, ...)"
    if not params:
        raise InvalidInput(f"job {name!r}: the handler takes no parameters; {hint}")
    first = params[0]
    if first.kind in (first.KEYWORD_ONLY, first.VAR_KEYWORD):
        raise InvalidInput(
            f"job {name!r}: the handler's first parameter must take the job context "
            f"positionally, but {first.name!r} is keyword-only; {hint}"
        )
    annotation = _resolve(handler, [first.name]).get(first.name, inspect.Parameter.empty)
    if first.kind != first.VAR_POSITIONAL and not _is_context(annotation, context):
        raise InvalidInput(
            f"job {name!r}: the handler's first parameter {first.name!r} is annotated "
            f"{_type_name(annotation)}, but it receives the job context; {hint}"
        )
    for param in params[1:]:
        if param.kind == param.POSITIONAL_ONLY:
            raise InvalidInput(
                f"job {name!r}: parameter {param.name!r} is positional-only, but a job "
                "passes its arguments by name"
            )
    return signature


class ArgumentTypes:
    """The checks (and conversions) of one job type's arguments, built at first use from
    the handler's type hints. Parameters without a hint, or hinted ``Any``, are free."""

    def __init__(self, name: str, handler: Callable[..., Any], signature: inspect.Signature):
        self.name = name
        self._handler = handler
        self._signature = signature
        self._names = [
            p.name
            for p in list(signature.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        self._schema: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._built = False
        self._one: TypeAdapter[Any] | None = None
        self._many: TypeAdapter[Any] | None = None
        self._convert: TypeAdapter[Any] | None = None  # only where JSON is not the type
        self.converts: bool | None = None  # whether for_handler changes args (None: unknown yet)

    def check(self, args_json: str) -> None:
        """Raise InvalidArguments unless the args (as encoded JSON) fit the hints."""
        self._build()
        if self._one is None:
            return
        from pydantic import ValidationError

        try:
            self._one.validate_json(args_json)
        except ValidationError as exc:
            raise InvalidArguments(f"job {self.name!r}: {_describe(exc)}") from None

    def check_many(self, encoded: Sequence[str]) -> None:
        """Every item, in one pass; the message names the first bad item's position."""
        self._build()
        if self._many is None:
            return
        from pydantic import ValidationError

        try:
            self._many.validate_json("[" + ",".join(encoded) + "]")
        except ValidationError as exc:
            raise InvalidArguments(f"job {self.name!r}: {_describe(exc, many=True)}") from None

    def for_handler(self, args: dict[str, Any]) -> dict[str, Any]:
        """The stored args as the handler's hints want them (the same dict when JSON is
        already what they ask for). DoNotRetry if they no longer fit (the hints changed
        since the job was enqueued): another attempt would not fit either."""
        self._build()
        if self._convert is None:
            return args
        from pydantic import ValidationError

        try:
            converted: dict[str, Any] = self._convert.validate_python(args)
        except ValidationError as exc:
            raise DoNotRetry(
                f"the job's arguments do not fit its handler's type hints: {_describe(exc)}"
            ) from None
        return {**args, **converted}

    def schema(self) -> dict[str, Any]:
        """A JSON schema of the arguments (what a form or a client needs): an object with
        one property per parameter (its type where the hint says, its description where an
        ``Annotated[..., Field(description=...)]`` gives one, its default), the required
        ones, and no others unless the handler takes ``**kwargs``. A hint pydantic cannot
        describe leaves its property open (``{}``)."""
        if self._schema is None:
            self._schema = _schema(self._handler, self._signature, self._names)
        return self._schema

    def _build(self) -> None:
        if self._built:
            return
        with self._lock:
            if self._built:
                return
            hints = _resolve(self._handler, self._names, job=self.name)
            typed = {
                name: hint
                for name, hint in hints.items()
                if not any(hint is unchecked for unchecked in _UNCHECKED)
            }
            if typed:
                from pydantic import TypeAdapter

                try:
                    strict = _typed_dict(self.name, typed, _STRICT)
                    self._one = TypeAdapter(strict)
                    self._many = TypeAdapter(list[strict])  # type: ignore[valid-type]
                    if not all(_json_native(hint) for hint in typed.values()):
                        self._convert = TypeAdapter(_typed_dict(self.name, typed, _LAX))
                except Exception as exc:  # a hint pydantic cannot check
                    self._one = self._many = self._convert = None
                    logger.warning(
                        "job %r: its type hints cannot be checked (%s); arguments are checked "
                        "by name only",
                        self.name,
                        exc,
                    )
            self.converts = self._convert is not None
            self._built = True


def _schema(
    handler: Callable[..., Any], signature: inspect.Signature, names: Sequence[str]
) -> dict[str, Any]:
    from pydantic import TypeAdapter

    hints = _resolve(handler, names)
    params = signature.parameters
    properties: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for name in names:
        hint = hints.get(name, inspect.Parameter.empty)
        prop: dict[str, Any] = {}
        if not any(hint is unchecked for unchecked in _UNCHECKED):
            try:
                prop = TypeAdapter(hint).json_schema()
            except Exception:  # an arbitrary class: the property stays open
                prop = {}
            definitions.update(prop.pop("$defs", {}))
        default = params[name].default
        if default is not inspect.Parameter.empty and _is_json(default):
            prop["default"] = default
        properties[name] = prop
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": [n for n in names if params[n].default is inspect.Parameter.empty],
        "additionalProperties": any(p.kind == p.VAR_KEYWORD for p in params.values()),
    }
    if definitions:
        schema["$defs"] = definitions
    return schema


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _hint_source(handler: Callable[..., Any]) -> Any:
    """Where a handler's annotations live: a partial's function, an object's __call__."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    if inspect.isfunction(handler) or inspect.ismethod(handler):
        return handler
    call = getattr(type(handler), "__call__", None)  # noqa: B004 (a callable object)
    return call if inspect.isfunction(call) else handler


def _resolve(
    handler: Callable[..., Any], names: Sequence[str], *, job: str | None = None
) -> dict[str, Any]:
    """The type hints of these parameters, each resolved on its own: one that cannot be
    resolved (a name that does not exist) is left out, and said once if ``job`` is given."""
    source = _hint_source(handler)
    raw: dict[str, Any] = getattr(inspect.unwrap(source), "__annotations__", None) or {}
    namespace = getattr(inspect.unwrap(source), "__globals__", None)
    hints: dict[str, Any] = {}
    unresolved: list[str] = []
    for name in names:
        if name not in raw:
            continue
        holder = type("_Hint", (), {"__annotations__": {name: raw[name]}})
        try:
            hints[name] = typing.get_type_hints(holder, globalns=namespace, include_extras=True)[
                name
            ]
        except Exception as exc:
            unresolved.append(f"{name} ({exc})")
    if unresolved and job is not None:
        logger.warning(
            "job %r: the type hints of %s cannot be resolved; those arguments are not checked",
            job,
            ", ".join(unresolved),
        )
    return hints


def _is_context(annotation: Any, context: type) -> bool:
    if any(annotation is unchecked for unchecked in _UNCHECKED):
        return True
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return any(_is_context(arg, context) for arg in typing.get_args(annotation))
    return isinstance(annotation, type) and (
        issubclass(context, annotation) or issubclass(annotation, context)
    )


def _json_native(hint: Any) -> bool:
    """Whether JSON decoding already gives the handler what ``hint`` asks for."""
    if hint in _JSON_SCALARS or hint in (list, dict) or hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return all(_json_native(arg) for arg in args)
    if origin is dict:
        return not args or (args[0] is str and _json_native(args[1]))
    if origin in (Union, types.UnionType):
        return all(_json_native(arg) for arg in args)
    if origin is Literal:
        return all(type(arg) in (str, int, bool) or arg is None for arg in args)
    from typing_extensions import is_typeddict

    if is_typeddict(hint):
        return all(_json_native(value) for value in typing.get_type_hints(hint).values())
    return False


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def _typed_dict(name: str, fields: dict[str, Any], config: dict[str, Any]) -> Any:
    from typing_extensions import TypedDict

    # Every key optional here: which arguments are required is the signature's business,
    # checked by name before this (it says "missing a required argument").

    shape: Any = TypedDict(f"Args_{abs(hash(name))}", fields, total=False)  # type: ignore[misc]
    setattr(shape, "__pydantic_config__", config)  # noqa: B010  (no attribute for mypy)
    return shape


def _describe(exc: ValidationError, *, many: bool = False) -> str:
    problems = []
    for error in exc.errors(include_url=False)[:MAX_ERRORS_SHOWN]:
        loc = list(error["loc"])
        where = ""
        if many and loc and isinstance(loc[0], int):
            where = f"item {loc.pop(0)}: "
        argument = str(loc[0]) if loc else "?"
        path = "".join(f"[{part!r}]" for part in loc[1:])
        got = type(error.get("input")).__name__  # the type only: values may be secrets
        problems.append(f"{where}argument {argument!r}{path}: {error['msg']} (got {got})")
    more = exc.error_count() - len(problems)
    text = "; ".join(problems)
    return text + (f"; and {more} more" if more > 0 else "")
