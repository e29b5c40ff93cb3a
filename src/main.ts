// Entry point of the main stage; the logic lives in stages/main.ts.
import { tuneGcForBuffers } from './action/runtime.js';
import { runMain } from './stages/main.js';

// Before any worker starts: see src/action/runtime.ts.
tuneGcForBuffers();

await runMain();
// A lookup or save abandoned at its timeout may still hold a socket open; the
// stage is over, so do not wait for it.
process.exit(process.exitCode ?? 0);
