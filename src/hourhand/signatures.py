"""Handler signatures: what a job type's function must look like, and its arguments' types.

A handler takes the job context first, then the job's arguments as keyword arguments. Both are
checked when the job type is registered (a handler without the context parameter is refused
then, not at its first run), and the arguments of every enqueue are checked against the
handler's type hints before anything is stored.

Arguments travel as JSON, and the handler receives them exactly as JSON decodes them: an
``int`` parameter gets an int, never the string ``"5"``. So the check is strict (pydantic's
strict mode): a value that would reach the handler as the wrong type is refused at enqueue,
with the argument's name in the message.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from hourhand.errors import InvalidArguments, InvalidInput

logger = logging.getLogger(__name__)

_STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True)
_UNCHECKED = (inspect.Parameter.empty, Any, object)
MAX_ERRORS_SHOWN = 3  # problems named in one message


def check_handler(name: str, handler: Callable[..., Any], context: type) -> inspect.Signature:
    """The handler's signature, if its first parameter can take the job context.

    Raises InvalidInput naming the job type otherwise (no parameters at all, a keyword-only
    first parameter, or a first parameter annotated with another type than JobContext)."""
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
    annotation = _hints(name, handler).get(first.name, inspect.Parameter.empty)
    if first.kind != first.VAR_POSITIONAL and not _is_context(annotation, context):
        raise InvalidInput(
            f"job {name!r}: the handler's first parameter {first.name!r} is annotated "
            f"{_type_name(annotation)}, but it receives the job context; {hint}"
        )
    return signature


class ArgumentTypes:
    """Strict checks of job arguments against the handler's type hints, built once per job
    type. ``None`` from :func:`argument_types` when no parameter has a type to check."""

    def __init__(self, name: str, types: dict[str, Any]) -> None:
        self.name = name
        self.types = types
        shape = _typed_dict(name, types)
        self._one: TypeAdapter[Any] = TypeAdapter(shape)
        self._many: TypeAdapter[Any] = TypeAdapter(list[shape])  # type: ignore[valid-type]

    def check(self, args: Mapping[str, Any]) -> None:
        try:
            self._one.validate_python(args)
        except ValidationError as exc:
            raise InvalidArguments(f"job {self.name!r}: {_describe(exc)}") from None

    def check_many(self, args_list: Sequence[Mapping[str, Any]]) -> None:
        """Every item, in one pass; the message names the first bad item's position."""
        try:
            self._many.validate_python(args_list)
        except ValidationError as exc:
            raise InvalidArguments(f"job {self.name!r}: {_describe(exc, many=True)}") from None


def argument_types(
    name: str, handler: Callable[..., Any], signature: inspect.Signature
) -> ArgumentTypes | None:
    """The argument checks for a handler, or None if none of its parameters is typed."""
    hints = _hints(name, handler)
    types: dict[str, Any] = {}
    for param in list(signature.parameters.values())[1:]:
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            continue
        annotation = hints.get(param.name, inspect.Parameter.empty)
        if any(annotation is unchecked for unchecked in _UNCHECKED):
            continue
        types[param.name] = annotation
    if not types:
        return None
    try:
        return ArgumentTypes(name, types)
    except Exception as exc:  # a hint pydantic cannot check: the names are still checked
        logger.warning(
            "job %r: its type hints cannot be checked (%s); arguments are checked by name only",
            name,
            exc,
        )
        return None


def _hints(name: str, handler: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(handler)
    except Exception as exc:  # a forward reference that does not resolve at registration
        logger.warning(
            "job %r: the handler's type hints cannot be resolved (%s); its arguments are "
            "checked by name only",
            name,
            exc,
        )
        return {}


def _is_context(annotation: Any, context: type) -> bool:
    if any(annotation is unchecked for unchecked in _UNCHECKED):
        return True
    return isinstance(annotation, type) and issubclass(context, annotation)


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def _typed_dict(name: str, types: dict[str, Any]) -> Any:
    # Every key optional here: which arguments are required is the signature's business,
    # checked by name before this (it says "missing a required argument").
    shape: Any = TypedDict(f"Args_{abs(hash(name))}", types, total=False)  # type: ignore[misc]
    setattr(shape, "__pydantic_config__", _STRICT)  # noqa: B010  (no attribute for mypy)
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
