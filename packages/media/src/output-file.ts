import { rename, rm, stat } from 'node:fs/promises';

/** Writes through a `.part` file so a crash never leaves a truncated file under the final name. */
export async function writeAtomically<T>(output: string, write: (partPath: string) => Promise<T>): Promise<T> {
  const partPath = `${output}.part`;
  try {
    const result = await write(partPath);
    await rename(partPath, output);
    return result;
  } catch (err) {
    await rm(partPath, { force: true });
    throw err;
  }
}

/** Size of a file in bytes. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
