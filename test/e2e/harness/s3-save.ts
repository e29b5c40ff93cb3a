/**
 * One S3 save in a process of its own, to be killed mid-upload by a test:
 * `node --import tsx s3-save.ts <dir> <key>` with the store's options in
 * VGC_S3_OPTIONS (JSON) and credentials in the AWS_* variables. Prints the
 * save's result as JSON when it gets that far.
 */
import { S3Store, type S3Options } from '../../../src/cache/s3/store.js';

const [dir, key] = process.argv.slice(2) as [string, string];
const options = JSON.parse(process.env['VGC_S3_OPTIONS'] ?? '{}') as S3Options;
const result = await new S3Store(options).save(dir, key, 600_000);
process.stdout.write(`${JSON.stringify(result)}\n`);
