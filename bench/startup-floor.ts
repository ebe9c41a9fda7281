// The floor under the start-up targets: what `do-image inspect` of the sample asks of Node, with none of do-image's
// code. It parses the command line, opens, stats and reads the image, inflates one cluster's worth and writes a line.
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { deflateRawSync, inflateRawSync } from "node:zlib";

const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { json: { type: "boolean" } } });
const fd = openSync(positionals[0], "r");
const size = fstatSync(fd).size;
const head = Buffer.alloc(64 * 1024);
readSync(fd, head, 0, head.length, 0);
closeSync(fd);
inflateRawSync(deflateRawSync(head));
writeSync(1, `${positionals[0]}: ${size} bytes, magic ${head.readUInt32BE(0).toString(16)}${values.json ? " (json)" : ""}\n`);
