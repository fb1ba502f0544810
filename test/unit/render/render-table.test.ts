import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderTable } from '../../../agent/render/render-table.ts';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import { isPrintable } from '../../../common/printable.ts';
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

  /** Every line of `text` free of control characters (the line breaks between lines aside). */
  const assertPrintableLines = (text: string) => {
    for (const line of text.split('\n')) assert.ok(isPrintable(line), JSON.stringify(line));
  };

  it('escapes control characters in every text that came from the host or the user', () => {
    // Prepare: ESC sequences (clear screen, set title), a CR that would overwrite the line, a C1
    // CSI, a bidirectional override, from mtr (hop names), OpenVPN (gateway) and quoted in texts.
    const doc = resultDocument({}, true);
    const base = doc.resources[0] as ResourceResult;
    doc.resources = [
      {
        ...base,
        target: 'db\u202e.corp',
        address: '10.0.0.9\u009b2J',
        trouble: { hop: 2, host: 'r2\u001b]0;owned\u0007', kind: 'loss', side: 'resource' },
      },
      { ...base, target: 'https://wiki/\r', method: 'http', requestMs: 40 },
    ];
    doc.gateway = {
      ip: '203.0.113.5\u001b[2J',
      source: 'openvpn2-log',
      latencyMs: 1,
      lossPct: 0,
      hops: null,
      errors: [],
    };
    doc.files = [{ kind: 'report', path: '/home/ubuntu/\u001b[31mlogs/r.json' }];
    doc.warnings = ['openvpn3 session \u001b[8mhidden\u001b[0m: not connected'];

    // Act
    const text = renderTable(doc);

    // Assess
    assertPrintableLines(text);
    for (const escaped of [
      'db\\u202e.corp',
      '10.0.0.9\\x9b2J',
      'hop 2 r2\\x1b]0;owned\\x07',
      'https://wiki/\\x0d: latency is the TCP connect time',
      'Gateway 203.0.113.5\\x1b[2J',
      'wrote /home/ubuntu/\\x1b[31mlogs/r.json',
      'warning: openvpn3 session \\x1b[8mhidden\\x1b[0m',
    ]) {
      assert.ok(text.includes(escaped), `${escaped} in:\n${text}`);
    }
  });

  it('escapes the error of a round that did not run', () => {
    const doc = resultDocument({
      outcome: 'environment',
      error: { code: 'E_MTR_FAILED', message: 'mtr: \u001b[2Jbad\rok' },
    });
    const text = renderTable(doc);
    assertPrintableLines(text);
    assert.equal(text, 'Round not run (environment): mtr: \\x1b[2Jbad\\x0dok\n');
  });
});
