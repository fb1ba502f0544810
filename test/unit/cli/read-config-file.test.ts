import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { jsonMemberTexts } from '../../../agent/cli/json-member-texts.ts';
import { VALUE_FLAGS } from '../../../agent/cli/parse-argv.ts';
import { loadConfigFile, MAX_CONFIG_BYTES, readConfigFile } from '../../../agent/cli/read-config-file.ts';
import { InvalidInputError, WrittenValue } from '../../../common/errors.ts';
import {
  type HostileDirs,
  hostileDirs,
  NOBODY,
  ownedDir,
  plantFifo,
  plantSymlink,
  rootOnlyFile,
} from '../../helpers/hostile-dir.ts';

let dirs: HostileDirs;
beforeEach(() => {
  dirs = hostileDirs('cc-config-');
});
afterEach(() => dirs.cleanup());

function rootConfig(name = 'monitor.json', content = '{"count": 3}'): string {
  const file = path.join(dirs.rootDir, name);
  fs.writeFileSync(file, content, { mode: 0o644 });
  return file;
}

/**
 * readConfigFile(file) throws E_CONFIG_FILE matching `message`. No time bound: a blocking open
 * would hang this process and an unbounded read of /dev/zero or of gigabytes would not end for
 * minutes; the runner's hang guard (scripts/run-tests.mjs) ends such a test, and the messages say
 * the file was refused by its type or size, before it was opened or read.
 */
function assertConfigError(file: string, message: RegExp): void {
  assert.throws(
    () => readConfigFile(file),
    (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'E_CONFIG_FILE', String(error));
      assert.match((error as Error).message, message);
      return true;
    },
  );
}

describe('readConfigFile', () => {
  it('parses a root-owned JSON file, also through a root-owned link', () => {
    const file = rootConfig();
    assert.deepEqual(readConfigFile(file), { count: 3 });
    const link = path.join(dirs.rootDir, 'link.json');
    fs.symlinkSync(file, link);
    assert.deepEqual(readConfigFile(link), { count: 3 });
  });

  it('rejects /dev/zero and a FIFO at once instead of reading forever or waiting for a writer', () => {
    assertConfigError('/dev/zero', /^--config "\/dev\/zero" is a character device, not a regular file/);
    const fifo = plantFifo(path.join(dirs.rootDir, 'fifo.json'), 0);
    assertConfigError(fifo, /is a FIFO \(named pipe\), not a regular file/);
    assertConfigError(
      plantSymlink('/dev/zero', path.join(dirs.rootDir, 'zero.json'), 0),
      /is a character device/,
    );
  });

  it('rejects a file larger than MAX_CONFIG_BYTES, reading no more of it', () => {
    const big = rootConfig('big.json', `{"pad": "${'x'.repeat(MAX_CONFIG_BYTES)}"}`);
    assertConfigError(big, new RegExp(`is larger than ${MAX_CONFIG_BYTES} bytes`));
    // 8 GiB (sparse: no disk used): read whole, it would not fit in this process's memory.
    const huge = rootConfig('huge.json', '{}');
    fs.truncateSync(huge, 8 * 1024 ** 3);
    assertConfigError(huge, new RegExp(`is larger than ${MAX_CONFIG_BYTES} bytes`));
  });

  it('reads a file that starts with a UTF-8 byte order mark, its numbers still as written', () => {
    // Prepare: what an editor that writes EF BB BF first saves.
    const file = rootConfig('bom.json', '\ufeff{"count": 3, "interval": 0.5}');
    const exponent = rootConfig('bom-exponent.json', '\ufeff{"count": 3, "interval": 1e0}');
    // Act
    const parsed = readConfigFile(file);
    const options = loadConfigFile(file);
    // Assess: the mark is not part of the JSON; the scanner sees the same text as JSON.parse.
    assert.deepEqual(parsed, { count: 3, interval: 0.5 });
    assert.deepEqual(options.count, new WrittenValue('3', 3));
    assert.deepEqual(options.interval, new WrittenValue('0.5', 0.5));
    assert.deepEqual(readConfigFile(exponent), { count: 3, interval: 1 });
    assert.throws(() => loadConfigFile(exponent), /^InvalidInputError: config interval 1e0 is not allowed/);
  });

  it('refuses a key given twice however either is spelled (every \\u escape of every letter), after a byte order mark too', () => {
    // Prepare: each option name, then the same name with one character escaped (lower and upper hex).
    let cases = 0;
    for (const key of VALUE_FLAGS) {
      for (let at = 0; at < key.length; at++) {
        const code = key.charCodeAt(at).toString(16).padStart(4, '0');
        for (const hex of [code, code.toUpperCase()]) {
          const spelled = `${key.slice(0, at)}\\u${hex}${key.slice(at + 1)}`;
          const file = rootConfig(`dup-${cases}.json`, `\ufeff{"${key}": "1", "${spelled}": "2"}`);
          // Act + Assess: the repeated name, decoded, is what the error names (exit 2, as any bad key).
          assert.throws(
            () => loadConfigFile(file),
            (error: unknown) =>
              error instanceof InvalidInputError &&
              error.message ===
                `config key "${key}" is not allowed: each key once (it is given twice in the file)`,
            `${key} / ${spelled}`,
          );
          cases++;
        }
      }
    }
    assert.equal(
      cases,
      VALUE_FLAGS.reduce((n, k) => n + 2 * k.length, 0),
    );
  });

  it('does not take a key written inside a value, or a nested object, for a repeated key', () => {
    for (const text of [
      '{"log-dir": "\\"count\\": 1, \\\\", "count": "3"}',
      '{"resources": ["count", "\\"count\\":"], "count": "3"}',
      '{"resources": "10.0.0.1", "count": "3", "log-dir": "/var/log/cc\\\\"}',
    ]) {
      assert.equal(jsonMemberTexts(text).get('count'), '"3"', text);
    }
    // A nested object is refused for its type, not for a repeat of its inner names.
    const nested = rootConfig('nested.json', '{"count": {"count": 1, "count": 2}}');
    assert.throws(
      () => loadConfigFile(nested),
      /^InvalidInputError: config count \{"count": 1, "count": 2\} is not allowed: a string, a number/,
    );
  });

  it('names a missing file and one that is not JSON', () => {
    assertConfigError(path.join(dirs.rootDir, 'missing.json'), /cannot be read \(ENOENT\)/);
    assertConfigError(
      path.join(dirs.rootDir, 'no-dir', 'monitor.json'),
      /cannot be read \(ENOENT: .*no-dir does not exist\)/,
    );
    assertConfigError(rootConfig('bad.json', '{"count": '), /is not valid JSON/);
  });

  it('as root, refuses settings another user could have chosen or changed', () => {
    const secret = rootOnlyFile(path.join(dirs.rootDir, 'shadow'), 'root:$6$secret:19000:0:99999:7:::\n');
    const cases: [string, RegExp][] = [
      [
        plantSymlink(rootConfig(), path.join(dirs.home, 'via-link.json')),
        /is reached through the symbolic link .*via-link\.json, which uid 65534 owns/,
      ],
      [plantSymlink(secret, path.join(dirs.home, 'shadow.json')), /symbolic link .*which uid 65534 owns/],
      [
        (() => {
          const file = rootConfig('theirs.json');
          fs.chownSync(file, NOBODY, NOBODY);
          return file;
        })(),
        /is owned by uid 65534/,
      ],
      [
        (() => {
          const file = rootConfig('open.json');
          fs.chmodSync(file, 0o666);
          return file;
        })(),
        /is writable by other users \(mode 0666\)/,
      ],
      [
        (() => {
          const file = path.join(dirs.home, 'in-their-dir.json');
          fs.writeFileSync(file, '{}');
          return file;
        })(),
        /which uid 65534 owns and can replace the file in/,
      ],
    ];
    for (const [file, message] of cases) {
      assertConfigError(file, message);
      assertConfigError(file, /only root can change; make it root's/);
    }
  });

  it('as root, accepts root’s file in a sticky directory other users can write (like /tmp)', () => {
    const sticky = ownedDir(path.join(dirs.rootDir, 'tmp'), 0, 0o1777);
    const file = path.join(sticky, 'monitor.json');
    fs.writeFileSync(file, '{"count": 4}', { mode: 0o644 });
    assert.deepEqual(readConfigFile(file), { count: 4 });
  });
});
