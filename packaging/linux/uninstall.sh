#!/bin/sh
# Remove what install.sh put in your home folder. Your photos and your facealbum
# libraries are not touched.
set -eu

data=${XDG_DATA_HOME:-$HOME/.local/share}
app=$HOME/.local/opt/facealbum
bin=$HOME/.local/bin

if [ -L "$bin/facealbum" ] && [ "$(readlink "$bin/facealbum")" = "$app/facealbum" ]; then
    rm -f "$bin/facealbum"
fi
rm -f "$data/applications/facealbum.desktop"
rm -f "$data"/icons/hicolor/*/apps/facealbum.png "$data"/icons/hicolor/*/apps/facealbum.svg
rm -rf "$app"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "facealbum is uninstalled (your libraries are still where they were)"
