import { DEFAULTS, formatSwitch, LIMITS } from '../../common/settings.ts';
import { HISTORY_FILE } from '../history/history-store.ts';
import { DEFAULT_LIB_DIR, DEFAULT_UNIT_DIR, TIMER_PERIODS_MIN } from '../install/units.ts';
import { ROTATION_DEFAULTS } from './resolve-options.ts';

export function helpText(version: string): string {
  return `cc-monitor ${version}: CloudConnexa resource monitor agent

Usage:
  node agent.js check --resources <list> [options]     run one monitoring round
  node agent.js watch --every <minutes> --resources <list> [options]
                                                       repeat rounds (like the old cron job)
  node agent.js install --every <minutes> --config <file> [--no-enable] [--unit-dir <dir>] [--lib-dir <dir>]
                                                       a systemd timer runs check --config <file> (as root)
  node agent.js uninstall [--unit-dir <dir>] [--lib-dir <dir>]

Resources:
  --resources <list>          comma-separated IPv4/IPv6 addresses, host names or http(s):// URLs
                              (at most ${LIMITS.maxResources})
Measurement:
  --count <n>                 probes per resource (default ${DEFAULTS.count})
  --interval <seconds>        seconds between probes (default ${DEFAULTS.intervalSec}; below 1 needs root)
  --latency-threshold <ms>    flag latency above this (default ${DEFAULTS.latencyThresholdMs})
  --loss-threshold <percent>  flag loss above this (default ${DEFAULTS.lossThresholdPct})
  --jitter-threshold <ms>     flag mean jitter (mtr's Javg) above this; 0: off (default ${DEFAULTS.jitterThresholdMs})
  --hops <n>                  first hops checked for latency: the CloudConnexa side (default ${DEFAULTS.hops})
  --loss-rule <rule>          persistent: loss that persists to the last responding hop (default)
                              any-hop: loss at any of the first hops (the old script's rule)
  --tcp-port <port>           TCP port measured when a resource ignores ICMP (default ${DEFAULTS.tcpPort})
  --concurrency <n>           paths probed at once (default ${DEFAULTS.concurrency})
  --baseline-flag on|off      also flag latency far above the resource's own recent rounds
                              (default ${formatSwitch(DEFAULTS.baselineFlag)})
Gateway (the CloudConnexa server the tunnel uses):
  --gateway-ip <ip>           skip discovery
  --openvpn-management <ep>   OpenVPN 2.x management interface, host:port or a unix socket path
  --openvpn-log <file>        OpenVPN 2.x client log
                              (OpenVPN 3 sessions are found with openvpn3 sessions-list)
Files:
  --log-dir <dir>             where the report and MTR files go (default ${DEFAULTS.logDir})
  --max-report-bytes <n>      rotate the JSON report past this size (default ${ROTATION_DEFAULTS.maxReportBytes})
  --keep-reports <n>          rotated reports kept (default ${ROTATION_DEFAULTS.keepReports})
  --max-mtr-files <n>         MTR files kept (default ${ROTATION_DEFAULTS.maxMtrFiles})
                              (the round history, ${HISTORY_FILE}, rotates by itself)
Output and control:
  --json                      print exactly one JSON result document on stdout
  --config <file>             JSON object with any of the options above (flags win); numbers
                              as the flags take them, JSON number or string: 25, 0.5, not 1e2
  --every <minutes>           watch: minutes between round starts
  --rounds <n>                watch: stop after n rounds
  --help, --version
Service (install, uninstall):
  --every <minutes>           one of ${TIMER_PERIODS_MIN.join(', ')}
  --no-enable                 write the files only; do not enable and start the timer
  --unit-dir <dir>            systemd units (default ${DEFAULT_UNIT_DIR})
  --lib-dir <dir>             the agent copy the service runs (default ${DEFAULT_LIB_DIR})

Exit codes: 0 round completed (flagged or not), 2 invalid input, 3 environment problem
(mtr missing or not permitted, log dir not writable), 4 another round still running.
`;
}
