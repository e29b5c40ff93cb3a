// Entry point of the pre stage; the logic lives in stages/pre.ts.
import { tuneGcForBuffers } from './action/runtime.js';
import { runPre } from './stages/pre.js';

// Before any worker starts: see src/action/runtime.ts.
tuneGcForBuffers();

await runPre();
// A lookup or save abandoned at its timeout may still hold a socket open; the
// stage is over, so do not wait for it.
process.exit(process.exitCode ?? 0);
