/**
 * The SSM document generator on its own: what it refuses at package time and
 * how the agent travels inside the document.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { brotliDecompressSync } from 'node:zlib';
import { InvalidInputError } from '../../common/errors.ts';
import { RESOURCES_MAX_CHARS, RESOURCES_MIN_CHARS } from '../../common/ssm-parameters.ts';
import {
  AGENT_BUNDLE_ENV,
  buildDocument,
  DOCUMENT_SIZE_LIMIT,
  documentResourcesMaxChars,
  documentScript,
  encodeAgent,
  resolveAgentPath,
  scriptLines,
  worstCaseSize,
} from '../../ssm/document.ts';

const scratch = mkdtempSync(join(tmpdir(), 'ccm-document-'));
const agent = join(scratch, 'agent.js');
writeFileSync(agent, "console.log('{}');\n");

describe('SSM document generator', () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('tells the user to run npm run build when the built agent is missing', () => {
    const missing = join(scratch, 'dist', 'agent.js');
    assert.throws(
      () => resolveAgentPath({}, missing),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.message.includes(missing) &&
        /npm run build/.test(error.message),
    );
  });

  it('prefers the bundle named by CCM_AGENT_BUNDLE and rejects one that does not exist', () => {
    assert.equal(resolveAgentPath({ [AGENT_BUNDLE_ENV]: agent }, join(scratch, 'nope.js')), agent);
    assert.throws(
      () => resolveAgentPath({ [AGENT_BUNDLE_ENV]: join(scratch, 'gone.js') }),
      new RegExp(`${AGENT_BUNDLE_ENV} must name an existing agent bundle`),
    );
  });

  it('carries the agent as Brotli + base64 whose decoded bytes match the declared SHA-256', () => {
    const bundle = Buffer.from("'use strict';\nconsole.log('agent');\n".repeat(200));
    const payload = encodeAgent(bundle);
    const decoded = brotliDecompressSync(Buffer.from(payload.packedBase64, 'base64'));
    assert.deepEqual(decoded, bundle);
    assert.equal(payload.sha256, createHash('sha256').update(bundle).digest('hex'));
    assert.match(payload.packedBase64, /^[A-Za-z0-9+/=]+$/, 'nothing the shell would interpret');
  });

  it('rejects a stage default that the parameter pattern would refuse at SendCommand', () => {
    assert.throws(
      () =>
        buildDocument({ agentPath: agent, executionTimeoutSeconds: 60, defaults: { Count: '25; reboot' } }),
      /default of document parameter Count "25; reboot" is not allowed/,
    );
  });

  it('gives the resource list the room the agent leaves, never letting document plus parameters pass 64 KB', () => {
    // Prepare: agents that compress badly, growing (random bytes in base64 text).
    const sizes = [0, 30_000, 36_000, 38_000].map((bytes) => {
      const path = join(scratch, `agent-${bytes}.js`);
      writeFileSync(path, `// ${randomBytes(bytes).toString('base64')}\nconsole.log('{}');\n`);
      // Act
      const document = buildDocument({ agentPath: path, executionTimeoutSeconds: 60 });
      return { room: documentResourcesMaxChars(document), size: worstCaseSize(document) };
    });
    // Assess
    assert.equal(sizes[0]?.room, RESOURCES_MAX_CHARS, 'a small agent leaves the whole 8 KiB');
    for (const { room, size } of sizes) {
      assert.ok(size <= DOCUMENT_SIZE_LIMIT, `${size} bytes`);
      assert.ok(room >= RESOURCES_MIN_CHARS && room <= RESOURCES_MAX_CHARS, `${room}`);
    }
    const rooms = sizes.map((s) => s.room);
    assert.deepEqual(
      [...rooms].sort((x, y) => y - x),
      rooms,
      `the room shrinks as the agent grows: ${rooms}`,
    );
    assert.ok((rooms[3] ?? 0) < RESOURCES_MAX_CHARS, 'the largest agent leaves less than 8 KiB');
    assert.ok(
      (sizes[3]?.size ?? 0) > DOCUMENT_SIZE_LIMIT - 64,
      'and the room is all of what is left, to a few bytes',
    );
  });

  it('refuses to build a document that leaves no room for a realistic resource list', () => {
    const big = join(scratch, 'big-agent.js');
    writeFileSync(big, `// ${randomBytes(40_000).toString('base64')}\n`);
    assert.throws(
      () => buildDocument({ agentPath: big, executionTimeoutSeconds: 60 }),
      new RegExp(
        `SSM document "\\d+ bytes with a ${RESOURCES_MIN_CHARS}-character list" is not allowed: at most 65536 bytes including run-time parameters, leaving room for at least ${RESOURCES_MIN_CHARS} characters of resources: the agent bundle \\(\\d+ bytes\\) has outgrown`,
      ),
    );
  });

  it('rejects an execution timeout SSM would not accept', () => {
    assert.throws(
      () => buildDocument({ agentPath: agent, executionTimeoutSeconds: 0 }),
      /executionTimeoutSeconds/,
    );
  });

  it('drops comment and blank lines from the embedded script but keeps the code', () => {
    const lines = scriptLines('#!/bin/sh\n# why\n\nset -eu\n  # indented why\necho "#not a comment"\n');
    assert.deepEqual(lines, ['#!/bin/sh', 'set -eu', 'echo "#not a comment"']);
    const script = documentScript(buildDocument({ agentPath: agent, executionTimeoutSeconds: 60 }));
    assert.match(script, /^#!\/bin\/sh\nset -eu\n/);
  });
});
