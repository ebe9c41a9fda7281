// The publish progress a person sees: on a terminal a bar that never shows a made-up ETA; in a log, lines.
import { Writable } from "node:stream";
import { progressPrinter } from "../../provider/cli/progress";

function stream(tty: boolean): NodeJS.WriteStream & { text: () => string } {
  let text = "";
  const w = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(w, { isTTY: tty, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, text: () => text });
  return w;
}

test("on a terminal, the bar says nothing of an ETA until there is a rate, then a whole number of seconds", () => {
  const out = stream(true);
  const p = progressPrinter(out);
  let first = "";
  try {
    p.onEvent({ type: "progress", progress: { phase: "upload", bytes: 0, total: 100 << 20, rate: 0, etaSeconds: Infinity } });
    first = out.text();
    p.onEvent({ type: "progress", progress: { phase: "upload", bytes: 50 << 20, total: 100 << 20, rate: 10 << 20, etaSeconds: 4.2 } });
  } finally {
    p.stop(); // the bar redraws on a timer until stopped
  }
  expect(first).not.toMatch(/NaN|NF|Infinity|ETA/);
  expect(out.text()).toMatch(/ETA 5 s/);
  expect(out.text()).not.toMatch(/NaN|NF|Infinity/);
});

test("in a log, a line when a phase starts, then at most every 5 %, and at the end", () => {
  const out = stream(false);
  const p = progressPrinter(out);
  for (let pct = 0; pct <= 100; pct++) p.onEvent({ type: "progress", progress: { phase: "upload", bytes: pct, total: 100, rate: 1, etaSeconds: 1 } });
  const lines = out.text().trim().split("\n");
  expect(lines[0]).toBe("uploading 0% (0 B of 100 B, 1 B/s)");
  expect(lines.at(-1)).toBe("uploading 100% (100 B of 100 B, 1 B/s)");
  expect(lines).toHaveLength(21);
});
