import { mkdtempSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GNU_TIME, stageCommand } from '../e2e/harness/runner.js';

describe("the e2e runner's stage command", () => {
  it('adds node flags with the stage named, and wraps node in GNU time when asked', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vgc-stage-'));
    try {
      const timeDir = path.join(dir, 'rss');
      const env: Record<string, string> = {
        HOME: '/h',
        VGC_STAGE_NODE: '/opt/node',
        VGC_STAGE_NODE_ARGS: ' --cpu-prof  --cpu-prof-dir=/p/{stage} ',
        VGC_STAGE_TIME_DIR: timeDir,
      };
      expect(stageCommand('pre', '/d/pre/index.js', env)).toEqual({
        cmd: GNU_TIME,
        args: [
          '-f',
          '%M',
          '-o',
          path.join(timeDir, 'pre.rss'),
          '/opt/node',
          '--cpu-prof',
          '--cpu-prof-dir=/p/pre',
          '/d/pre/index.js',
        ],
      });
      expect(statSync(timeDir).isDirectory()).toBe(true);
      // The stage does not see the harness's own settings.
      expect(env).toEqual({ HOME: '/h' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the script on node alone by default', () => {
    const env: Record<string, string> = { VGC_STAGE_NODE: '/opt/node' };
    expect(stageCommand('main', '/d/main/index.js', env)).toEqual({
      cmd: '/opt/node',
      args: ['/d/main/index.js'],
    });
  });
});
