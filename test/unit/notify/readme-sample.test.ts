/**
 * The README's sample notification is the notifier's own output for the
 * sample round (./sample-notification.ts): when the code changes what it
 * sends, this fails until the README shows the new text.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { NOTIFY_LIMITS } from '../../../functions/notify/limits.ts';
import { readmeBlock, sampleNotification } from './sample-notification.ts';

const README = join(resolve(__dirname, '..', '..', '..'), 'README.md');
const START = '<!-- notification-sample:start -->';
const END = '<!-- notification-sample:end -->';

describe('README sample notification', () => {
  it('is what the notifier sends for the sample round', async () => {
    const sample = await sampleNotification();
    assert.ok(Buffer.byteLength(sample.email) <= NOTIFY_LIMITS.emailMaxBytes);
    const text = readFileSync(README, 'utf8');
    const start = text.indexOf(START);
    const end = text.indexOf(END);
    assert.ok(start >= 0 && end > start, 'the README has the sample markers');
    const shown = text.slice(start + START.length, end).trim();
    assert.equal(
      shown,
      readmeBlock(sample),
      'README sample is out of date: paste the expected block between the markers',
    );
  });
});
