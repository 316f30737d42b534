// The two ways to run shards shipped in examples/shards/ (kubectl is not installable here to
// dry-run them): checked for the shape each engine needs and for agreeing with hvtune's flags.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const dir = join(import.meta.dirname, '../../../examples/shards');

describe('examples/shards', () => {
  test('Kubernetes: an Indexed Job of N pods, shard K = JOB_COMPLETION_INDEX + 1 of N, then a merge of the N reports', () => {
    const [job, merge] = parseAllDocuments(readFileSync(join(dir, 'kubernetes-indexed-job.yaml'), 'utf8')).map((d) => d.toJS());
    expect(job).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job', spec: { completionMode: 'Indexed' } });
    const n = job.spec.completions;
    expect(job.spec.parallelism).toBe(n);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    const command = job.spec.template.spec.containers[0].command.join(' ');
    expect(command).toContain('K=$((JOB_COMPLETION_INDEX + 1))');
    expect(command).toContain(`--shard "$K/${n}"`);
    expect(command).toMatch(/--json .*> \/reports\/shard-\$K\.json/);
    expect(merge).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job' });
    const mergeCommand = merge.spec.template.spec.containers[0].command.join(' ');
    for (let k = 1; k <= n; k++) expect(mergeCommand).toContain(`/reports/shard-${k}.json`);
    expect(mergeCommand).toContain('report merge');
  });

  test('CI matrix: one job per shard 1..N uploading its report, a merge job after all of them', () => {
    const wf = parse(readFileSync(join(dir, 'github-actions-matrix.yml'), 'utf8'));
    const shards: number[] = wf.jobs.shard.strategy.matrix.shard;
    const n = shards.length;
    expect(shards).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const play = wf.jobs.shard.steps.map((s: { run?: string }) => s.run ?? '').find((r: string) => r.includes(' play '));
    expect(play).toContain(`--shard \${{ matrix.shard }}/${n}`);
    expect(play).toContain('--json > shard-${{ matrix.shard }}.json');
    expect(wf.jobs.merge.needs).toBe('shard');
    const merge = wf.jobs.merge.steps.map((s: { run?: string }) => s.run ?? '').find((r: string) => r.includes('report merge'));
    for (let k = 1; k <= n; k++) expect(merge).toContain(`reports/shard-${k}.json`);
  });
});
