// The compressed qcow2 push sends (and convert writes): read once, zero clusters left out, deflated in worker threads.
export { compressedQcow2, writeCompressedQcow2, type Qcow2Stream, type Qcow2Stats, type CompressedQcow2Options } from "./writer";
export { qcow2SizeBound } from "./layout";
export { replaceableTarget } from "./target";
