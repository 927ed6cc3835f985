#!/bin/sh
# Remove what install.sh put in place. Your runs, settings and logs
# (${XDG_DATA_HOME:-~/.local/share}/LatentAtelier) are kept: they are your work.
set -eu

data_home=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir=$data_home/latent-atelier/app
link=$HOME/.local/bin/latent-atelier

# Only remove the command if it is our link, never a file someone else put there.
if [ -L "$link" ] && [ "$(readlink "$link")" = "$app_dir/LatentAtelier" ]; then
    rm -f "$link"
fi
rm -rf "$app_dir"
rmdir "$data_home/latent-atelier" 2>/dev/null || true
rm -f "$data_home/applications/latent-atelier.desktop"
rm -f "$data_home/mime/packages/latent-atelier.xml"
for icon in "$data_home"/icons/hicolor/*/apps/latent-atelier.png; do
    [ -e "$icon" ] && rm -f "$icon"
done

command -v update-mime-database >/dev/null 2>&1 && [ -d "$data_home/mime" ] && update-mime-database "$data_home/mime" || true
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data_home/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data_home/icons/hicolor" || true

echo "Latent Atelier is uninstalled. Your runs and logs are still in $data_home/LatentAtelier"
