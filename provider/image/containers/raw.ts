// A raw disk image: the file's bytes are the virtual disk's bytes.
import type { VirtualDisk } from "../disk";
import type { HostSource } from "../source";

export class RawDisk implements VirtualDisk {
  readonly format = "raw" as const;
  readonly details = {};
  readonly name: string;
  readonly size: number;

  constructor(private readonly host: HostSource) {
    this.name = host.name;
    this.size = host.size;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.host.read(offset, length);
  }

  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    return this.host.readInto(target, targetOffset, length, position);
  }

  async allocatedBytes(): Promise<number> {
    return Math.min(this.host.allocated, this.size);
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
