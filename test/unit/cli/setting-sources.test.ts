/**
 * One grammar for a setting, whichever way it arrives: the same text as a
 * flag, in a config file (as a JSON string, and as a JSON number where it is
 * one) and as a host's tag override is accepted or refused alike, to the same
 * value, and a refusal has the same shape, `<field> <value as written> is not
 * allowed: <what is allowed>`, with the same "allowed". A JSON number is
 * shown as written in the file (1e999, not null; -0, not 0).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { type CommandName, parseArgv, type ValueFlag } from '../../../agent/cli/parse-argv.ts';
import { loadConfigFile } from '../../../agent/cli/read-config-file.ts';
import {
  type CheckOptions,
  readConfigObject,
  resolveOptions,
  type WatchOptions,
} from '../../../agent/cli/resolve-options.ts';
import { InvalidInputError } from '../../../common/errors.ts';
import type { HostSettings } from '../../../functions/config.ts';
import { resolveHostSettings } from '../../../functions/dispatch/host-settings.ts';
import { DEFAULTS as HOST_DEFAULTS } from '../functions/fixtures.ts';

const TAG = 'CloudConnexaMonitor';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-setting-sources-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

type Outcome = { ok: true; value: unknown } | { ok: false; field: string; shown: string; allowed: string };

/** What `work` gives, or the parts of the InvalidInputError it throws (its message must have the one shape). */
function outcome(work: () => unknown): Outcome {
  try {
    return { ok: true, value: work() };
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, String(error));
    const prefix = `${error.field} `;
    const suffix = ` is not allowed: ${error.allowed}`;
    assert.ok(error.message.startsWith(prefix) && error.message.endsWith(suffix), error.message);
    return {
      ok: false,
      field: error.field,
      shown: error.message.slice(prefix.length, -suffix.length),
      allowed: error.allowed,
    };
  }
}

interface Setting {
  option: ValueFlag;
  /** The tag suffix (`CloudConnexaMonitor:<tag>`), for settings a host's tags may override. */
  tag?: string;
  /** Whether a JSON number is a value of it (else a config number is refused, shown as written). */
  numeric: boolean;
  read(o: CheckOptions | WatchOptions): unknown;
  readTag?(s: HostSettings): unknown;
  texts: string[];
}

const NUMBER_TEXTS = [
  '25',
  '0.5',
  '2',
  '25.0',
  '25.000',
  '25.0000',
  '1e3',
  '1E3',
  '1e999',
  '-0',
  '-1',
  '+5',
  '5.',
  '.5',
  ' 5',
  '5 ',
  '0x10',
  'Infinity',
  'NaN',
  '007',
  '1,5',
  '',
  '60001',
  '100.5',
];
const numeric = (
  option: ValueFlag,
  read: Setting['read'],
  tag?: { suffix: string; read: NonNullable<Setting['readTag']> },
): Setting => ({
  option,
  numeric: true,
  read,
  texts: NUMBER_TEXTS,
  ...(tag === undefined ? {} : { tag: tag.suffix, readTag: tag.read }),
});

const SETTINGS: Setting[] = [
  numeric('count', (o) => o.settings.count, { suffix: 'Count', read: (s) => s.count }),
  numeric('interval', (o) => o.settings.intervalSec, { suffix: 'IntervalSec', read: (s) => s.intervalSec }),
  numeric('latency-threshold', (o) => o.settings.latencyThresholdMs, {
    suffix: 'LatencyThresholdMs',
    read: (s) => s.latencyThresholdMs,
  }),
  numeric('loss-threshold', (o) => o.settings.lossThresholdPct, {
    suffix: 'LossThresholdPct',
    read: (s) => s.lossThresholdPct,
  }),
  numeric('jitter-threshold', (o) => o.settings.jitterThresholdMs, {
    suffix: 'JitterThresholdMs',
    read: (s) => s.jitterThresholdMs,
  }),
  numeric('hops', (o) => o.settings.hops, { suffix: 'Hops', read: (s) => s.hops }),
  numeric('tcp-port', (o) => o.settings.tcpPort, { suffix: 'TcpPort', read: (s) => s.tcpPort }),
  numeric('concurrency', (o) => o.settings.concurrency),
  numeric('max-report-bytes', (o) => o.rotation.maxReportBytes),
  numeric('keep-reports', (o) => o.rotation.keepReports),
  numeric('max-mtr-files', (o) => o.rotation.maxMtrFiles),
  numeric('every', (o) => (o as WatchOptions).everyMinutes),
  numeric('rounds', (o) => (o as WatchOptions).rounds),
  {
    option: 'loss-rule',
    tag: 'LossRule',
    numeric: false,
    read: (o) => o.settings.lossRule,
    readTag: (s) => s.lossRule,
    texts: ['persistent', 'any-hop', ' persistent', 'any-hop ', 'Persistent', 'anyhop', '1', ''],
  },
  {
    option: 'baseline-flag',
    tag: 'BaselineFlag',
    numeric: false,
    read: (o) => o.settings.baselineFlag,
    readTag: (s) => s.baselineFlag,
    texts: ['on', 'off', ' on', 'off ', 'ON', 'true', '1', '0', ''],
  },
  {
    option: 'resources',
    tag: 'Resources',
    numeric: false,
    read: (o) => o.resources.map((r) => r.target).join(','),
    readTag: (s) => s.resources,
    texts: ['10.0.0.1', ' 10.0.0.1 ', '10.0.0.1,db.corp.internal', '10.0.0.1;reboot', '1e3', '1', '', ','],
  },
  {
    option: 'gateway-ip',
    numeric: false,
    read: (o) => o.gatewayIp,
    texts: ['203.0.113.10', ' 203.0.113.10', '2001:db8::1', '203.0.113', '1e3', '1'],
  },
  {
    option: 'openvpn-management',
    numeric: false,
    read: (o) => o.openvpnManagement,
    texts: ['127.0.0.1:7505', ' 127.0.0.1:7505', '/run/ovpn.sock', 'unix:/run/ovpn.sock', '127.0.0.1'],
  },
];

const commandFor = (s: Setting): Extract<CommandName, 'check' | 'watch'> =>
  s.option === 'every' || s.option === 'rounds' ? 'watch' : 'check';

/** The other options a round needs: resources, and for watch its period. */
function baseArgs(s: Setting): string[] {
  return [
    ...(s.option === 'resources' ? [] : ['--resources', '10.0.0.1']),
    ...(commandFor(s) === 'watch' && s.option !== 'every' ? ['--every', '5'] : []),
  ];
}

function viaFlag(s: Setting, text: string): Outcome {
  const command = commandFor(s);
  return outcome(() =>
    s.read(resolveOptions(command, parseArgv([command, ...baseArgs(s), `--${s.option}`, text]), {})),
  );
}

let files = 0;
/** Through a real config file: `json` is the value's JSON text as the file holds it. */
function viaConfig(s: Setting, json: string): Outcome {
  const command = commandFor(s);
  const file = path.join(scratch, `config-${files++}.json`);
  fs.writeFileSync(file, `{ "${s.option}": ${json} }`, { mode: 0o644 });
  return outcome(() => {
    const argv = parseArgv([command, ...baseArgs(s), '--config', file]);
    return s.read(resolveOptions(command, argv, loadConfigFile(file)));
  });
}

function viaTag(s: Setting, text: string): Outcome {
  const readTag = s.readTag;
  assert.ok(s.tag !== undefined && readTag !== undefined);
  return outcome(() => readTag(resolveHostSettings(HOST_DEFAULTS, { [`${TAG}:${s.tag}`]: text }, TAG)));
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Outcomes equal but for the field and how the value is shown. */
function assertSameVerdict(a: Outcome, b: Outcome, what: string): void {
  assert.equal(a.ok, b.ok, `${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  if (a.ok && b.ok) assert.deepEqual(a.value, b.value, what);
  if (!a.ok && !b.ok) assert.equal(a.allowed, b.allowed, what);
}

describe('a setting, whichever way it arrives', () => {
  for (const s of SETTINGS) {
    it(`--${s.option}${s.tag === undefined ? '' : `, ${TAG}:${s.tag}`} and config ${s.option} agree`, () => {
      let accepted = 0;
      let refused = 0;
      for (const text of s.texts) {
        const what = `${s.option} ${JSON.stringify(text)}`;
        const flag = viaFlag(s, text);
        const asString = viaConfig(s, JSON.stringify(text));
        assertSameVerdict(flag, asString, `${what}: flag and config string`);
        if (!flag.ok && !asString.ok) {
          assert.equal(flag.field, `--${s.option}`);
          assert.equal(asString.field, `config ${s.option}`);
          // A list names its bad item; every other value is named whole.
          if (s.option !== 'resources') {
            assert.equal(flag.shown, JSON.stringify(text), `${what}: the flag's value as written`);
          }
          assert.equal(asString.shown, flag.shown, what);
        }
        if (s.tag !== undefined) {
          const tag = viaTag(s, text);
          assertSameVerdict(flag, tag, `${what}: flag and tag`);
          if (!tag.ok && !flag.ok) {
            assert.equal(tag.field, `${TAG}:${s.tag}`);
            assert.equal(tag.shown, flag.shown, what);
          }
        }
        if (JSON_NUMBER.test(text)) {
          const asNumber = viaConfig(s, text);
          if (s.numeric) assertSameVerdict(flag, asNumber, `${what}: flag and config number`);
          else assert.equal(asNumber.ok, false, `${what}: a number is no value of ${s.option}`);
          if (!asNumber.ok) {
            assert.equal(asNumber.field, `config ${s.option}`);
            assert.equal(asNumber.shown, text, `${what}: the number as written in the file`);
          }
        }
        if (flag.ok) accepted++;
        else refused++;
      }
      assert.ok(accepted > 0 && refused > 0, `${s.option}: ${accepted} accepted, ${refused} refused`);
    });
  }
});

describe('what the reviewer found', () => {
  const refusal = (json: string) => {
    const file = path.join(scratch, `reviewer-${files++}.json`);
    fs.writeFileSync(file, json, { mode: 0o644 });
    return outcome(() =>
      resolveOptions('check', parseArgv(['check', '--config', file]), loadConfigFile(file)),
    );
  };

  it('names 1e999 in the config file as written, not null, and says what is allowed', () => {
    assert.deepEqual(refusal('{"resources": ["10.0.0.1"], "jitter-threshold": 1e999}'), {
      ok: false,
      field: 'config jitter-threshold',
      shown: '1e999',
      allowed: 'a number from 0 to 60000 with at most 3 decimals, in digits (no sign, exponent or spaces)',
    });
    assert.deepEqual(refusal('{"resources": ["10.0.0.1"], "count": -0}'), {
      ok: false,
      field: 'config count',
      shown: '-0',
      allowed: 'an integer from 1 to 500, in digits (no sign, exponent, point or spaces)',
    });
  });

  it('refuses --latency-threshold 1e3 and "latency-threshold": 1e3 alike, and takes 1000 both ways', () => {
    const flag = viaFlag(SETTINGS[2] as Setting, '1e3');
    const config = refusal('{"resources": ["10.0.0.1"], "latency-threshold": 1e3}');
    assert.equal(flag.ok, false);
    assertSameVerdict(flag, config, '1e3');
    assert.deepEqual(viaFlag(SETTINGS[2] as Setting, '1000'), { ok: true, value: 1000 });
    assert.deepEqual(viaConfig(SETTINGS[2] as Setting, '1000'), { ok: true, value: 1000 });
  });

  it('shows values of the wrong JSON type as written too, and refuses a repeated key by its name', () => {
    const list = refusal('{"resources": ["10.0.0.1"], "count": [1e999, true]}');
    assert.equal(list.ok, false);
    assert.equal(!list.ok && list.shown, '[1e999, true]');
    const twice = refusal('{"resources": ["10.0.0.1"], "count": 10, "count": 20}');
    assert.equal(!twice.ok && twice.shown, '"count"');
  });

  it('takes the gateway address and the management endpoint as written, as every setting: spaces refused', () => {
    const gateway = SETTINGS.find((s) => s.option === 'gateway-ip') as Setting;
    const management = SETTINGS.find((s) => s.option === 'openvpn-management') as Setting;
    assert.deepEqual(viaFlag(gateway, ' 203.0.113.10'), {
      ok: false,
      field: '--gateway-ip',
      shown: '" 203.0.113.10"',
      allowed: 'an IPv4 or IPv6 address',
    });
    assert.equal(viaConfig(management, '"127.0.0.1:7505 "').ok, false);
    assert.deepEqual(viaFlag(management, '127.0.0.1:7505'), { ok: true, value: '127.0.0.1:7505' });
  });

  it('shows a bare number (a config object built in code) as JavaScript writes it, never as null', () => {
    const fromObject = (count: number) =>
      outcome(
        () =>
          resolveOptions(
            'check',
            parseArgv(['check']),
            readConfigObject({ resources: '10.0.0.1', count }, 't'),
          ).settings.count,
      );
    for (const [count, shown] of [
      [Number.POSITIVE_INFINITY, 'Infinity'],
      [-0, '-0'],
      [Number.NaN, 'NaN'],
      [1e21, '1e+21'],
    ] as const) {
      const refused = fromObject(count);
      assert.equal(!refused.ok && refused.shown, shown);
    }
    assert.deepEqual(fromObject(1e1), { ok: true, value: 10 });
  });
});
