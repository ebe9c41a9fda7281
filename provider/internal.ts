// The internal entry ("do-image/internal"): every layer's building blocks, for the local tools, the benchmarks, the tests
// and the faces' own engines; the boot layer stays out (it brings SSH: import bootImage from "do-image", loaded on
// first use). Not a stable API: a user program imports "do-image" (or a face), which stays small.
export * from "./errors";
export * from "./image";
export * from "./publish";
export * from "./digitalocean";
export * from "./spaces";
