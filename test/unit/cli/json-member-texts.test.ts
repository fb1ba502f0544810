/**
 * The text of each member of a config file's JSON object, as written, which
 * JSON.parse does not keep (1e999 becomes Infinity): for every value JSON can
 * hold, nested and spaced as people write it, the text parses back to the
 * value JSON.parse gave that member.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonMemberTexts } from '../../../agent/cli/json-member-texts.ts';
import { InvalidInputError } from '../../../common/errors.ts';

describe('jsonMemberTexts', () => {
  it('gives each member its value as written: numbers, strings, lists, objects, literals', () => {
    const text = `{
      "count" : 1e3,
      "interval":0.50,
      "jitter-threshold": -0 ,
      "big": 1e999,
      "resources": ["10.0.0.1", "a,]}\\"b"],
      "log-dir": "/var/log/x \\u0022 }",
      "nested": {"a": [1, {"b": "]"}], "c": {}},
      "t": true, "f": false, "n": null,
      "e\\u0073c": "\\\\"
    }`;
    const texts = jsonMemberTexts(text);
    assert.deepEqual(Object.fromEntries(texts), {
      count: '1e3',
      interval: '0.50',
      'jitter-threshold': '-0',
      big: '1e999',
      resources: '["10.0.0.1", "a,]}\\"b"]',
      'log-dir': '"/var/log/x \\u0022 }"',
      nested: '{"a": [1, {"b": "]"}], "c": {}}',
      t: 'true',
      f: 'false',
      n: 'null',
      esc: '"\\\\"',
    });
    const parsed = JSON.parse(text) as Record<string, unknown>;
    for (const [name, written] of texts) {
      if (name !== 'big') assert.deepEqual(JSON.parse(written), parsed[name], name);
    }
  });

  it('refuses a repeated name, however it is spelled (JSON.parse would keep the last silently)', () => {
    for (const text of ['{"count": 1, "count": 2E1}', '{"count": "1", "co\\u0075nt": "2"}']) {
      assert.throws(
        () => jsonMemberTexts(text),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.message ===
            'config key "count" is not allowed: each key once (it is given twice in the file)',
        text,
      );
    }
  });

  it('gives nothing for values other than an object', () => {
    assert.equal(jsonMemberTexts('{}').size, 0);
    assert.equal(jsonMemberTexts(' [1e999] ').size, 0);
    assert.equal(jsonMemberTexts('1e999').size, 0);
  });
});
