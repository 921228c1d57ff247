"""Build the Linux app into dist/: the app folder, a .tar.gz of it, and a .deb.

    python tools/package.py              # all three
    python tools/package.py --folder-only

- dist/facealbum-VERSION-linux-ARCH/: the PyInstaller folder (build_installer.spec) with
  the menu entry and icons in share/, install.sh and uninstall.sh (for a user's home);
- dist/facealbum-VERSION-linux-ARCH.tar.gz: that folder;
- dist/facealbum_VERSION_DEBARCH.deb: the app in /opt/facealbum, `facealbum` on the PATH,
  the menu entry and icons in /usr/share (built with dpkg-deb).
Prints what each weighs, what was left out of the bundle, and how long it took. The
version is pyproject.toml's. On Windows and macOS, `pyinstaller build_installer.spec`
builds the app folder (and the .app) without the Linux packages.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "build_installer.spec"
DEB_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "i686": "i386"}
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# What the bundled Qt needs from the system and does not ship (its xcb platform plugin).
DEB_DEPENDS = (
    "libc6, libgl1, libegl1, libfontconfig1, libdbus-1-3, libxkbcommon-x11-0, "
    "libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0"
)


def version() -> str:
    """pyproject.toml's version: the one place it is declared."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if found is None:
        raise SystemExit("package.py: no version in pyproject.toml")
    return found.group(1)


def build_folder(dist: Path, work: Path) -> tuple[Path, list[str]]:
    """Run PyInstaller; returns the app folder and the files the spec left out."""
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work), str(SPEC)],
        cwd=REPO, check=True,
    )  # fmt: skip
    left_out = (work / "build_installer" / "left_out.txt").read_text().split()
    return dist / "facealbum", left_out


def add_desktop_files(app: Path, exec_line: str) -> None:
    """The menu entry and the icons, under app/share, as a desktop expects them."""
    share = app / "share"
    entry = (REPO / "resources" / "facealbum.desktop").read_text(encoding="utf-8")
    (share / "applications").mkdir(parents=True, exist_ok=True)
    (share / "applications" / "facealbum.desktop").write_text(
        re.sub(r"^Exec=.*$", f"Exec={exec_line}", entry, flags=re.MULTILINE), encoding="utf-8"
    )
    for size in ICON_SIZES:
        icons = share / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        icons.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "resources" / f"facealbum-{size}.png", icons / "facealbum.png")
    scalable = share / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "resources" / "facealbum.svg", scalable / "facealbum.svg")


def make_tarball(app: Path, name: str, dist: Path) -> Path:
    """The app folder with install.sh / uninstall.sh, as dist/NAME.tar.gz."""
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(REPO / "packaging" / "linux" / script, app / script)
    out = dist / f"{name}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(app, arcname=name)
    return out


def make_deb(app: Path, ver: str, dist: Path, work: Path) -> Path:
    """A .deb that installs the app to /opt/facealbum; built by dpkg-deb."""
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("package.py: dpkg-deb is missing (apt-get install dpkg)")
    arch = DEB_ARCH.get(platform.machine(), platform.machine())
    root = work / "deb"
    shutil.rmtree(root, ignore_errors=True)
    opt = root / "opt" / "facealbum"
    shutil.copytree(app, opt, symlinks=True, ignore=shutil.ignore_patterns("*.sh"))
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "facealbum").symlink_to("/opt/facealbum/facealbum")
    shutil.copytree(opt / "share", root / "usr" / "share")
    installed = _bytes(root) // 1024
    control = root / "DEBIAN" / "control"
    control.parent.mkdir()
    control.write_text(
        f"Package: facealbum\nVersion: {ver}\nArchitecture: {arch}\n"
        "Maintainer: the facealbum developers\n"
        f"Installed-Size: {installed}\nDepends: {DEB_DEPENDS}\nSection: graphics\n"
        "Priority: optional\n"
        "Description: find, name and search the people in your own photos\n"
        " facealbum finds every face in your photo folders, groups the faces of each\n"
        " person so you name them once, and finds every photo of them, on your own\n"
        " computer. Also a live look-alike camera and a command line.\n",
        encoding="utf-8",
    )
    out = dist / f"facealbum_{ver}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(out)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return out


def _bytes(path: Path) -> int:
    """What a file or folder weighs on disk (links inside the folder counted once)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def megabytes(path: Path) -> str:
    return f"{_bytes(path) / 1e6:.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder-only", action="store_true", help="no .tar.gz, no .deb")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=REPO / "build", help="build folder")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        print("package.py builds Linux packages; elsewhere run: pyinstaller build_installer.spec")
        return 2
    started = time.monotonic()
    ver = version()
    name = f"facealbum-{ver}-linux-{platform.machine()}"
    args.dist.mkdir(parents=True, exist_ok=True)
    built, left_out = build_folder(args.work / "pyinstaller", args.work)
    app = args.dist / name
    shutil.rmtree(app, ignore_errors=True)
    shutil.move(built, app)
    print(f"left out of the bundle: {len(left_out)} files the app never loads")
    print(f"{app.relative_to(REPO) if app.is_relative_to(REPO) else app}: {megabytes(app)}")
    if not args.folder_only:
        add_desktop_files(app, "facealbum")
        deb = make_deb(app, ver, args.dist, args.work)
        print(f"{deb.name}: {megabytes(deb)}")
        tarball = make_tarball(app, name, args.dist)
        print(f"{tarball.name}: {megabytes(tarball)}")
    print(f"built in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
