// Reader for qcow2 v2 and v3 images (QEMU's docs/interop/qcow2.txt), written here: no Node library reads qcow2.
import { checkWithinFile, LruCache, readMapped, readMappedInto, type BlockLocation, type VirtualDisk } from "../disk";
import { ImageError } from "../errors";
import type { HostSource } from "../source";
import { zlib } from "../codecs/zlib";
import {
  V2_HEADER_SIZE,
  INCOMPAT_DIRTY,
  INCOMPAT_CORRUPT,
  INCOMPAT_DATA_FILE,
  INCOMPAT_EXTL2,
  INCOMPAT_KNOWN,
  EXT_CRYPTO,
  EXT_DATA_FILE,
  Qcow2Header,
  parseExtensions,
  featureNames,
} from "./qcow2-header";

export { QCOW2_MAGIC } from "./qcow2-header";

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const L1_OFFSET_MASK = 0x00fffffffffffe00n;
// L2 entries are decoded from their two 32-bit halves: BigInt per entry costs more than the rest of a read.
const HI_COMPRESSED = 0x40000000;
const HI_OFFSET_MASK = 0x00ffffff;
const LO_OFFSET_MASK = 0xfffffe00;
const LO_ZERO = 1;

/** Node's own zstd (Node ≥ 22.15), where it has one. */
const zstdNative = () => (zlib() as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer }).zstdDecompressSync;

export class Qcow2Disk implements VirtualDisk {
  readonly format = "qcow2" as const;
  readonly name: string;
  readonly size: number;
  readonly details: Record<string, string | number | boolean>;
  private readonly clusterSize: number;
  private readonly l2Entries: number;
  private readonly extendedL2: boolean;
  private readonly subclusterSize: number;
  private readonly l1: bigint[];
  private readonly l2Cache = new LruCache<Uint32Array>(64);
  private readonly clusterCache = new LruCache<Buffer>(4);

  private constructor(
    private readonly host: HostSource,
    private readonly header: Qcow2Header,
    l1: bigint[],
  ) {
    this.name = `qcow2 virtual disk of ${host.name}`;
    this.size = header.size;
    this.clusterSize = 2 ** header.clusterBits;
    this.extendedL2 = (header.incompatibleFeatures & INCOMPAT_EXTL2) !== 0n;
    this.l2Entries = this.clusterSize / (this.extendedL2 ? 16 : 8);
    this.subclusterSize = this.extendedL2 ? this.clusterSize / 32 : this.clusterSize;
    this.l1 = l1;
    this.details = {
      version: header.version,
      clusterSize: this.clusterSize,
      compressionType: header.compressionType,
      extendedL2: this.extendedL2,
      dirty: (header.incompatibleFeatures & INCOMPAT_DIRTY) !== 0n,
    };
  }

  static async open(host: HostSource): Promise<Qcow2Disk> {
    const file = host.name;
    checkWithinFile(host, "qcow2 header", 0, V2_HEADER_SIZE);
    const headBuf = await host.read(0, Math.min(host.size, 65536));
    const h = Qcow2Header.parse(headBuf, file);
    if (h.clusterBits < 9 || h.clusterBits > 21) {
      throw new ImageError(`${file}: qcow2 cluster_bits ${h.clusterBits} at offset 20 is outside 9..21`, {
        file,
        offset: 20,
        fix: "the header is corrupt; re-create the image with qemu-img convert -O qcow2",
        code: "qcow2-corrupt",
      });
    }
    const clusterSize = 2 ** h.clusterBits;
    const exts = parseExtensions(headBuf, h.version === 3 ? h.headerLength : V2_HEADER_SIZE, clusterSize);
    if (h.backingFileOffset !== 0) {
      const name =
        h.backingFileOffset + h.backingFileSize <= headBuf.length
          ? headBuf.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize).toString("utf8")
          : "(name past the first 64 KiB)";
      throw new ImageError(`qcow2 header of ${file} at offset 8: backing file "${name}" is not allowed; DigitalOcean imports one self-contained file`, {
        file,
        offset: 8,
        fix: `flatten it into one file: qemu-img convert -O qcow2 ${file} flat.qcow2`,
        code: "qcow2-backing-file",
      });
    }
    const dataFile = exts.find((e) => e.type === EXT_DATA_FILE);
    if (h.incompatibleFeatures & INCOMPAT_DATA_FILE || dataFile) {
      const name = dataFile ? dataFile.data.toString("utf8") : "(not named)";
      throw new ImageError(
        `qcow2 header of ${file} at offset 72: guest data lives in the external data file "${name}", which an upload of ${file} would not include`,
        {
          file,
          offset: 72,
          fix: `merge the data into one file: qemu-img convert -O qcow2 ${file} single.qcow2`,
          code: "qcow2-external-data-file",
        },
      );
    }
    if (h.cryptMethod !== 0 || exts.some((e) => e.type === EXT_CRYPTO)) {
      const method = h.cryptMethod === 1 ? "AES" : h.cryptMethod === 2 ? "LUKS" : `method ${h.cryptMethod}`;
      throw new ImageError(`qcow2 header of ${file} at offset 32: the image is encrypted (${method}); DigitalOcean cannot boot an encrypted qcow2`, {
        file,
        offset: 32,
        fix: `decrypt it: qemu-img convert --object secret,id=sec0,data=PASSPHRASE --image-opts driver=qcow2,file.filename=${file},encrypt.key-secret=sec0 -O qcow2 plain.qcow2`,
        code: "qcow2-encrypted",
      });
    }
    const unknown = h.incompatibleFeatures & ~INCOMPAT_KNOWN;
    if (unknown !== 0n) {
      const names = featureNames(exts);
      const bits: string[] = [];
      for (let b = 0; b < 64; b++) if (unknown & (1n << BigInt(b))) bits.push(names.has(b) ? `bit ${b} (${names.get(b)})` : `bit ${b}`);
      throw new ImageError(`qcow2 header of ${file} at offset 72: unknown incompatible feature ${bits.join(", ")}; reading it could return wrong data`, {
        file,
        offset: 72,
        fix: `rewrite it with a qemu-img that knows the feature: qemu-img convert -O qcow2 -o compat=1.1 ${file} out.qcow2`,
        code: "qcow2-unknown-feature",
      });
    }
    if (h.incompatibleFeatures & INCOMPAT_CORRUPT) {
      throw new ImageError(`qcow2 header of ${file} at offset 72: the image is marked corrupt by QEMU`, {
        file,
        offset: 72,
        fix: `repair it with qemu-img check -r all ${file}, then validate it again`,
        code: "qcow2-corrupt",
      });
    }
    const l2Entries = clusterSize / (h.incompatibleFeatures & INCOMPAT_EXTL2 ? 16 : 8);
    const needL1 = Math.ceil(h.size / (clusterSize * l2Entries));
    if (h.l1Size < needL1) {
      throw new ImageError(`qcow2 header of ${file} at offset 36: l1_size ${h.l1Size} is too small for a ${h.size}-byte disk (needs ${needL1})`, {
        file,
        offset: 36,
        fix: "the header is corrupt; re-create the image with qemu-img convert -O qcow2",
        code: "qcow2-corrupt",
      });
    }
    checkWithinFile(host, "qcow2 L1 table", h.l1TableOffset, h.l1Size * 8);
    // A refcount or snapshot table past the end is corruption to qemu-img check (and to any writer): refuse it like the rest.
    checkWithinFile(host, "qcow2 refcount table", h.refcountTableOffset, h.refcountTableClusters * clusterSize);
    if (h.snapshotCount > 0) checkWithinFile(host, "qcow2 snapshot table", h.snapshotsOffset, h.snapshotCount * 40);
    const l1Buf = await host.read(h.l1TableOffset, h.l1Size * 8);
    const l1: bigint[] = [];
    for (let i = 0; i < h.l1Size; i++) l1.push(l1Buf.readBigUInt64BE(i * 8));
    return new Qcow2Disk(host, h, l1);
  }

  /** One L2 table as 32-bit halves in host order: entry i is at [2i] (high) and [2i+1] (low). */
  private async l2Table(l1Index: number): Promise<Uint32Array | null> {
    const l2Offset = Number(this.l1[l1Index] & L1_OFFSET_MASK);
    if (l2Offset === 0) return null;
    const cached = this.l2Cache.get(l1Index);
    if (cached) return cached;
    checkWithinFile(this.host, `qcow2 L2 table ${l1Index}`, l2Offset, this.clusterSize);
    const raw = await this.host.read(l2Offset, this.clusterSize);
    // Big-endian words to native ones with one copy and a native byte swap: a loop over 16,384 words is hot enough that
    // V8 optimizes it, and that alone costs a short command several milliseconds of CPU.
    const table = new Uint32Array(this.clusterSize / 4);
    const bytes = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
    raw.copy(bytes);
    if (LITTLE_ENDIAN) bytes.swap32();
    this.l2Cache.set(l1Index, table);
    return table;
  }

  /** Locates one subcluster (a whole cluster unless extended L2 is on). */
  private locate = async (sub: number): Promise<BlockLocation> => {
    const perCluster = this.clusterSize / this.subclusterSize;
    const cluster = Math.floor(sub / perCluster);
    const subIndex = sub - cluster * perCluster;
    const l1Index = Math.floor(cluster / this.l2Entries);
    const table = await this.l2Table(l1Index);
    if (!table) return { kind: "zero" };
    const e = (cluster - l1Index * this.l2Entries) * (this.extendedL2 ? 4 : 2);
    const hi = table[e];
    const lo = table[e + 1];
    if (hi & HI_COMPRESSED) return { kind: "bytes", data: await this.compressedCluster(cluster, (BigInt(hi) << 32n) | BigInt(lo)) };
    const hostOffset = (hi & HI_OFFSET_MASK) * 2 ** 32 + ((lo & LO_OFFSET_MASK) >>> 0);
    if (this.extendedL2) {
      // The bitmap's high half flags subclusters that read as zeros; its low half flags allocated ones.
      if (table[e + 2] & (1 << subIndex)) return { kind: "zero" };
      if (!(table[e + 3] & (1 << subIndex))) return { kind: "zero" };
      return { kind: "host", offset: hostOffset + subIndex * this.subclusterSize };
    }
    if (lo & LO_ZERO || hostOffset === 0) return { kind: "zero" };
    return { kind: "host", offset: hostOffset };
  };

  /** A compressed cluster's L2 entry: where its data starts, and its length bound in 512-byte sectors. */
  private compressedEntry(entry: bigint): { hostOffset: number; sectors: number } {
    const x = 62 - (this.header.clusterBits - 8);
    return { hostOffset: Number(entry & ((1n << BigInt(x)) - 1n)), sectors: Number((entry >> BigInt(x)) & ((1n << BigInt(62 - x)) - 1n)) + 1 };
  }

  private async compressedCluster(cluster: number, entry: bigint): Promise<Buffer> {
    const cached = this.clusterCache.get(cluster);
    if (cached) return cached;
    const { hostOffset, sectors } = this.compressedEntry(entry);
    // The stored length is an upper bound in 512-byte sectors counted from the sector holding the start.
    const length = Math.min(sectors * 512 - (hostOffset % 512), this.host.size - hostOffset);
    checkWithinFile(this.host, `qcow2 compressed cluster ${cluster}`, hostOffset, Math.max(length, 1));
    const data = await this.host.read(hostOffset, length);
    let out: Buffer;
    try {
      out = this.header.compressionType === "zstd" ? this.zstd(data) : zlib().inflateRawSync(data, { finishFlush: zlib().constants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new ImageError(`${this.host.name}: compressed cluster ${cluster} at offset ${hostOffset} does not decompress (${(err as Error).message})`, {
        file: this.host.name,
        offset: hostOffset,
        fix: `the image is damaged; check it with qemu-img check ${this.host.name}`,
        code: "qcow2-corrupt",
        cause: err,
      });
    }
    if (out.length < this.clusterSize) out = Buffer.concat([out, Buffer.alloc(this.clusterSize - out.length)]);
    else if (out.length > this.clusterSize) out = out.subarray(0, this.clusterSize);
    this.clusterCache.set(cluster, out);
    return out;
  }

  private zstd(data: Buffer): Buffer {
    // QEMU writes each cluster as a streamed frame without a content size, possibly followed by unrelated bytes up
    // to the sector end; decode until one cluster's worth has come out and ignore what follows.
    const native = zstdNative();
    if (native) {
      try {
        const out = native(data);
        if (out.length >= this.clusterSize) return out;
      } catch {
        // Trailing bytes after the frame make the native decoder fail; the streaming decoder below tolerates them.
      }
    }
    // Loaded on first use: most images never need it, and start-up time counts for a CLI.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Decompress: ZstdStream } = require("fzstd") as typeof import("fzstd");
    const chunks: Uint8Array[] = [];
    let got = 0;
    const stream = new ZstdStream((chunk) => {
      chunks.push(chunk);
      got += chunk.length;
    });
    try {
      stream.push(data);
    } catch (err) {
      if (got < this.clusterSize) throw err;
    }
    if (got < this.clusterSize) throw new Error(`zstd frame yields ${got} bytes, expected ${this.clusterSize}`);
    return Buffer.concat(chunks);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return readMapped(this, this.host, this.subclusterSize, this.locate, offset, length);
  }

  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    return readMappedInto(this, this.host, this.subclusterSize, this.locate, target, targetOffset, position, length);
  }

  async allocatedBytes(): Promise<number> {
    let total = 0;
    const stride = this.extendedL2 ? 4 : 2;
    const clusters = Math.ceil(this.size / this.clusterSize);
    for (let l1Index = 0; l1Index < this.l1.length; l1Index++) {
      const table = await this.l2Table(l1Index);
      if (!table) continue;
      // Entries past the end of the disk map nothing the guest can read.
      const entries = Math.min(this.l2Entries, clusters - l1Index * this.l2Entries);
      for (let i = 0; i < entries; i++) {
        const hi = table[i * stride];
        const lo = table[i * stride + 1];
        if (hi & HI_COMPRESSED) {
          // Where a compressed cluster starts must be inside the file (its stored length is only an upper bound).
          const start = this.compressedEntry((BigInt(hi) << 32n) | BigInt(lo)).hostOffset;
          checkWithinFile(this.host, `qcow2 compressed cluster ${l1Index * this.l2Entries + i}`, start, 1);
          total += this.clusterSize;
          continue;
        }
        const hostOffset = (hi & HI_OFFSET_MASK) * 2 ** 32 + ((lo & LO_OFFSET_MASK) >>> 0);
        if (hostOffset === 0) continue;
        const what = `qcow2 data cluster ${l1Index * this.l2Entries + i}`;
        if (this.extendedL2) {
          // Only allocated subclusters need to exist in the file; QEMU does not pad the last cluster.
          const bitmap = table[i * stride + 3];
          let n = 0;
          for (let b = bitmap; b; b >>>= 1) n += b & 1;
          if (bitmap) checkWithinFile(this.host, what, hostOffset, (32 - Math.clz32(bitmap)) * this.subclusterSize);
          total += n * this.subclusterSize;
        } else if (!(lo & LO_ZERO)) {
          checkWithinFile(this.host, what, hostOffset, this.clusterSize);
          total += this.clusterSize;
        }
      }
    }
    return Math.min(total, this.size);
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
