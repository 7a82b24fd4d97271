#!/usr/bin/env bash
# Installs corrsteer under a prefix: PREFIX/bin/corrsteer and the demo files in PREFIX/share/corrsteer/demo
# (where an installed binary looks for them). Usage: scripts/install.sh [PREFIX]   (default: ~/.local)
# Runs `swift build -c release` first (a no-op when the build is current).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-$HOME/.local}"
swift build -c release --product corrsteer
binary=".build/release/corrsteer"
demo="Sources/CorrSteer/Resources/demo"
install -d "$prefix/bin" "$prefix/share/corrsteer"
install -m 0755 "$binary" "$prefix/bin/corrsteer"
rm -rf "$prefix/share/corrsteer/demo"
cp -R "$demo" "$prefix/share/corrsteer/demo"
echo "installed $prefix/bin/corrsteer ($("$prefix/bin/corrsteer" --version)) and $prefix/share/corrsteer/demo"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: $prefix/bin is not on your PATH";; esac
