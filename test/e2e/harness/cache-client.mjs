// The real @actions/cache client as a command, for what the action itself
// will not do: plant a corrupt entry (tests), and the baselines of the
// benchmark (a bare restore, a plain save, setup-go's and the restore-keys
// recipe's entries). Env as for a job: HOME, GITHUB_WORKSPACE, ACTIONS_*.
//   node cache-client.mjs save <key> <path>...
//   node cache-client.mjs restore <key> [--restore-key <prefix>]... <path>...
import * as cache from '@actions/cache';

const [command, key, ...rest] = process.argv.slice(2);
const restoreKeys = [];
const paths = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--restore-key') restoreKeys.push(rest[++i]);
  else paths.push(rest[i]);
}
if (command === 'save') {
  const id = await cache.saveCache(paths, key);
  if (id === -1) {
    console.error(`not saved: ${key}`);
    process.exit(1);
  }
  console.log(`saved ${key} as ${id}`);
} else if (command === 'restore') {
  const matched = await cache.restoreCache(paths, key, restoreKeys);
  if (!matched) {
    console.error(`no entry for ${key}`);
    process.exit(2);
  }
  console.log(`restored ${matched}`);
} else {
  console.error('usage: cache-client.mjs save|restore <key> ...');
  process.exit(64);
}
