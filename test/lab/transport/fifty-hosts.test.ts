// Fifty tier-1 hosts at once: one connection each, facts and a batched read, all in parallel.
// Prints the time it took; the bound only catches a transport that serialises hosts.
import { describe, expect, it } from 'vitest';
import { connectHost } from '../../../src/host.js';
import { useLab } from '../lab.js';

const lab = useLab({ hosts: 50 });

describe('fifty hosts', () => {
  it('connect, gather facts and read, in parallel, each host answering for itself', async () => {
    const started = performance.now();
    const results = await Promise.all(
      lab().hosts.map(async (h) => {
        const host = await connectHost(
          { name: h.name, address: h.address, port: h.port, user: 'root', identityFile: lab().keyPath, agent: '' },
          { knownHostsFile: lab().knownHostsPath, acceptNewHostKeys: false, connectTimeoutMs: 20_000 },
        );
        try {
          const [hostname] = await host.read([{ kind: 'file', path: '/etc/hostname' }]);
          return { name: h.name, facts: host.facts.hostname, file: hostname, roundTrips: host.roundTrips };
        } finally {
          await host.close();
        }
      }),
    );
    const elapsed = performance.now() - started;
    console.log(`50 hosts: connect + facts + one batched read each, in parallel: ${elapsed.toFixed(0)} ms`);
    for (const r of results) {
      expect(r.facts).toBe(r.name);
      expect(r.file).toMatchObject({ content: `${r.name}\n` });
      expect(r.roundTrips).toBe(2);
    }
    expect(elapsed).toBeLessThan(20_000);
  });
});
