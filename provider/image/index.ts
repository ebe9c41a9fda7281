// Public face of image/: open a disk image of any supported container and read inside it; no network.
export { ImageError, type ImageErrorDetails } from "./errors";
export type { ByteSource } from "./source";
export { FileSource, BufferSource, SliceSource, type HostSource } from "./source";
export type { VirtualDisk, ContainerFormat, Compression } from "./disk";
export { openImage, openContainer, fileShape, type OpenedImage, type OpenOptions, type FileShape } from "./open";
export { inspectImage, type InspectReport } from "./inspect";
export { readPartitionTable, type Partition, type PartitionTable } from "./partitions";
export { judgeVirtualSize, MAX_VIRTUAL_SIZE, DECIMAL_100_GB, type Finding } from "./limits";
export { Ext4, type Ext4Info } from "./ext4";
export * from "./checks";
