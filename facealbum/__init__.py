"""facealbum: find, name and search the people in your own photo library."""

from importlib.metadata import PackageNotFoundError, version

try:  # declared once, in pyproject.toml
    __version__ = version("facealbum")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"
