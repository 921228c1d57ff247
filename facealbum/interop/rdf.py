"""Read and write XMP packets (RDF/XML) with the standard library only.

Parsing refuses any DTD: Pillow's defusedxml is optional, so entity expansion
("billion laughs") is stopped by never letting a DOCTYPE reach expat. Writing uses
our own small serialiser so that every namespace keeps the prefix the document
gave it (ElementTree would rename foreign ones to ns0, ns1, ...).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.etree.ElementTree import Element

XML_NS = "http://www.w3.org/XML/1998/namespace"

# Prefixes we write for namespaces a document has not named itself.
NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "stDim": "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "MP": "http://ns.microsoft.com/photo/1.2/",
    "MPRI": "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "MPReg": "http://ns.microsoft.com/photo/1.2/t/Region#",
}

XMP_TOOLKIT = "facealbum"
# The id every XMP packet wrapper carries (XMP specification part 1, 7.3.2).
_PACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"
_ARRAYS = ("rdf:Bag", "rdf:Seq", "rdf:Alt")


class XmpError(ValueError):
    """XMP data that cannot be parsed (malformed, not RDF, or carrying a DTD)."""


def qn(name: str) -> str:
    """'mwg-rs:Regions' -> '{http://...regions/}Regions', ElementTree's qualified name."""
    prefix, local = name.split(":", 1)
    uri = XML_NS if prefix == "xml" else NAMESPACES[prefix]
    return f"{{{uri}}}{local}"


@dataclass
class Packet:
    """A parsed XMP packet: its root element and the prefix it used for each namespace."""

    root: Element
    prefixes: dict[str, str]  # namespace URI -> prefix

    def rdf(self) -> Element:
        """The rdf:RDF element, wherever the wrapper put it."""
        if self.root.tag == qn("rdf:RDF"):
            return self.root
        found = self.root.find(f".//{qn('rdf:RDF')}")
        if found is None:
            raise XmpError("no rdf:RDF element in the XMP data")
        return found


def parse_packet(data: bytes) -> Packet:
    """Parse XMP bytes (a sidecar or an embedded packet); XmpError when they are not usable."""
    data = _as_utf8(data)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmpError("XMP data with a DTD is refused (entity expansion)")
    root: Element | None = None
    prefixes: dict[str, str] = {}
    try:
        for event, item in ET.iterparse(io.BytesIO(data), events=("start", "start-ns")):
            if event == "start-ns":
                prefix, uri = item
                prefixes.setdefault(uri, prefix)
            elif root is None:
                root = item
    except ET.ParseError as exc:
        raise XmpError(f"malformed XMP: {exc}") from exc
    if root is None:
        raise XmpError("empty XMP data")
    packet = Packet(root, prefixes)
    packet.rdf()  # fail early when there is no RDF at all
    return packet


_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"<\x00", "utf-16-le"),  # no BOM: the first "<" tells the byte order
    (b"\x00<", "utf-16-be"),
)


def _as_utf8(data: bytes) -> bytes:
    """Packets may be UTF-16/32 (XMP allows it); re-encode so the DTD check sees plain bytes."""
    codec = next((codec for bom, codec in _BOMS if data.lstrip(b" \t\r\n").startswith(bom)), None)
    if codec is None:
        return data.strip(b"\x00 \t\r\n")  # packets in files are often NUL- or space-padded
    try:
        text = data.decode(codec).strip("\ufeff\x00 \t\r\n")
    except UnicodeDecodeError as exc:
        raise XmpError(f"undecodable XMP data: {exc}") from exc
    # The declaration would still name the old encoding.
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text).encode("utf-8")


def top_descriptions(rdf: Element) -> list[Element]:
    """The rdf:Description elements directly under rdf:RDF; properties live in them."""
    return [child for child in rdf if child.tag == qn("rdf:Description")]


def _is_field(attribute: str) -> bool:
    # rdf:about, rdf:parseType and xml:lang are syntax, not struct fields.
    return not attribute.startswith((f"{{{NAMESPACES['rdf']}}}", f"{{{XML_NS}}}"))


def field_value(element: Element) -> str | Element:
    """A property's simple text, or the element itself when it holds a struct or array."""
    value = element.find(qn("rdf:value"))  # a qualified simple value
    if value is not None:
        return (value.text or "").strip()
    has_fields = any(_is_field(key) for key in element.attrib)
    if len(element) == 0 and not has_fields:
        return (element.text or "").strip()
    return element


def struct_fields(element: Element) -> dict[str, str | Element]:
    """The fields of an XMP struct in any of the RDF spellings tools use.

    Fields may be attributes of the property element, children under
    rdf:parseType="Resource", or attributes and children of a nested rdf:Description.
    """
    fields: dict[str, str | Element] = {}
    holders = [element]
    nested = element.find(qn("rdf:Description"))
    if nested is not None:
        holders.append(nested)
    for holder in holders:
        for key, value in holder.attrib.items():
            if _is_field(key):
                fields[key] = value.strip()
        for child in holder:
            if child.tag != qn("rdf:Description"):
                fields[child.tag] = field_value(child)
    return fields


def array_items(element: Element) -> list[Element]:
    """The rdf:li items of an array property (Bag, Seq or Alt)."""
    for kind in _ARRAYS:
        container = element.find(qn(kind))
        if container is not None:
            return container.findall(qn("rdf:li"))
    return []


def serialize_packet(packet: Packet) -> bytes:
    """The packet as UTF-8 bytes in an xpacket wrapper, namespaces declared once on the root."""
    root = packet.root
    if (
        root.tag not in (qn("x:xmpmeta"), "{adobe:ns:meta/}xapmeta")
        and root.find(f".//{qn('rdf:RDF')}") is None
    ):
        wrapper = Element(qn("x:xmpmeta"), {qn("x:xmptk"): XMP_TOOLKIT})
        wrapper.append(root)
        root = wrapper
    prefixes = _assign_prefixes(root, packet.prefixes)
    out: list[str] = [f'<?xpacket begin="\ufeff" id="{_PACKET_ID}"?>\n']
    _write_element(root, prefixes, out, depth=0, declare=True)
    out.append('<?xpacket end="w"?>\n')
    return "".join(out).encode("utf-8")


def _assign_prefixes(root: Element, known: dict[str, str]) -> dict[str, str]:
    """One distinct prefix per namespace used: the document's, else ours, else a new one."""
    ours = {uri: prefix for prefix, uri in NAMESPACES.items()}
    used: set[str] = set()
    for element in root.iter():
        used.add(_split(element.tag)[0])
        used.update(_split(key)[0] for key in element.attrib)
    used.discard("")
    used.discard(XML_NS)
    chosen: dict[str, str] = {}
    taken: set[str] = {"xml"}
    order = {uri: i for i, uri in enumerate(NAMESPACES.values())}
    for uri in sorted(used, key=lambda u: (u not in known, order.get(u, len(order)), u)):
        prefix = known.get(uri) or ours.get(uri) or "ns"
        base, n = prefix, 1
        while prefix in taken:
            n += 1
            prefix = f"{base}{n}"
        chosen[uri] = prefix
        taken.add(prefix)
    return chosen


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, local = tag[1:].split("}", 1)
        return uri, local
    return "", tag


def _name(tag: str, prefixes: dict[str, str]) -> str:
    uri, local = _split(tag)
    if not uri:
        return local
    if uri == XML_NS:
        return f"xml:{local}"
    return f"{prefixes[uri]}:{local}"


def _write_element(
    element: Element, prefixes: dict[str, str], out: list[str], depth: int, declare: bool
) -> None:
    pad = " " * depth
    name = _name(element.tag, prefixes)
    attrs = []
    if declare:
        attrs += [f'xmlns:{p}="{_escape_attr(uri)}"' for uri, p in prefixes.items()]
    attrs += [f'{_name(k, prefixes)}="{_escape_attr(v)}"' for k, v in element.attrib.items()]
    head = f"{pad}<{name}" + "".join(f" {a}" for a in attrs)
    text = element.text or ""
    if len(element) == 0:
        out.append(f"{head}>{_escape_text(text)}</{name}>\n" if text else f"{head}/>\n")
        return
    # Whitespace between child elements is layout only; real text is kept as found.
    out.append(f"{head}>{_escape_text(text) if text.strip() else ''}\n")
    for child in element:
        _write_element(child, prefixes, out, depth + 1, declare=False)
        if child.tail and child.tail.strip():
            out.append(_escape_text(child.tail))
    out.append(f"{pad}</{name}>\n")


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    return (
        _escape_text(text)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )
