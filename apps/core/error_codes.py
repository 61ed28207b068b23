"""Which errors an API operation can answer, derived from the code it runs.

An AST walk starts at the view's method (with its decorators) and follows every function, method
and class of our apps that it names, through the modules they live in, the way a reader would. On
the way it collects every error class it meets outside an `except` clause: the domain errors
(apps.core.exceptions.DomainError and the apps' subclasses) and DRF's exceptions. Names are resolved
through the functions' own globals (the modules already imported), so core needs no import of any
domain app. It is an over-approximation: a path that cannot be taken still documents its errors,
which is the safe side for a client.
"""

import ast
import builtins
import functools
import inspect
import textwrap
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework.exceptions import APIException

from apps.core.exceptions import DomainError


@dataclass(frozen=True, order=True)
class ErrorCode:
    status: int
    code: str


def error_code_of(cls: type) -> ErrorCode | None:
    """The (status, code) an error class answers with, or None for anything that is not one."""
    if issubclass(cls, DomainError):
        return ErrorCode(cls.status, cls.code)
    if issubclass(cls, APIException):
        return ErrorCode(cls.status_code, str(cls.default_code))
    if issubclass(cls, Http404):
        return ErrorCode(404, "not_found")  # apps.core.exception_handler answers it as DRF's NotFound
    return None


def _ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("apps.")


def _owner_class(func: types.FunctionType) -> type | None:
    """The class a method is defined in (for `self` and `cls`), found through its qualified name."""
    parts = func.__qualname__.split(".")[:-1]
    if not parts or "<locals>" in parts:
        return None
    owner: Any = inspect.getmodule(func)
    for part in parts:
        owner = getattr(owner, part, None)
    return owner if isinstance(owner, type) else None


def _namespace(func: types.FunctionType) -> dict[str, Any]:
    names = dict(func.__globals__)
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
        try:
            names[name] = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
    owner = _owner_class(func)
    if owner is not None:
        names["self"] = names["cls"] = owner
    return names


def _resolve(node: ast.expr, names: dict[str, Any]) -> Any:
    """The object a name or dotted name stands for, or None when it cannot be known statically."""
    if isinstance(node, ast.Name):
        return names[node.id] if node.id in names else getattr(builtins, node.id, None)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, names)
        if base is None:
            return None
        try:
            return inspect.getattr_static(base, node.attr)
        except AttributeError:
            return None
    return None


def _function_of(obj: Any) -> types.FunctionType | None:
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    obj = getattr(obj, "__func__", obj)  # bound methods
    if isinstance(obj, property):
        obj = obj.fget
    if isinstance(obj, functools.cached_property):
        obj = obj.func
    if not callable(obj):
        return None
    try:
        obj = inspect.unwrap(obj)
    except ValueError:
        return None
    return obj if isinstance(obj, types.FunctionType) else None


def _annotations(tree: ast.AST) -> list[ast.expr]:
    """Type annotations name error classes without raising them (`too_large: type[DomainError]`)."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.append(node.returns)
    return found


# Bases that name a family of errors, not an error an operation answers.
_BASES = (DomainError, APIException)


class _Walk:
    def __init__(self) -> None:
        self.seen: set[Any] = set()
        self.found: set[ErrorCode] = set()
        # Kept by id AND held: an entry's attribute list is built on the fly, and once freed its id
        # would be reused by the next entry's list, which would then pass for seen (and go unread).
        self.seen_tables: dict[int, Any] = {}

    def function(self, obj: Any) -> None:
        func = _function_of(obj)
        if func is None or func in self.seen:
            return
        self.seen.add(func)
        if func is inspect.unwrap(get_object_or_404):
            self.found.add(ErrorCode(404, "not_found"))
            return
        if not _ours(func):
            return
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        except (OSError, TypeError, SyntaxError):
            return
        names = _namespace(func)
        ignored = {id(sub) for annotation in _annotations(tree) for sub in ast.walk(annotation)}
        caught = {
            id(sub)
            for handler in ast.walk(tree)
            if isinstance(handler, ast.ExceptHandler) and handler.type
            for sub in ast.walk(handler.type)
        }
        called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Name | ast.Attribute) or id(node) in caught or id(node) in ignored:
                continue
            if not isinstance(node.ctx, ast.Load):
                continue
            self.reference(_resolve(node, names), called=id(node) in called)

    def reference(self, obj: Any, *, called: bool) -> None:
        if obj is None:
            return
        if isinstance(obj, type):
            if obj in _BASES:
                return
            code = error_code_of(obj)
            if code is not None:
                self.found.add(code)
            elif called:
                self.klass(obj)  # instantiated: what its own methods raise
            return
        if isinstance(obj, list | tuple | set | frozenset | dict):
            # a table of rules or handlers (`for rule in RULES: rule.check(...)`): what its entries raise
            if id(obj) not in self.seen_tables:
                self.seen_tables[id(obj)] = obj
                # a dict's values as they are now: resolving an entry may import a module that adds to it
                for value in list(obj.values()) if isinstance(obj, dict) else obj:
                    self.reference(value, called=True)
            return
        if _ours(type(obj)) and hasattr(obj, "__dict__") and not callable(obj):
            self.reference(list(vars(obj).values()), called=True)  # an entry of such a table
            return
        self.function(obj)

    def klass(self, cls: type) -> None:
        if cls in self.seen or not _ours(cls):
            return
        self.seen.add(cls)
        for value in vars(cls).values():
            self.function(value)


def errors_raised(entry_points: Iterable[Any]) -> frozenset[ErrorCode]:
    """Every error the functions (or classes) given can raise, following the calls they make."""
    walk = _Walk()
    for entry in entry_points:
        if isinstance(entry, type):
            walk.klass(entry)
        else:
            walk.function(entry)
    return frozenset(walk.found)


def view_errors(view_class: type, method: str) -> frozenset[ErrorCode]:
    """What one operation's own code can raise: its handler, its permission and authentication classes."""
    return _view_errors(ViewKey(view_class), method.lower())


@dataclass(frozen=True)
class ViewKey:
    view_class: type  # a view class as a cache key (the stubs do not count classes as hashable)


@functools.cache
def _view_errors(key: ViewKey, method: str) -> frozenset[ErrorCode]:
    view_class = key.view_class
    entries: list[Any] = [getattr(view_class, method.lower(), None)]
    entries += [cls for cls in getattr(view_class, "permission_classes", ()) if isinstance(cls, type)]
    entries += [cls for cls in getattr(view_class, "authentication_classes", ()) if isinstance(cls, type)]
    return errors_raised(entry for entry in entries if entry is not None)


def domain_error_classes() -> list[type[DomainError]]:
    """Every DomainError subclass loaded (all of the apps' exceptions modules once Django is set up)."""
    found: list[type[DomainError]] = []
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return found
