"""The Lambda deployment package: the game wing as a zip, nothing the Lambda runtime lacks.

Holds ``streamsim/__init__.py`` (lazy: imports nothing), ``streamsim/errors.py`` and
``streamsim/game/**`` except its pandas batch path (tests/test_architecture.py keeps the rest to
the standard library and boto3, which the Python runtime provides). The zip is reproducible:
same sources, same bytes (sorted names, fixed timestamps), so an unchanged package does not
change the function's CodeSha256.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import streamsim

#: The Lambda handler setting for the package.
HANDLER = "streamsim.game.handler.lambda_handler"
#: The game's batch path (pandas, numpy): not in the zip.
BATCH_PATH = ("badges/batch.py", "badges/frames.py", "badges/localdays_batch.py")
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    """A built zip: where, how big, its SHA-256 and its files."""

    path: Path
    size_bytes: int
    sha256: str
    files: tuple[str, ...]


def package_files(root: Path | None = None) -> list[tuple[Path, str]]:
    """(source file, name in the zip) for every file the package holds, sorted by name."""
    package_dir = Path(root or Path(streamsim.__file__).parent)
    game = package_dir / "game"
    chosen = [package_dir / "__init__.py", package_dir / "errors.py"]
    chosen += [
        f
        for f in game.rglob("*.py")
        if f.relative_to(game).as_posix() not in BATCH_PATH and "__pycache__" not in f.parts
    ]
    return sorted(
        ((f, "streamsim/" + f.relative_to(package_dir).as_posix()) for f in chosen),
        key=lambda pair: pair[1],
    )


def build_package(out: str | Path, root: Path | None = None) -> Package:
    """Write the zip to ``out`` (a file path) and describe it."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    files = package_files(root)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for source, name in files:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, source.read_bytes())
    data = path.read_bytes()
    return Package(path, len(data), hashlib.sha256(data).hexdigest(), tuple(n for _, n in files))
