// Entry point of the health stage alone, for tests that bundle it apart from
// main (main dispatches to the same runHealth when `mode: health`).
import { runHealth } from './stages/health.js';

await runHealth();
process.exit(process.exitCode ?? 0);
