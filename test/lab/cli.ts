/**
 * Command line for the lab (root):
 *   node --import tsx test/lab/cli.ts cleanup        remove labs left by crashed runs
 *   node --import tsx test/lab/cli.ts up [N]         build a lab with N resources, print it,
 *                                                    keep it until Ctrl-C, then tear it down
 */
import { createLab } from './lab.ts';
import { cleanupStaleLabs } from './registry.ts';

async function main(argv: string[]): Promise<number> {
  const [verb, count] = argv;
  if (verb === 'cleanup') {
    const report = await cleanupStaleLabs();
    process.stdout.write(
      `removed ${report.labs.length} stale lab(s)${report.labs.length > 0 ? `: ${report.labs.join(', ')}` : ''}; ` +
        `${report.namespaces.length} namespace(s)\n`,
    );
    return 0;
  }
  if (verb === 'up') {
    const lab = await createLab({ resources: count === undefined ? 3 : Number(count) });
    process.stdout.write(
      `${JSON.stringify(
        {
          id: lab.id,
          hostNamespace: lab.hostNamespace,
          namespaces: lab.nodes.map((node) => lab.ns(node)),
          addresses: lab.addr,
          management: lab.management,
          openvpnLog: lab.openvpnLogPath,
          try: lab.command('host', 'mtr', ['-n', '-c', '5', '-r', '--', lab.addr.resources[0] ?? '']),
        },
        null,
        2,
      )}\nCtrl-C tears the lab down.\n`,
    );
    // the lab's children are unref'd, so only this timer keeps the process (and the lab) alive
    const keepAlive = setInterval(() => {}, 60_000);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    clearInterval(keepAlive);
    await lab.destroy();
    return 0;
  }
  process.stderr.write('usage: cli.ts cleanup | cli.ts up [resources]\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
