"""Loading MozDef alert files unmodified.

A MozDef alert starts with `from lib.alerttask import AlertTask` and
`from mozdef_util.query_models import SearchQuery, TermMatch`. Those names must resolve to Reynard's
implementations, but a top-level `lib` or `mozdef_util` left on everyone's path would shadow (or be
shadowed by) unrelated packages of the same name. So the shim modules are built once, under no global
name, and put into `sys.modules` only while an alert file executes and while a loaded alert runs
(`mozdef_imports()`, which restores whatever was there before). Imports an alert does lazily inside
`main()` therefore resolve too.

Shimmed: `lib.alerttask` (AlertTask, add_hostname_to_ip, ...), `lib.deadman_alerttask`, `lib.config`
(empty settings), `mozdef_util.query_models` (`reynard.query.mozdef`), `mozdef_util.utilities.toUTC`,
`mozdef_util.utilities.logger`, `mozdef_util.utilities.dot_dict`.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
import traceback
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reynard.detect import alerttask, compat_utilities, deadman
from reynard.detect.alerttask import AlertTask
from reynard.detect.deadman import DeadmanAlertTask
from reynard.detect.errors import RuleError
from reynard.query import mozdef as query_models

_lock = threading.RLock()
_depth = 0
_saved: dict[str, types.ModuleType | None] = {}
_counter = itertools.count(1)


def _module(name: str, package: bool = False, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name, f"Reynard's stand-in for MozDef's {name}")
    if package:
        module.__path__ = []  # a package: submodules resolve through sys.modules
    module.__dict__.update(attrs)
    return module


def _build_shims() -> dict[str, types.ModuleType]:
    alert_names = [n for n in dir(alerttask) if not n.startswith("_")]
    lib_alerttask = _module("lib.alerttask", **{n: getattr(alerttask, n) for n in alert_names})
    lib_deadman = _module("lib.deadman_alerttask", AlertTask=AlertTask, DeadmanAlertTask=DeadmanAlertTask)
    lib_config = _module("lib.config", ALERTS={}, ALERT_PLUGINS=[], ALERT_ACTIONS=[], RABBITMQ={}, ES={})
    lib = _module(
        "lib", package=True, alerttask=lib_alerttask, deadman_alerttask=lib_deadman, config=lib_config
    )
    to_utc = _module("mozdef_util.utilities.toUTC", toUTC=compat_utilities.toUTC)
    logger = _module(
        "mozdef_util.utilities.logger", logger=compat_utilities.logger, initLogger=compat_utilities.initLogger
    )
    dot_dict = _module("mozdef_util.utilities.dot_dict", DotDict=compat_utilities.DotDict)
    utilities = _module("mozdef_util.utilities", package=True, toUTC=to_utc, logger=logger, dot_dict=dot_dict)
    mozdef_util = _module("mozdef_util", package=True, utilities=utilities, query_models=query_models)
    return {
        "lib": lib,
        "lib.alerttask": lib_alerttask,
        "lib.deadman_alerttask": lib_deadman,
        "lib.config": lib_config,
        "mozdef_util": mozdef_util,
        "mozdef_util.query_models": query_models,
        "mozdef_util.utilities": utilities,
        "mozdef_util.utilities.toUTC": to_utc,
        "mozdef_util.utilities.logger": logger,
        "mozdef_util.utilities.dot_dict": dot_dict,
    }


SHIMS = _build_shims()
_MISSING = None


@contextmanager
def mozdef_imports() -> Iterator[None]:
    """MozDef's module names resolve to Reynard's shims inside the block; nested blocks share one setup.

    While the block runs, a real top-level `lib` or `mozdef_util` is hidden (process-wide: sys.modules
    is global), and restored afterwards.
    """
    global _depth
    with _lock:
        if _depth == 0:
            _saved.clear()
            for name, module in SHIMS.items():
                _saved[name] = sys.modules.get(name, _MISSING)
                sys.modules[name] = module
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for name, previous in _saved.items():
                    if previous is _MISSING:
                        sys.modules.pop(name, None)
                    else:
                        sys.modules[name] = previous
                _saved.clear()


def load_alert_file(path: str | Path) -> list[type[AlertTask]]:
    """The alert classes a MozDef alert file defines (subclasses of `AlertTask` with their own `main`).

    Raises `RuleError` naming the file (and line) when it does not compile or import, when it defines no
    alert class, or naming the class when one has no `main()`.
    """
    path = Path(path)
    where = str(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RuleError(f"cannot read alert file: {e}", where=where) from None
    try:
        code = compile(source, where, "exec")
    except SyntaxError as e:
        raise RuleError(f"syntax error: {e.msg}", where=f"{where}:{e.lineno}") from None

    stem = re.sub(r"\W", "_", path.stem)
    name = f"reynard_alert_{stem}_{next(_counter)}"
    module = types.ModuleType(name)
    module.__file__ = str(path.resolve())
    sys.modules[name] = module  # classes find their module (inspect, dataclasses) by this private name
    try:
        with mozdef_imports():
            exec(code, module.__dict__)
    except Exception as e:
        sys.modules.pop(name, None)
        line = _line_in(e, where)
        place = f"{where}:{line}" if line else where
        if isinstance(e, ImportError):
            raise RuleError(f"cannot import: {e}", where=place) from e
        raise RuleError(f"error while loading: {type(e).__name__}: {e}", where=place) from e

    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, AlertTask) and value.__module__ == name
    ]
    if not classes:
        sys.modules.pop(name, None)
        raise RuleError("no alert class (a subclass of AlertTask) in the file", where=where)
    for cls in classes:
        if cls.main is AlertTask.main:
            sys.modules.pop(name, None)
            raise RuleError(
                f"alert class {cls.__name__} has no main() method", where=f"{where}: {cls.__name__}"
            )
        cls.alert_file = str(path.resolve())
        cls.main_context = mozdef_imports
    return classes


def _line_in(error: BaseException, filename: str) -> int | None:
    """The line of the alert file where the error was raised, if it was."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    return frames[-1].lineno if frames else None


__all__ = ["SHIMS", "DeadmanAlertTask", "deadman", "load_alert_file", "mozdef_imports"]
