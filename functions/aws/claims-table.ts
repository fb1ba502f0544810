/**
 * The claim table's schema, shared by its adapter (dynamodb-claims.ts) and the
 * stack fragment that declares it (stack/claims-table.ts), so the key and the
 * TTL attribute are named once.
 */

/** Partition key (a string): `collect/<job key>` or `dispatch/<round time>`. */
export const CLAIMS_KEY_ATTRIBUTE = 'pk';

/** Epoch seconds after which DynamoDB's TTL deletes the item (within days; the store never relies on it). */
export const CLAIMS_TTL_ATTRIBUTE = 'expiresAt';

/** DynamoDB table names: 3-255 of letters, digits, `_`, `-` and `.` (CreateTable API reference). */
export const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/** What each function calls on the table, for its IAM policy (nothing else is granted). */
export const CLAIMS_TABLE_ACTIONS = {
  /** Round claims: create (PutItem), commit (UpdateItem). */
  dispatch: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
  /** Job claims: create (PutItem), take over and commit (UpdateItem), was a follow-up claimed (GetItem). */
  collect: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem'],
} as const;
