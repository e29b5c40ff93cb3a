// Saves a directory as a cache entry with the real @actions/cache client,
// bypassing the action: how the tests plant a corrupt entry in the service.
// Usage (env as for a job: HOME, GITHUB_WORKSPACE, ACTIONS_*): node save-entry.mjs <path-spec> <key>
import * as cache from '@actions/cache';

const [spec, key] = process.argv.slice(2);
const id = await cache.saveCache([spec], key);
if (id === -1) {
  console.error(`not saved: ${key}`);
  process.exit(1);
}
console.log(`saved ${key} as ${id}`);
