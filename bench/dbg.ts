import { runRound } from './fleet.ts';

process.env.FLEET_BENCH_DEBUG = '1';
const faults = {
  throttle: 0.05,
  duplicateSend: 0.1,
  duplicateDelivery: 0.1,
  rejectedEvents: 0.05,
  lostPutResponse: 0.05,
  terminated: 0,
  failedSendCommand: 0.05,
  collectorCrash: 0.1,
};
(async () => {
  for (let i = 0; i < 2; i++) {
    const f = await runRound({ name: 'x', hosts: 2000, granularity: 'host', faults }, 1);
    console.log(f.integrity.lost, f.integrity.duplicated, f.integrity.metrics.checked, f.integrity.kinds);
  }
})();
