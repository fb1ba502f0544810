import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTable } from '../../../agent/render/render-table.ts';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import type { ResourceResult } from '../../../common/result-schema.ts';
import { resultDocument } from '../functions/fixtures.ts';

describe('renderTable', () => {
  it('shows an unmeasured resource as UNMEASURED with its reason, and an HTTP resource with both of its times', () => {
    // Prepare
    const doc = resultDocument();
    const base = doc.resources[0] as ResourceResult;
    const message = 'could not resolve "db.corp.internal": EAI_AGAIN';
    doc.resources = [
      {
        ...base,
        target: 'db.corp.internal',
        address: null,
        hops: null,
        ...unmeasuredJudgement({ code: 'E_RESOLVE', message }),
      },
      {
        ...base,
        target: 'https://wiki.corp.internal/',
        address: '10.0.0.8',
        method: 'http',
        latencyMs: 26,
        latencyBasis: 'tcp-connect',
        requestMs: 201.5,
      },
    ];
    doc.summary = { ...doc.summary, resources: 2, flagged: 1 };
    // Act
    const lines = renderTable(doc).split('\n');
    // Assess
    const unmeasured = lines.find((l) => l.startsWith('db.corp.internal'));
    assert.match(unmeasured ?? '', /^db\.corp\.internal +- +- +100\.0 % +UNMEASURED \(dns\) +-$/);
    assert.ok(
      lines.includes(
        'https://wiki.corp.internal/: latency is the TCP connect time of each request; the whole request took 201.5 ms',
      ),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => l.startsWith('1 of 2 resource(s) flagged')));
  });
});
