// libvirt_domain apply on a recording host: a new definition reaches virsh on stdin, never through
// a file on the host (a predictable /tmp name could be a link planted by another user).

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import libvirt_domain from '../../../../modules/libvirt_domain.js';
import { recordingHost } from '../recording-host.js';

const OFF = readFileSync(new URL('./xml/off-inactive.xml', import.meta.url), 'utf8');

it('define: the XML goes to virsh define on stdin and no file is written or removed on the host (issue 15)', async () => {
  const tuned = OFF.replace(/<\/domain>\s*$/, '  <cputune>\n    <shares>512</shares>\n  </cputune>\n</domain>\n');
  const host = recordingHost();
  const stdins: string[] = [];
  host.run = async (argv, opts) => {
    host.calls.push(`exec ${argv.join(' ')}`);
    if (opts?.stdin !== undefined) stdins.push(String(opts.stdin));
    return { stdout: argv.includes('dumpxml') ? tuned : '', stderr: '', code: 0 };
  };
  const change = {
    summary: 'define vm1 with cputune/shares',
    target: 'domain:vm1',
    effect: 'persistent' as const,
    data: { op: 'define', domain: 'vm1', xml: tuned, original: OFF },
  };
  await libvirt_domain.apply([change], host, { name: 'vm1', cputune: { shares: 512 } });
  expect(host.calls.filter((c) => c.startsWith('write') || c.startsWith('remove'))).toEqual([]);
  expect(host.calls[0]).toBe('exec virsh -q -c qemu:///system define --file /dev/stdin');
  expect(stdins).toEqual([tuned]);
});
