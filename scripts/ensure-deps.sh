#!/usr/bin/env bash
# Installs what the project needs on a Debian/Ubuntu machine and skips what is
# already there, so `npm start` and `npm test` work on a fresh machine.
#   ensure-deps.sh run    mtr and the npm packages (a local monitoring round)
#   ensure-deps.sh test   also the lab tools (iproute2, iptables, OpenVPN, openssl, python3), script(1),
#                         systemd (systemd-analyze checks the units `install` writes; systemd-nspawn boots
#                         a container to run them), Debian's chromium (the history report's browser test;
#                         never a downloaded browser) and Node 12.22; in CI a test that skips for want of one fails the run
#   ensure-deps.sh bench  the test set plus GNU time (the footprint benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

declare -A tools=([mtr]=mtr-tiny)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  tools+=([ip]=iproute2 [iptables]=iptables [openvpn]=openvpn [openssl]=openssl [ping]=iputils-ping [pgrep]=procps [python3]=python3 [script]=bsdutils
    [systemd-analyze]=systemd [systemd-nspawn]=systemd-container [setpriv]=util-linux [unshare]=util-linux [chromium]=chromium)
fi
[ "$mode" = bench ] && tools+=([/usr/bin/time]=time)
missing=()
for tool in "${!tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${tools[$tool]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 3
  fi
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
fi

# Whether <dir>/node_modules holds what <dir>/package-lock.json names (npm's own record of the
# installed tree, node_modules/.package-lock.json, against the lock), by content: a fresh checkout
# or a git worktree gives the lock a new mtime without changing what it asks for.
installed() {
  [ -d "$1/node_modules/.bin" ] && [ -f "$1/node_modules/.package-lock.json" ] || return 1
  node -e '
    const fs = require("node:fs");
    const read = (file) => JSON.parse(fs.readFileSync(file, "utf8")).packages ?? {};
    const want = read(process.argv[1] + "/package-lock.json");
    const have = read(process.argv[1] + "/node_modules/.package-lock.json");
    const ok = Object.entries(want).every(([path, pkg]) =>
      path === "" || (have[path] === undefined ? pkg.optional === true : have[path].version === pkg.version));
    process.exit(ok ? 0 : 1);
  ' "$1" 2>/dev/null
}

# npm ci empties node_modules first, through a symbolic link too: a node_modules linked to
# another checkout's (git worktrees sharing one install) is never reinstalled from here.
ensure_npm() {
  installed "$1" && return 0
  if [ -L "$1/node_modules" ]; then
    echo "$1/node_modules links to $(readlink -f "$1/node_modules"), which does not match $1/package-lock.json;" \
      "install there (npm ci), or replace the link with a directory of this checkout's own" >&2
    exit 3
  fi
  npm ci --prefix "$1" --no-audit --no-fund
}

ensure_npm .
# An `if`, not `[ ] && ...`: as the last command, a false test would be the script's exit status.
if [ "$mode" != run ]; then ensure_npm test/node12; fi
