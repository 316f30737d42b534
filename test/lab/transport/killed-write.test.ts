// A write whose remote shell is killed outright (SIGKILL: no trap runs) on a tier-1 lab host: the
// file keeps its old content, the temp file it leaves is removed by the next write of that file,
// and a temp file whose writer still runs is left alone (issue 15, finding 14). The host's veth is
// throttled with tc inside its own namespace so the transfer lasts long enough to be killed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, type RemoteHost } from '../../../src/host.js';
import { useLab } from '../lab.js';

const lab = useLab({ hosts: 1 });
const DIR = '/etc/sysctl.d';
const PATH = `${DIR}/90-hvtune-killed.conf`;
let host: RemoteHost;
let device = '';

const temps = async () =>
  (await lab().exec('hv1', ['ls', '-A', DIR])).stdout
    .split('\n')
    .filter((f) => f.includes('hvtune-tmp'))
    .sort();

beforeAll(async () => {
  const [hv1] = lab().hosts;
  host = await connectHost(
    { name: hv1.name, address: hv1.address, port: hv1.port, user: 'root', identityFile: lab().keyPath, agent: '' },
    { knownHostsFile: lab().knownHostsPath, acceptNewHostKeys: false, connectTimeoutMs: 5000 },
  );
  // The host's end of its veth pair, the one interface of its namespace besides lo.
  device = (
    await lab().exec('hv1', ['sh', '-c', 'ip -o link show | awk -F\': \' \'$2 != "lo" { sub(/@.*/, "", $2); print $2; exit }\''])
  ).stdout.trim();
  expect(device).not.toBe('');
});

afterAll(async () => {
  await lab().exec('hv1', ['tc', 'qdisc', 'del', 'dev', device, 'root']);
  await lab().exec('hv1', ['rm', '-f', PATH]);
  await host?.close();
});

describe('a write killed on the host', () => {
  it('leaves the old content; the next write of the file removes the dead writer’s temp file, not a live one’s', async () => {
    await host.writeFile(PATH, 'net.ipv4.tcp_fin_timeout = 30\n', { backup: false });
    // Everything the host sends, its TCP acknowledgements too, is held to 32 kbit/s: the transfer
    // to it waits for them (this kernel has tbf, not netem or ingress policing).
    const tc = await lab().exec('hv1', [
      'tc',
      'qdisc',
      'add',
      'dev',
      device,
      'root',
      'tbf',
      'rate',
      '32kbit',
      'burst',
      '1600',
      'latency',
      '20s',
    ]);
    expect(tc.code, tc.stderr).toBe(0);
    const big = `# ${'x'.repeat(78)}\n`.repeat(40_000); // 3.2 MB: several seconds at 4 Mbit/s
    const writing = host.writeFile(PATH, big).then(
      () => 'written',
      (err: Error) => err.message,
    );
    let dead: string[] = [];
    for (let i = 0; i < 100 && dead.length === 0; i++) {
      dead = await temps();
      if (dead.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(dead).toHaveLength(1);
    const writer = dead[0].slice(dead[0].lastIndexOf('.') + 1);
    // The writer first (so it cannot go on to a rename), then what it started (the subshell and cat).
    const killed = await lab().exec('hv1', [
      'sh',
      '-c',
      'kids() { for c in $(ps -o pid= --ppid "$1"); do kids "$c"; echo "$c"; done; }; all=$(kids "$1"); kill -KILL "$1"; kill -KILL $all',
      'sh',
      writer,
    ]);
    expect(killed.code, killed.stderr).toBe(0);
    expect(await writing).not.toBe('written');
    await lab().exec('hv1', ['tc', 'qdisc', 'del', 'dev', device, 'root']);

    expect(await lab().readFile('hv1', PATH)).toBe('net.ipv4.tcp_fin_timeout = 30\n');
    expect(await temps()).toEqual(dead); // SIGKILL: no trap ran, the temp file stays…

    // …until the next write of that file. A temp file of a writer that still runs (PID 1, the
    // host's init) is not touched.
    const live = `.90-hvtune-killed.conf.hvtune-tmp.1`;
    await lab().writeFile('hv1', `${DIR}/${live}`, 'a concurrent writer\n');
    await host.writeFile(PATH, 'net.ipv4.tcp_fin_timeout = 15\n', { backup: false });
    expect(await lab().readFile('hv1', PATH)).toBe('net.ipv4.tcp_fin_timeout = 15\n');
    expect(await temps()).toEqual([live]);
    await lab().exec('hv1', ['rm', '-f', `${DIR}/${live}`]);
  });
});
