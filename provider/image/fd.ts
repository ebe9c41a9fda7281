// File calls on plain descriptors, as promises, through node:fs's callbacks: node:fs/promises (and its FileHandle)
// loads Node's stream, readline and watcher modules as it is required, about a tenth of a short command's start.
import * as fs from "node:fs";

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;
const call = <T>(start: (done: Callback<T>) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));

export const openFd = (path: string, flags: string): Promise<number> => call<number>((done) => fs.open(path, flags, done));
export const closeFd = (fd: number): Promise<void> => call<void>((done) => fs.close(fd, (err) => done(err, undefined)));
export const statPath = (path: string): Promise<fs.Stats> => call<fs.Stats>((done) => fs.stat(path, done));
export const statFd = (fd: number): Promise<fs.Stats> => call<fs.Stats>((done) => fs.fstat(fd, done));
export const truncateFd = (fd: number, length: number): Promise<void> => call<void>((done) => fs.ftruncate(fd, length, (err) => done(err, undefined)));
export const readFd = (fd: number, target: Uint8Array, offset: number, length: number, position: number): Promise<number> =>
  call<number>((done) => fs.read(fd, target, offset, length, position, done));
/** Writes all `length` bytes, in as many calls as it takes. */
export async function writeFd(fd: number, data: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  for (let done = 0; done < length;) {
    done += await call<number>((cb) => fs.write(fd, data, offset + done, length - done, position + done, cb));
  }
}
