/**
 * Clipping never leaves half a character: the one helper (common/clip-text.ts)
 * and every module that cuts text to a length with it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMtr } from '../../../agent/probes/run-mtr.ts';
import type { ProcessResult } from '../../../agent/process/types.ts';
import { clipText, headOf, lengthMark, tailOf } from '../../../common/clip-text.ts';
import { excerpt, InvalidInputError, ProcessError } from '../../../common/errors.ts';
import { renderMtrHopLines } from '../../../common/mtr-report-text.ts';
import { parseResultDocument, ResultDocumentError } from '../../../common/result-schema.ts';
import { oneLine } from '../../../functions/aws/aws-errors.ts';
import { isWellFormed } from '../../helpers/well-formed.ts';

const SMILE = '\u{1F600}';
/** `lead` ASCII characters, then pairs: a cut at any length lands mid-pair for one parity of `lead`. */
const mixed = (lead: number, pairs = 40) => `${'a'.repeat(lead)}${SMILE.repeat(pairs)}`;

describe('headOf, tailOf, clipText', () => {
  it('cut at any length without splitting a pair, one unit short when a pair would be split', () => {
    for (const lead of [0, 1, 2, 3]) {
      const text = mixed(lead);
      for (let max = 0; max <= text.length + 1; max++) {
        const head = headOf(text, max);
        const tail = tailOf(text, max);
        assert.ok(isWellFormed(head) && isWellFormed(tail), `lead ${lead}, max ${max}`);
        assert.ok(text.startsWith(head) && text.endsWith(tail));
        assert.ok(head.length <= max && head.length >= Math.min(text.length, max) - 1, `head at ${max}`);
        assert.ok(tail.length <= max && tail.length >= Math.min(text.length, max) - 1, `tail at ${max}`);
      }
    }
  });

  it('keep text that fits as it is, and a lone surrogate already in the text is no reason to cut more', () => {
    assert.equal(headOf('abc', 3), 'abc');
    assert.equal(tailOf('abc', 10), 'abc');
    assert.equal(headOf(`ab${SMILE}`, 3), 'ab');
    assert.equal(tailOf(`${SMILE}ab`, 3), 'ab');
    assert.equal(headOf('ab\ud800c', 3), 'ab\ud800');
  });

  it('clipText keeps the whole within max, mark included, with the original length when asked', () => {
    assert.equal(clipText('short', 10), 'short');
    assert.equal(clipText(mixed(1), 10), `a${SMILE.repeat(4)}…`);
    assert.equal(clipText(mixed(0), 10), `${SMILE.repeat(4)}…`);
    const clipped = clipText(mixed(1), 30, lengthMark);
    assert.equal(clipped, `a${SMILE.repeat(9)}…(81 chars)`);
    assert.ok(clipped.length <= 30);
  });
});

describe('every clip in agent/, common/ and functions/ keeps whole characters', () => {
  it('error excerpts and the value an InvalidInputError names', () => {
    for (const lead of [0, 1]) {
      assert.ok(isWellFormed(excerpt(mixed(lead), 51)));
      const error = new InvalidInputError('--resources', mixed(lead, 100), 'a host name');
      assert.ok(isWellFormed(error.message), error.message);
      const stderr = new ProcessError('E_MTR_FAILED', 'x', {
        command: ['mtr'],
        exitCode: 1,
        signal: null,
        stderr: mixed(lead, 400),
      }).toInfo().stderr;
      assert.ok(isWellFormed(stderr ?? ''), stderr);
    }
  });

  it('mtr output that is not a report, quoted in the error', async () => {
    for (const lead of [0, 1]) {
      const run = async (): Promise<ProcessResult> => ({
        command: ['mtr'],
        exitCode: 0,
        signal: null,
        stdout: mixed(lead, 60),
        stderr: '',
        durationMs: 1,
        timedOut: false,
        aborted: false,
        outputLeftOpen: false,
        spawnError: null,
      });
      await assert.rejects(
        runMtr({ address: '127.0.0.1', family: 4, count: 1, intervalSec: 1 }, run),
        (error: unknown) => {
          assert.ok(error instanceof ProcessError && error.code === 'E_MTR_OUTPUT', String(error));
          assert.ok(isWellFormed(error.message), error.message);
          return true;
        },
      );
    }
  });

  it('hop names cut at the MTR file column', () => {
    for (const lead of [0, 1]) {
      const [line] = renderMtrHopLines([
        {
          ttl: 1,
          host: mixed(lead),
          lossPct: 0,
          sent: 1,
          lastMs: 1,
          avgMs: 1,
          bestMs: 1,
          worstMs: 1,
          stdevMs: 0,
          jitterMs: null,
        },
      ]);
      assert.ok(isWellFormed(line ?? ''), line);
    }
  });

  it('what the collector keeps of a document it rejects, and AWS errors in one line', () => {
    for (const lead of [0, 1]) {
      assert.throws(
        () => parseResultDocument(`{${mixed(lead, 400)}`),
        (error: unknown) => {
          assert.ok(error instanceof ResultDocumentError);
          assert.ok(isWellFormed(error.excerpt) && isWellFormed(error.message), error.excerpt);
          return true;
        },
      );
      const aws = Object.assign(new Error(mixed(lead, 400)), { name: 'ThrottlingException' });
      assert.ok(isWellFormed(oneLine(aws)));
    }
  });
});
