// `serial` (Ansible's meaning): the hosts of a play in batches, each run to the end of the play
// before the next starts. Sizes are host counts or percentages of the play's hosts (rounded down,
// at least one); the last size repeats until every host has a batch.

export function batchesOf(hosts: string[], serial: (number | string)[] | undefined): string[][] {
  if (!serial || serial.length === 0 || hosts.length === 0) return hosts.length ? [hosts] : [];
  const size = (s: number | string) => (typeof s === 'number' ? s : Math.max(1, Math.floor((hosts.length * Number(s.slice(0, -1))) / 100)));
  const out: string[][] = [];
  let at = 0;
  for (let i = 0; at < hosts.length; i++) {
    const n = size(serial[Math.min(i, serial.length - 1)]);
    out.push(hosts.slice(at, at + n));
    at += n;
  }
  return out;
}

/** Does this batch's failure count stop the run? (more than `percentage` % of it failed) */
export function exceedsFailPercentage(failed: number, batchSize: number, percentage: number | undefined): boolean {
  return percentage !== undefined && batchSize > 0 && (failed * 100) / batchSize > percentage;
}
