import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childEnvironment, childSearchPath, SYSTEM_PATH_DIRS } from '../../../agent/process/child-env.ts';
import { InvalidInputError } from '../../../common/errors.ts';

describe('childSearchPath', () => {
  it('keeps the inherited directories first, then adds the system directories it lacks (cron: /usr/bin:/bin)', () => {
    assert.equal(
      childSearchPath('/opt/stand-in/bin:/usr/bin:/bin'),
      '/opt/stand-in/bin:/usr/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin',
    );
  });

  it('drops relative and empty entries, which would name the working directory', () => {
    assert.equal(
      childSearchPath('.:/usr/bin::bin:./tools:/usr/bin'),
      '/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/bin',
    );
  });

  it('uses the system directories when the agent has no PATH', () => {
    assert.equal(childSearchPath(undefined), SYSTEM_PATH_DIRS.join(':'));
    assert.equal(childSearchPath(''), SYSTEM_PATH_DIRS.join(':'));
  });
});

describe('childEnvironment', () => {
  const host = {
    PATH: '/usr/bin:/bin',
    HOME: '/root',
    TZ: 'Europe/Berlin',
    MTR_OPTIONS: '-o LS',
    MTR_PACKET: '/tmp/x',
    DISPLAY: ':0',
    TERM: 'xterm-256color',
    LD_PRELOAD: '/tmp/x.so',
    LD_LIBRARY_PATH: '/tmp',
    LANG: 'de_DE.UTF-8',
    LC_ALL: 'de_DE.UTF-8',
    LC_NUMERIC: 'de_DE.UTF-8',
    LANGUAGE: 'de',
    POSIXLY_CORRECT: '1',
    DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/tmp/bus',
    UNSET: undefined,
  };

  it('takes only PATH from the host and fixes the locale to C', () => {
    assert.deepEqual(childEnvironment(host), {
      PATH: '/usr/bin:/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin',
      LC_ALL: 'C',
      LANG: 'C',
    });
  });

  it('adds exactly the variables the caller names, which win over the base', () => {
    assert.deepEqual(childEnvironment(host, { SSM_Resources: '10.0.0.1', PATH: '/only' }), {
      PATH: '/only',
      LC_ALL: 'C',
      LANG: 'C',
      SSM_Resources: '10.0.0.1',
    });
  });

  for (const [name, value] of [
    ['', 'x'],
    ['A=B', 'x'],
    ['1ABC', 'x'],
    ['A B', 'x'],
    ['OK', 'a\0b'],
  ] as const) {
    it(`rejects ${JSON.stringify(name)}=${JSON.stringify(value)}, naming it`, () => {
      assert.throws(
        () => childEnvironment(host, { [name]: value }),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.message.includes(JSON.stringify(name === 'OK' ? value : name)),
      );
    });
  }
});
