"""What a portrait is called: its title, maker, date and link, from wherever they are kept.

Museums and archives put them in the image (XMP dc:title, dc:creator,
photoshop:DateCreated; or the older IPTC fields), in an XMP sidecar, or in a
spreadsheet beside the images. The first source that names a field gives it:
collection.csv (columns file, title, artist, date, link), then the sidecar, then the XMP
in the image, then its IPTC; a title nobody gave is made from the file name.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path
from xml.etree.ElementTree import Element

from PIL import Image, IptcImagePlugin, UnidentifiedImageError

from facealbum.interop.embedded import read_header
from facealbum.interop.rdf import XmpError, array_items, field_value, parse_packet, qn
from facealbum.interop.xmp import sidecar_path
from facealbum.model import Artwork

log = logging.getLogger(__name__)

COLLECTION_CSV = "collection.csv"
_FIELDS = ("title", "creator", "date", "link")
# IPTC-IIM record 2 datasets: Object Name, By-line, Date Created (CCYYMMDD).
_IPTC = {"title": (2, 5), "creator": (2, 80), "date": (2, 55)}


def read_collection_csv(folder: Path) -> dict[str, Artwork]:
    """file name -> what collection.csv in `folder` says of it ({} without one). The artist
    column fills `creator`; unknown columns are ignored, a malformed file is logged."""
    path = folder / COLLECTION_CSV
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    out: dict[str, Artwork] = {}
    for row in rows:
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        name = row.get("file", "")
        if name:
            out[Path(name).name] = Artwork(
                title=row.get("title") or None,
                creator=row.get("artist") or row.get("creator") or None,
                date=row.get("date") or None,
                link=row.get("link") or None,
            )
    return out


def read_artwork(photo: Path, listed: dict[str, Artwork] | None = None) -> Artwork:
    """The title, maker, date and link of one image (`listed`: its folder's
    read_collection_csv, when the caller has read it already)."""
    photo = Path(photo)
    if listed is None:
        listed = read_collection_csv(photo.parent)
    found = [listed.get(photo.name, Artwork())]
    found.append(_from_xmp_bytes(_read_small(sidecar_path(photo)), photo))
    header = read_header(photo)
    found.append(_from_xmp_bytes(header.xmp, photo))
    found.append(_from_iptc(photo))
    merged = {f: next((getattr(a, f) for a in found if getattr(a, f)), None) for f in _FIELDS}
    merged["title"] = merged["title"] or title_from_file_name(photo)
    if merged["date"]:  # "2010-05-10T10:04:01-05:00": the day is what a caption wants
        merged["date"] = merged["date"].split("T")[0]
    return Artwork(**merged)


def title_from_file_name(photo: Path) -> str:
    """'portrait_of-a-young-man.jpg' -> 'Portrait of a young man'."""
    words = re.sub(r"[_\-.]+", " ", Path(photo).stem).strip()
    return words[:1].upper() + words[1:] if words else Path(photo).name


def _read_small(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(4 * 1024 * 1024)  # no XMP packet is larger
    except OSError:
        return None


def _from_xmp_bytes(data: bytes | None, photo: Path) -> Artwork:
    if not data:
        return Artwork()
    try:
        rdf = parse_packet(data).rdf()
    except XmpError as exc:
        log.warning("ignoring the XMP of %s: %s", photo, exc)
        return Artwork()
    return Artwork(
        title=_first(rdf, "dc:title"),
        creator=_first(rdf, "dc:creator", join=True),
        date=_first(rdf, "photoshop:DateCreated") or _first(rdf, "xmp:CreateDate"),
    )


def _first(rdf: Element, name: str, join: bool = False) -> str | None:
    """A property's text wherever the packet puts it: an attribute of a description, a
    simple element, or the items of an array (the x-default one of a language Alt)."""
    tag = qn(name)
    for description in rdf.iter(qn("rdf:Description")):
        if description.get(tag):
            return description.get(tag, "").strip() or None
        element = description.find(tag)
        if element is None:
            continue
        value = field_value(element)
        if isinstance(value, str):
            return value or None
        items = array_items(element)
        texts = [(li.text or "").strip() for li in items if (li.text or "").strip()]
        default = [
            (li.text or "").strip()
            for li in items
            if li.get("{http://www.w3.org/XML/1998/namespace}lang") == "x-default"
        ]
        if join and texts:
            return ", ".join(texts)
        if default and default[0]:
            return default[0]
        if texts:
            return texts[0]
    return None


def _from_iptc(photo: Path) -> Artwork:
    try:
        with Image.open(photo) as im:
            info = IptcImagePlugin.getiptcinfo(im) or {}
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return Artwork()
    values = {field: _iptc_text(info.get(key)) for field, key in _IPTC.items()}
    date = values["date"]
    if date and re.fullmatch(r"\d{8}", date):
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return Artwork(title=values["title"], creator=values["creator"], date=date)


def _iptc_text(value: bytes | list[bytes] | None) -> str | None:
    if value is None:
        return None
    parts = value if isinstance(value, list) else [value]
    texts = [p.decode("utf-8", "replace").strip() for p in parts]
    return ", ".join(t for t in texts if t) or None
