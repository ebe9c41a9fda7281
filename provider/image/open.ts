// Opens any supported image file, decompressing gzip or bzip2 first, and returns its virtual disk.
import type { SpoolOptions } from "./codecs/compression";
import { sniff } from "./detect";
import type { Compression, VirtualDisk } from "./disk";
import { ImageError } from "./errors";
import { Qcow2Disk } from "./containers/qcow2";
import { RawDisk } from "./containers/raw";
import { FileSource, type HostSource } from "./source";
import { VdiDisk } from "./containers/vdi";
import { VhdxDisk } from "./containers/vhdx";
import { refuseDescriptorVmdk, VmdkDisk } from "./containers/vmdk";

export interface OpenedImage {
  file: string;
  /** Size of the file as given (compressed, if it is). */
  fileSize: number;
  compression: Compression;
  disk: VirtualDisk;
  /** The file the container is read from: the image itself, or the scratch file a compressed image was spooled into. */
  host: FileSource;
  close(): Promise<void>;
}

export type OpenOptions = SpoolOptions;

export async function openContainer(host: HostSource, label: string): Promise<VirtualDisk> {
  const s = await sniff(host, label);
  if (s.kind === "compressed") {
    throw new ImageError(`${label} is ${s.compression}-compressed inside another compression layer`, {
      file: label,
      fix: "compress the disk image once: decompress both layers and compress the image with gzip or bzip2",
      code: "nested-compression",
    });
  }
  if (s.kind === "vmdk-descriptor") refuseDescriptorVmdk(s.text, label);
  switch (s.kind === "container" ? s.format : "raw") {
    case "qcow2":
      return Qcow2Disk.open(host);
    case "vmdk":
      return VmdkDisk.open(host);
    case "vdi":
      return VdiDisk.open(host);
    case "vhdx":
      return VhdxDisk.open(host);
    default:
      return new RawDisk(host);
  }
}

export async function openImage(path: string, options: OpenOptions = {}): Promise<OpenedImage> {
  const file = await FileSource.open(path);
  let host: FileSource = file;
  let compression: Compression = "none";
  try {
    const s = await sniff(file, path);
    if (s.kind === "compressed") {
      compression = s.compression;
      await file.close();
      // Loaded on first use so that uncompressed images do not pay for the decompressors at start-up.
      const { spool } = await import("./codecs/compression");
      host = await spool(path, s.compression, options);
    }
    const disk = await openContainer(host, host.name);
    return { file: path, fileSize: file.size, compression, disk, host, close: () => disk.close() };
  } catch (err) {
    await host.close().catch(() => undefined);
    if (host !== file) await file.close().catch(() => undefined);
    throw err;
  }
}

/** What a file holds, from its headers and metadata only: a compressed file is not decompressed. */
export interface FileShape {
  fileSize: number;
  compression: Compression;
  /** The container and its disk, when the file is not compressed. */
  format?: VirtualDisk["format"];
  virtualSize?: number;
  /** Bytes of guest data the container stores. */
  allocatedBytes?: number;
}

export async function fileShape(path: string): Promise<FileShape> {
  const file = await FileSource.open(path);
  try {
    const s = await sniff(file, path);
    if (s.kind === "compressed") return { fileSize: file.size, compression: s.compression };
    const disk = await openContainer(file, path);
    return { fileSize: file.size, compression: "none", format: disk.format, virtualSize: disk.size, allocatedBytes: await disk.allocatedBytes() };
  } finally {
    await file.close();
  }
}
