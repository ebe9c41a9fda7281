// The boot's console reader and stage tracker on their own, without QEMU: bytes in, lines and stage states out, time
// from an injected clock.
import { firmwareHandover, serialLines, StageTracker } from "../../provider/boot/console";

test("serial lines: UTF-8 split across chunks reads whole, prompts without a newline are lines, a console with no newline is cut", () => {
  const lines: string[] = [];
  const feed = serialLines((l) => lines.push(l));
  const bullet = Buffer.from("● ssh.service\n", "utf8");
  feed(bullet.subarray(0, 1)); // the first byte of a three-byte character
  feed(bullet.subarray(1));
  feed(Buffer.from("Debian GNU/Linux 12 host ttyS0\r\n\r\nhost login: "));
  feed(Buffer.from("grub"));
  feed(Buffer.from("> "));
  expect(lines).toEqual(["● ssh.service", "Debian GNU/Linux 12 host ttyS0\r", "\r", "host login: ", "grub> "]);
  lines.length = 0;
  feed(Buffer.alloc(70_000, 0x2e));
  expect(lines.map((l) => l.length)).toEqual([70_000]);
});

test("the firmware's hand-over is reported once, from a log line split across chunks", () => {
  const seen: string[] = [];
  const feed = firmwareHandover((l) => seen.push(l));
  feed(Buffer.from("enter handle_19:\n  NULL\nBooting from Hard"));
  feed(Buffer.from(" Disk...\nBooting from 0000:7c00\n"));
  expect(seen).toEqual(["Booting from Hard Disk..."]);
});

test("the tracker keeps a stage's first failure, never lets a pass undo it, and dates the end of the boot by its clock", () => {
  let now = 1_000;
  let wakes = 0;
  const progress: string[] = [];
  const t = new StageTracker(
    (l) => progress.push(l),
    () => 12.5,
    () => wakes++,
    () => now,
  );
  t.line("Welcome to GRUB!");
  t.line("error: file '/vmlinuz' not found.");
  t.note("boot-loader", "fail", "first failure");
  t.note("boot-loader", "fail", "second failure");
  t.note("boot-loader", "pass", "a pass after the failure");
  expect(t.get("boot-loader")).toMatchObject({ status: "fail", failure: "first failure", at: 12.5 });
  expect(t.get("boot-loader").messages).toContain("GRUB reported: file '/vmlinuz' not found.");
  expect(t.fatal).toBeUndefined();
  now = 5_000;
  t.line("Reached target multi-user.target - Multi-User System.");
  now = 9_000;
  t.line("host login: ");
  expect(t.endOfBoot).toBe(5_000);
  t.line("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)");
  expect(t.fatal).toEqual({ stage: "kernel", message: "kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)" });
  expect(wakes).toBe(5);
  expect(progress[0]).toBe("  12.5 s  boot-loader: GRUB started");
});

test("a stage keeps its first four lines and its latest ones as evidence, twelve at most", () => {
  const t = new StageTracker(
    () => undefined,
    () => 0,
    () => undefined,
  );
  for (let i = 0; i < 30; i++) t.note("init", "seen", `line ${i}`, `console ${i}`);
  const evidence = t.get("init").evidence;
  expect(evidence).toHaveLength(12);
  expect(evidence.slice(0, 4)).toEqual(["console 0", "console 1", "console 2", "console 3"]);
  expect(evidence.at(-1)).toBe("console 29");
});
