"""facealbum: find, name and search the people in your own photo library."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is looked up on first use: importlib.metadata costs ~45 ms at import,
    # paid by every command and every scan worker, and only --version and About read it.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:  # declared once, in pyproject.toml
            return version("facealbum")
        except PackageNotFoundError:  # a source tree that was never installed
            return "unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
