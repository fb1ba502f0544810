/**
 * The source text of each member of a JSON object, as written: JSON.parse
 * turns `1e999` into Infinity and `1e3` into 1000, and Node.js 12 gives a
 * reviver no source text, so the config file's numbers are judged and shown
 * by what this finds (resolve-options.ts readConfigObject).
 */

import { InvalidInputError } from '../../common/errors.ts';

const WHITESPACE = /[ \t\n\r]/;

/**
 * Member name -> the text of its value, for a top-level object (empty for
 * any other value). `text` must be valid JSON (JSON.parse accepted it).
 * Throws InvalidInputError for a name given twice: JSON.parse would keep the
 * last silently, and which of two settings counts is not a guess to make
 * (RFC 8259 section 4: names SHOULD be unique).
 */
export function jsonMemberTexts(text: string): Map<string, string> {
  const texts = new Map<string, string>();
  let i = skipSpace(text, 0);
  if (text[i] !== '{') return texts;
  i = skipSpace(text, i + 1);
  while (text[i] === '"') {
    const nameEnd = stringEnd(text, i);
    const name = JSON.parse(text.slice(i, nameEnd)) as string;
    const start = skipSpace(text, skipSpace(text, nameEnd) + 1); // past the ':'
    const end = valueEnd(text, start);
    if (texts.has(name)) {
      throw new InvalidInputError('config key', name, 'each key once (it is given twice in the file)');
    }
    texts.set(name, text.slice(start, end));
    i = skipSpace(text, end);
    if (text[i] === ',') i = skipSpace(text, i + 1);
  }
  return texts;
}

function skipSpace(text: string, i: number): number {
  let at = i;
  while (at < text.length && WHITESPACE.test(text[at] as string)) at++;
  return at;
}

/** Index just past the string starting at `i` (its opening quote). */
function stringEnd(text: string, i: number): number {
  for (let at = i + 1; at < text.length; at++) {
    if (text[at] === '\\') at++;
    else if (text[at] === '"') return at + 1;
  }
  return text.length;
}

/** Index just past the value starting at `i`: a string, an object or array (nested), or a literal. */
function valueEnd(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return stringEnd(text, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let at = i; at < text.length; at++) {
      const c = text[at];
      if (c === '"') at = stringEnd(text, at) - 1;
      else if (c === '{' || c === '[') depth++;
      else if ((c === '}' || c === ']') && --depth === 0) return at + 1;
    }
    return text.length;
  }
  let at = i;
  while (at < text.length && !/[\s,}\]]/.test(text[at] as string)) at++;
  return at;
}
