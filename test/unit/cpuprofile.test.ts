import { describe, expect, it } from 'vitest';
import {
  categorize,
  summarizeProfile,
  summaryMarkdown,
  type CallFrame,
  type CpuProfile,
} from '../../scripts/cpuprofile.js';

const frame = (functionName: string, url = '', lineNumber = 0): CallFrame => ({
  functionName,
  url,
  lineNumber,
});

/**
 * (root)
 *  ├─ (garbage collector)                       id 2
 *  ├─ (idle)                                    id 3
 *  └─ extractArchive (dist/pre/index.js:10)     id 4
 *      ├─ inflateRawSync (node:zlib)            id 5
 *      │   └─ processChunkSync (node:zlib)      id 6
 *      │       └─ writeSync (native)            id 7
 *      ├─ update (node:internal/crypto/hash)    id 8
 *      │   └─ update (native)                   id 9
 *      ├─ crc32 (node:zlib)                     id 10
 *      ├─ writeSync (node:fs)                   id 11
 *      ├─ _consumeHeader (dist/pre/index.js)    id 12
 *      │   └─ decodeOct (dist/pre/index.js)     id 13
 *      └─ zlibOnData (node:zlib)                id 14
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
    { id: 2, callFrame: frame('(garbage collector)') },
    { id: 3, callFrame: frame('(idle)') },
    {
      id: 4,
      callFrame: frame('extractArchive', 'file:///a/dist/pre/index.js', 9),
      children: [5, 8, 10, 11, 12, 14],
    },
    { id: 5, callFrame: frame('inflateRawSync', 'node:zlib'), children: [6] },
    { id: 6, callFrame: frame('processChunkSync', 'node:zlib'), children: [7] },
    { id: 7, callFrame: frame('writeSync') },
    { id: 8, callFrame: frame('update', 'node:internal/crypto/hash'), children: [9] },
    { id: 9, callFrame: frame('update') },
    { id: 10, callFrame: frame('crc32', 'node:zlib') },
    { id: 11, callFrame: frame('writeSync', 'node:fs') },
    {
      id: 12,
      callFrame: frame('_consumeHeader', 'file:///a/dist/pre/index.js', 99),
      children: [13],
    },
    { id: 13, callFrame: frame('decodeOct', 'file:///a/dist/pre/index.js', 199) },
    { id: 14, callFrame: frame('zlibOnData', 'node:zlib') },
  ],
  startTime: 1_000_000,
  endTime: 1_100_000,
  // Each sample lasts until the next one; the last one until endTime.
  samples: [2, 3, 4, 7, 7, 9, 10, 11, 13, 14],
  timeDeltas: [0, 5000, 10000, 10000, 20000, 10000, 10000, 5000, 5000, 5000],
};

describe('cpuprofile summary', () => {
  it('puts native frames in the category of their nearest caller that names one', () => {
    expect(categorize(frame('writeSync'), [frame('processChunkSync', 'node:zlib')])).toBe(
      'zstd/zlib decompression',
    );
    expect(
      categorize(frame('writeSync'), [
        frame('processChunkSync', 'node:zlib'),
        frame('inflateRawSync', 'node:zlib'),
      ]),
    ).toBe('inflate');
    expect(categorize(frame('update'), [frame('update', 'node:internal/crypto/hash')])).toBe(
      'sha256/crypto',
    );
    expect(categorize(frame('open'), [frame('openSync', 'node:fs')])).toBe('fs writes/syscalls');
    expect(categorize(frame('somethingElse', 'file:///x.js'))).toBe('other');
    expect(categorize(frame('(program)'))).toBe('other');
  });

  it('sums self time by category and by function', () => {
    const s = summarizeProfile('main thread', profile);
    expect(s.totalMs).toBe(100);
    expect(s.byCategory).toEqual({
      'zstd/zlib decompression': 20,
      inflate: 30,
      'sha256/crypto': 10,
      crc32: 5,
      'fs writes/syscalls': 5,
      'tar parsing': 5,
      GC: 5,
      idle: 10,
      other: 10,
    });
    expect(s.functions[0]).toEqual({ fn: 'writeSync (native)', selfMs: 30, category: 'inflate' });
    expect(s.functions.find((f) => f.fn.startsWith('decodeOct'))?.fn).toBe(
      'decodeOct (index.js:200)',
    );
    // Every sampled microsecond is counted once.
    const sum = Object.values(s.byCategory).reduce((a, b) => a + b, 0);
    expect(sum).toBe(100);
  });

  it('writes a table per thread and the top functions, idle left out', () => {
    const s = summarizeProfile('main thread', profile);
    const w = summarizeProfile('worker 1', profile);
    const md = summaryMarkdown([s, w], 3);
    expect(md).toContain('| main thread | 100 | 20 | 30 | 10 | 5 | 5 | 5 | 5 | 10 | 10 |');
    expect(md).toContain('| all threads | | 40 | 60 | 20 | 10 | 10 | 10 | 10 | 20 | 20 |');
    expect(md).toContain('| `writeSync (native)` | 60 | inflate |');
    expect(md).toContain('| `zlibOnData (node:zlib:1)` | 40 | zstd/zlib decompression |');
    expect(md).toContain('| `extractArchive (index.js:10)` | 20 | other |');
    expect(md).not.toContain('(idle)` |');
    expect(md.split('\n').filter((l) => l.startsWith('| `')).length).toBe(3);
  });
});
