// Entry point of the post stage; the logic lives in stages/post.ts.
import { runPost } from './stages/post.js';

await runPost();
// A lookup or save abandoned at its timeout may still hold a socket open; the
// stage is over, so do not wait for it.
process.exit(process.exitCode ?? 0);
