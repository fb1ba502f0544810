#!/bin/sh
# CloudConnexa Resource Monitor: the aws:runShellScript step of the SSM command
# document. ssm/document.ts embeds this file as the step's runCommand lines after
# replacing the @@...@@ tokens (comment lines are dropped to save document bytes).
#
# POSIX sh on purpose: the SSM Agent runs runShellScript through `sh`, which is
# dash on Debian and Ubuntu.
#
# Document parameters arrive ONLY as environment variables SSM_<Name>
# (interpolationType ENV_VAR); this text references no parameter placeholder,
# so no parameter value is ever part of the shell text.
#
# Exit status: whenever a result document was printed the script exits 0, and
# the document's `outcome` carries the verdict. SSM marks non-zero exits Failed
# and counts them against SendCommand MaxErrors: a fleet where some hosts lack
# mtr would otherwise stop the rollout to the remaining hosts, and the collector
# would have to tell "script broke" from "host reported a problem". A non-zero
# exit therefore means only that no result document could be printed.
set -eu

CCM_SHA256='@@AGENT_SHA256@@'
CCM_VERSION='@@AGENT_VERSION@@'
CCM_SCHEMA='@@RESULT_SCHEMA@@'
CCM_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CCM_MTR_ID=$(date +%Y%m%d%H%M%S)

ccm_log() {
  printf 'cloudconnexa-monitor: %s\n' "$1" >&2
}

# Escapes a value for a JSON string: backslash, quote, control characters.
ccm_json() {
  printf '%s' "$1" | tr '\000-\037' ' ' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

# Prints a result document for a round the agent could not run, then exits 0
# (see the exit status note above). $1 outcome, $2 error code, $3 message.
ccm_fail() {
  ccm_host=$(hostname 2>/dev/null || uname -n)
  ccm_now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  printf '{"schema":"%s","agentVersion":"%s","hostname":"%s","outcome":"%s","error":{"code":"%s","message":"%s"},"mtrId":"%s","startedAt":"%s","finishedAt":"%s","timings":{"totalMs":0,"probesMs":0,"gatewayDiscoveryMs":0},"settings":null,"summary":{"resources":0,"flagged":0,"latencyFlag":false,"lossFlag":false,"worstLatencyMs":null,"worstLossPct":null},"resources":[],"gateway":null,"seed":null,"files":[],"warnings":[],"truncated":null}\n' \
    "$CCM_SCHEMA" "$CCM_VERSION" "$(ccm_json "$ccm_host")" "$1" "$2" "$(ccm_json "$3")" \
    "$CCM_MTR_ID" "$CCM_STARTED" "$ccm_now"
  ccm_log "$3"
  exit 0
}

# Older SSM Agents (before 3.3.2746.0) ignore interpolationType ENV_VAR and set
# no SSM_* variables: refuse rather than run with made-up values.
ccm_missing=''
@@REQUIRED_ENV_CHECKS@@
if [ -n "$ccm_missing" ]; then
  ccm_fail environment E_SSM_AGENT_VERSION "document parameters did not arrive as environment variables (unset:$ccm_missing): SSM Agent 3.3.2746.0 or later is required (interpolationType ENV_VAR); update amazon-ssm-agent on this host"
fi

# SSM runs the script with a minimal PATH; mtr lives in /usr/sbin on RHEL-like
# hosts. CCM_SEARCH_PATH replaces the extra directories (tests hide tools with it).
PATH="${PATH:+$PATH:}${CCM_SEARCH_PATH-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
export PATH

# A monitor host whose bootstrap (stack/monitor-host-bootstrap.sh) has not
# finished or failed keeps a status file in this root-only directory: its
# rounds report that instead of measuring without a connector.
CCM_BOOTSTRAP_STATUS="${CCM_CACHE_DIR:-/var/lib/cloudconnexa-monitor}/monitor-host-bootstrap.status"
if [ -f "$CCM_BOOTSTRAP_STATUS" ]; then
  ccm_fail environment E_MONITOR_HOST_SETUP "$(head -c 1500 "$CCM_BOOTSTRAP_STATUS" 2>/dev/null || echo "$CCM_BOOTSTRAP_STATUS is unreadable")"
fi

ccm_node_version_ok() {
  ccm_v=$("$1" --version 2>/dev/null) || return 1
  ccm_v=${ccm_v#v}
  ccm_major=${ccm_v%%.*}
  ccm_rest=${ccm_v#*.}
  ccm_minor=${ccm_rest%%.*}
  case "$ccm_major.$ccm_minor" in
    *[!0-9.]* | .* | *.) return 1 ;;
  esac
  [ "$ccm_major" -gt 12 ] || { [ "$ccm_major" -eq 12 ] && [ "$ccm_minor" -ge 22 ]; }
}

# Sets CCM_NODE to the first node >= 12.22; remembers an older one for the message.
ccm_find_node() {
  CCM_NODE=''
  for ccm_name in node nodejs; do
    ccm_path=$(command -v "$ccm_name" 2>/dev/null) || continue
    if ccm_node_version_ok "$ccm_path"; then
      CCM_NODE=$ccm_path
      return 0
    fi
    CCM_OLD_NODE="$ccm_path $("$ccm_path" --version 2>/dev/null || echo '(version unknown)')"
  done
  return 1
}

# $1 Debian package, $2 RPM package. Package manager output goes to stderr so
# stdout holds only the result document.
ccm_install() {
  if command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >&2 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >&2; }
  elif command -v dnf >/dev/null 2>&1; then
    dnf install -y -q "$2" >&2
  elif command -v yum >/dev/null 2>&1; then
    yum install -y -q "$2" >&2
  else
    ccm_log "no apt-get, dnf or yum on this host"
    return 1
  fi
}

CCM_ALLOW_INSTALL=${SSM_AllowInstall:-false}
CCM_OLD_NODE=''

if ! ccm_find_node; then
  if [ "$CCM_ALLOW_INSTALL" = true ]; then
    ccm_log 'node 12.22 or later not found: installing nodejs (AllowInstall=true)'
    ccm_install nodejs nodejs || ccm_log 'installing nodejs failed'
  fi
  if ! ccm_find_node; then
    if [ -n "$CCM_OLD_NODE" ]; then
      ccm_found="found only $CCM_OLD_NODE"
    else
      ccm_found='found no node or nodejs'
    fi
    ccm_fail environment E_NODE_MISSING "Node.js 12.22 or later is required to run the monitor agent; $ccm_found in PATH ($PATH). Install nodejs, or deploy with allowInstall=true to let the document install it (AllowInstall=$CCM_ALLOW_INSTALL)"
  fi
fi
ccm_log "running the agent with $CCM_NODE $("$CCM_NODE" --version 2>/dev/null || echo '(version unknown)')"

if ! command -v mtr >/dev/null 2>&1; then
  if [ "$CCM_ALLOW_INSTALL" = true ]; then
    ccm_log 'mtr not found: installing it (AllowInstall=true)'
    ccm_install mtr-tiny mtr || ccm_log 'installing mtr failed'
  fi
  if ! command -v mtr >/dev/null 2>&1; then
    ccm_fail environment E_MTR_MISSING "mtr is required to probe resources and was not found in PATH ($PATH). Install mtr (Debian/Ubuntu: mtr-tiny; RHEL/Amazon Linux: mtr), or deploy with allowInstall=true (AllowInstall=$CCM_ALLOW_INSTALL)"
  fi
fi

if ! command -v sha256sum >/dev/null 2>&1; then
  ccm_fail environment E_AGENT_INTEGRITY 'sha256sum (coreutils) was not found: the agent cannot be verified, so it is not run'
fi

ccm_sha256() {
  sha256sum "$1" | cut -d ' ' -f 1
}

# Decodes the base90 text on stdin (ssm/base90.ts: 21 digits per 17 bytes,
# big-endian; k digits carry floor(k*0.8115) bytes) and inflates the Brotli
# inside. A character outside the alphabet, a group length the encoder never
# writes (k-1 digits would carry as many bytes) or a group value above its
# bytes exits non-zero. ES5 with BigInt (Node.js 10.4+) and zlib's Brotli
# (11.7+) only, so every node the document accepts (12.22+) runs it.
CCM_UNPACK='var z=require("zlib"),c=[];process.stdin.on("data",function(d){c.push(d)}).on("end",function(){var a="@@BASE90_ALPHABET@@",s=Buffer.concat(c).toString("latin1"),n=s.length,e=Error("not base90"),o=[],i=0,j,k,m,v,d;while(i<n){k=Math.min(21,n-i);m=k*.8115|0;if(m==((k-1)*.8115|0))throw e;for(v=0n,j=i+k;i<j;i++){d=a.indexOf(s[i]);if(d<0)throw e;v=v*90n+BigInt(d)}v=v.toString(16);if(v.length>2*m)throw e;o.push(Buffer.from(v.padStart(2*m,"0"),"hex"))}process.stdout.write(z.brotliDecompressSync(Buffer.concat(o)))})'

# The agent is cached by hash so that each round does not decode it again; the
# cached file is verified every round, and written under a temporary name then
# renamed so a concurrent round never sees a partial file.
CCM_CACHE=${CCM_CACHE_DIR:-/var/lib/cloudconnexa-monitor}
CCM_AGENT="$CCM_CACHE/agent-$CCM_SHA256.js"
if [ -f "$CCM_AGENT" ] && [ "$(ccm_sha256 "$CCM_AGENT")" = "$CCM_SHA256" ]; then
  ccm_log "using cached agent $CCM_AGENT"
else
  mkdir -p "$CCM_CACHE" || ccm_fail environment E_AGENT_INTEGRITY "cannot create the agent cache directory $CCM_CACHE"
  chmod 700 "$CCM_CACHE" || ccm_fail environment E_AGENT_INTEGRITY "cannot restrict the agent cache directory $CCM_CACHE to its owner"
  CCM_TMP="$CCM_CACHE/.agent-$CCM_SHA256.$$.tmp"
  # Brotli + base90 (ssm/document.ts encodeAgent), decoded by the node that runs the agent.
  if ! printf '%s' '@@AGENT_PACKED_BASE90@@' | "$CCM_NODE" -e "$CCM_UNPACK" >"$CCM_TMP" 2>/dev/null; then
    rm -f "$CCM_TMP"
    ccm_fail internal-error E_AGENT_INTEGRITY "the agent embedded in the SSM document could not be decoded (base90/Brotli): the document is corrupt or was modified; refusing to run it"
  fi
  CCM_ACTUAL=$(ccm_sha256 "$CCM_TMP")
  if [ "$CCM_ACTUAL" != "$CCM_SHA256" ]; then
    rm -f "$CCM_TMP"
    ccm_fail internal-error E_AGENT_INTEGRITY "the agent embedded in the SSM document has SHA-256 $CCM_ACTUAL but the document declares $CCM_SHA256: the document is corrupt or was modified; refusing to run it"
  fi
  mv -f "$CCM_TMP" "$CCM_AGENT"
  ccm_log "agent $CCM_VERSION extracted to $CCM_AGENT"
  # Older agents are dead weight; a round still running one has it open already.
  for ccm_old in "$CCM_CACHE"/agent-*.js; do
    [ "$ccm_old" = "$CCM_AGENT" ] || rm -f "$ccm_old"
  done
  # So is a temporary file of a decode that was killed (a decode takes a second): an hour old, none is in flight.
  find "$CCM_CACHE" -maxdepth 1 -name '.agent-*.tmp' -type f -mmin +60 -exec rm -f {} + 2>/dev/null || :
fi

set -- "$CCM_AGENT" check --json
@@AGENT_ARGUMENTS@@

set +e
CCM_OUT=$("$CCM_NODE" "$@")
CCM_RC=$?
set -e

case "$CCM_OUT" in
  *"$CCM_SCHEMA"*)
    printf '%s\n' "$CCM_OUT"
    [ "$CCM_RC" -eq 0 ] || ccm_log "agent exited $CCM_RC; its result document says why (exit status 0 so the collector reads it)"
    exit 0
    ;;
esac
[ -z "$CCM_OUT" ] || printf '%s\n' "$CCM_OUT" >&2
ccm_fail internal-error E_PROCESS "the agent ($CCM_NODE $CCM_AGENT) exited $CCM_RC without printing a result document; see stderr"
