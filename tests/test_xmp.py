"""Face regions in XMP: what digiKam, Lightroom and darktable read, and what they wrote."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from helpers_orientation import as_stored
from PIL import Image, ImageDraw, ImageOps, PngImagePlugin

from facealbum.interop import xmp
from facealbum.interop.xmp import (
    FaceRegion,
    XmpError,
    mwg_orientation,
    read_regions,
    sidecar_path,
    write_regions,
)
from facealbum.model import Box

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
ST_AREA = "{http://ns.adobe.com/xmp/sType/Area#}"
ST_DIM = "{http://ns.adobe.com/xap/1.0/sType/Dimensions#}"
MWG = "{http://www.metadataworkinggroup.com/schemas/regions/}"

FACES = [
    FaceRegion("Zoë Saldaña", Box(0.10, 0.20, 0.30, 0.45)),
    FaceRegion("李小龍", Box(0.55, 0.15, 0.80, 0.40)),
    FaceRegion('Ольга & <Sons> "Ltd"', Box(0.40, 0.60, 0.65, 0.95)),
]

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool not installed (apt-get install libimage-exiftool-perl)"
)


def make_photo(path: Path, orientation: int = 1, upright_size=(360, 240), boxes=(), **save):
    """A photo that looks upright with white blocks at `boxes`, stored rotated as a camera would."""
    upright = Image.new("RGB", upright_size, "black")
    draw = ImageDraw.Draw(upright)
    for box in boxes:
        draw.rectangle(box.to_pixels(*upright_size), fill="white")
    stored = as_stored(upright, orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif, quality=95, **save)
    return path


def bright_bbox(im: Image.Image) -> tuple[int, int, int, int]:
    """Where the white face block is (JPEG noise around it stays dark)."""
    return im.convert("L").point(lambda v: 255 if v > 128 else 0).getbbox()


def assert_same_faces(found: list[FaceRegion], expected: list[FaceRegion], tol: float = 1e-4):
    assert [f.name for f in found] == [e.name for e in expected]
    for f, e in zip(found, expected, strict=True):
        assert f.box.as_list() == pytest.approx(e.box.as_list(), abs=tol)


def stored_areas(sidecar: Path) -> tuple[tuple[int, int], list[tuple[str, tuple[float, ...]]]]:
    """AppliedToDimensions and (name, (x, y, w, h)) per face, read with plain ElementTree."""
    root = ET.parse(sidecar).getroot()
    dims = root.find(f".//{MWG}AppliedToDimensions")
    size = (int(dims.get(f"{ST_DIM}w")), int(dims.get(f"{ST_DIM}h")))
    faces = []
    for desc in root.iter(f"{RDF}Description"):
        area = desc.find(f"{MWG}Area")
        if area is not None:
            xywh = tuple(float(area.get(f"{ST_AREA}{k}")) for k in "xywh")
            faces.append((desc.get(f"{MWG}Name"), xywh))
    return size, faces


def exiftool_json(path: Path, *tags: str) -> dict:
    out = subprocess.run(
        [EXIFTOOL, "-j", "-struct", *tags, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(out)[0]


# --- sidecar naming -------------------------------------------------------------------


def test_sidecar_keeps_the_photo_extension_like_digikam_and_darktable(tmp_path):
    assert sidecar_path(tmp_path / "IMG_0001.JPG") == tmp_path / "IMG_0001.JPG.xmp"
    assert sidecar_path(tmp_path / "a.b.heic") == tmp_path / "a.b.heic.xmp"


def test_reads_lightroom_style_sidecar_without_the_extension(tmp_path):
    photo = make_photo(tmp_path / "IMG_7.jpg")
    write_regions(photo, FACES[:1], 360, 240)
    sidecar_path(photo).rename(tmp_path / "IMG_7.xmp")
    assert_same_faces(read_regions(photo), FACES[:1])


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_round_trip_keeps_names_and_upright_boxes(tmp_path, orientation):
    photo = make_photo(tmp_path / "p.jpg", orientation)
    assert mwg_orientation(photo) == orientation
    sidecar = write_regions(photo, FACES, 360, 240, orientation)
    assert sidecar == sidecar_path(photo) and sidecar.is_file()
    assert_same_faces(read_regions(photo), FACES)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_areas_refer_to_the_stored_pixels_as_mwg_requires(tmp_path, orientation):
    """The sidecar's centre+size must land on the face in the file's own pixel grid."""
    face = Box(0.15, 0.25, 0.40, 0.70)
    photo = make_photo(tmp_path / "p.jpg", orientation, boxes=[face])
    with Image.open(photo) as im:  # the test photo is what a viewer shows upright
        upright = ImageOps.exif_transpose(im)
        assert upright.size == (360, 240)
        assert bright_bbox(upright) == pytest.approx(face.to_pixels(360, 240), abs=2)
        stored_size, white = im.size, bright_bbox(im)

    sidecar = write_regions(photo, [FaceRegion("Ann", face)], 360, 240, orientation)

    size, [(name, (x, y, w, h))] = stored_areas(sidecar)
    assert name == "Ann"
    assert size == stored_size
    sw, sh = stored_size
    expected = ((x - w / 2) * sw, (y - h / 2) * sh, (x + w / 2) * sw, (y + h / 2) * sh)
    assert expected == pytest.approx(white, abs=2)
    assert_same_faces(read_regions(photo), [FaceRegion("Ann", face)])


def test_unnamed_faces_are_not_written(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    write_regions(photo, [FaceRegion("  ", FACES[0].box), FACES[1]], 360, 240)
    assert [r.name for r in read_regions(photo)] == [FACES[1].name]


# --- the photo is never touched ---------------------------------------------------------


def test_real_photo_bytes_and_mtime_unchanged(tmp_path, labels):
    original = next(p.path for p in labels if p.path.suffix.lower() == ".jpg")
    photo = tmp_path / original.name
    shutil.copy2(original, photo)
    before = (hashlib.sha256(photo.read_bytes()).hexdigest(), photo.stat().st_mtime_ns)
    with Image.open(photo) as im:
        width, height = ImageOps.exif_transpose(im).size

    write_regions(photo, FACES, width, height)
    write_regions(photo, FACES[:1], width, height)  # and an update

    after = (hashlib.sha256(photo.read_bytes()).hexdigest(), photo.stat().st_mtime_ns)
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [photo.name, photo.name + ".xmp"]
    assert_same_faces(read_regions(photo), FACES[:1])


# --- updating another tool's sidecar ----------------------------------------------------

DARKTABLE_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"
    xmp:Rating="4"
    xmpMM:DerivedFrom="p.jpg"
    darktable:xmp_version="5">
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1"/>
     <rdf:li darktable:num="1" darktable:operation="colorin" darktable:enabled="1"/>
    </rdf:Seq>
   </darktable:history>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Sommer am Meer</rdf:li></rdf:Alt></dc:title>
   <dc:subject><rdf:Bag><rdf:li>holiday</rdf:li><rdf:li>Old Name</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag><rdf:li>places|Paris</rdf:li><rdf:li>People|Old Name</rdf:li></rdf:Bag>
   </lr:hierarchicalSubject>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:RegionList><rdf:Bag>
     <rdf:li rdf:parseType="Resource">
      <mwg-rs:Name>Old Name</mwg-rs:Name><mwg-rs:Type>Face</mwg-rs:Type>
      <mwg-rs:Area stArea:x="0.5" stArea:y="0.5" stArea:w="0.1" stArea:h="0.1"
                   stArea:unit="normalized"/>
     </rdf:li>
     <rdf:li rdf:parseType="Resource">
      <mwg-rs:Name>Rex</mwg-rs:Name><mwg-rs:Type>Pet</mwg-rs:Type>
      <mwg-rs:Area stArea:x="0.2" stArea:y="0.8" stArea:w="0.1" stArea:h="0.1"
                   stArea:unit="normalized"/>
     </rdf:li>
    </rdf:Bag></mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def _update_darktable_sidecar(tmp_path: Path) -> Path:
    photo = make_photo(tmp_path / "p.jpg")
    sidecar_path(photo).write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    write_regions(photo, FACES[:2], 360, 240)
    return photo


def test_update_keeps_foreign_properties_and_prefixes(tmp_path):
    photo = _update_darktable_sidecar(tmp_path)
    text = sidecar_path(photo).read_text(encoding="utf-8")
    root = ET.fromstring(text.split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
    dt = "{http://darktable.sf.net/}"
    desc = root.find(f".//{RDF}Description")
    assert desc.get("{http://ns.adobe.com/xap/1.0/}Rating") == "4"
    assert desc.get(f"{dt}xmp_version") == "5"
    history = [li.get(f"{dt}operation") for li in root.iter(f"{RDF}li") if li.get(f"{dt}num")]
    assert history == ["exposure", "colorin"]
    title = root.find(".//{http://purl.org/dc/elements/1.1/}title//" + f"{RDF}li")
    assert title.text == "Sommer am Meer"
    assert title.get("{http://www.w3.org/XML/1998/namespace}lang") == "x-default"
    # Other tools' prefixes survive (no ns0:), so their own naive readers still match.
    assert "darktable:history" in text and "xmpMM:DerivedFrom" in text and "ns0" not in text


def test_update_replaces_faces_keeps_other_regions_and_syncs_people_tags(tmp_path):
    photo = _update_darktable_sidecar(tmp_path)
    assert_same_faces(read_regions(photo), FACES[:2])
    root = ET.parse(sidecar_path(photo)).getroot()
    assert sorted(_region_names(root)) == sorted([FACES[0].name, FACES[1].name, "Rex"])
    subjects = _list_values(root, "{http://purl.org/dc/elements/1.1/}subject")
    assert subjects == ["holiday", FACES[0].name, FACES[1].name]
    hierarchical = _list_values(root, "{http://ns.adobe.com/lightroom/1.0/}hierarchicalSubject")
    assert hierarchical == ["places|Paris", f"People|{FACES[0].name}", f"People|{FACES[1].name}"]
    tags = _list_values(root, "{http://www.digikam.org/ns/1.0/}TagsList")
    assert tags == [f"People/{FACES[0].name}", f"People/{FACES[1].name}"]


def test_update_keeps_the_sidecar_permissions(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    sidecar_path(photo).write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    sidecar_path(photo).chmod(0o640)
    write_regions(photo, FACES, 360, 240)
    assert sidecar_path(photo).stat().st_mode & 0o777 == 0o640


def test_writing_twice_adds_nothing_twice(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    write_regions(photo, FACES, 360, 240)
    first = sidecar_path(photo).read_bytes()
    write_regions(photo, FACES, 360, 240)
    assert sidecar_path(photo).read_bytes() == first


def test_removing_every_name_clears_our_people_tags(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    write_regions(photo, FACES, 360, 240)
    write_regions(photo, [], 360, 240)
    assert read_regions(photo) == []
    text = sidecar_path(photo).read_text(encoding="utf-8")
    assert "People" not in text and FACES[0].name not in text


def _region_names(root) -> list[str]:
    names = []
    for item in root.find(f".//{MWG}RegionList").iter(f"{RDF}li"):
        nested = item.find(f"{RDF}Description")
        holder = nested if nested is not None else item
        names.append(holder.get(f"{MWG}Name") or holder.findtext(f"{MWG}Name"))
    return names


def _list_values(root, prop: str) -> list[str]:
    element = root.find(f".//{prop}")
    return [li.text for li in element.iter(f"{RDF}li")] if element is not None else []


# --- standard parsers read what we write ------------------------------------------------


@needs_exiftool
def test_exiftool_reads_our_sidecar(tmp_path):
    photo = make_photo(tmp_path / "p.jpg", 6, upright_size=(240, 360))
    sidecar = write_regions(photo, FACES, 240, 360, 6)
    info = exiftool_json(sidecar, "-RegionInfo", "-TagsList", "-HierarchicalSubject", "-Subject")
    regions = info["RegionInfo"]
    assert regions["AppliedToDimensions"] == {"W": 360, "H": 240, "Unit": "pixel"}
    assert [r["Name"] for r in regions["RegionList"]] == [f.name for f in FACES]
    assert {r["Type"] for r in regions["RegionList"]} == {"Face"}
    assert all(r["Area"]["Unit"] == "normalized" for r in regions["RegionList"])
    assert info["TagsList"] == [f"People/{f.name}" for f in FACES]
    assert info["HierarchicalSubject"] == [f"People|{f.name}" for f in FACES]
    assert info["Subject"] == [f.name for f in FACES]


@needs_exiftool
def test_exiftool_keeps_darktable_rating_after_our_update(tmp_path):
    photo = _update_darktable_sidecar(tmp_path)
    info = exiftool_json(sidecar_path(photo), "-Rating", "-Title", "-RegionInfo")
    assert info["Rating"] == 4
    assert info["Title"] == "Sommer am Meer"
    assert {r["Name"] for r in info["RegionInfo"]["RegionList"]} == {
        FACES[0].name,
        FACES[1].name,
        "Rex",
    }


def test_pillow_getxmp_parses_our_packet(tmp_path):
    pytest.importorskip("defusedxml", reason="Pillow's getxmp needs defusedxml")
    photo = make_photo(tmp_path / "p.jpg")
    sidecar = write_regions(photo, FACES, 360, 240)
    carrier = tmp_path / "carrier.jpg"
    Image.new("RGB", (8, 8)).save(carrier, xmp=sidecar.read_bytes())
    with Image.open(carrier) as im:
        xmp = im.getxmp()
    description = xmp["xmpmeta"]["RDF"]["Description"]
    items = description["Regions"]["RegionList"]["Bag"]["li"]
    assert [item["Description"]["Name"] for item in items] == [f.name for f in FACES]


# --- regions other tools embedded in photos ---------------------------------------------

EXIFTOOL_STYLE_PACKET = """<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about=''
  xmlns:mwg-rs='http://www.metadataworkinggroup.com/schemas/regions/'
  xmlns:stArea='http://ns.adobe.com/xmp/sType/Area#'
  xmlns:stDim='http://ns.adobe.com/xap/1.0/sType/Dimensions#'>
  <mwg-rs:Regions rdf:parseType='Resource'>
   <mwg-rs:AppliedToDimensions rdf:parseType='Resource'>
    <stDim:h>240</stDim:h><stDim:unit>pixel</stDim:unit><stDim:w>360</stDim:w>
   </mwg-rs:AppliedToDimensions>
   <mwg-rs:RegionList><rdf:Bag>
    <rdf:li rdf:parseType='Resource'>
     <mwg-rs:Area rdf:parseType='Resource'>
      <stArea:h>0.25</stArea:h><stArea:unit>normalized</stArea:unit>
      <stArea:w>0.5</stArea:w><stArea:x>0.25</stArea:x><stArea:y>0.125</stArea:y>
     </mwg-rs:Area>
     <mwg-rs:Name>Grace Hopper</mwg-rs:Name>
     <mwg-rs:Type>Face</mwg-rs:Type>
    </rdf:li>
    <rdf:li rdf:parseType='Resource'>
     <mwg-rs:Area rdf:parseType='Resource'>
      <stArea:h>0.1</stArea:h><stArea:w>0.1</stArea:w><stArea:x>0.9</stArea:x>
      <stArea:y>0.9</stArea:y><stArea:unit>normalized</stArea:unit>
     </mwg-rs:Area>
     <mwg-rs:Type>Focus</mwg-rs:Type>
    </rdf:li>
   </rdf:Bag></mwg-rs:RegionList>
  </mwg-rs:Regions>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>"""

# Stored-image box of the face above: centre (0.25, 0.125), size 0.5 x 0.25.
GRACE_STORED = Box(0.0, 0.0, 0.5, 0.25)


@pytest.mark.parametrize(
    ("orientation", "upright"),
    [
        (1, GRACE_STORED),
        (6, Box(0.75, 0.0, 1.0, 0.5)),  # the stored top edge is shown on the right
        (8, Box(0.0, 0.5, 0.25, 1.0)),  # ... and on the left, stored left at the bottom
    ],
)
def test_reads_regions_embedded_in_a_jpeg(tmp_path, orientation, upright):
    photo = tmp_path / "camera.jpg"
    stored = Image.new("RGB", (360, 240))
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(photo, exif=exif, xmp=EXIFTOOL_STYLE_PACKET.encode("utf-8"))
    assert_same_faces(read_regions(photo), [FaceRegion("Grace Hopper", upright)])


def test_reads_regions_embedded_in_a_png(tmp_path):
    photo = tmp_path / "scan.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", EXIFTOOL_STYLE_PACKET, zip=True)
    Image.new("RGB", (360, 240)).save(photo, pnginfo=info)
    assert_same_faces(read_regions(photo), [FaceRegion("Grace Hopper", GRACE_STORED)])


def test_sidecar_wins_over_embedded_regions(tmp_path):
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (360, 240)).save(photo, xmp=EXIFTOOL_STYLE_PACKET.encode("utf-8"))
    write_regions(photo, FACES[:1], 360, 240)
    assert_same_faces(read_regions(photo), FACES[:1])


def test_sidecar_without_regions_falls_back_to_embedded(tmp_path):
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (360, 240)).save(photo, xmp=EXIFTOOL_STYLE_PACKET.encode("utf-8"))
    no_regions = (
        DARKTABLE_SIDECAR.split("<mwg-rs:Regions")[0]
        + DARKTABLE_SIDECAR.split("</mwg-rs:Regions>")[1]
    )
    sidecar_path(photo).write_text(no_regions, encoding="utf-8")
    assert [r.name for r in read_regions(photo)] == ["Grace Hopper"]


@needs_exiftool
def test_reads_regions_exiftool_wrote_into_a_rotated_photo(tmp_path):
    """digiKam and others write through exiftool/exiv2: stored-image areas, orientation 6."""
    photo = make_photo(tmp_path / "p.jpg", 6, upright_size=(240, 360))
    region = (
        "{AppliedToDimensions={W=360,H=240,Unit=pixel},RegionList=[{Name=Ada,Type=Face,"
        "Area={X=0.25,Y=0.125,W=0.5,H=0.25,Unit=normalized}}]}"
    )
    subprocess.run(
        [EXIFTOOL, "-q", "-overwrite_original", f"-XMP-mwg-rs:RegionInfo={region}", str(photo)],
        check=True,
        timeout=60,
    )
    assert_same_faces(read_regions(photo), [FaceRegion("Ada", Box(0.75, 0.0, 1.0, 0.5))])


def test_reads_windows_photo_gallery_regions(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    sidecar_path(photo).write_text(
        """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
        xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description
        xmlns:MP="http://ns.microsoft.com/photo/1.2/"
        xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
        xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#">
        <MP:RegionInfo rdf:parseType="Resource"><MPRI:Regions><rdf:Bag>
        <rdf:li MPReg:Rectangle="0.1, 0.2, 0.3, 0.4" MPReg:PersonDisplayName="Bill"/>
        </rdf:Bag></MPRI:Regions></MP:RegionInfo></rdf:Description></rdf:RDF></x:xmpmeta>""",
        encoding="utf-8",
    )
    assert_same_faces(read_regions(photo), [FaceRegion("Bill", Box(0.1, 0.2, 0.4, 0.6))])


def test_regions_measured_on_the_displayed_image_are_not_rotated_twice(tmp_path):
    """Old writers stored upright coordinates; their AppliedToDimensions gives them away."""
    photo = make_photo(tmp_path / "p.jpg", 6, upright_size=(240, 360))
    upright_packet = EXIFTOOL_STYLE_PACKET.replace(
        "<stDim:h>240</stDim:h>", "<stDim:h>360</stDim:h>"
    )
    upright_packet = upright_packet.replace("<stDim:w>360</stDim:w>", "<stDim:w>240</stDim:w>")
    sidecar_path(photo).write_text(upright_packet, encoding="utf-8")
    assert_same_faces(read_regions(photo), [FaceRegion("Grace Hopper", GRACE_STORED)])


# --- broken input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF",  # cut off mid-write
        "not xml at all",
        "<html><body>a web page saved under the wrong name</body></html>",
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'>&lol2;</x:xmpmeta>",
    ],
)
def test_malformed_sidecar_gives_no_regions_and_a_warning(tmp_path, caplog, content):
    photo = make_photo(tmp_path / "p.jpg")
    sidecar_path(photo).write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert read_regions(photo) == []
    assert any(sidecar_path(photo).name in r.getMessage() for r in caplog.records)


def test_malformed_sidecar_is_not_overwritten(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    sidecar_path(photo).write_text("<x:xmpmeta>half a file", encoding="utf-8")
    with pytest.raises(XmpError):
        write_regions(photo, FACES, 360, 240)
    assert sidecar_path(photo).read_text(encoding="utf-8") == "<x:xmpmeta>half a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jpg", "p.jpg.xmp"]


def test_missing_or_unreadable_photo_gives_no_regions(tmp_path):
    assert read_regions(tmp_path / "gone.jpg") == []
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe1garbage")
    assert read_regions(broken) == []


def test_utf16_sidecar_is_read(tmp_path):
    photo = make_photo(tmp_path / "p.jpg")
    write_regions(photo, FACES, 360, 240)
    text = sidecar_path(photo).read_text(encoding="utf-8")
    sidecar_path(photo).write_bytes(text.encode("utf-16"))
    assert_same_faces(read_regions(photo), FACES)


def test_heic_regions_refer_to_the_image_before_its_rotation(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    photo = tmp_path / "iphone.heic"
    exif = Image.Exif()
    exif[0x0112] = 6
    packet = EXIFTOOL_STYLE_PACKET.replace("<stDim:h>240</stDim:h>", "<stDim:h>360</stDim:h>")
    packet = packet.replace("<stDim:w>360</stDim:w>", "<stDim:w>240</stDim:w>")
    # pillow-heif decodes this upright (360 x 240) and reports EXIF orientation 1.
    Image.new("RGB", (360, 240)).save(photo, exif=exif, xmp=packet.encode("utf-8"))
    with Image.open(photo) as im:
        assert im.size == (360, 240)

    assert mwg_orientation(photo) == 6
    assert_same_faces(read_regions(photo), [FaceRegion("Grace Hopper", Box(0.75, 0.0, 1.0, 0.5))])
    sidecar = write_regions(photo, FACES, 360, 240, mwg_orientation(photo))
    assert stored_areas(sidecar)[0] == (240, 360)
    assert_same_faces(read_regions(photo), FACES)


# --- a real photo that carries someone else's regions -----------------------------------


@pytest.fixture
def tagged_real_photo(labels, tmp_path) -> Path:
    """people/paul_allen/allen_3.jpg arrives with an MWG face region (no stArea:unit)."""
    source = next(p.path for p in labels if p.path.parts[-2:] == ("paul_allen", "allen_3.jpg"))
    photo = tmp_path / source.name
    shutil.copy2(source, photo)
    return photo


def test_offers_the_name_embedded_in_a_real_photo(tagged_real_photo):
    [region] = read_regions(tagged_real_photo)
    assert region.name == "Paul Allen"
    assert 0.0 <= region.box.left < region.box.right <= 1.0
    assert 0.0 <= region.box.top < region.box.bottom <= 1.0


@pytest.mark.slow
def test_real_embedded_region_covers_the_face_dlib_finds(tagged_real_photo):
    """stArea x/y are the CENTRE: read as a corner, the box would miss the face."""
    dlib = pytest.importorskip("dlib")
    with Image.open(tagged_real_photo) as im:
        upright = ImageOps.exif_transpose(im).convert("RGB")
    upright.thumbnail((800, 800))
    [rect] = dlib.get_frontal_face_detector()(np.asarray(upright), 1)
    w, h = upright.size
    found = Box(rect.left() / w, rect.top() / h, rect.right() / w, rect.bottom() / h)
    [region] = read_regions(tagged_real_photo)
    box = region.box
    inter = max(0.0, min(box.right, found.right) - max(box.left, found.left)) * max(
        0.0, min(box.bottom, found.bottom) - max(box.top, found.top)
    )
    assert inter / (box.area + found.area - inter) > 0.3


# --- a sidecar is written only as a regular file in the photo's folder -------------------

REPO = Path(__file__).resolve().parents[1]
# Our temp files: hidden, named after the sidecar, the app and the process writing them.
OUR_TEMP = re.compile(r"\.p\.jpg\.xmp\.facealbum-\d+-[0-9a-f]{8}\.tmp")


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    """A sidecar of another photo, in another folder: what a planted link points to."""
    other = tmp_path / "elsewhere" / "other.jpg.xmp"
    other.parent.mkdir()
    other.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    return other


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(folder / "p.jpg")
    return folder


def test_symlinked_sidecar_is_refused_and_the_file_it_points_to_left_alone(
    photo_folder, outside_file
):
    photo = photo_folder / "p.jpg"
    sidecar_path(photo).symlink_to(outside_file)
    with pytest.raises(
        xmp.UnsafeSidecarError, match=r"^sidecar p\.jpg\.xmp is a symbolic link; not written$"
    ):
        write_regions(photo, FACES, 360, 240)
    assert outside_file.read_text(encoding="utf-8") == DARKTABLE_SIDECAR
    assert sidecar_path(photo).readlink() == outside_file
    assert sorted(p.name for p in photo_folder.iterdir()) == ["p.jpg", "p.jpg.xmp"]


def test_dangling_symlinked_sidecar_creates_nothing_where_it_points(photo_folder, tmp_path):
    photo = photo_folder / "p.jpg"
    planted = tmp_path / "elsewhere" / "new.xmp"
    sidecar_path(photo).symlink_to(planted)
    with pytest.raises(xmp.UnsafeSidecarError, match="is a symbolic link; not written"):
        write_regions(photo, FACES, 360, 240)
    assert not planted.parent.exists()


def test_sidecar_that_is_a_folder_is_refused(photo_folder):
    photo = photo_folder / "p.jpg"
    sidecar_path(photo).mkdir()
    with pytest.raises(xmp.UnsafeSidecarError, match="p.jpg.xmp is a folder; not written"):
        write_regions(photo, FACES, 360, 240)
    assert sidecar_path(photo).is_dir()


@contextmanager
def fifo_with_a_waiting_writer(path: Path):
    """A FIFO whose writer waits for a reader, writes nothing and leaves: whoever opens it
    for reading is never stuck, and the writer is released at the end either way."""
    os.mkfifo(path)

    def write_nothing() -> None:
        with open(path, "wb"):
            pass

    writer = threading.Thread(target=write_nothing, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # open until the writer is done
        writer.join()
        os.close(reader)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX feature")
def test_sidecar_that_is_a_fifo_is_refused_and_never_opened(photo_folder):
    photo = photo_folder / "p.jpg"
    with fifo_with_a_waiting_writer(sidecar_path(photo)):
        with pytest.raises(xmp.UnsafeSidecarError, match="is not a regular file; not written"):
            write_regions(photo, FACES, 360, 240)


def test_a_link_planted_during_the_write_is_replaced_not_followed(
    photo_folder, outside_file, monkeypatch
):
    photo = photo_folder / "p.jpg"
    serialize = xmp.serialize_packet

    def plant_a_link_then_serialize(packet):  # after every check, before the rename
        sidecar_path(photo).symlink_to(outside_file)
        return serialize(packet)

    monkeypatch.setattr(xmp, "serialize_packet", plant_a_link_then_serialize)
    write_regions(photo, FACES, 360, 240)
    assert outside_file.read_text(encoding="utf-8") == DARKTABLE_SIDECAR
    assert not sidecar_path(photo).is_symlink()
    assert_same_faces(read_regions(photo), FACES)


def test_names_are_read_through_a_symlinked_sidecar(photo_folder, tmp_path):
    # Reading is harmless: the names are only offered, and the user confirms them.
    shared = tmp_path / "shared.xmp"
    write_regions(make_photo(tmp_path / "shared.jpg"), FACES, 360, 240).rename(shared)
    photo = photo_folder / "p.jpg"
    sidecar_path(photo).symlink_to(shared)
    assert_same_faces(read_regions(photo), FACES)


def test_a_sidecar_larger_than_any_packet_is_not_read(photo_folder, caplog):
    photo = photo_folder / "p.jpg"
    sidecar = sidecar_path(photo)
    sidecar.write_bytes(b"<x:xmpmeta")
    os.truncate(sidecar, 3 * 1024**3)  # sparse: costs no disk, and would cost 3 GB read
    with caplog.at_level(logging.WARNING):
        assert read_regions(photo) == []
    assert any("larger than any XMP packet" in r.getMessage() for r in caplog.records)


# --- temp files ---------------------------------------------------------------------------


def test_temp_file_is_hidden_and_named_as_ours(photo_folder, monkeypatch):
    renamed = []
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: renamed.append(src) or replace(src, dst))
    write_regions(photo_folder / "p.jpg", FACES, 360, 240)
    (tmp,) = renamed
    assert OUR_TEMP.fullmatch(Path(tmp).name)
    assert f"facealbum-{os.getpid()}-" in Path(tmp).name


def test_a_failed_write_leaves_no_temp_file_and_the_old_sidecar(photo_folder, monkeypatch):
    photo = photo_folder / "p.jpg"
    sidecar_path(photo).write_text(DARKTABLE_SIDECAR, encoding="utf-8")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_regions(photo, FACES, 360, 240)
    assert sorted(p.name for p in photo_folder.iterdir()) == ["p.jpg", "p.jpg.xmp"]
    assert sidecar_path(photo).read_text(encoding="utf-8") == DARKTABLE_SIDECAR


KILLED_BEFORE_RENAME = """
import os, sys
from pathlib import Path
from facealbum.interop import xmp
from facealbum.model import Box

def wait_to_be_killed(src, dst):
    print(src, flush=True)
    sys.stdin.read()

os.replace = wait_to_be_killed
xmp.write_regions(Path(sys.argv[1]), [xmp.FaceRegion("Ann", Box(0.1, 0.1, 0.5, 0.5))], 360, 240)
"""


def kill_export_before_its_rename(photo: Path) -> Path:
    """Write photo's sidecar in a child process killed between its temp file and the rename;
    returns the temp file it left."""
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BEFORE_RENAME, str(photo)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        left = Path(child.stdout.readline().strip())
    finally:
        child.kill()
        child.communicate()
    return left


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_the_temp_file_of_a_killed_export_is_removed_once_stale(photo_folder):
    photo = photo_folder / "p.jpg"
    left = kill_export_before_its_rename(photo)
    assert left.parent == photo_folder and OUR_TEMP.fullmatch(left.name)
    assert sorted(p.name for p in photo_folder.iterdir()) == sorted([left.name, "p.jpg"])

    # Fresh, it may belong to an export still running (on this or another computer).
    assert xmp.remove_stale_temp_files(photo_folder) == 0 and left.exists()
    age(left, xmp.STALE_TEMP_SECONDS + 60)
    assert xmp.remove_stale_temp_files(photo_folder) == 1
    assert sorted(p.name for p in photo_folder.iterdir()) == ["p.jpg"]


def test_only_our_temp_files_are_removed(photo_folder, tmp_path):
    theirs = [
        ".p.jpg.xmp.tmp",  # darktable's, say
        ".p.jpg.xmp.1a2b3c4d.tmp",
        "p.jpg.xmp.facealbum-12-1a2b3c4d.tmp",  # not hidden: not a name we make
        ".p.jpg.xmp.facealbum-12-1a2b3c4d.tmp.bak",
    ]
    for name in theirs:
        (photo_folder / name).write_text("someone else's")
    (tmp_path / "target").write_text("the target of a link")
    linked = photo_folder / ".p.jpg.xmp.facealbum-12-00000000.tmp"
    linked.symlink_to(tmp_path / "target")
    ours = photo_folder / ".p.jpg.xmp.facealbum-12-1a2b3c4d.tmp"
    ours.write_text("half a sidecar")
    for path in photo_folder.iterdir():
        age(path, xmp.STALE_TEMP_SECONDS + 60)

    assert xmp.remove_stale_temp_files(photo_folder) == 1
    assert not ours.exists()
    assert sorted(p.name for p in photo_folder.iterdir()) == sorted([*theirs, linked.name, "p.jpg"])
    assert (tmp_path / "target").read_text() == "the target of a link"
