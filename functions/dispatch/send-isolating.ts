/**
 * Sends one command batch (up to 50 instances) so that instances SSM refuses
 * do not cost the others their round.
 *
 * SendCommand fails as a whole with InvalidInstanceId when any instance of the
 * call is terminating, terminated, no longer registered or has no running SSM
 * Agent (SSM API reference, InvalidInstanceId), although every other instance
 * could take it. The refused instances are found, recorded one by one, and the
 * others are sent again without them:
 *
 * 1. ids the error message names (SSM's message usually reads "Instances
 *    [[i-...]] not in a valid state for account ..."; it may also be empty);
 * 2. otherwise, once per batch, the inventory's recheck (EC2 state and SSM
 *    ping status of the batch, two calls);
 * 3. otherwise, bisection: each half is sent on its own; a half SSM accepts is
 *    done (its command runs), a refused half is narrowed again, down to the
 *    single refused instance.
 *
 * API calls are bounded: at most `maxSendCalls` SendCommand calls per batch
 * (one refused instance among 50 needs at most 2 * ceil(log2 50) = 12 more by
 * bisection alone) and one recheck. Instances still unplaced when the budget is
 * spent are reported as failed with the refusal, never dropped.
 */
import { type IneligibleInstance, InstancesRefusedError } from '../ports.ts';

/** SendCommand calls allowed per batch of 50, the first one included. */
export const MAX_SEND_CALLS_PER_BATCH = 25;

export interface RefusedInstance {
  instanceId: string;
  /** Why SSM would not take it, as far as known: the recheck's reason, else SSM's message. */
  reason: string;
  /** SSM's ping status when the recheck saw it, else null. */
  pingStatus: string | null;
  lastPingAt: string | null;
  error: InstancesRefusedError;
}

export interface IsolationResult {
  /** Commands SSM accepted, with the instances each one holds. */
  sent: { commandId: string; instanceIds: string[] }[];
  /** Instances SSM refused, isolated one by one. */
  refused: RefusedInstance[];
  /** Instances not sent: another SendCommand error, or a refusal not isolated within the budget. */
  failed: { instanceIds: string[]; error: unknown }[];
  sendCalls: number;
  recheckCalls: number;
}

export interface IsolationOptions {
  recheck?: ((instanceIds: string[]) => Promise<IneligibleInstance[]>) | undefined;
  maxSendCalls?: number;
}

function halves<T>(items: readonly T[]): [T[], T[]] {
  const middle = Math.ceil(items.length / 2);
  return [items.slice(0, middle), items.slice(middle)];
}

export async function sendIsolating(
  instanceIds: readonly string[],
  send: (instanceIds: string[]) => Promise<{ commandId: string }>,
  options: IsolationOptions = {},
): Promise<IsolationResult> {
  const maxSendCalls = options.maxSendCalls ?? MAX_SEND_CALLS_PER_BATCH;
  const result: IsolationResult = { sent: [], refused: [], failed: [], sendCalls: 0, recheckCalls: 0 };
  let rechecked = false;

  const refuse = (instanceId: string, error: InstancesRefusedError, seen?: IneligibleInstance): void => {
    result.refused.push({
      instanceId,
      reason:
        seen?.reason ??
        (error.detail !== ''
          ? error.detail
          : `${error.errorName} with no detail; isolated by sending parts of the batch, which SSM took without this instance`),
      pingStatus: seen?.pingStatus ?? null,
      lastPingAt: seen?.lastPingAt ?? null,
      error,
    });
  };

  /**
   * Sends `group`; on refusal narrows it down. `parent` is the refusal that led
   * here, if any. Says whether SSM took the whole group in one command.
   */
  const attempt = async (group: string[], parent: InstancesRefusedError | null): Promise<boolean> => {
    if (group.length === 0) return true;
    if (result.sendCalls >= maxSendCalls && parent !== null) {
      result.failed.push({
        instanceIds: group,
        error: new InstancesRefusedError(
          parent.errorName,
          `${parent.detail === '' ? 'SSM refused instances of this batch' : parent.detail} (the refused instances could not be isolated within ${maxSendCalls} SendCommand calls; these instances were not sent this round)`,
          parent.named,
          { cause: parent },
        ),
      });
      return false;
    }
    result.sendCalls++;
    let refusal: InstancesRefusedError;
    try {
      result.sent.push({ commandId: (await send(group)).commandId, instanceIds: group });
      return true;
    } catch (error) {
      if (!(error instanceof InstancesRefusedError)) {
        result.failed.push({ instanceIds: group, error });
        return false;
      }
      refusal = error;
    }
    await narrow(group, refusal);
    return false;
  };

  /** `group` was refused as a whole: find the refused instances in it. */
  const narrow = async (group: string[], refusal: InstancesRefusedError): Promise<void> => {
    if (group.length === 1) {
      refuse(group[0] as string, refusal);
      return;
    }
    const named = new Set(refusal.named.filter((id) => group.includes(id)));
    if (named.size > 0) {
      for (const id of named) refuse(id, refusal);
      await attempt(
        group.filter((id) => !named.has(id)),
        refusal,
      );
      return;
    }
    if (!rechecked && options.recheck !== undefined) {
      rechecked = true;
      result.recheckCalls++;
      // A failed recheck only costs the shortcut: bisection still finds them.
      const ineligible = await options.recheck(group).catch(() => [] as IneligibleInstance[]);
      const bad = new Map(
        ineligible.filter((i) => group.includes(i.instanceId)).map((i) => [i.instanceId, i]),
      );
      if (bad.size > 0) {
        for (const [id, seen] of bad) refuse(id, refusal, seen);
        await attempt(
          group.filter((id) => !bad.has(id)),
          refusal,
        );
        return;
      }
    }
    const [first, second] = halves(group);
    // When SSM takes the first half whole, the refused instances are all in the
    // second: narrow it without sending it whole again.
    if (await attempt(first, refusal)) await narrow(second, refusal);
    else await attempt(second, refusal);
  };

  await attempt([...instanceIds], null);
  return result;
}
