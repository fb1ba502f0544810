#!/usr/bin/env bash
# Installs what the project needs on a Debian/Ubuntu machine and skips what is
# already there, so `npm start` and `npm test` work on a fresh machine.
#   ensure-deps.sh run    mtr and the npm packages (a local monitoring round)
#   ensure-deps.sh test   also the lab tools (iproute2, iptables, OpenVPN, openssl, python3), script(1)
#                         and Node 12.22; in CI a test that skips for want of one fails the run
#   ensure-deps.sh bench  the test set plus GNU time (the footprint benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

declare -A tools=([mtr]=mtr-tiny)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  tools+=([ip]=iproute2 [iptables]=iptables [openvpn]=openvpn [openssl]=openssl [ping]=iputils-ping [pgrep]=procps [python3]=python3 [script]=bsdutils)
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

if [ ! -d node_modules/.bin ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ "$mode" != run ] && [ ! -x test/node12/node_modules/.bin/node ]; then
  npm ci --prefix test/node12 --no-audit --no-fund
fi
