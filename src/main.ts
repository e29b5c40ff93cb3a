// Entry point of the main stage; the logic lives in stages/main.ts.
import { runMain } from './stages/main.js';

await runMain();
// A lookup or save abandoned at its timeout may still hold a socket open; the
// stage is over, so do not wait for it.
process.exit(process.exitCode ?? 0);
