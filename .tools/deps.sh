#!/usr/bin/env bash
# Ensure the Debian 12 packages needed to build and test Carnet are installed.
#
# Usage: .tools/deps.sh [EXTRA_PACKAGE...]
#
# Runs on every `make`, so the common case (everything present) costs one
# dpkg-query call and prints nothing.  As root, missing packages are installed
# with apt-get; otherwise the install command is printed and the script fails.
set -euo pipefail

PACKAGES="build-essential pkg-config libevent-dev libpq-dev libsodium-dev check libsubunit-dev libjansson-dev libcurl4-openssl-dev postgresql-15 postgresql-client-15 wrk curl bc python3 python3-psycopg2 util-linux"
# The browser tests (tests/e2e): Debian's chromium driven from Node.js.
PACKAGES="$PACKAGES chromium nodejs"
# The fuzz harnesses (tests/fuzz): clang and its libFuzzer runtime (libclang_rt.fuzzer).
PACKAGES="$PACKAGES clang libclang-rt-14-dev"
# `make cluster` (.tools/cluster.sh): etcd, PostgreSQL under Patroni (its etcd client needs
# python3-etcd), HAProxy in front.
PACKAGES="$PACKAGES patroni python3-etcd etcd-server etcd-client haproxy"

# shellcheck disable=SC2206 # word splitting of the package list is intended
wanted=($PACKAGES "$@")
# Debian ships npm separately; some Node.js builds (e.g. NodeSource's) include it and conflict
# with Debian's npm package, so ask for it only when there is no npm command.
command -v npm >/dev/null 2>&1 || wanted+=(npm)

# Names of the wanted packages that dpkg reports as fully installed; one
# dpkg-query call for the whole list keeps the fast path fast.
installed_list() {
    dpkg-query -W -f='${Package} ${Status}\n' "${wanted[@]}" 2>/dev/null |
        awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }' || true
}

missing_list() {
    local have pkg
    have=" $(installed_list | tr '\n' ' ') "
    for pkg in "${wanted[@]}"; do
        case "$have" in
            *" $pkg "*) ;;
            *) printf '%s\n' "$pkg" ;;
        esac
    done
}

mapfile -t missing < <(missing_list)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages; install them with:" >&2
    echo "sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
apt-get update >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2

mapfile -t missing < <(missing_list)
if [ "${#missing[@]}" -ne 0 ]; then
    echo "deps.sh: still missing after install: ${missing[*]}" >&2
    exit 1
fi
