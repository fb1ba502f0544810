/**
 * A stand-in for CloudWatch Logs' filter pattern matching, for the subset the
 * stack's patterns use (the notifier's, functions/notify/record-patterns.ts,
 * and the legacy metric filter, common/metric-names.ts), so a fake log group
 * answers FilterLogEvents, and a test counts a metric filter, the way
 * CloudWatch does for them:
 *
 * - JSON patterns `{ ... }`: selectors `$.a.b` compared with `=`, `!=`, `>`,
 *   `<`, `>=`, `<=` to a quoted string or a number, or followed by
 *   `NOT EXISTS`, combined with `&&`, `||` and parentheses. A line that is not
 *   JSON never matches. A comparison on a property the line lacks is false,
 *   `!=` included; `NOT EXISTS` is true exactly when it lacks it (CloudWatch
 *   Logs User Guide, "Using filter patterns to match terms in JSON log
 *   events"; the CDK's FilterPattern.notExists, "matches if the field does
 *   not exist", renders `$.field NOT EXISTS`; AWS Security Hub control
 *   CloudWatch.1 uses `$.userIdentity.invokedBy NOT EXISTS` with `&&`).
 * - Term patterns: `"term"` (the line contains it), several terms all present,
 *   or `?a ?"b c"` (any of them).
 *
 * Anything else throws, so a pattern outside the subset fails the test
 * instead of matching by accident.
 */

type Token = {
  kind: 'sel' | 'str' | 'num' | 'op' | 'and' | 'or' | 'lp' | 'rp' | 'notExists';
  text: string;
};

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const rest = source.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) {
      i += ws[0].length;
      continue;
    }
    const patterns: [Token['kind'], RegExp][] = [
      ['notExists', /^NOT EXISTS\b/],
      ['and', /^&&/],
      ['or', /^\|\|/],
      ['op', /^(!=|>=|<=|=|>|<)/],
      ['lp', /^\(/],
      ['rp', /^\)/],
      ['sel', /^\$(\.[A-Za-z_][A-Za-z0-9_]*)+/],
      ['str', /^"((?:[^"\\]|\\.)*)"/],
      ['num', /^-?\d+(\.\d+)?/],
    ];
    const hit = patterns.map(([kind, re]) => [kind, re.exec(rest)] as const).find(([, m]) => m !== null);
    if (hit === undefined || hit[1] === null)
      throw new Error(`filter pattern not in the test subset at: ${rest}`);
    const [kind, m] = hit;
    tokens.push({ kind, text: kind === 'str' ? (m[1] ?? '') : m[0] });
    i += m[0].length;
  }
  return tokens;
}

const MISSING = Symbol('missing');

/** The property at `$.a.b`, MISSING when the line lacks it (a JSON null is there: null). */
function lookup(value: unknown, selector: string): unknown {
  let current = value;
  for (const key of selector.slice(2).split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return MISSING;
    if (!Object.hasOwn(current, key)) return MISSING;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function compare(actual: unknown, op: string, expected: Token): boolean {
  if (actual === MISSING || actual === null) return false;
  if (expected.kind === 'num') {
    if (typeof actual !== 'number') return false;
    const e = Number(expected.text);
    return (
      {
        '=': actual === e,
        '!=': actual !== e,
        '>': actual > e,
        '<': actual < e,
        '>=': actual >= e,
        '<=': actual <= e,
      }[op] ?? false
    );
  }
  if (typeof actual !== 'string') return false;
  if (op === '=') return actual === expected.text;
  if (op === '!=') return actual !== expected.text;
  throw new Error(`operator ${op} on a string is not in the test subset`);
}

function evaluateJson(tokens: Token[], doc: unknown): boolean {
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => {
    const t = tokens[pos++];
    if (t === undefined) throw new Error('filter pattern ends too early');
    return t;
  };
  const primary = (): boolean => {
    const t = next();
    if (t.kind === 'lp') {
      const v = or();
      if (next().kind !== 'rp') throw new Error('missing )');
      return v;
    }
    if (t.kind !== 'sel') throw new Error(`expected a selector, got ${t.text}`);
    if (peek()?.kind === 'notExists') {
      pos++;
      return lookup(doc, t.text) === MISSING;
    }
    const op = next();
    const value = next();
    if (op.kind !== 'op' || (value.kind !== 'str' && value.kind !== 'num')) throw new Error('bad comparison');
    return compare(lookup(doc, t.text), op.text, value);
  };
  const and = (): boolean => {
    let v = primary();
    while (peek()?.kind === 'and') {
      pos++;
      const r = primary();
      v = v && r;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (peek()?.kind === 'or') {
      pos++;
      const r = and();
      v = v || r;
    }
    return v;
  };
  const result = or();
  if (pos !== tokens.length) throw new Error('trailing tokens in filter pattern');
  return result;
}

export function filterPatternMatches(pattern: string, message: string): boolean {
  const p = pattern.trim();
  if (p.startsWith('{')) {
    if (!p.endsWith('}')) throw new Error(`unterminated JSON pattern: ${p}`);
    const tokens = tokenize(p.slice(1, -1));
    let doc: unknown;
    try {
      doc = JSON.parse(message);
    } catch {
      return false;
    }
    return evaluateJson(tokens, doc);
  }
  const terms = [...p.matchAll(/(\?)?(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_]+))/g)];
  if (terms.length === 0 || terms.map((t) => t[0]).join(' ') !== p.replace(/\s+/g, ' ')) {
    throw new Error(`term pattern not in the test subset: ${p}`);
  }
  const anyOf = terms.every((t) => t[1] === '?');
  const present = terms.map((t) => message.includes(t[2] ?? t[3] ?? ''));
  return anyOf ? present.some(Boolean) : present.every(Boolean);
}
