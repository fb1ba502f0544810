/**
 * A tiny evaluator for the subset of CloudWatch metric math the stack's
 * alarms use, at one timestamp: numbers, metric ids, + - * /, comparisons
 * (> >= < <= == !=), AND/OR, IF(cond, a[, b]) and FILL(series, value).
 *
 * Missing data follows CloudWatch: a metric without a data point at the
 * timestamp is `undefined`, and any operator or function given `undefined`
 * yields `undefined` (no data point), except FILL, which replaces it. IF with
 * no else-branch yields no data point where the condition is false.
 * ("Using metric math", Amazon CloudWatch User Guide.)
 *
 * It lets a test run an alarm's expression over the states a user can be in
 * and assert what the alarm would see, instead of matching its text.
 */

type Value = number | undefined;

interface Token {
  kind: 'number' | 'name' | 'op' | 'paren' | 'comma';
  text: string;
}

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_]\w*)|(>=|<=|==|!=|&&|\|\||[-+*/<>])|([()])|(,))/y;
  let index = 0;
  while (index < expression.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(expression);
    if (match === null) {
      if (expression.slice(index).trim() === '') break;
      throw new Error(`metric math: cannot read ${JSON.stringify(expression.slice(index))}`);
    }
    index = pattern.lastIndex;
    if (match[1] !== undefined) tokens.push({ kind: 'number', text: match[1] });
    else if (match[2] !== undefined) tokens.push({ kind: 'name', text: match[2] });
    else if (match[3] !== undefined) tokens.push({ kind: 'op', text: match[3] });
    else if (match[4] !== undefined) tokens.push({ kind: 'paren', text: match[4] });
    else tokens.push({ kind: 'comma', text: ',' });
  }
  return tokens;
}

const PRECEDENCE: Record<string, number> = {
  OR: 1,
  '||': 1,
  AND: 2,
  '&&': 2,
  '==': 3,
  '!=': 3,
  '>': 4,
  '>=': 4,
  '<': 4,
  '<=': 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
};

function apply(op: string, a: Value, b: Value): Value {
  if (a === undefined || b === undefined) return undefined;
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? undefined : a / b;
    case '>':
      return a > b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case 'AND':
    case '&&':
      return a !== 0 && b !== 0 ? 1 : 0;
    default:
      return a !== 0 || b !== 0 ? 1 : 0;
  }
}

/** Evaluates `expression` with the metrics' values at one timestamp (missing: absent or undefined). */
export function evaluate(expression: string, metrics: Record<string, Value>): Value {
  const tokens = tokenize(expression);
  let position = 0;
  const peek = (): Token | undefined => tokens[position];
  const next = (): Token => {
    const token = tokens[position++];
    if (token === undefined) throw new Error(`metric math: unexpected end of ${expression}`);
    return token;
  };
  const expect = (text: string): void => {
    const token = next();
    if (token.text !== text) throw new Error(`metric math: expected ${text}, found ${token.text}`);
  };

  const primary = (): Value => {
    const token = next();
    if (token.kind === 'number') return Number(token.text);
    if (token.text === '(') {
      const value = binary(0);
      expect(')');
      return value;
    }
    if (token.text === '-') {
      const value = primary();
      return value === undefined ? undefined : -value;
    }
    if (token.kind !== 'name') throw new Error(`metric math: unexpected ${token.text}`);
    if (peek()?.text !== '(') {
      if (!(token.text in metrics)) throw new Error(`metric math: unknown metric id ${token.text}`);
      return metrics[token.text];
    }
    expect('(');
    const args: Value[] = [binary(0)];
    while (peek()?.kind === 'comma') {
      next();
      args.push(binary(0));
    }
    expect(')');
    if (token.text === 'FILL') return args[0] ?? args[1];
    if (token.text === 'IF') {
      const [condition, then, otherwise] = args;
      if (condition === undefined) return undefined;
      return condition !== 0 ? then : otherwise;
    }
    throw new Error(`metric math: function ${token.text} is not supported here`);
  };

  const binary = (minimum: number): Value => {
    let left = primary();
    for (;;) {
      const token = peek();
      const op = token?.kind === 'op' || token?.text === 'AND' || token?.text === 'OR' ? token.text : null;
      const precedence = op === null ? undefined : PRECEDENCE[op];
      if (op === null || precedence === undefined || precedence <= minimum) return left;
      next();
      left = apply(op, left, binary(precedence));
    }
  };

  const value = binary(0);
  if (position !== tokens.length) throw new Error(`metric math: trailing ${tokens[position]?.text}`);
  return value;
}
