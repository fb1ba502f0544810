import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isAgentBundle,
  onCalendar,
  randomizedDelaySec,
  serviceUnit,
  startTimeoutSec,
  TIMER_PERIODS_MIN,
  timerUnit,
  UNIT_MARKER,
  type UnitSpec,
  unitWord,
} from '../../../agent/install/units.ts';
import { MAX_ROUND_MS, roundWorstCaseMs } from '../../../common/round-budget.ts';
import { DEFAULTS, parseResourceList } from '../../../common/settings.ts';

const spec = (over: Partial<UnitSpec> = {}): UnitSpec => ({
  node: '/usr/bin/node',
  agent: '/usr/local/lib/cloudconnexa-monitor/agent.js',
  config: '/etc/cloudconnexa-monitor.json',
  everyMinutes: 5,
  check: {
    logDir: '/home/ubuntu/Connexa-Logs',
    settings: { ...DEFAULTS, lossRule: 'persistent' },
    resources: parseResourceList('10.0.0.1,db.corp.internal'),
  },
  ...over,
});

/** The value of each `Key=` line of one section, in order. */
function settings(unit: string, section: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let current = '';
  for (const line of unit.split('\n')) {
    if (line.startsWith('[')) current = line;
    else if (current === `[${section}]` && /^[A-Za-z]+=/.test(line)) {
      const key = line.slice(0, line.indexOf('='));
      found.set(key, [...(found.get(key) ?? []), line.slice(key.length + 1)]);
    }
  }
  return found;
}

describe('systemd units: the service', () => {
  it('runs the same check as watch, with the config file, once per activation', () => {
    const service = settings(serviceUnit(spec()), 'Service');
    assert.deepEqual(service.get('Type'), ['oneshot']);
    assert.deepEqual(service.get('ExecStart'), [
      '"/usr/bin/node" "/usr/local/lib/cloudconnexa-monitor/agent.js" check --config "/etc/cloudconnexa-monitor.json"',
    ]);
  });

  it('may write only the log dir and its lock dir, which survives the service', () => {
    const service = settings(serviceUnit(spec()), 'Service');
    assert.deepEqual(service.get('ProtectSystem'), ['strict']);
    assert.deepEqual(service.get('ProtectHome'), ['read-only']);
    assert.deepEqual(service.get('ReadWritePaths'), ['"/home/ubuntu/Connexa-Logs"']);
    assert.deepEqual(service.get('RuntimeDirectory'), ['cloudconnexa-monitor']);
    assert.deepEqual(service.get('RuntimeDirectoryMode'), ['0700']);
    assert.deepEqual(service.get('RuntimeDirectoryPreserve'), ['yes']);
  });

  it('keeps root only the capabilities a round uses, and no way to gain more', () => {
    const service = settings(serviceUnit(spec()), 'Service');
    assert.deepEqual(service.get('CapabilityBoundingSet'), [
      'CAP_NET_RAW CAP_SETUID CAP_SETGID CAP_DAC_READ_SEARCH',
    ]);
    assert.deepEqual(service.get('NoNewPrivileges'), ['yes']);
    assert.equal(service.get('User'), undefined, 'runs as root, as the fleet does');
    assert.deepEqual(service.get('SystemCallFilter'), ['@system-service']);
    assert.deepEqual(service.get('SystemCallErrorNumber'), ['EPERM']);
    assert.deepEqual(service.get('RestrictAddressFamilies'), ['AF_INET AF_INET6 AF_UNIX AF_NETLINK']);
    assert.equal(service.get('MemoryDenyWriteExecute'), undefined, "V8's JIT needs it");
  });

  it('times a round out only past its worst case, from the configured settings', () => {
    const small = spec();
    const paths = small.check.resources.length + 1;
    assert.ok(startTimeoutSec(small.check) * 1000 > roundWorstCaseMs(small.check.settings, paths));
    const longest = spec({
      check: {
        ...small.check,
        settings: { ...small.check.settings, count: 500, intervalSec: 3.5 },
        resources: parseResourceList('10.0.0.1'),
      },
    });
    const worst = roundWorstCaseMs(longest.check.settings, 2);
    assert.ok(worst <= MAX_ROUND_MS, 'a setting the agent accepts');
    assert.ok(startTimeoutSec(longest.check) * 1000 > worst);
    assert.ok(startTimeoutSec(longest.check) > startTimeoutSec(small.check), 'follows the settings');
    assert.deepEqual(settings(serviceUnit(small), 'Service').get('TimeoutStartSec'), [
      String(startTimeoutSec(small.check)),
    ]);
  });

  it('names the config and log dir in its first line, for uninstall', () => {
    const first = serviceUnit(spec()).split('\n')[0] ?? '';
    assert.ok(first.startsWith(UNIT_MARKER));
    const json = /\((\{.*\})\)\.$/.exec(first)?.[1] ?? '';
    assert.deepEqual(JSON.parse(json), {
      config: '/etc/cloudconnexa-monitor.json',
      logDir: '/home/ubuntu/Connexa-Logs',
    });
  });
});

describe('systemd units: quoting', () => {
  it('quotes every path, escaping what systemd would read as quotes, escapes or specifiers', () => {
    assert.equal(unitWord('/srv/a b'), '"/srv/a b"');
    assert.equal(unitWord('/srv/"q"\\x'), '"/srv/\\"q\\"\\\\x"');
    assert.equal(unitWord('/srv/%n'), '"/srv/%%n"');
    assert.equal(unitWord('/srv/$HOME'), '"/srv/$HOME"', 'no variable expansion outside command lines');
    assert.equal(unitWord('/srv/$HOME', true), '"/srv/$$HOME"');
  });

  it('keeps a hostile path on its own line: no directive can be smuggled in', () => {
    const unit = serviceUnit(
      spec({ config: '/etc/x" --resources "1.1.1.1', check: { ...spec().check, logDir: '/srv/%i $x' } }),
    );
    const service = settings(unit, 'Service');
    assert.deepEqual(service.get('ExecStart'), [
      '"/usr/bin/node" "/usr/local/lib/cloudconnexa-monitor/agent.js" check --config "/etc/x\\" --resources \\"1.1.1.1"',
    ]);
    assert.deepEqual(service.get('ReadWritePaths'), ['"/srv/%%i $x"']);
  });
});

describe('systemd units: the timer', () => {
  it('runs every N minutes on the clock, persistent, with a fixed offset per host', () => {
    const timer = settings(timerUnit({ everyMinutes: 5 }), 'Timer');
    assert.deepEqual(timer.get('OnCalendar'), ['*-*-* *:00/5:00']);
    assert.deepEqual(timer.get('Persistent'), ['yes']);
    assert.deepEqual(timer.get('FixedRandomDelay'), ['yes']);
    assert.deepEqual(timer.get('RandomizedDelaySec'), ['60']);
    assert.deepEqual(timer.get('AccuracySec'), ['1s']);
    assert.deepEqual(settings(timerUnit({ everyMinutes: 5 }), 'Install').get('WantedBy'), ['timers.target']);
  });

  it('spreads hosts over at most a fifth of the period and 5 minutes', () => {
    for (const minutes of TIMER_PERIODS_MIN) {
      const delay = randomizedDelaySec(minutes);
      assert.ok(delay > 0 && delay <= (minutes * 60) / 5 && delay <= 300, `${minutes} min: ${delay} s`);
    }
  });

  it('writes hours as hours and a day as midnight', () => {
    assert.equal(onCalendar(1), '*-*-* *:00/1:00');
    assert.equal(onCalendar(30), '*-*-* *:00/30:00');
    assert.equal(onCalendar(60), '*-*-* 00/1:00:00');
    assert.equal(onCalendar(360), '*-*-* 00/6:00:00');
    assert.equal(onCalendar(1440), '*-*-* 00:00:00');
  });
});

describe('the agent copy: which agent.js install may replace or remove', () => {
  it('is a script that carries the install marker, as the full bundle does', () => {
    // Prepare: what the minified bundle looks like around the marker.
    const bundle = `#!/usr/bin/env node\n"use strict";var a=\`${UNIT_MARKER} (\${b}).\`;\n`;
    // Act + Assess
    assert.equal(isAgentBundle(bundle), true);
  });

  it('is not another program of the same name, nor a file that only mentions the marker', () => {
    assert.equal(isAgentBundle('my other app\n'), false);
    assert.equal(isAgentBundle('#!/usr/bin/env node\nconsole.log("other agent")\n'), false);
    assert.equal(isAgentBundle(`// notes\n${UNIT_MARKER}\n`), false, 'no shebang: not a script');
    assert.equal(isAgentBundle(''), false);
  });
});
