// LVM2 volume groups on an image's partitions, read by hand (no JavaScript library reads LVM's on-disk format):
// physical volume labels, the text metadata, and linear logical volumes as byte sources a filesystem reader opens.
//
// Written from LVM2's sources (lvmteam/lvm2: lib/label/label.h, lib/format_text/layout.h, format-text.c,
// import_vsn1.c, libdm/libdm-config.c; the format has not changed since LVM2 2.02):
// - A physical volume's label sits in one of its first four 512-byte sectors: "LABELONE", the sector's own number (u64),
//   a CRC, the offset of the contents (u32, from the label's start) and the type "LVM2 001". The contents are the
//   pv_header: the PV's 32-character UUID, its size (u64), then two lists of (offset, size) u64 pairs, each ended by a
//   zero pair: data areas, then metadata areas. All little-endian.
// - A metadata area starts with an mda_header: checksum (u32), the magic " LVM2 x[5A%r0N*>", version (u32), its own
//   start and size (u64), then raw_locn entries (offset, size u64; checksum, flags u32) to a zero entry. The first
//   one not flagged ignored (flag 1) locates the current metadata text, offset from the area's start; text that
//   runs past the area's end continues right after the 512-byte header (a ring buffer).
// - The text is libdm's config format: `key = value`, `name { … }` sections, "strings", numbers, [lists], # comments.
//   The volume group is the one top-level section: `extent_size` (sectors), `physical_volumes { pvN { id, pe_start
//   (sectors) } }`, `logical_volumes { name { segment_count, segmentN { start_extent, extent_count, type,
//   stripe_count, stripes = ["pvN", first extent] } } }`. A "striped" segment with one stripe is linear; other kinds
//   (RAID, thin, cache, snapshots, more stripes) are named but not mapped.
import { GUEST_LIMITS } from "./guest-limits";
import { ImageError } from "./errors";
import type { ByteSource } from "./source";

const SECTOR = 512;
const MDA_MAGIC = " LVM2 x[5A%r0N*>";
/** Bounds on what an image's metadata may make us read: LVM's own default metadata area is 1 MiB. */
export const LVM_LIMITS = GUEST_LIMITS.lvm;

export interface PhysicalVolume {
  /** The PV's UUID, as LVM prints it (6-4-4-4-4-4-6 characters). */
  uuid: string;
  /** The current metadata text, if the PV has a metadata area. */
  metadata?: string;
}

const dashed = (id: string) => id.replace(/^(.{6})(.{4})(.{4})(.{4})(.{4})(.{4})(.{6})$/, "$1-$2-$3-$4-$5-$6-$7");

function bad(src: ByteSource, what: string): ImageError {
  return new ImageError(`${src.name}: LVM physical volume: ${what}`, {
    file: src.name,
    fix: "check the volume group with vgck and pvck where the image was made, or boot the image to see whether it activates: do-image boot IMAGE",
  });
}

/** Reads a physical volume's label and current metadata text; undefined when the source has no LVM2 label. */
export async function readPhysicalVolume(src: ByteSource): Promise<PhysicalVolume | undefined> {
  if (src.size < 4 * SECTOR) return undefined;
  const head = await src.read(0, 4 * SECTOR);
  let at = -1;
  for (let s = 0; s < 4; s++) {
    const o = s * SECTOR;
    if (head.toString("latin1", o, o + 8) === "LABELONE" && head.toString("latin1", o + 24, o + 32) === "LVM2 001") {
      at = o;
      break;
    }
  }
  if (at < 0) return undefined;
  const contents = head.readUInt32LE(at + 20);
  if (contents < 32 || contents > SECTOR - 40) throw bad(src, `its label's contents offset ${contents} is outside the label sector`);
  const sector = head.subarray(at, at + SECTOR);
  const uuid = dashed(sector.toString("latin1", contents, contents + 32));
  // Two zero-terminated lists of (offset, size): data areas, then metadata areas.
  let o = contents + 40;
  const lists: { offset: number; size: number }[][] = [[], []];
  for (const list of lists) {
    for (;;) {
      if (o + 16 > SECTOR) throw bad(src, "its label's area lists run past the label sector");
      const offset = Number(sector.readBigUInt64LE(o));
      const size = Number(sector.readBigUInt64LE(o + 8));
      o += 16;
      if (offset === 0) break;
      if (list.length >= LVM_LIMITS.areas) throw bad(src, `more than ${LVM_LIMITS.areas} areas in its label`);
      list.push({ offset, size });
    }
  }
  for (const mda of lists[1]) {
    if (mda.offset + SECTOR > src.size) throw bad(src, `its metadata area at byte ${mda.offset} is past the end of the volume (${src.size} bytes)`);
    const h = await src.read(mda.offset, SECTOR);
    if (h.toString("latin1", 4, 20) !== MDA_MAGIC) throw bad(src, `no metadata area header at byte ${mda.offset}`);
    const areaSize = Number(h.readBigUInt64LE(32));
    for (let r = 40; r + 24 <= SECTOR; r += 24) {
      const offset = Number(h.readBigUInt64LE(r));
      const size = Number(h.readBigUInt64LE(r + 8));
      const flags = h.readUInt32LE(r + 20);
      if (offset === 0) break;
      if (flags & 1) continue; // RAW_LOCN_IGNORED
      if (offset >= areaSize || size > areaSize - SECTOR || size > LVM_LIMITS.metadataBytes || mda.offset + areaSize > src.size)
        throw bad(src, `its metadata text (${size} bytes at ${offset}) lies outside its ${areaSize}-byte metadata area`);
      const wrap = Math.max(0, offset + size - areaSize);
      const first = await src.read(mda.offset + offset, size - wrap);
      const text = wrap > 0 ? Buffer.concat([first, await src.read(mda.offset + SECTOR, wrap)]) : first;
      return { uuid, metadata: text.toString("utf8").replace(/\0+$/, "") };
    }
  }
  return { uuid };
}

/** A value of libdm's config format. */
export type LvmValue = string | number | LvmValue[] | LvmSection;
export interface LvmSection {
  [key: string]: LvmValue;
}

/** Parses libdm's config text (LVM metadata); a later duplicate key wins. */
export function parseLvmConfig(text: string, name: string): LvmSection {
  let i = 0;
  const fail = (what: string): never => {
    const line = text.slice(0, i).split("\n").length;
    throw new ImageError(`${name}: LVM metadata line ${line}: ${what}`, {
      file: name,
      fix: "check the volume group's metadata with vgck where the image was made, or boot the image: do-image boot IMAGE",
    });
  };
  const skip = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i])) i++;
      if (text[i] !== "#") return;
      while (i < text.length && text[i] !== "\n") i++;
    }
  };
  const word = (): string => {
    const m = /^[A-Za-z0-9_.+\-/@:]+/.exec(text.slice(i, i + 1024));
    if (!m) return fail(`expected a name, found ${JSON.stringify(text.slice(i, i + 12))}`);
    i += m[0].length;
    return m[0];
  };
  const value = (depth: number): LvmValue => {
    skip();
    const c = text[i];
    if (c === '"' || c === "'") {
      let s = "";
      for (i++; i < text.length && text[i] !== c; i++) s += text[i] === "\\" ? text[++i] : text[i];
      if (i >= text.length) fail("a string is not closed");
      i++;
      return s;
    }
    if (c === "[") {
      if (depth > LVM_LIMITS.depth) fail(`lists nested more than ${LVM_LIMITS.depth} deep`);
      i++;
      const list: LvmValue[] = [];
      for (;;) {
        skip();
        if (text[i] === "]") return (i++, list);
        list.push(value(depth + 1));
        skip();
        if (text[i] === ",") i++;
        else if (text[i] !== "]") fail("expected , or ] in a list");
      }
    }
    const m = /^[+-]?\d+(\.\d+)?/.exec(text.slice(i, i + 64));
    if (!m) return fail(`expected a value, found ${JSON.stringify(text.slice(i, i + 12))}`);
    i += m[0].length;
    return Number(m[0]);
  };
  const section = (depth: number, closing: boolean): LvmSection => {
    if (depth > LVM_LIMITS.depth) fail(`sections nested more than ${LVM_LIMITS.depth} deep`);
    const out: LvmSection = Object.create(null) as LvmSection;
    for (;;) {
      skip();
      if (i >= text.length) {
        if (closing) fail("a section is not closed");
        return out;
      }
      if (text[i] === "}") {
        if (!closing) fail("a } closes nothing");
        i++;
        return out;
      }
      const key = word();
      skip();
      if (text[i] === "{") {
        i++;
        out[key] = section(depth + 1, true);
      } else if (text[i] === "=") {
        i++;
        out[key] = value(depth + 1);
      } else fail(`expected = or { after ${key}`);
    }
  };
  return section(0, false);
}

export interface LogicalVolume {
  vg: string;
  name: string;
  /** The device-mapper name (dashes in either name doubled, joined by a dash): /dev/mapper/NAME. */
  dmName: string;
  /** LVM's ids without dashes, as /dev/disk/by-id/dm-uuid-LVM-<vg id><lv id> has them. */
  vgId: string;
  lvId: string;
  size: number;
  /** Index in the given physical volumes of the one holding the volume's first extent. */
  on: number;
  /** The volume's bytes, when every segment is linear on a physical volume of this disk; else why not. */
  source?: ByteSource;
  unmapped?: string;
  /** Where the volume's bytes lie: runs of `length` bytes from `start` in the volume, at byte `at` of physical volume `on`. */
  segments: { start: number; length: number; at: number; on: number }[];
}

/** Reads one logical volume's bytes through its linear segments, each a run of extents on a physical volume. */
class VolumeSource implements ByteSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly runs: { start: number; length: number; pv: ByteSource; at: number }[],
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.size)
      throw new ImageError(`${this.name}: read of ${length} bytes at offset ${offset} runs past the end (${this.size} bytes)`, {
        file: this.name,
        offset,
        fix: "the logical volume is smaller than its filesystem says; check it where the image was made (e2fsck, lvs)",
        code: "truncated",
      });
    const parts: Buffer[] = [];
    let pos = offset;
    const end = offset + length;
    for (const r of this.runs) {
      if (pos >= end) break;
      if (pos >= r.start + r.length || end <= r.start) continue;
      const n = Math.min(end, r.start + r.length) - pos;
      parts.push(await r.pv.read(r.at + (pos - r.start), n));
      pos += n;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  async close(): Promise<void> {}
}

const num = (v: LvmValue | undefined): number | undefined => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const sec = (v: LvmValue | undefined): LvmSection | undefined => (v && typeof v === "object" && !Array.isArray(v) ? v : undefined);

/**
 * The logical volumes of every volume group whose metadata one of `pvs` carries, mapped onto those physical volumes
 * (each a source for the whole PV, with the UUID its label names). Newer metadata (a higher seqno) wins per group.
 */
export function logicalVolumes(pvs: { pv: PhysicalVolume; source: ByteSource }[]): LogicalVolume[] {
  const groups = new Map<string, { name: string; vg: LvmSection; seqno: number }>();
  for (const { pv, source } of pvs) {
    if (!pv.metadata) continue;
    const top = parseLvmConfig(pv.metadata, `LVM metadata on ${source.name}`);
    for (const [name, v] of Object.entries(top)) {
      const vg = sec(v);
      if (!vg || typeof vg.id !== "string") continue;
      const seqno = num(vg.seqno) ?? 0;
      const had = groups.get(vg.id);
      if (!had || had.seqno < seqno) groups.set(vg.id, { name, vg, seqno });
    }
  }
  const byUuid = new Map(pvs.map(({ pv, source }, index) => [pv.uuid, { source, index }]));
  const out: LogicalVolume[] = [];
  for (const { name: vgName, vg } of groups.values()) {
    const extent = (num(vg.extent_size) ?? 0) * SECTOR;
    const physical = new Map<string, { source?: ByteSource; index: number; peStart: number }>();
    for (const [key, v] of Object.entries(sec(vg.physical_volumes) ?? {})) {
      const p = sec(v);
      const found = p && typeof p.id === "string" ? byUuid.get(p.id) : undefined;
      if (p) physical.set(key, { source: found?.source, index: found?.index ?? -1, peStart: (num(p.pe_start) ?? 0) * SECTOR });
    }
    for (const [lvName, v] of Object.entries(sec(vg.logical_volumes) ?? {})) {
      if (out.length >= LVM_LIMITS.volumes) break;
      const lv = sec(v);
      if (!lv) continue;
      const status = Array.isArray(lv.status) ? lv.status : [];
      if (!status.includes("VISIBLE")) continue; // internal volumes (RAID images, thin pool data, …) have no device of their own
      const runs: { start: number; length: number; pv: ByteSource; at: number; index: number }[] = [];
      let size = 0;
      let unmapped: string | undefined;
      const count = Math.min(num(lv.segment_count) ?? 0, LVM_LIMITS.segments);
      for (let s = 1; s <= count; s++) {
        const seg = sec(lv[`segment${s}`]);
        const start = num(seg?.start_extent);
        const extents = num(seg?.extent_count);
        if (!seg || start === undefined || extents === undefined) {
          unmapped ??= `segment${s} is missing or malformed`;
          continue;
        }
        size = Math.max(size, (start + extents) * extent);
        const stripes = Array.isArray(seg.stripes) ? seg.stripes : [];
        if (seg.type !== "striped" || num(seg.stripe_count) !== 1 || stripes.length !== 2) {
          unmapped ??= `segment${s} is of type ${String(seg.type)}${seg.type === "striped" ? ` with ${String(seg.stripe_count)} stripes` : ""}, which this tool does not map`;
          continue;
        }
        const pv = physical.get(String(stripes[0]));
        const first = num(stripes[1]);
        if (!pv?.source || first === undefined) {
          unmapped ??= `segment${s} lies on physical volume ${String(stripes[0])}, which is not on this disk`;
          continue;
        }
        const at = pv.peStart + first * extent;
        if (at + extents * extent > pv.source.size) {
          unmapped ??= `segment${s} runs past the end of its physical volume`;
          continue;
        }
        runs.push({ start: start * extent, length: extents * extent, pv: pv.source, at, index: pv.index });
      }
      runs.sort((a, b) => a.start - b.start);
      const covered = runs.reduce((n, r) => (r.start === n ? n + r.length : n), 0);
      if (!unmapped && covered !== size) unmapped = "its segments leave a gap";
      const dmName = `${vgName.replace(/-/g, "--")}-${lvName.replace(/-/g, "--")}`;
      out.push({
        vg: vgName,
        name: lvName,
        dmName,
        vgId: String(vg.id).replace(/-/g, ""),
        lvId: typeof lv.id === "string" ? lv.id.replace(/-/g, "") : "",
        size,
        on: runs[0]?.index ?? 0,
        segments: runs.map((r) => ({ start: r.start, length: r.length, at: r.at, on: r.index })),
        ...(unmapped || size === 0
          ? { unmapped: unmapped ?? "it has no extents" }
          : { source: new VolumeSource(`logical volume ${vgName}/${lvName}`, size, runs) }),
      });
    }
  }
  return out;
}
