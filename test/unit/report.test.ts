import { describe, expect, it } from 'vitest';
import { formatBytes, formatMs, summaryMarkdown } from '../../src/report/report.js';

describe('summaryMarkdown', () => {
  it('renders one table with every field, and the bad modules', () => {
    const md = summaryMarkdown({
      exactKey: 'k;sum=1',
      matchedKey: 'k;sum=1;gen=2.1',
      hitKind: 'exact',
      restoredBytes: 2048,
      savedBytes: undefined,
      moduleCount: 12,
      verification: 'corrupt (1 problems), rebuilt and verified',
      bad: [
        { module: 'example.com/a@v1.0.0', reason: 'extracted files differ | from the ziphash' },
      ],
      saved: '`k;sum=1;gen=3.1`',
      timings: { 'restore (pre)': 1500, verify: 20 },
    });
    expect(md).toContain('| Key | `k;sum=1` |');
    expect(md).toContain('| Matched key | `k;sum=1;gen=2.1` |');
    expect(md).toContain('| Hit kind | exact |');
    expect(md).toContain('| Restored archive | 2.0 KiB |');
    expect(md).toContain('| Modules | 12 |');
    expect(md).toContain('| Saved archive | - |');
    expect(md).toContain('| Time: restore (pre) | 1.5 s |');
    expect(md).toContain('| Time: verify | 20 ms |');
    expect(md).toContain(
      '| `example.com/a@v1.0.0` | extracted files differ \\| from the ziphash |',
    );
  });
});

describe('formatting', () => {
  it('formats sizes and durations', () => {
    expect(formatBytes(undefined)).toBe('-');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
    expect(formatMs(999)).toBe('999 ms');
    expect(formatMs(61_000)).toBe('61.0 s');
  });
});
