import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { formatMtrId } from '../../../agent/files/mtr-id.ts';

const FIXTURE = path.resolve(__dirname, '../../fixtures/files/print-mtr-id.ts');

function mtrIdIn(tz: string, epochMs: number): string {
  const result = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, String(epochMs)], {
    env: { ...process.env, TZ: tz },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

describe('formatMtrId', () => {
  it('formats YYYYMMDDHHMMSS with zero padding', () => {
    assert.equal(formatMtrId(new Date(2024, 0, 5, 3, 4, 5)), '20240105030405');
    assert.equal(formatMtrId(new Date(2031, 11, 31, 23, 59, 59)), '20311231235959');
  });

  it('uses the host local time zone, like `date +%Y%m%d%H%M%S`', () => {
    const at = Date.UTC(2024, 5, 30, 22, 15, 7);
    assert.equal(mtrIdIn('UTC', at), '20240630221507');
    assert.equal(mtrIdIn('Asia/Kolkata', at), '20240701034507');
    assert.equal(mtrIdIn('America/New_York', at), '20240630181507');
  });
});
