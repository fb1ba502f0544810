/**
 * The SSM document generator on its own: what it refuses at package time and
 * how the agent travels inside the document.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidInputError } from '../../common/errors.ts';
import { RESOURCES_MAX_CHARS, RESOURCES_MIN_CHARS } from '../../common/ssm-parameters.ts';
import { BASE90_ALPHABET, base90Length } from '../../ssm/base90.ts';
import {
  AGENT_BUNDLE_ENV,
  buildDocument,
  buildScript,
  DOCUMENT_SIZE_LIMIT,
  documentResourcesMaxChars,
  documentScript,
  encodeAgent,
  packAgent,
  resolveAgentPath,
  scriptLines,
  worstCaseSize,
} from '../../ssm/document.ts';
import { seededBytes } from '../helpers/seeded-bytes.ts';

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

  it('carries the agent as Brotli + base90 that its own script decodes to the bytes of the declared SHA-256', () => {
    // Prepare
    const bundle = Buffer.from("'use strict';\nconsole.log('agent');\n".repeat(200));
    const path = join(scratch, 'repeating-agent.js');
    writeFileSync(path, bundle);
    // Act
    const payload = encodeAgent(bundle);
    const document = buildDocument({ agentPath: path, executionTimeoutSeconds: 60 });
    // Assess: the script's decoder, run by this node, gives the bundle back.
    const script = documentScript(document);
    const unpack = /^CCM_UNPACK='([^']*)'$/m.exec(script)?.[1];
    assert.ok(unpack, 'the script defines CCM_UNPACK');
    const decoded = spawnSync(process.execPath, ['-e', unpack], { input: payload.packedBase90 });
    assert.equal(decoded.status, 0, String(decoded.stderr));
    assert.deepEqual(decoded.stdout, bundle);
    assert.equal(payload.sha256, createHash('sha256').update(bundle).digest('hex'));
    assert.ok(script.includes(`printf '%s' '${payload.packedBase90}'`), 'the text sits in single quotes');
    // Only the alphabet's characters, which JSON carries without escapes (the 64 KB counts JSON bytes).
    assert.ok([...payload.packedBase90].every((char) => BASE90_ALPHABET.includes(char)));
    assert.ok(JSON.stringify(document).includes(payload.packedBase90));
    const packed = packAgent(bundle).length;
    assert.equal(payload.packedBase90.length, base90Length(packed));
    assert.ok(
      payload.packedBase90.length <= (packed * 21) / 17 + 2,
      'within 21/17 of the Brotli stream, + 2',
    );
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
    const sizes = [0, 37_000, 38_500, 40_000].map((bytes) => {
      const path = join(scratch, `agent-${bytes}.js`);
      writeFileSync(
        path,
        `// ${seededBytes(`agent ${bytes}`, bytes).toString('base64')}\nconsole.log('{}');\n`,
      );
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
    writeFileSync(big, `// ${seededBytes('too big', 43_000).toString('base64')}\n`);
    assert.throws(
      () => buildDocument({ agentPath: big, executionTimeoutSeconds: 60 }),
      new RegExp(
        `SSM document "\\d+ bytes with a ${RESOURCES_MIN_CHARS}-character list" is not allowed: at most 65536 bytes including run-time parameters, leaving room for at least ${RESOURCES_MIN_CHARS} characters of resources: the agent bundle \\(\\d+ bytes\\) has outgrown`,
      ),
    );
  });

  it('refuses a stage resource list longer than the room it leaves beside the agent, and takes one that fits', () => {
    // Prepare: the default list is part of the document, so each character of it takes one from
    // the room (R0 with a one-address default): a list of R0 - 2,300 leaves about 2,300.
    const path = join(scratch, 'roomy-agent.js');
    writeFileSync(path, `// ${seededBytes('stage list', 38_500).toString('base64')}\n`);
    const room0 = documentResourcesMaxChars(buildDocument({ agentPath: path, executionTimeoutSeconds: 60 }));
    assert.ok(room0 > 4_700 && room0 < RESOURCES_MAX_CHARS, `room ${room0}`);
    const list = (chars: number) =>
      Array.from({ length: 1_000 }, (_, i) => `10.${i >> 8}.${i & 255}.1`)
        .join(',')
        .slice(0, chars);
    const tooLong = room0 - 2_300;
    const fitting = Math.floor(room0 / 2) - 50;
    // Act / Assess
    assert.throws(
      () =>
        buildDocument({
          agentPath: path,
          executionTimeoutSeconds: 60,
          defaults: { Resources: list(tooLong) },
        }),
      new RegExp(
        `default of document parameter Resources "${tooLong} characters" is not allowed: at most \\d+ characters, the room`,
      ),
    );
    const fits = buildDocument({
      agentPath: path,
      executionTimeoutSeconds: 60,
      defaults: { Resources: list(fitting) },
    });
    assert.ok(documentResourcesMaxChars(fits) >= fitting);
    assert.match(fits.parameters.Resources.default, new RegExp(fits.parameters.Resources.allowedPattern));
    assert.ok(worstCaseSize(fits) <= DOCUMENT_SIZE_LIMIT);
  });

  it('rejects an execution timeout SSM would not accept', () => {
    assert.throws(
      () => buildDocument({ agentPath: agent, executionTimeoutSeconds: 0 }),
      /executionTimeoutSeconds/,
    );
  });

  it('takes off only layout: the document script parses as ssm/run-agent.sh does, indentation and all', () => {
    // bash prints a function's body in one canonical form (`declare -f`): a here-document,
    // a quoted string across lines or a line continuation whose words the indentation
    // kept apart would print differently once the lines are trimmed.
    const canonical = (script: string): string => {
      const wrapped = join(scratch, `canonical-${createHash('sha256').update(script).digest('hex')}.sh`);
      writeFileSync(wrapped, `ccm_body() {\n${script}\n}\ndeclare -f ccm_body\n`);
      const run = spawnSync('bash', ['--norc', '--noprofile', wrapped], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      return run.stdout;
    };
    // The oracle tells apart what trimming would break.
    for (const fragile of ['cat <<EOF\n  kept\nEOF', "echo 'a\n  b'", 'echo a\\\n  b', 'echo a\\ \necho b']) {
      assert.notEqual(
        canonical(scriptLines(fragile).join('\n')),
        canonical(fragile),
        JSON.stringify(fragile),
      );
    }
    // Prepare
    const payload = encodeAgent(readFileSync(agent));
    const unstripped = buildScript(payload, '1.2.3');
    // Act
    const stripped = scriptLines(unstripped).join('\n');
    // Assess
    assert.ok(stripped.length < unstripped.length);
    assert.equal(canonical(stripped), canonical(unstripped));
  });

  it('drops comment and blank lines and indentation from the embedded script but keeps the code', () => {
    const lines = scriptLines(
      '#!/bin/sh\n# why\n\nset -eu\n  # indented why\nif true; then\n  echo "#not a comment"\nfi\n',
    );
    assert.deepEqual(lines, ['#!/bin/sh', 'set -eu', 'if true; then', 'echo "#not a comment"', 'fi']);
    const script = documentScript(buildDocument({ agentPath: agent, executionTimeoutSeconds: 60 }));
    assert.match(script, /^#!\/bin\/sh\nset -eu\n/);
    assert.doesNotMatch(script, /^[ \t]/m, 'no line of the document script is indented');
  });
});

describe('the README states the room the built agent leaves', () => {
  it("gives the resource-list room of today's fleet bundle within 5 %", () => {
    // Prepare: the bundle the stack embeds (npm run build).
    const fleet = join(__dirname, '..', '..', 'dist', 'agent-fleet.js');
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    // Act
    const room = documentResourcesMaxChars(buildDocument({ agentPath: fleet, executionTimeoutSeconds: 240 }));
    const stated = /the room the agent leaves \(about ([\d,]+)\s+of the 8,192/.exec(readme)?.[1];
    // Assess
    assert.ok(stated !== undefined, 'the README states the room');
    const figure = Number(stated.replace(/,/g, ''));
    assert.ok(
      Math.abs(figure - room) <= room * 0.05,
      `README says about ${stated}; the built agent leaves ${room}`,
    );
  });
});
