"""Face regions and people tags inside a parsed XMP packet.

Regions follow the Metadata Working Group schema (mwg-rs): each region's stArea
gives the CENTRE (x, y) and size (w, h), normalised to the STORED image, with the
stored size in AppliedToDimensions. Windows Photo Gallery's MP:RegionInfo
(top-left corner + size) is read as a fallback; it is not written, because a second
copy of every region would go stale as soon as another tool edits the MWG one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement

from facealbum.interop.orientation import (
    SWAPS_AXES,
    clamp_box,
    stored_to_upright,
    valid_orientation,
)
from facealbum.interop.rdf import (
    Packet,
    array_items,
    field_value,
    qn,
    struct_fields,
    top_descriptions,
)
from facealbum.model import Box

log = logging.getLogger(__name__)

# Where people names go besides the regions, so tools that only know keywords see
# them: digiKam's tag tree, Lightroom's keyword hierarchy (read by darktable and
# Immich too) and the flat dc:subject keywords every tool reads.
PEOPLE_ROOT = "People"
_TAG_PROPERTIES = (
    ("digiKam:TagsList", "rdf:Seq", "/"),
    ("lr:hierarchicalSubject", "rdf:Bag", "|"),
)


@dataclass(frozen=True)
class FaceRegion:
    """A named face: box normalised to the UPRIGHT photo (after EXIF orientation)."""

    name: str
    box: Box


@dataclass(frozen=True)
class StoredRegions:
    """Regions as a packet states them, before orientation is applied."""

    faces: list[tuple[str, Box]]  # name, box normalised to the stored image
    applied_to: tuple[int, int] | None  # (w, h) of AppliedToDimensions, when stated in pixels
    found: bool  # the packet has region info at all (even an empty list)


def _number(value: str | Element | None) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


def _mwg_area(area: Element, applied_to: tuple[int, int] | None) -> Box | None:
    fields = struct_fields(area)
    x, y, w, h = (_number(fields.get(qn(f"stArea:{k}"))) for k in "xywh")
    if x is None or y is None or w is None or h is None or w <= 0 or h <= 0:
        return None  # points and circles mark no face
    unit = str(fields.get(qn("stArea:unit"), "normalized")).lower()
    if unit == "pixel":
        if applied_to is None:
            return None
        sx, sy = applied_to
        x, y, w, h = x / sx, y / sy, w / sx, h / sy
    return Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def _applied_to(regions: dict[str, str | Element]) -> tuple[int, int] | None:
    dims = regions.get(qn("mwg-rs:AppliedToDimensions"))
    if not isinstance(dims, Element):
        return None
    fields = struct_fields(dims)
    w, h = _number(fields.get(qn("stDim:w"))), _number(fields.get(qn("stDim:h")))
    if w is None or h is None or w <= 0 or h <= 0:
        return None
    return round(w), round(h)


def _name_of(value: str | Element | None) -> str:
    if isinstance(value, Element):  # a language alternative: take its first entry
        items = array_items(value)
        value = field_value(items[0]) if items else ""
    return value.strip() if isinstance(value, str) else ""


def mwg_regions(packet: Packet) -> StoredRegions:
    """Named face regions of the MWG region info in the packet."""
    faces: list[tuple[str, Box]] = []
    applied_to = None
    found = False
    for element in packet.root.iter(qn("mwg-rs:Regions")):
        found = True
        regions = struct_fields(element)
        applied_to = _applied_to(regions) or applied_to
        region_list = regions.get(qn("mwg-rs:RegionList"))
        if not isinstance(region_list, Element):
            continue
        for item in array_items(region_list):
            fields = struct_fields(item)
            kind = _name_of(fields.get(qn("mwg-rs:Type")))
            name = _name_of(fields.get(qn("mwg-rs:Name")))
            area = fields.get(qn("mwg-rs:Area"))
            if (kind and kind != "Face") or not name or not isinstance(area, Element):
                continue
            box = _mwg_area(area, _applied_to(regions))
            if box is not None:
                faces.append((name, clamp_box(box)))
    return StoredRegions(faces, applied_to, found)


def mp_regions(packet: Packet) -> StoredRegions:
    """Named regions of Microsoft's MP:RegionInfo (Rectangle = left, top, width, height)."""
    faces: list[tuple[str, Box]] = []
    found = False
    for element in packet.root.iter(qn("MP:RegionInfo")):
        found = True
        regions = struct_fields(element).get(qn("MPRI:Regions"))
        if not isinstance(regions, Element):
            continue
        for item in array_items(regions):
            fields = struct_fields(item)
            name = _name_of(fields.get(qn("MPReg:PersonDisplayName")))
            rect = fields.get(qn("MPReg:Rectangle"))
            parts = [_number(p) for p in rect.split(",")] if isinstance(rect, str) else []
            if not name or len(parts) != 4 or any(p is None for p in parts):
                continue
            left, top, w, h = (float(p) for p in parts)  # type: ignore[arg-type]
            if w > 0 and h > 0:
                faces.append((name, clamp_box(Box(left, top, left + w, top + h))))
    return StoredRegions(faces, None, found)


def stored_regions(packet: Packet) -> StoredRegions:
    """The packet's MWG regions, or its Microsoft regions when it has no MWG ones."""
    mwg = mwg_regions(packet)
    return mwg if mwg.found else mp_regions(packet)


def packet_orientation(packet: Packet) -> int | None:
    """tiff:Orientation stated in the packet (digiKam writes it into sidecars), if any."""
    for description in packet.root.iter(qn("rdf:Description")):
        value = description.get(qn("tiff:Orientation"))
        child = description.find(qn("tiff:Orientation"))
        if value is None and child is not None:
            value = child.text
        if value is not None:
            return valid_orientation(value.strip())
    return None


def to_upright(
    regions: StoredRegions, orientation: int, stored_size: tuple[int, int] | None
) -> list[FaceRegion]:
    """FaceRegions of the upright photo from regions stated for the stored image.

    Some older writers measured the displayed image instead; their AppliedToDimensions
    then matches the upright size of a rotated photo, which tells us not to rotate again.
    """
    orientation = valid_orientation(orientation)
    if _measured_upright(regions.applied_to, orientation, stored_size):
        orientation = 1
    return [FaceRegion(name, stored_to_upright(box, orientation)) for name, box in regions.faces]


def _measured_upright(
    applied_to: tuple[int, int] | None, orientation: int, stored: tuple[int, int] | None
) -> bool:
    if orientation not in SWAPS_AXES or applied_to is None or stored is None:
        return False
    (aw, ah), (sw, sh) = applied_to, stored
    if abs(sw - sh) <= 0.02 * max(sw, sh):
        return False  # square-ish: the size cannot tell
    # Compare aspect ratios: the photo may have been resized since the regions were written.
    return abs(aw / ah - sh / sw) < 0.01 * (sh / sw) and abs(aw / ah - sw / sh) > 0.02


def regions_element(regions: list[FaceRegion], stored: list[Box], size: tuple[int, int]) -> Element:
    """A new mwg-rs:Regions property for faces whose stored-image boxes are given."""
    element = Element(qn("mwg-rs:Regions"), {qn("rdf:parseType"): "Resource"})
    SubElement(
        element,
        qn("mwg-rs:AppliedToDimensions"),
        {qn("stDim:w"): str(size[0]), qn("stDim:h"): str(size[1]), qn("stDim:unit"): "pixel"},
    )
    bag = SubElement(SubElement(element, qn("mwg-rs:RegionList")), qn("rdf:Bag"))
    for region, box in zip(regions, stored, strict=True):
        item = SubElement(bag, qn("rdf:li"))
        description = SubElement(
            item, qn("rdf:Description"), {qn("mwg-rs:Name"): region.name, qn("mwg-rs:Type"): "Face"}
        )
        SubElement(
            description,
            qn("mwg-rs:Area"),
            {
                qn("stArea:x"): _real((box.left + box.right) / 2),
                qn("stArea:y"): _real((box.top + box.bottom) / 2),
                qn("stArea:w"): _real(box.right - box.left),
                qn("stArea:h"): _real(box.bottom - box.top),
                qn("stArea:unit"): "normalized",
            },
        )
    return element


def _real(value: float) -> str:
    # XMP Real is a plain decimal; never exponent notation.
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def replace_regions(packet: Packet, new_regions: Element, names: list[str]) -> None:
    """Put new_regions in place of the packet's face regions and sync the people tags.

    Regions of other types (Pet, Focus, BarCode) are ours to keep, not to replace.
    People tags mirroring the old face names are dropped unless a new face has them.
    """
    rdf = packet.rdf()
    descriptions = top_descriptions(rdf)
    old_names: set[str] = set()
    kept: list[Element] = []
    place: tuple[Element, int] | None = None  # where the old regions were, to keep the order
    for description in descriptions:
        for old in description.findall(qn("mwg-rs:Regions")):
            if place is None:
                place = (description, list(description).index(old))
            old_fields = struct_fields(old)
            region_list = old_fields.get(qn("mwg-rs:RegionList"))
            for item in array_items(region_list) if isinstance(region_list, Element) else []:
                fields = struct_fields(item)
                kind = _name_of(fields.get(qn("mwg-rs:Type")))
                if kind and kind != "Face":
                    kept.append(item)
                else:
                    old_names.add(_name_of(fields.get(qn("mwg-rs:Name"))))
            description.remove(old)
    if not descriptions:
        descriptions = [SubElement(rdf, qn("rdf:Description"), {qn("rdf:about"): ""})]
    new_bag = new_regions.find(f"{qn('mwg-rs:RegionList')}/{qn('rdf:Bag')}")
    if new_bag is not None:
        new_bag.extend(kept)
    if place is None:
        descriptions[0].append(new_regions)
    else:
        place[0].insert(place[1], new_regions)
    _sync_people_tags(descriptions, old_names - set(names) - {""}, names)


def _sync_people_tags(descriptions: list[Element], stale: set[str], names: list[str]) -> None:
    was_person: set[str] = set()
    for prop, kind, sep in _TAG_PROPERTIES:
        values = {f"{PEOPLE_ROOT}{sep}{_tag_part(n, sep)}": n for n in stale}
        items = _array(descriptions, prop, kind)
        for item in list(items):
            if (item.text or "").strip() in values:
                was_person.add(values[(item.text or "").strip()])
                items.remove(item)
        _add_missing(items, [f"{PEOPLE_ROOT}{sep}{_tag_part(n, sep)}" for n in names])
    subjects = _array(descriptions, "dc:subject", "rdf:Bag")
    for item in list(subjects):
        if (item.text or "").strip() in was_person:
            subjects.remove(item)
    _add_missing(subjects, names)
    for description in descriptions:  # drop properties we emptied or created for nothing
        for prop in ("digiKam:TagsList", "lr:hierarchicalSubject", "dc:subject"):
            for element in description.findall(qn(prop)):
                if not array_items(element):
                    description.remove(element)


def _tag_part(name: str, separator: str) -> str:
    # A separator inside a name would make the tool invent a deeper hierarchy.
    return name.replace(separator, "-")


def _array(descriptions: list[Element], prop: str, kind: str) -> Element:
    """The container (rdf:Bag/Seq) of an array property, created in the first description."""
    for description in descriptions:
        element = description.find(qn(prop))
        if element is not None:
            for container in element:
                if container.tag in (qn("rdf:Bag"), qn("rdf:Seq"), qn("rdf:Alt")):
                    return container
            return SubElement(element, qn(kind))
    return SubElement(SubElement(descriptions[0], qn(prop)), qn(kind))


def _add_missing(container: Element, values: list[str]) -> None:
    present = {(item.text or "").strip() for item in container.findall(qn("rdf:li"))}
    for value in values:
        if value not in present:
            SubElement(container, qn("rdf:li")).text = value
            present.add(value)
