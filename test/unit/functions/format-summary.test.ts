/**
 * What `npm start` prints of a failed host: the record's texts come from the
 * host (stderr, agent messages), so control characters are shown escaped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSummary } from '../../../functions/local/format-summary.ts';
import type { LocalRoundReport } from '../../../functions/local/run-local-round.ts';

describe('formatSummary', () => {
  it('shows a failure record’s message and stderr with control characters escaped, one stderr line per line', () => {
    // Prepare
    const report = {
      roundId: 'r-1',
      config: { stage: 'local', metricGranularity: 'host' },
      counts: { dispatched: 1, checked: 0, flagged: 0, failed: 1, blind: 0, misconfigured: 0 },
      collect: { drain: { deadLetters: [] } },
      emf: [],
      hosts: [
        {
          instanceId: 'i-1',
          state: 'failed',
          result: null,
          records: [
            {
              record: 'failure',
              status: 'Failed',
              error: { code: 'E_RESULT_DOCUMENT', message: 'bad \u001b[2J document' },
              stderr: 'line 1 \u001b]0;title\u0007\nline 2\r',
            },
          ],
          streamPath: '/tmp/i-1.log',
        },
      ],
      files: {
        logGroupDir: '/tmp',
        logStreams: [],
        metrics: '/tmp/m',
        agentLogDir: '/tmp/a',
        ssmWorkDir: '/tmp/s',
      },
    } as unknown as LocalRoundReport;
    // Act
    const text = formatSummary(report, '/');
    // Assess
    assert.match(text, /^failure: Failed - E_RESULT_DOCUMENT bad \\x1b\[2J document$/m);
    assert.match(text, /^stderr: line 1 \\x1b\]0;title\\x07\nline 2$/m);
    assert.deepEqual(
      [...text].filter((c) => c !== '\n' && (c.codePointAt(0) ?? 0) < 0x20),
      [],
      'no raw control character',
    );
  });
});
