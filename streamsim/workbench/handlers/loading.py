"""Load a user's handler from ``FILE.py:FUNCTION`` (the blog's "create trigger" with any code)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streamsim.errors import ConfigError


def load_handler(spec: str) -> Any:
    """Import FILE.py and return FUNCTION; errors name the file or function that is wrong."""
    path_text, sep, function = spec.rpartition(":")
    if not sep or not path_text or not function:
        raise ConfigError(f"handler {spec!r} must look like FILE.py:FUNCTION")
    path = Path(path_text)
    if path.is_dir():
        raise ConfigError(f"handler file {path} is a folder, not a Python file")
    if not path.is_file():
        raise ConfigError(f"handler file {path} does not exist")
    module_name = f"streamsim_user_handler_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"handler file {path} is not a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import
        raise ConfigError(
            f"handler file {path} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    handler = getattr(module, function, None)
    if not callable(handler):
        raise ConfigError(f"handler file {path} has no function {function!r}")
    return handler


@contextmanager
def workbench_environment(backend: Any) -> Iterator[None]:
    """Run the block (load and run a handler) with only the workbench's endpoint and, for a
    local endpoint, dummy credentials in the environment
    (streamsim.aws.backend.handler_environment); restored afterwards. Enter it after the
    endpoint checks (open_backend) and before importing the handler's module, so the
    module's top-level code already sees it."""
    from streamsim.aws.backend import handler_environment

    saved = dict(os.environ)
    wanted = handler_environment(backend, saved)
    for name in set(saved) - set(wanted):
        del os.environ[name]
    os.environ.update(wanted)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
