/**
 * A DynamoDB table in memory, answering PutItem, UpdateItem and GetItem the
 * way DynamoDB does for the expressions the claim store sends
 * (functions/aws/dynamodb-claims.ts), for the fleet bench and the tests:
 *
 * - conditions: `attribute_exists(#a)`, `attribute_not_exists(#a)` and
 *   `#a = :v`, joined by AND; an attribute that is absent fails `=`;
 * - updates: `SET #a = :v, #b = :w`;
 * - a failed condition throws ConditionalCheckFailedException, carrying the
 *   item when ReturnValuesOnConditionCheckFailure is ALL_OLD;
 * - ReturnValues ALL_NEW answers with the item written;
 * - an ExpressionAttributeNames or ExpressionAttributeValues entry the
 *   expressions do not use is refused with a ValidationException, as DynamoDB
 *   refuses it;
 * - the key is the table's one partition key, `keyName`.
 *
 * Anything else throws: the fake must not pass an expression DynamoDB would
 * read differently.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type GetItemCommandInput,
  type PutItemCommandInput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';

type Item = Record<string, AttributeValue>;

function validation(message: string): Error {
  return Object.assign(new Error(message), {
    name: 'ValidationException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
}

const clone = (item: Item): Item => structuredClone(item);
const same = (a: AttributeValue | undefined, b: AttributeValue | undefined) =>
  a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);

interface Expressions {
  ExpressionAttributeNames?: Record<string, string> | undefined;
  ExpressionAttributeValues?: Item | undefined;
}

/** Resolves placeholders, and refuses unknown or unused ones as DynamoDB does. */
function placeholders(input: Expressions, texts: (string | undefined)[]) {
  const text = texts.filter((t) => t !== undefined).join(' ');
  for (const name of Object.keys(input.ExpressionAttributeNames ?? {}))
    if (!new RegExp(`${name}\\b`).test(text))
      throw validation(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${name}}`);
  for (const value of Object.keys(input.ExpressionAttributeValues ?? {}))
    if (!new RegExp(`${value}\\b`).test(text))
      throw validation(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${value}}`);
  const name = (token: string) => {
    const resolved = token.startsWith('#') ? input.ExpressionAttributeNames?.[token] : token;
    if (resolved === undefined)
      throw validation(
        `An expression attribute name used in the document path is not defined; attribute name: ${token}`,
      );
    return resolved;
  };
  const value = (token: string) => {
    const resolved = input.ExpressionAttributeValues?.[token];
    if (resolved === undefined)
      throw validation(
        `An expression attribute value used in expression is not defined; attribute value: ${token}`,
      );
    return resolved;
  };
  return { name, value };
}

function holds(
  condition: string | undefined,
  item: Item | undefined,
  p: ReturnType<typeof placeholders>,
): boolean {
  if (condition === undefined) return true;
  return condition.split(/\s+AND\s+/).every((term) => {
    const fn = /^attribute_(not_)?exists\((#?\w+)\)$/.exec(term.trim());
    if (fn) {
      const present = item?.[p.name(fn[2] as string)] !== undefined;
      return fn[1] === undefined ? present : !present;
    }
    const eq = /^(#?\w+)\s*=\s*(:\w+)$/.exec(term.trim());
    if (eq) return same(item?.[p.name(eq[1] as string)], p.value(eq[2] as string));
    throw validation(`the fake table does not read the condition term ${JSON.stringify(term)}`);
  });
}

function failed(
  input: { ReturnValuesOnConditionCheckFailure?: string | undefined },
  old: Item | undefined,
): never {
  throw new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && old !== undefined
      ? { Item: clone(old) }
      : {}),
  });
}

export class FakeTable {
  readonly items = new Map<string, Item>();
  constructor(readonly keyName: string) {}

  private keyOf(item: Item | undefined): string {
    const key = item?.[this.keyName]?.S;
    if (key === undefined)
      throw validation(`The provided key element does not match the schema (${this.keyName})`);
    return key;
  }

  put(input: PutItemCommandInput): Record<string, never> {
    const key = this.keyOf(input.Item);
    const p = placeholders(input, [input.ConditionExpression]);
    const old = this.items.get(key);
    if (!holds(input.ConditionExpression, old, p)) failed(input, old);
    this.items.set(key, clone(input.Item as Item));
    return {};
  }

  update(input: UpdateItemCommandInput): { Attributes?: Item } {
    const key = this.keyOf(input.Key);
    const p = placeholders(input, [input.ConditionExpression, input.UpdateExpression]);
    const old = this.items.get(key);
    if (!holds(input.ConditionExpression, old, p)) failed(input, old);
    const set = /^SET\s+(.+)$/.exec(input.UpdateExpression ?? '');
    if (!set)
      throw validation(`the fake table does not read the update ${JSON.stringify(input.UpdateExpression)}`);
    const next: Item = old === undefined ? { [this.keyName]: { S: key } } : clone(old);
    for (const assignment of (set[1] as string).split(',')) {
      const parts = /^\s*(#?\w+)\s*=\s*(:\w+)\s*$/.exec(assignment);
      if (!parts)
        throw validation(`the fake table does not read the assignment ${JSON.stringify(assignment)}`);
      next[p.name(parts[1] as string)] = clone({ v: p.value(parts[2] as string) }).v as AttributeValue;
    }
    this.items.set(key, next);
    return input.ReturnValues === 'ALL_NEW' ? { Attributes: clone(next) } : {};
  }

  get(input: GetItemCommandInput): { Item?: Item } {
    const item = this.items.get(this.keyOf(input.Key));
    return item === undefined ? {} : { Item: clone(item) };
  }
}
