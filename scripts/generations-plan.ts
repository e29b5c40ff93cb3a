/**
 * The plan of the real-workload generations (scripts/bench-generations.ts),
 * pure: which direct requirements each generation pins to an older release,
 * and how two generations' go.sum files differ.
 */

/** A direct requirement of bench/real-workload and the older release a generation pins it to. */
export interface Pin {
  path: string;
  version: string;
}

/**
 * Nine groups of two direct requirements, each at a release older than
 * bench/real-workload's (picked from `go list -m -versions`). Generation g
 * (1..10) pins groups 1..10-g: generation 10 pins none (the workload as it
 * is), generation 1 pins all nine, and each step g -> g+1 moves one group
 * forward to the workload's versions (with whatever their own requirements
 * move along with them): a "go.sum bump" of a dependency update.
 */
export const PIN_GROUPS: readonly (readonly Pin[])[] = [
  [
    { path: 'github.com/gin-gonic/gin', version: 'v1.9.1' },
    { path: 'github.com/spf13/cobra', version: 'v1.8.0' },
  ],
  [
    { path: 'go.uber.org/zap', version: 'v1.26.0' },
    { path: 'github.com/jackc/pgx/v5', version: 'v5.5.5' },
  ],
  [
    { path: 'github.com/redis/go-redis/v9', version: 'v9.5.2' },
    { path: 'github.com/IBM/sarama', version: 'v1.42.1' },
  ],
  [
    { path: 'github.com/nats-io/nats.go', version: 'v1.35.0' },
    { path: 'github.com/minio/minio-go/v7', version: 'v7.0.70' },
  ],
  [
    { path: 'github.com/elastic/go-elasticsearch/v8', version: 'v8.12.0' },
    { path: 'github.com/hashicorp/vault/api', version: 'v1.13.0' },
  ],
  [
    { path: 'github.com/docker/docker', version: 'v27.0.3+incompatible' },
    { path: 'github.com/Azure/azure-sdk-for-go/sdk/storage/azblob', version: 'v1.3.2' },
  ],
  [
    { path: 'github.com/prometheus/client_golang', version: 'v1.19.1' },
    { path: 'go.etcd.io/etcd/client/v3', version: 'v3.5.14' },
  ],
  [
    { path: 'github.com/aws/aws-sdk-go-v2/service/s3', version: 'v1.57.1' },
    { path: 'github.com/aws/aws-sdk-go-v2/service/sqs', version: 'v1.31.4' },
  ],
  [
    { path: 'k8s.io/client-go', version: 'v0.30.4' },
    { path: 'k8s.io/apimachinery', version: 'v0.30.4' },
  ],
];

export const GENERATIONS = PIN_GROUPS.length + 1;

/** The pins of generation `g` (1..groups+1): groups 1..groups+1-g, in order. */
export function pinsFor(g: number, groups: readonly (readonly Pin[])[] = PIN_GROUPS): Pin[] {
  const last = groups.length + 1;
  if (!Number.isInteger(g) || g < 1 || g > last) {
    throw new Error(`generation ${g} is outside 1..${last}`);
  }
  return groups.slice(0, last - g).flat();
}

/** `go get` arguments for pins: `path@version` each. */
export function getArgs(pins: readonly Pin[]): string[] {
  return pins.map((p) => `${p.path}@${p.version}`);
}

/**
 * The module versions whose zip a go.sum names (`path@version`, lines without
 * `/go.mod`), sorted: what an exact entry of that go.sum holds at most.
 */
export function zipVersions(goSum: string): string[] {
  const out = new Set<string>();
  for (const line of goSum.split('\n')) {
    const [p, v] = line.trim().split(/\s+/);
    if (!p || !v || v.endsWith('/go.mod')) continue;
    out.add(`${p}@${v}`);
  }
  return [...out].sort();
}

/** How generation b's go.sum moves from a's: zip versions added, removed and kept. */
export function sumStep(a: string, b: string): { added: number; removed: number; kept: number } {
  const before = new Set(zipVersions(a));
  const after = zipVersions(b);
  const kept = after.filter((x) => before.has(x)).length;
  return { added: after.length - kept, removed: before.size - kept, kept };
}
