// Memory limits relative to the domain's own memory (`memory+25%`, `memory+1GiB`): a fixed
// hard_limit is wrong for every domain but one size — too low, the kernel OOM-kills QEMU when the
// guest touches its RAM; libvirt itself warns against guessing it. The base is the domain's
// <memory> (its maximum), read from the XML being patched.

import type { Document, Element, Node } from '@xmldom/xmldom';
import { type DomainTuning, type MemorySize, memoryKiB } from './domain-xml.js';

const UNIT = '(b|bytes|[KMGT]B?|[KMGT]iB|[kmgt])?';
export const RELATIVE_MEMORY = `^memory\\s*\\+\\s*([0-9]{1,3}%|[0-9]{1,15}\\s*${UNIT})$`;
const RELATIVE = new RegExp(RELATIVE_MEMORY);

export const isRelativeMemory = (value: MemorySize | undefined): value is string => typeof value === 'string' && RELATIVE.test(value);

/** The domain's <memory> in KiB, or null when the XML has none. */
export function domainMemoryKiB(doc: Document): number | null {
  for (const node of Array.from((doc.documentElement?.childNodes ?? []) as unknown as ArrayLike<Node>)) {
    if (node.nodeType !== 1 || (node as Element).tagName !== 'memory') continue;
    const el = node as Element;
    return memoryKiB((el.textContent ?? '').trim(), el.getAttribute('unit') || 'KiB');
  }
  return null;
}

/** `t` with each relative memtune value replaced by KiB computed from the domain in `doc`. */
export function resolveRelativeMemory<T extends DomainTuning>(t: T, doc: Document, domain: string): T {
  const memtune = t.memtune;
  if (!memtune || !Object.values(memtune).some(isRelativeMemory)) return t;
  const base = domainMemoryKiB(doc);
  if (base === null) throw new Error(`${domain}: memtune is relative to the domain's memory, but its XML has no <memory>`);
  const resolved: Record<string, MemorySize> = {};
  for (const [field, value] of Object.entries(memtune) as [string, MemorySize][]) {
    if (!isRelativeMemory(value)) {
      resolved[field] = value;
      continue;
    }
    const extra = RELATIVE.exec(value)![1];
    resolved[field] = extra.endsWith('%') ? Math.ceil((base * (100 + Number(extra.slice(0, -1)))) / 100) : base + memoryKiB(extra);
  }
  return { ...t, memtune: resolved };
}
