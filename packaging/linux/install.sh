#!/bin/sh
# Install facealbum for this user, from the folder this script is in:
# the app in ~/.local/opt/facealbum, `facealbum` in ~/.local/bin, the menu entry and icons
# in ~/.local/share. Run ./uninstall.sh to take it all away again (your libraries stay).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
app=$HOME/.local/opt/facealbum
bin=$HOME/.local/bin

if [ ! -x "$here/facealbum" ]; then
    echo "install.sh: run it from the unpacked facealbum folder" >&2
    exit 1
fi

mkdir -p "$HOME/.local/opt" "$bin" "$data/applications"
rm -rf "$app.new"
cp -R "$here" "$app.new"
rm -f "$app.new/install.sh"
rm -rf "$app"
mv "$app.new" "$app"
ln -sf "$app/facealbum" "$bin/facealbum"

# The menu entry starts the app by its full path: ~/.local/bin is not on every PATH.
sed "s|^Exec=.*|Exec=$app/facealbum|" "$app/share/applications/facealbum.desktop" \
    > "$data/applications/facealbum.desktop"
for icon in "$app"/share/icons/hicolor/*/apps/facealbum.*; do
    size=$(basename "$(dirname "$(dirname "$icon")")")
    mkdir -p "$data/icons/hicolor/$size/apps"
    cp "$icon" "$data/icons/hicolor/$size/apps/"
done
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q "$data/icons/hicolor" || true

echo "facealbum is installed: find it in your desktop's menu, or run $bin/facealbum"
case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "($bin is not on your PATH: add it to run \`facealbum\` by name)" ;;
esac
