// virsh against a lab host's private libvirtd, for asserting on the host itself (not through hvtune).

import { LIBVIRT_URI } from '../../harness/libvirt.js';
import type { Lab } from '../../../src/demo/lab/tier1.js';

export interface Virsh {
  (...args: string[]): Promise<string>;
  inactiveXml(name: string): Promise<string>;
}

/** virsh on `host`; throws with stderr when it fails. */
export function virshOn(lab: () => Lab, host: string): Virsh {
  const virsh = async (...args: string[]) => {
    const r = await lab().exec(host, ['virsh', '-q', '-c', LIBVIRT_URI, ...args]);
    if (r.code !== 0) throw new Error(`virsh ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return Object.assign(virsh, { inactiveXml: (name: string) => virsh('dumpxml', '--inactive', name) });
}

/** `virsh schedinfo`-style "key : value" lines as a record. */
export const fields = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes(':'))
      .map((l) => l.split(':').map((s) => s.trim())),
  );
