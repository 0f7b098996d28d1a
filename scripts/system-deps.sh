#!/usr/bin/env bash
# Installs, from Debian's packages, the system programs that parts of the test suite need, and
# only those that are missing: quiet and quick when everything is already there.
#
# Usage: scripts/system-deps.sh [browser] [services]     (no argument: both)
#   browser   Chromium at /usr/bin/chromium (Playwright drives it; no browser download) + fonts
#   services  PostgreSQL server binaries (/usr/lib/postgresql/*/bin) and redis-server
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

usage() {
    printf 'usage: %s [browser] [services]\n' "$(basename "$0")" >&2
    exit 2
}

package_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

postgres_server_present() {
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# Appends to the global `missing` the packages a group needs and does not have.
missing_for() {
    case "$1" in
        browser)
            [[ -x /usr/bin/chromium ]] || missing+=(chromium)
            # Without a sans-serif font pages render with boxes and screenshots are useless.
            package_installed fonts-liberation || missing+=(fonts-liberation)
            ;;
        services)
            postgres_server_present || missing+=(postgresql)
            command -v redis-server >/dev/null || missing+=(redis-server)
            ;;
        *) usage ;;
    esac
}

# Package maintainer scripts would start the distribution's own PostgreSQL and Redis services
# on their default ports. The project starts its own throwaway servers (scripts/services.sh), so
# for the length of the install a policy-rc.d forbids service starts, unless one exists already.
block_service_starts() {
    local policy=/usr/sbin/policy-rc.d
    [[ -e "$policy" ]] && return 0
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
}

apt_install() {
    if ! command -v apt-get >/dev/null; then
        die "missing: $*. This is not a Debian-based system; install the equivalents by hand."
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        die "missing Debian packages: $*. Install them as root:
    sudo apt-get update && sudo apt-get install -y $*"
    fi
    info "Installing Debian packages: $*"
    block_service_starts
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

main() {
    [[ $# -gt 0 ]] || set -- browser services
    missing=()
    local group
    for group in "$@"; do
        missing_for "$group"
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    apt_install "${missing[@]}"
    # Check the result rather than trusting the package names.
    missing=()
    for group in "$@"; do
        missing_for "$group"
    done
    [[ ${#missing[@]} -eq 0 ]] || die "still missing after install: ${missing[*]}"
}

main "$@"
