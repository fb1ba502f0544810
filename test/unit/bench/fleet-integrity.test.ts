/**
 * The fleet flow end to end (real dispatch and collector code, real AWS
 * adapters over the simulated services of bench/fleet-aws.ts), under faults
 * far denser than the benchmark's 1 %: every host gets exactly one record of
 * the round, and the fleet metrics count what the records say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RoundFigures, runRound } from '../../../bench/fleet.ts';
import { type FaultRates, NO_FAULTS } from '../../../bench/fleet-aws.ts';

function assertOneRecordPerHost(f: RoundFigures): void {
  const k = f.integrity.kinds;
  assert.equal(f.integrity.lost, 0, 'hosts without a record');
  assert.equal(f.integrity.duplicated, 0, 'records written twice');
  assert.equal(f.integrity.metrics.checked, k.result ?? 0, 'HostsChecked counts the result records');
  assert.equal(
    f.integrity.metrics.failed + f.integrity.metrics.blind,
    (k.failure ?? 0) + (k.deadline ?? 0) + (k['dispatch-failed'] ?? 0) + (k.blind ?? 0),
    'HostsFailed + HostsBlind count the other records',
  );
  assert.equal(f.deadLetters.count, 0);
}

describe('fleet round under faults', () => {
  it('writes one record per host and counts it once with 5-10 % of every fault and the scheduled event delivered twice', async () => {
    // Prepare
    const faults: FaultRates = {
      throttle: 0.05,
      duplicateSend: 0.1,
      duplicateDelivery: 0.1,
      rejectedEvents: 0.05,
      lostPutResponse: 0.05,
      // Refused batches are isolated while SendCommand is also throttled or failing.
      terminated: 0.05,
      failedSendCommand: 0.05,
      collectorCrash: 0.1,
    };
    // Act
    const f = await runRound(
      { name: 'dense faults', hosts: 2000, granularity: 'host', faults, dispatchTwice: true },
      1,
    );
    // Assess
    for (const kind of Object.keys(faults) as (keyof FaultRates)[])
      if (faults[kind] > 0) assert.ok(f.injected[kind] > 0, `${kind} was injected`);
    assertOneRecordPerHost(f);
    assert.equal(f.duplicateDispatches, 1, 'the second delivery of the scheduled event sent nothing');
    assert.equal(f.integrity.refusedNotTerminated, 0);
    assert.ok(f.integrity.sendCommandRefused > 0, 'terminated instances refused and recorded blind');
    // Nearly every batch holds a terminated instance and is sent twice, so throttled or
    // failed SendCommand calls (5 % each) cost more batches than without terminations.
    assert.ok((f.integrity.kinds.result ?? 0) > 1400, 'most hosts checked');
  });

  it('records a terminated instance SendCommand refuses as blind and sends the rest of its batch, none lost', async () => {
    // Prepare: 1 % of the instances terminate between discovery and SendCommand.
    // Act
    const f = await runRound(
      { name: 'terminated', hosts: 500, granularity: 'fleet', faults: { ...NO_FAULTS, terminated: 0.01 } },
      1,
    );
    // Assess
    assertOneRecordPerHost(f);
    assert.equal(f.injected.terminated, 5);
    assert.equal(f.integrity.sendCommandRefused, 5);
    assert.equal(f.integrity.refusedNotTerminated, 0);
    assert.equal(f.integrity.sendCommandFailed, 0);
    assert.equal(f.integrity.kinds['dispatch-failed'], undefined);
    // Each refused batch costs one call more: SSM's message names the instance.
    const pingBlind = (f.integrity.kinds.blind ?? 0) - f.integrity.sendCommandRefused;
    const batches = Math.ceil((500 - pingBlind) / 50);
    assert.ok((f.calls['SSM SendCommand'] ?? 0) <= batches + 5);
    assert.equal(f.faultedCalls['SSM SendCommand'], (f.calls['SSM SendCommand'] ?? 0) - batches);
  });
});
