#!/bin/sh
# Install Latent Atelier for the current user, in the XDG locations:
#   the app folder          ${XDG_DATA_HOME:-~/.local/share}/latent-atelier/app
#   the command             ~/.local/bin/latent-atelier (a link to the executable)
#   the menu entry          ${XDG_DATA_HOME:-~/.local/share}/applications/latent-atelier.desktop
#   the icon, every size    ${XDG_DATA_HOME:-~/.local/share}/icons/hicolor/NxN/apps/latent-atelier.png
#   the bundle file type    ${XDG_DATA_HOME:-~/.local/share}/mime/packages/latent-atelier.xml
#                           (*.atelier.safetensors opens in the app)
# Your runs, settings and logs live elsewhere (${XDG_DATA_HOME:-~/.local/share}/LatentAtelier)
# and are never touched. Run it again to update; uninstall.sh removes it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir=$data_home/latent-atelier/app
bin_dir=$HOME/.local/bin

if [ ! -x "$here/LatentAtelier/LatentAtelier" ]; then
    echo "install.sh: no LatentAtelier/LatentAtelier next to this script; unpack the whole archive first" >&2
    exit 1
fi

echo "Installing Latent Atelier into $app_dir"
mkdir -p "$data_home/latent-atelier" "$bin_dir" "$data_home/applications"
# Copy beside the old version, then swap, so a failed copy leaves the old one working.
rm -rf "$app_dir.new"
cp -R "$here/LatentAtelier" "$app_dir.new"
rm -rf "$app_dir"
mv "$app_dir.new" "$app_dir"
ln -sf "$app_dir/LatentAtelier" "$bin_dir/latent-atelier"

for icon in "$here"/icons/latent-atelier-*.png; do
    size=$(basename "$icon" .png | sed 's/^latent-atelier-//')
    mkdir -p "$data_home/icons/hicolor/${size}x${size}/apps"
    cp "$icon" "$data_home/icons/hicolor/${size}x${size}/apps/latent-atelier.png"
done

# Exec with the full path: ~/.local/bin is not on every desktop session's PATH.
sed -e "s|^Exec=latent-atelier |Exec=\"$app_dir/LatentAtelier\" |" \
    -e "s|^TryExec=latent-atelier|TryExec=$app_dir/LatentAtelier|" \
    "$here/latent-atelier.desktop" > "$data_home/applications/latent-atelier.desktop"

mkdir -p "$data_home/mime/packages"
cp "$here/latent-atelier-mime.xml" "$data_home/mime/packages/latent-atelier.xml"

# Refresh the menu, file-type and icon caches where the tools exist; harmless otherwise.
command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$data_home/mime" || true
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data_home/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data_home/icons/hicolor" || true

echo "Done. Start it from your applications menu, or run: $bin_dir/latent-atelier"
case ":$PATH:" in *":$bin_dir:"*) ;; *) echo "($bin_dir is not on your PATH.)" ;; esac
