#!/bin/sh
# CloudConnexa Resource Monitor: the monitor host's bootstrap, run once by
# cloud-init as the instance's user data (stack/monitor-host.ts embeds this
# file at package time, its settings filled in below). It installs node and
# mtr for the fleet's SSM document, the AWS CLI, and OpenVPN 3 Linux with
# OpenVPN's connector setup tool from OpenVPN's package repository (as
# CloudConnexa documents for Linux connectors), reads the connector token from
# Parameter Store and hands it to the setup tool, which imports the profile
# `CloudConnexa` and enables openvpn3-session@CloudConnexa.service
# (openvpn-connector-setup, github.com/OpenVPN/openvpn-connector-setup,
# openvpn/connector/main.py).
#
# The token never leaves two places: the tool's standard input and one file in
# a private tmpfs (mode 0700) unmounted on exit. It is never an argument (argv
# is world-readable in /proc), never in the environment, never in a log: the
# tool's own output (a failed download prints a URL holding part of the
# token) is logged only with the token and its parts replaced by [redacted].
#
# Idempotent: a marker written after enrolment makes every later run (a
# re-run, `cloud-init clean`) leave the connector alone without reading the
# token; a profile already imported (a run killed after the setup tool) is
# adopted without the token, and the setup tool itself refuses an existing
# profile name before it downloads anything.
#
# Failures are visible three ways: on stdout/stderr (cloud-init copies them to
# the console output and /var/log/cloud-init-output.log; an SSM re-run shows
# them), in /var/log/cloudconnexa-monitor-bootstrap.log, and in the status
# file below, which the fleet's SSM document reports in every round as this
# host's failure record (code E_MONITOR_HOST_SETUP) until a run succeeds.
# Re-run as root: /usr/local/sbin/cloudconnexa-monitor-bootstrap
#
# POSIX sh (dash on Ubuntu). Only these variables come from outside:
# CCM_RETRY_SECONDS and CCM_CONNECT_WAIT_SECONDS (tests shorten the waits).
# @@SETTINGS@@
set -u
umask 022
PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"
LC_ALL=C
DEBIAN_FRONTEND=noninteractive
AWS_PAGER=''
export PATH LC_ALL DEBIAN_FRONTEND AWS_PAGER

CCM_STATE=/var/lib/cloudconnexa-monitor
CCM_MARKER=$CCM_STATE/connector-enrolled
CCM_STATUS=$CCM_STATE/monitor-host-bootstrap.status
CCM_LOG=/var/log/cloudconnexa-monitor-bootstrap.log
CCM_RUN=/run/cloudconnexa-monitor-bootstrap
CCM_SECRET=$CCM_RUN/secret
CCM_SELF=/usr/local/sbin/cloudconnexa-monitor-bootstrap
CCM_UNIT="openvpn3-session@$CCM_PROFILE_NAME.service"
CCM_RETRY=${CCM_RETRY_SECONDS:-10}
CCM_WAIT=${CCM_CONNECT_WAIT_SECONDS:-90}
CCM_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CCM_STEP=starting
CCM_OWN_RUN=false
CCM_MOUNTED=false

mkdir -p -m 700 "$CCM_STATE" && chmod 700 "$CCM_STATE"
(umask 077 && : >>"$CCM_LOG")

ccm_say() {
  printf 'cloudconnexa-monitor-bootstrap: %s\n' "$1"
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >>"$CCM_LOG"
}

# The record the SSM document prints for this host while it exists.
ccm_status() {
  printf 'CloudConnexa monitor host bootstrap (started %s) %s. Details: %s on the instance, and its console output; re-run as root: %s\n' \
    "$CCM_STARTED" "$1" "$CCM_LOG" "$CCM_SELF" >"$CCM_STATUS.tmp" && mv -f "$CCM_STATUS.tmp" "$CCM_STATUS"
}

ccm_step() {
  CCM_STEP=$1
  ccm_say "step: $1"
  ccm_status "has not finished: it is at step \"$1\" (still running, or interrupted by a reboot)"
}

ccm_cleanup() {
  if [ "$CCM_MOUNTED" = true ]; then umount "$CCM_SECRET" 2>/dev/null || rm -rf "$CCM_SECRET"; fi
  if [ "$CCM_OWN_RUN" = true ]; then rm -rf "$CCM_RUN"; fi
}

# $1: what failed and what to do about it. Exit status 1 marks the run failed.
ccm_fail() {
  ccm_status "FAILED at step \"$CCM_STEP\": $1"
  printf '\n*** CLOUDCONNEXA MONITOR HOST BOOTSTRAP FAILED at step "%s" ***\n%s\nLog: %s; re-run as root: %s\n\n' \
    "$CCM_STEP" "$1" "$CCM_LOG" "$CCM_SELF" | tee -a "$CCM_LOG" >&2
  exit 1
}

trap ccm_cleanup EXIT
trap 'ccm_fail "stopped by a signal"' HUP INT TERM

# $1 file holding the token (one line), $2 text to print with the token, its
# key part and its file reference (the last 40 characters, which the setup
# tool puts in the download URL) replaced. Reads the token from the file, never
# from an argument.
ccm_redact() {
  awk 'function cut(s, p,   i, out) {
      if (length(p) < 8) return s
      out = ""
      while ((i = index(s, p)) > 0) { out = out substr(s, 1, i - 1) "[redacted]"; s = substr(s, i + length(p)) }
      return out s
    }
    FNR == NR { if (FNR == 1) { t = $0; n = length(t); k = substr(t, 1, n - 40); f = substr(t, n - 39) } next }
    { print cut(cut(cut($0, t), k), f) }' "$1" "$2"
}

# Runs a command with its output in the log; the log's last lines go to the
# console when it fails.
ccm_logged() {
  "$@" >>"$CCM_LOG" 2>&1 && return 0
  ccm_rc=$?
  ccm_say "$1 exited $ccm_rc; its last output:"
  tail -n 15 "$CCM_LOG"
  return "$ccm_rc"
}

# apt waits for the dpkg lock, which unattended-upgrades often holds at first boot.
ccm_apt() {
  ccm_logged apt-get -o DPkg::Lock::Timeout=600 -q -y "$@"
}

# 0 when the profile is imported, 1 when not, another status when openvpn3 cannot say.
# `openvpn3 configs-list --json` prints {} or an object of profiles keyed by
# D-Bus path, each with its "name" (openvpn3-linux,
# src/ovpn3cli/commands/config/configs-list.cpp).
ccm_has_profile() {
  ccm_list=$(openvpn3 configs-list --json 2>>"$CCM_LOG") || return 2
  printf '%s' "$ccm_list" | node -e '
    var s = "";
    process.stdin.on("data", function (d) { s += d; }).on("end", function () {
      var j;
      try { j = JSON.parse(s === "" ? "{}" : s); } catch (e) { process.exit(2); }
      var found = Object.keys(j || {}).some(function (k) { return j[k] && j[k].name === process.argv[1]; });
      process.exit(found ? 0 : 1);
    });' "$CCM_PROFILE_NAME"
}

# True when `openvpn3 sessions-list` shows the profile's session connected.
ccm_connected() {
  openvpn3 sessions-list 2>>"$CCM_LOG" | awk -v want="$CCM_PROFILE_NAME" '
    /^-+$/ { if (name == want && up) ok = 1; name = ""; up = 0; next }
    /^ *Config name:/ { sub(/^ *Config name: */, ""); sub(/ *\(.*$/, ""); name = $0 }
    /Client connected/ { up = 1 }
    END { if (name == want && up) ok = 1; exit ok ? 0 : 1 }'
}

ccm_write_marker() {
  printf 'enrolled=%s\nprofile=%s\nhow=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$CCM_PROFILE_NAME" "$1" >"$CCM_MARKER.tmp" &&
    mv -f "$CCM_MARKER.tmp" "$CCM_MARKER" || ccm_fail "could not write the enrolment marker $CCM_MARKER"
}

# $1 what to call it (for messages), then the aws arguments. The AWS CLI's
# output goes to $CCM_OUT_FILE, its errors to $CCM_SECRET/aws.err. Retries
# briefly: a new instance role can be refused for a few seconds (IAM is
# eventually consistent).
ccm_aws() {
  ccm_what=$1
  shift
  ccm_try=1
  while :; do
    aws "$@" >"$CCM_OUT_FILE" 2>"$CCM_SECRET/aws.err" && return 0
    ccm_rc=$?
    ccm_err=$(head -c 600 "$CCM_SECRET/aws.err" | tr '\n' ' ')
    case "$ccm_err" in
      *ParameterNotFound*)
        ccm_fail "the parameter $CCM_TOKEN_PARAMETER does not exist in $CCM_REGION. Create it with the connector's token (README: Monitor host), e.g. aws ssm put-parameter --region $CCM_REGION --name $CCM_TOKEN_PARAMETER --type SecureString --value file:///dev/stdin, then re-run"
        ;;
    esac
    if [ "$ccm_try" -ge 3 ]; then
      case "$ccm_err" in
        *AccessDenied* | *KMS* | *kms*)
          ccm_fail "the instance may not $ccm_what $CCM_TOKEN_PARAMETER (aws exited $ccm_rc: $ccm_err). The stack lets its role read only that parameter and decrypt it only with the key named by connectorTokenKmsKeyArn (empty: aws/ssm); check both"
          ;;
      esac
      ccm_fail "could not $ccm_what $CCM_TOKEN_PARAMETER (aws exited $ccm_rc: $ccm_err)"
    fi
    ccm_say "aws ssm get-parameter failed (exit $ccm_rc), trying again in $CCM_RETRY s: $ccm_err"
    ccm_try=$((ccm_try + 1))
    sleep "$CCM_RETRY"
  done
}

# --- One run at a time: the directory is the lock; /run is emptied at boot. ---
if ! mkdir -m 700 "$CCM_RUN" 2>/dev/null; then
  printf 'cloudconnexa-monitor-bootstrap: another run holds %s; wait for it (or, if none is running, remove the directory) and run again\n' "$CCM_RUN" >&2
  exit 1
fi
CCM_OWN_RUN=true

# --- Already enrolled: leave the connector as it is, never read the token. ---
if [ -f "$CCM_MARKER" ]; then
  ccm_say "already enrolled ($(tr '\n' ' ' <"$CCM_MARKER")): the token is not read again"
  ccm_has_profile
  case $? in
    1)
      CCM_STEP='checking the enrolled connector'
      ccm_fail "$CCM_MARKER says this host was enrolled, but OpenVPN 3 has no profile named $CCM_PROFILE_NAME. A connector token works once: create a new one in the CloudConnexa portal, put it in $CCM_TOKEN_PARAMETER, remove $CCM_MARKER and re-run"
      ;;
    0) ;;
    *) ccm_say 'warning: openvpn3 could not list its profiles; the connector was left untouched' ;;
  esac
  rm -f "$CCM_STATUS"
  exit 0
fi

ccm_step 'starting'
if [ -f "$0" ] && ! [ "$0" -ef "$CCM_SELF" ]; then
  mkdir -p "${CCM_SELF%/*}" && cp "$0" "$CCM_SELF.tmp" && chmod 700 "$CCM_SELF.tmp" && mv -f "$CCM_SELF.tmp" "$CCM_SELF" ||
    ccm_say "warning: could not copy this script to $CCM_SELF"
fi

ccm_step 'installing node and mtr for the monitor (apt-get)'
ccm_apt update || ccm_fail 'apt-get update failed: the instance needs outbound internet access (a public IP or a NAT gateway) to reach the Ubuntu mirrors'
ccm_apt install --no-install-recommends nodejs mtr-tiny || ccm_fail 'installing nodejs and mtr-tiny failed (see the log)'
command -v node >/dev/null 2>&1 && command -v mtr >/dev/null 2>&1 ||
  ccm_fail "nodejs and mtr-tiny were installed but node or mtr is not in PATH ($PATH)"

ccm_step 'installing the AWS CLI (snap aws-cli)'
if ! command -v aws >/dev/null 2>&1; then
  # At first boot snapd may still be seeding, and refuses installs until it is done.
  ccm_logged snap wait system seed.loaded || ccm_say 'warning: snap wait system seed.loaded failed'
  ccm_logged snap install aws-cli --classic || ccm_fail 'snap install aws-cli --classic failed (see the log)'
fi
command -v aws >/dev/null 2>&1 || ccm_fail "the AWS CLI is not in PATH ($PATH) after snap install aws-cli"

# OpenVPN's repository, as OpenVPN documents it for Debian and Ubuntu: the
# signing key from packages.openvpn.net, the suite named after the release.
ccm_step 'installing OpenVPN 3 and the connector setup tool (OpenVPN package repository)'
CCM_CODENAME=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
case "$CCM_CODENAME" in
  '' | *[!a-z]*) ccm_fail "cannot tell the Ubuntu release from /etc/os-release (VERSION_CODENAME \"$CCM_CODENAME\")" ;;
esac
mkdir -p /etc/apt/keyrings || ccm_fail 'cannot create /etc/apt/keyrings'
ccm_logged curl -fsSL --retry 5 --max-time 120 -o /etc/apt/keyrings/openvpn.asc.tmp https://packages.openvpn.net/packages-repo.gpg ||
  ccm_fail 'downloading the OpenVPN repository key from https://packages.openvpn.net/packages-repo.gpg failed'
chmod 644 /etc/apt/keyrings/openvpn.asc.tmp && mv -f /etc/apt/keyrings/openvpn.asc.tmp /etc/apt/keyrings/openvpn.asc &&
  printf 'deb [signed-by=/etc/apt/keyrings/openvpn.asc] https://packages.openvpn.net/openvpn3/debian %s main\n' "$CCM_CODENAME" >/etc/apt/sources.list.d/openvpn3.list &&
  chmod 644 /etc/apt/sources.list.d/openvpn3.list || ccm_fail 'cannot write the OpenVPN apt source'
ccm_apt update || ccm_fail "apt-get update with OpenVPN's repository failed (is $CCM_CODENAME supported there?)"
ccm_apt install openvpn3 python3-openvpn-connector-setup || ccm_fail 'installing openvpn3 and python3-openvpn-connector-setup failed (see the log)'
command -v openvpn3 >/dev/null 2>&1 && command -v openvpn-connector-setup >/dev/null 2>&1 ||
  ccm_fail "openvpn3 or openvpn-connector-setup is not in PATH ($PATH) after installing them"

if [ "$CCM_ROUTES_TRAFFIC" = true ]; then
  # A Network connector forwards the VPC's traffic to and from CloudConnexa
  # (the stack turned the source/destination check off for it).
  ccm_step 'enabling IP forwarding (monitorHostRoutesTraffic=true)'
  printf 'net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n' >/etc/sysctl.d/60-cloudconnexa-connector.conf &&
    ccm_logged sysctl -p /etc/sysctl.d/60-cloudconnexa-connector.conf || ccm_fail 'enabling IP forwarding failed'
fi

ccm_step "checking for an OpenVPN 3 profile named $CCM_PROFILE_NAME"
ccm_has_profile
case $? in
  0)
    # A run that imported the profile and then died: the token was used.
    ccm_say "profile $CCM_PROFILE_NAME already imported: adopting it without reading the token"
    ccm_logged systemctl enable --now "$CCM_UNIT" || ccm_fail "systemctl enable --now $CCM_UNIT failed"
    ccm_write_marker existing-profile
    rm -f "$CCM_STATUS"
    ccm_say "done: connector profile $CCM_PROFILE_NAME adopted"
    exit 0
    ;;
  1) ;;
  *) ccm_say 'warning: openvpn3 could not list its profiles; the setup tool refuses an existing profile itself' ;;
esac

ccm_step "reading the connector token ($CCM_TOKEN_PARAMETER)"
mkdir -m 700 "$CCM_SECRET" && mount -t tmpfs -o size=1m,mode=0700,nosuid,nodev,noexec ccm-secret "$CCM_SECRET" ||
  ccm_fail "cannot mount a private tmpfs on $CCM_SECRET for the token"
CCM_MOUNTED=true
CCM_OUT_FILE=$CCM_SECRET/type
ccm_aws 'read the type of' ssm get-parameter --region "$CCM_REGION" --name "$CCM_TOKEN_PARAMETER" --query Parameter.Type --output text
CCM_TYPE=$(head -c 64 "$CCM_SECRET/type" | tr -d '\r\n')
[ "$CCM_TYPE" = SecureString ] ||
  ccm_fail "$CCM_TOKEN_PARAMETER is a $CCM_TYPE parameter, not a SecureString, so it was not used: recreate it with --type SecureString (and create a new token in the portal, since this one was stored readable)"
CCM_OUT_FILE=$CCM_SECRET/token
ccm_aws 'read and decrypt' ssm get-parameter --region "$CCM_REGION" --name "$CCM_TOKEN_PARAMETER" --with-decryption --query Parameter.Value --output text
# The setup tool reads one line: at least 41 characters, the key (base64) and
# a 40-character file reference (openvpn/connector/token.py). A value stored
# with a final newline is fine; anything else on further lines is not.
awk 'NR == 1 { t = $0 } NR > 1 && $0 != "" { bad = 1 }
  END { exit (!bad && length(t) > 40 && t ~ /^[A-Za-z0-9+\/=_-]+$/) ? 0 : 1 }' "$CCM_SECRET/token" ||
  ccm_fail "the value of $CCM_TOKEN_PARAMETER is not a connector token (one line of at least 41 characters: letters, digits and + / = _ -); the value is not shown"

ccm_step "running openvpn-connector-setup (profile $CCM_PROFILE_NAME)"
timeout 600 openvpn-connector-setup --name "$CCM_PROFILE_NAME" <"$CCM_SECRET/token" >"$CCM_SECRET/setup.out" 2>&1
CCM_RC=$?
ccm_redact "$CCM_SECRET/token" "$CCM_SECRET/setup.out" >"$CCM_SECRET/setup.redacted"
cat "$CCM_SECRET/setup.redacted" >>"$CCM_LOG"
if [ "$CCM_RC" -ne 0 ]; then
  CCM_WHY=$(grep -F '** ERROR **' "$CCM_SECRET/setup.redacted" | head -n 3 | tr '\n' ' ' | head -c 600)
  ccm_fail "openvpn-connector-setup exited $CCM_RC: ${CCM_WHY:-see the log}. If the token was used or has expired, create a new one in the CloudConnexa portal, put it in $CCM_TOKEN_PARAMETER and re-run"
fi
ccm_has_profile || ccm_fail "openvpn-connector-setup exited 0 but OpenVPN 3 lists no profile named $CCM_PROFILE_NAME"
ccm_write_marker token
umount "$CCM_SECRET" && CCM_MOUNTED=false

ccm_step "waiting for $CCM_UNIT to connect"
ccm_waited=0
until ccm_connected; do
  if [ "$ccm_waited" -ge "$CCM_WAIT" ]; then
    ccm_say "warning: the $CCM_PROFILE_NAME session is not connected after ${CCM_WAIT} s (journalctl -u $CCM_UNIT); the monitor's rounds will report its state"
    break
  fi
  sleep 5
  ccm_waited=$((ccm_waited + 5))
done
rm -f "$CCM_STATUS"
ccm_say "done: enrolled as a CloudConnexa connector (profile $CCM_PROFILE_NAME); the monitor's next round runs here"
exit 0
