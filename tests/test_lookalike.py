"""Look-alikes in any folder of portraits: collections, their titles, the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from library_builder import OBAMA, OTHERS, reduced_copy

from facealbum import config
from facealbum.album.collections import collection_dir, open_collection
from facealbum.cli.main import main
from facealbum.interop.titles import read_artwork, title_from_file_name
from facealbum.model import Artwork

SIDECAR = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">
<rdf:Description rdf:about="" photoshop:DateCreated="1889-09-01T00:00:00">
 <dc:title><rdf:Alt><rdf:li xml:lang="fr">Autoportrait</rdf:li>
  <rdf:li xml:lang="x-default">Self-Portrait</rdf:li></rdf:Alt></dc:title>
 <dc:creator><rdf:Seq><rdf:li>Vincent van Gogh</rdf:li></rdf:Seq></dc:creator>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


@pytest.fixture
def user_data(tmp_path, monkeypatch) -> Path:
    """Collections go to a user data folder of the test's own."""
    monkeypatch.setattr(config, "user_data_dir", lambda: tmp_path / "user-data")
    return tmp_path / "user-data"


def test_titles_come_from_collection_csv_then_xmp_then_the_file_name(tmp_path):
    for name in ("hals.jpg", "gogh.jpg", "portrait_of-a-lady.jpg"):
        (tmp_path / name).write_bytes(b"")  # no image metadata to read
    (tmp_path / "collection.csv").write_text(
        "file,title,artist,date,link\nhals.jpg,Portrait of a Young Man,Frans Hals,1650,"
        "https://example.org/hals\n",
        encoding="utf-8",
    )
    (tmp_path / "gogh.jpg.xmp").write_text(SIDECAR, encoding="utf-8")
    assert read_artwork(tmp_path / "hals.jpg") == Artwork(
        "Portrait of a Young Man", "Frans Hals", "1650", "https://example.org/hals"
    )
    gogh = read_artwork(tmp_path / "gogh.jpg")
    assert gogh == Artwork("Self-Portrait", "Vincent van Gogh", "1889-09-01", None)
    assert gogh.caption() == "Self-Portrait, Vincent van Gogh, 1889-09-01"
    assert read_artwork(tmp_path / "portrait_of-a-lady.jpg").title == "Portrait of a lady"
    assert title_from_file_name(Path("IMG_0001.JPG")) == "IMG 0001"


def test_a_folder_becomes_a_collection_once_and_is_brought_up_to_date(
    faces_dir, tmp_path, user_data
):
    portraits = tmp_path / "portraits"
    reduced_copy(faces_dir / OBAMA[0], portraits / "a.jpg")
    with open_collection(portraits) as album:
        assert album.directory == collection_dir(portraits)
        assert album.directory.is_relative_to(user_data)
        assert album.stats()["faces"] == 1
    reduced_copy(faces_dir / OTHERS[0], portraits / "b.jpg")
    with open_collection(portraits) as album:  # the same collection, one photo more
        assert album.stats()["faces"] == 2 and len(album.folders()) == 1
    assert len(list((user_data / "collections").iterdir())) == 1


def test_lookalike_on_a_folder_answers_nearest_first_with_titles(
    faces_dir, tmp_path, user_data, capsys
):
    portraits = tmp_path / "portraits"
    reduced_copy(faces_dir / OBAMA[1], portraits / "young_man.jpg")
    for rel in OTHERS[:3]:
        reduced_copy(faces_dir / rel, portraits / Path(rel).name)
    (portraits / "collection.csv").write_text(
        "file,title,artist,date\nyoung_man.jpg,Portrait of a Young Man,Frans Hals,1650\n",
        encoding="utf-8",
    )
    query = str(faces_dir / OBAMA[0])
    argv = ["--library", str(tmp_path / "lib"), "lookalike", query, "--in", str(portraits)]
    assert main([*argv, "--json", "--top", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3  # always the nearest, whoever they are
    assert [r["distance"] for r in rows] == sorted(r["distance"] for r in rows)
    best = rows[0]
    assert (best["title"], best["creator"], best["date"]) == (
        "Portrait of a Young Man",
        "Frans Hals",
        "1650",
    )
    assert {"photo", "face_id", "distance", "similarity", "box", "query_face"} <= set(best)
    assert 0.5 < best["similarity"] <= 1 and rows[-1]["similarity"] < best["similarity"]
    assert main(argv) == 0  # in words, the collection reused
    out = capsys.readouterr().out
    assert "alike  Portrait of a Young Man, Frans Hals, 1650" in out.splitlines()[1]


def test_titles_follow_collection_csv_and_only_the_recent_ones_are_kept(
    tmp_path, faces_dir, monkeypatch
):
    from facealbum.album import Album
    from facealbum.album import library as album_library

    portraits = tmp_path / "portraits"
    for i, source in enumerate((OBAMA[0], *OTHERS)):
        reduced_copy(faces_dir / source, portraits / f"p{i}.jpg", 320)
    csv = portraits / "collection.csv"
    csv.write_text("file,title\n" + "".join(f"p{i}.jpg,Portrait {i}\n" for i in range(4)))
    monkeypatch.setattr(album_library, "ARTWORKS_KEPT", 2)
    with Album.open(tmp_path / "library") as album:
        album.add_folder(portraits)
        album.scan()
        by_file = {
            Path(info.path).name: pid for pid, info in album.photos(album.photo_ids()).items()
        }
        ids = [by_file[f"p{i}.jpg"] for i in range(4)]
        assert [album.artwork(pid).title for pid in ids] == [f"Portrait {i}" for i in range(4)]
        assert len(album._artworks) == 2  # a long session keeps only the recent titles
        csv.write_text("file,title\np0.jpg,Renamed\n")
        os.utime(csv, (csv.stat().st_atime, csv.stat().st_mtime + 10))
        # An edited collection.csv is read again, for titles remembered or not.
        assert [album.artwork(pid).title for pid in (ids[0], ids[3])] == ["Renamed", "P3"]
