/** The `report` part of --help: only in the build that has the command (scripts/build-agent.mjs). */
export const REPORT_HELP = `
History report (not in the fleet build the SSM document embeds):
  node agent.js report --html <file> [--since <time>] [--resource <name>] [--log-dir <dir>]
  --html <file>               the page to write (replaced atomically; a link there is refused)
  --since <time>              rounds since an ISO 8601 time (2026-11-30T08:00Z) or a duration
                              back from now (30m, 24h, 7d, 2w); default: the whole history
  --resource <name>           one resource only, as --resources names it
  Exit codes: 0 page written (it says so when no round matches), 2 invalid input,
  3 log dir or output file problem.
`;
