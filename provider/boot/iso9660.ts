// Writes a small ISO 9660 image (level 2 names, no extensions), written here: no npm library writes ISO 9660, and the
// config drive is a few files, so a dependency on genisoimage or xorriso would cost users more than these lines.
//
// Layout: 16 empty sectors, the primary volume descriptor (sector 16), the set terminator (17), the little- and
// big-endian path tables, one sector per directory, then the files. Linux mounts such a disc with its default
// `map=normal`, which shows `META_DATA.JSON;1` as `meta_data.json`, so names must be d-characters (A-Z 0-9 _) with
// at most one dot; cloud-init's config-drive paths are.

const SECTOR = 2048;

export interface IsoFile {
  /** Path inside the disc, "/"-separated, e.g. "openstack/latest/meta_data.json". */
  path: string;
  data: Buffer;
}

interface Dir {
  name: string;
  parent: Dir | null;
  dirs: Dir[];
  files: { name: string; data: Buffer; lba: number }[];
  lba: number;
  sectors: number;
  number: number;
}

const D_CHARS = /^[A-Z0-9_]+(\.[A-Z0-9_]*)?$/;

function isoName(name: string, isDir: boolean): string {
  const upper = name.toUpperCase();
  const ok = isDir ? /^[A-Z0-9_]{1,31}$/.test(upper) : D_CHARS.test(upper) && upper.length <= 30;
  if (!ok) throw new Error(`ISO 9660 name "${name}" needs letters, digits and "_" only (and one "." in a file name), at most 30 characters`);
  return isDir ? upper : `${upper.includes(".") ? upper : `${upper}.`};1`;
}

function both16(buf: Buffer, off: number, v: number): void {
  buf.writeUInt16LE(v, off);
  buf.writeUInt16BE(v, off + 2);
}

function both32(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v, off);
  buf.writeUInt32BE(v, off + 4);
}

function padded(text: string, length: number): string {
  return text.slice(0, length).padEnd(length, " ");
}

/** The 7-byte recording date of a directory record. */
function recordDate(d: Date): Buffer {
  return Buffer.from([d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0]);
}

/** The 17-byte volume descriptor date: "YYYYMMDDHHMMSScc" and a zero UTC offset. */
function volumeDate(d: Date): Buffer {
  const digits = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "00";
  return Buffer.concat([Buffer.from(digits, "ascii"), Buffer.from([0])]);
}

function record(name: Buffer, lba: number, size: number, dir: boolean, date: Date): Buffer {
  const len = 33 + name.length + (name.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len);
  r[0] = len;
  both32(r, 2, lba);
  both32(r, 10, size);
  recordDate(date).copy(r, 18);
  r[25] = dir ? 2 : 0;
  both16(r, 28, 1);
  r[32] = name.length;
  name.copy(r, 33);
  return r;
}

/** Directory records packed into sectors: a record never crosses a sector boundary. */
function packRecords(records: Buffer[]): Buffer[] {
  const sectors: Buffer[] = [];
  let cur = Buffer.alloc(SECTOR);
  let used = 0;
  for (const r of records) {
    if (used + r.length > SECTOR) {
      sectors.push(cur);
      cur = Buffer.alloc(SECTOR);
      used = 0;
    }
    r.copy(cur, used);
    used += r.length;
  }
  sectors.push(cur);
  return sectors;
}

/** An ISO 9660 image holding `files`, with volume label `label` (as blkid reports it). */
export function buildIso9660(label: string, files: IsoFile[], date = new Date()): Buffer {
  const root: Dir = { name: "", parent: null, dirs: [], files: [], lba: 0, sectors: 1, number: 1 };
  for (const f of files) {
    const parts = f.path.split("/").filter(Boolean);
    let dir = root;
    for (const p of parts.slice(0, -1)) {
      const n = isoName(p, true);
      let next = dir.dirs.find((d) => d.name === n);
      if (!next) {
        next = { name: n, parent: dir, dirs: [], files: [], lba: 0, sectors: 1, number: 0 };
        dir.dirs.push(next);
      }
      dir = next;
    }
    dir.files.push({ name: isoName(parts[parts.length - 1], false), data: f.data, lba: 0 });
  }
  // Path table order: breadth first, by parent number, then by name.
  const ordered: Dir[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const d = queue.shift()!;
    ordered.push(d);
    d.number = ordered.length;
    d.dirs.sort((a, b) => (a.name < b.name ? -1 : 1));
    d.files.sort((a, b) => (a.name < b.name ? -1 : 1));
    queue.push(...d.dirs);
  }
  const entries = (d: Dir) => 2 + d.dirs.length + d.files.length;
  for (const d of ordered) d.sectors = Math.max(1, Math.ceil((entries(d) * (34 + 34)) / SECTOR));

  const pathTable = (bigEndian: boolean): Buffer => {
    const parts = ordered.map((d) => {
      const name = d === root ? Buffer.from([0]) : Buffer.from(d.name, "ascii");
      const e = Buffer.alloc(8 + name.length + (name.length % 2));
      e[0] = name.length;
      if (bigEndian) {
        e.writeUInt32BE(d.lba, 2);
        e.writeUInt16BE(d.parent ? d.parent.number : 1, 6);
      } else {
        e.writeUInt32LE(d.lba, 2);
        e.writeUInt16LE(d.parent ? d.parent.number : 1, 6);
      }
      name.copy(e, 8);
      return e;
    });
    return Buffer.concat(parts);
  };
  const ptSize = pathTable(false).length;
  const ptSectors = Math.ceil(ptSize / SECTOR);
  let lba = 18;
  const lPath = lba;
  lba += ptSectors;
  const mPath = lba;
  lba += ptSectors;
  for (const d of ordered) {
    d.lba = lba;
    lba += d.sectors;
  }
  for (const d of ordered)
    for (const f of d.files) {
      f.lba = lba;
      lba += Math.ceil(f.data.length / SECTOR);
    }
  const total = lba;

  const image = Buffer.alloc(total * SECTOR);
  const dirRecord = (d: Dir, name: Buffer) => record(name, d.lba, d.sectors * SECTOR, true, date);
  for (const d of ordered) {
    const records = [
      dirRecord(d, Buffer.from([0])),
      dirRecord(d.parent ?? d, Buffer.from([1])),
      ...[
        ...d.dirs.map((s) => ({ name: s.name, r: dirRecord(s, Buffer.from(s.name, "ascii")) })),
        ...d.files.map((f) => ({ name: f.name, r: record(Buffer.from(f.name, "ascii"), f.lba, f.data.length, false, date) })),
      ]
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((x) => x.r),
    ];
    const sectors = packRecords(records);
    if (sectors.length > d.sectors) throw new Error("ISO 9660 directory larger than planned");
    sectors.forEach((s, i) => s.copy(image, (d.lba + i) * SECTOR));
    for (const f of d.files) f.data.copy(image, f.lba * SECTOR);
  }
  pathTable(false).copy(image, lPath * SECTOR);
  pathTable(true).copy(image, mPath * SECTOR);

  const pvd = image.subarray(16 * SECTOR, 17 * SECTOR);
  pvd[0] = 1;
  pvd.write("CD001", 1, "ascii");
  pvd[6] = 1;
  pvd.write(padded("LINUX", 32), 8, "ascii");
  pvd.write(padded(label, 32), 40, "ascii");
  both32(pvd, 80, total);
  both16(pvd, 120, 1);
  both16(pvd, 124, 1);
  both16(pvd, 128, SECTOR);
  both32(pvd, 132, ptSize);
  pvd.writeUInt32LE(lPath, 140);
  pvd.writeUInt32BE(mPath, 148);
  dirRecord(root, Buffer.from([0])).copy(pvd, 156);
  pvd.write(" ".repeat(128 * 4 + 37 * 3), 190, "ascii");
  pvd.write(padded("DO-IMAGE", 128), 574, "ascii");
  const vd = volumeDate(date);
  vd.copy(pvd, 813);
  vd.copy(pvd, 830);
  Buffer.concat([Buffer.from("0".repeat(16), "ascii"), Buffer.from([0])]).copy(pvd, 847);
  vd.copy(pvd, 864);
  pvd[881] = 1;
  const term = image.subarray(17 * SECTOR, 18 * SECTOR);
  term[0] = 255;
  term.write("CD001", 1, "ascii");
  term[6] = 1;
  return image;
}
