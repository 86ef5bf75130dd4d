#!/usr/bin/env bash
# make-deb.sh BINARY OUTDIR: builds the Debian package of profiled from a release BINARY into
# OUTDIR/profiled_<version>_<arch>.deb and prints its path. The package holds the binary, a
# systemd unit, the config template its postinst fills with fresh keys into
# /etc/profiled/profiled.toml, and the maintainer scripts (packaging/deb/). Its Depends are the
# shared libraries the binary links, as dpkg-shlibdeps finds them. No root needed.
set -euo pipefail

bin="$1"
out="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$here/packaging/deb"
arch="$(dpkg --print-architecture)"
count="$(git -C "$here" rev-list --count HEAD 2>/dev/null || echo 0)"
version="0.1.0+git${count}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/share/profiled" \
  "$root/usr/share/doc/profiled"
install -m 0755 "$bin" "$root/usr/bin/profiled"
strip --strip-unneeded "$root/usr/bin/profiled"
install -m 0644 "$pkg/profiled.service" "$root/lib/systemd/system/profiled.service"
install -m 0644 "$pkg/profiled.toml.in" "$root/usr/share/profiled/profiled.toml.in"
install -m 0644 "$here/README.md" "$root/usr/share/doc/profiled/README.md"
for script in postinst prerm postrm; do
  install -m 0755 "$pkg/$script" "$root/DEBIAN/$script"
done

# dpkg-shlibdeps reads a source package's debian/control; a minimal one in a scratch dir.
mkdir -p "$work/src/debian"
printf 'Source: profiled\n\nPackage: profiled\nArchitecture: any\n' >"$work/src/debian/control"
depends="$(cd "$work/src" && dpkg-shlibdeps -O -e"$root/usr/bin/profiled" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')"
if [ -z "$depends" ]; then
  echo "make-deb: dpkg-shlibdeps found no dependencies of $bin" >&2
  exit 1
fi
size_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: profiled
Version: $version
Architecture: $arch
Maintainer: profiled developers <profiled@localhost>
Installed-Size: $size_kb
Depends: $depends, passwd
Section: net
Priority: optional
Description: self-hosted, Amplitude-compatible User Profile API
 profiled takes events from the official Amplitude SDKs unchanged (/2/httpapi,
 /batch, /identify) and serves GET /v1/userprofile with user properties,
 computed properties, cohorts and recommendations, exact at the moment of the
 read. One binary with an embedded store (RocksDB); a systemd unit runs it as
 the profiled user with its data in /var/lib/profiled.
CONTROL

mkdir -p "$out"
deb="$out/profiled_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
