/**
 * npm run demo: the action's three stages, run twice (a cold job, then a warm
 * one) on the sample project, against the local cache service and a hermetic
 * module proxy. Needs only Node and Go; touches no network.
 */
import { World } from '../test/e2e/harness/world.js';
import type { StageResult } from '../test/e2e/harness/runner.js';

const bold = (s: string): string => (process.stdout.isTTY ? `\u001b[1m${s}\u001b[0m` : s);

function show(stage: StageResult | undefined): void {
  if (!stage) return;
  console.log(bold(`  [${stage.stage}] exit ${stage.exitCode}, ${stage.ms} ms`));
  for (const line of stage.stdout.split('\n')) {
    if (line === '' || line.startsWith('::debug::') || line.startsWith('::add-mask::')) continue;
    if (line.startsWith('::group::')) console.log(`    ▸ ${line.slice(9)}`);
    else if (line === '::endgroup::') continue;
    else console.log(`      ${line.replace(/%0A/g, '\n      ')}`);
  }
}

const world = await World.create({ modules: 20 });
try {
  console.log(
    bold(`Module proxy: ${world.proxyUrl} (${world.set.versions.length} module versions)`),
  );
  console.log(bold(`Cache service: ${world.server.url}\n`));
  for (const [title, opts] of [
    ['Job 1: cold runner, empty cache service', {}],
    ['Job 2: a new runner; GOPROXY=off proves nothing is downloaded', { env: { GOPROXY: 'off' } }],
  ] as const) {
    console.log(bold(`== ${title}`));
    const job = await world.job({
      inputs: { environment: 'demo' },
      ...opts,
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    show(job.pre);
    show(job.main);
    for (const s of job.steps) console.log(bold(`  [step] ${s.command}: exit ${s.exitCode}`));
    show(job.post);
    console.log(bold('  outputs:'), JSON.stringify(job.outputs));
    console.log(bold('  job summary:'));
    console.log(job.summary.replace(/^/gm, '    '));
    if (!job.succeeded) {
      console.error(job.log);
      process.exitCode = 1;
      break;
    }
  }
  console.log(bold('Entries in the cache service:'));
  for (const e of world.server.finalized())
    console.log(`  ${e.key} (${e.size} bytes, branch ${e.branch})`);
} finally {
  await world.dispose();
}
