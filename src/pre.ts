// Entry point of the pre stage; the logic lives in stages/pre.ts.
import { runPre } from './stages/pre.js';

await runPre();
// A lookup or save abandoned at its timeout may still hold a socket open; the
// stage is over, so do not wait for it.
process.exit(process.exitCode ?? 0);
