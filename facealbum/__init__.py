"""facealbum: find, name and search the people in your own photo library."""

__version__ = "0.1.0"
