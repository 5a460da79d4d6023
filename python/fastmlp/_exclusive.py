"""One trainer at a time per model or estimator.

A fit spans many native calls and also changes Python state (optimizer
reset, history, fitted attributes); two interleaved fits would mix them. So
every trainer (fit, partial_fit, gradients) holds its object for the whole
call, and a second thread is refused at once with `ModelBusyError` instead
of waiting. The same thread may enter again (a callback may call
`gradients()` on the model it is training; an estimator's fit drives its
inner model).

The owners live in a table keyed by the object's id rather than in a lock
attribute, so models and estimators stay picklable, deep-copyable and
clonable. An id cannot be reused while its object is held: the caller keeps
the object alive for the whole call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, TypeVar

from .errors import ModelBusyError

_guard = threading.Lock()
_owners: dict = {}  # id(obj) -> [owning thread id, depth]

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def exclusive(obj: Any, what: str) -> Iterator[None]:
    """Hold `obj` for training in this thread; ModelBusyError if another thread holds it."""
    me = threading.get_ident()
    key = id(obj)
    with _guard:
        owner = _owners.get(key)
        if owner is not None and owner[0] != me:
            raise ModelBusyError(
                f"{what}() refused: this model ({type(obj).__name__}) is being trained in another "
                "thread; wait for that fit to end, or train a copy (copy.deepcopy(model))")
        if owner is None:
            owner = _owners[key] = [me, 0]
        owner[1] += 1
    try:
        yield
    finally:
        with _guard:
            owner[1] -= 1
            if owner[1] == 0:
                del _owners[key]


def one_trainer_at_a_time(method: F) -> F:
    """Decorate a training method so it runs under `exclusive(self, name)`."""
    @functools.wraps(method)
    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        with exclusive(self, method.__name__):
            return method(self, *args, **kwargs)
    return held  # type: ignore[return-value]
