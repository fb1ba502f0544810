/** Whether texts hold whole characters only: no half of a UTF-16 surrogate pair. */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** Every string in `value` (keys and values, at any depth) that holds half a character, with its path. */
export function brokenStrings(value: unknown, at = '$'): string[] {
  if (typeof value === 'string') return isWellFormed(value) ? [] : [`${at}: ${JSON.stringify(value)}`];
  if (Array.isArray(value)) return value.flatMap((item, i) => brokenStrings(item, `${at}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => [
      ...(isWellFormed(key) ? [] : [`${at} key ${JSON.stringify(key)}`]),
      ...brokenStrings(item, `${at}.${key}`),
    ]);
  }
  return [];
}
