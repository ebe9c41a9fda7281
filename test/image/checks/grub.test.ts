// GRUB's config read as GRUB runs it, on in-memory filesystems: one row per construct, and rewrites GRUB treats alike.
import { parseScript } from "../../../provider/image/checks/grub/script";
import { parseGrubenv, rpmVercmp, runGrub, type GrubFiles, type GrubMachine } from "../../../provider/image/checks/grub";
import { summarize } from "../../../provider/image/checks/bootconfig";
import { grubStartup } from "../../../provider/image/checks/grub";

const UUID = "4a0b0e1c-8a3f-4c43-9d0c-3f7f2d1e9a10";
const K = "/boot/vmlinuz-6.1.0-18-cloud-amd64";
const I = "/boot/initrd.img-6.1.0-18-cloud-amd64";

/** A filesystem of the files given (and the directories above them). */
export function memFs(files: Record<string, string | Buffer>): GrubFiles {
  const dirs = new Set<string>(["/"]);
  for (const f of Object.keys(files)) for (let d = f.replace(/\/[^/]*$/, ""); d; d = d.replace(/\/[^/]*$/, "")) dirs.add(d);
  return {
    readFile: async (p) => (files[p] === undefined ? null : Buffer.from(files[p])),
    type: async (p) => (files[p] !== undefined ? "file" : dirs.has(p.replace(/\/$/, "") || "/") ? "dir" : null),
    readdir: async (p) => {
      const dir = p.replace(/\/$/, "");
      if (!dirs.has(dir || "/")) return null;
      const names = new Set<string>();
      for (const f of [...Object.keys(files), ...dirs]) if (f.startsWith(`${dir}/`) && f !== dir) names.add(f.slice(dir.length + 1).split("/")[0]);
      return [...names].map((name) => ({ name }));
    },
  };
}

function machine(files: Record<string, string | Buffer>, extra: GrubMachine["partitions"] = []): GrubMachine {
  return {
    scheme: "gpt",
    partitions: [{ number: 1 }, { number: 2, uuid: UUID, label: "root", files: memFs({ [K]: "k", [I]: "i", ...files }) }, ...extra],
  };
}

/** What the reading concludes, in a line: "boots PARTITION:PATH", "stops: …" or "unsure: …". */
async function verdict(cfg: string, files: Record<string, string | Buffer> = {}, extra: GrubMachine["partitions"] = []): Promise<string> {
  const { reading, entry } = summarize(await runGrub(machine({ "/boot/grub/grub.cfg": cfg, ...files }, extra), { partition: 2, path: "/boot/grub/grub.cfg" }));
  if (reading.verdict === "boots") return `boots ${entry!.resolved![0].partition}:${entry!.resolved![0].path} [${entry!.cmdline}]`;
  return `${reading.verdict}: ${reading.message}`;
}

const ENTRY = (title: string, kernel = K, extra = "") => `menuentry '${title}' --class debian $menuentry_id_option 'id-${title.replace(/\W/g, "")}' {
	insmod ext2
	search --no-floppy --fs-uuid --set=root ${UUID}
	linux ${kernel} root=UUID=${UUID} ro console=ttyS0${extra}
	initrd ${I}
}
`;
const HEADER = `if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "\${next_entry}" ] ; then
   set default="\${next_entry}"
   set next_entry=
   save_env next_entry
else
   set default="0"
fi
if [ x"\${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi
export menuentry_id_option
`;

interface Row {
  name: string;
  cfg: string;
  files?: Record<string, string | Buffer>;
  extra?: GrubMachine["partitions"];
  want: RegExp;
}

const ROWS: Row[] = [
  {
    name: "grub-mkconfig's shape: header, timeout, one entry",
    cfg: `${HEADER}set timeout=5\n${ENTRY("Debian")}`,
    want: /^boots 2:\/boot\/vmlinuz-6.1.0-18-cloud-amd64 \[root=UUID=\S+ ro console=ttyS0\]$/,
  },
  {
    name: "top-level search, linux, initrd and boot: no menu at all",
    cfg: `search --fs-uuid --set=root ${UUID}\nlinux ${K} root=/dev/vda2\ninitrd ${I}\nboot\n`,
    want: /^boots 2:\/boot\/vmlinuz.* \[root=\/dev\/vda2\]$/,
  },
  {
    name: "top-level linux and initrd without boot: GRUB stops at its prompt",
    cfg: `linux ${K} root=/dev/vda2\ninitrd ${I}\n`,
    want: /^stops: .*no boot command followed.*grub> prompt/,
  },
  { name: "an empty config: the prompt", cfg: "# nothing\n", want: /^stops: .*grub> prompt/ },
  {
    name: "a menu without a timeout waits forever",
    cfg: ENTRY("Debian"),
    want: /^stops: GRUB shows its menu and waits for a key forever \(timeout is not set\)/,
  },
  { name: "timeout=-1 waits forever", cfg: `set timeout=-1\n${ENTRY("Debian")}`, want: /waits for a key forever \(timeout=-1\)/ },
  { name: "timeout_style=hidden with a timeout boots", cfg: `set timeout_style=hidden\nset timeout=0\n${ENTRY("Debian")}`, want: /^boots/ },
  {
    name: "default by index",
    cfg: `set timeout=1\nset default=1\n${ENTRY("A", "/boot/missing")}${ENTRY("B")}`,
    want: /^boots 2:\/boot\/vmlinuz/,
  },
  { name: "default out of range is the first entry", cfg: `set timeout=1\nset default=7\n${ENTRY("A")}${ENTRY("B", "/boot/missing")}`, want: /^boots/ },
  { name: "default by title", cfg: `set timeout=1\nset default="B"\n${ENTRY("A", "/boot/missing")}${ENTRY("B")}`, want: /^boots/ },
  {
    name: "default by --id (menuentry_id_option from the header)",
    cfg: `${HEADER}set timeout=1\nset default=id-B\n${ENTRY("A", "/boot/missing")}${ENTRY("B")}`,
    want: /^boots/,
  },
  {
    name: "default as a submenu path, title>title",
    cfg: `set timeout=1\nset default="Advanced>B"\n${ENTRY("A", "/boot/missing")}submenu 'Advanced' {\n${ENTRY("A2", "/boot/missing")}${ENTRY("B")}}\n`,
    want: /^boots/,
  },
  {
    name: "default as a numeric submenu path",
    cfg: `set timeout=1\nset default="1>1"\n${ENTRY("A", "/boot/missing")}submenu 'Advanced' {\n${ENTRY("A2", "/boot/missing")}${ENTRY("B")}}\n`,
    want: /^boots/,
  },
  {
    name: "'>>' is a literal '>' in a title",
    cfg: `set timeout=1\nset default="A>>B"\n${ENTRY("A", "/boot/missing")}${ENTRY("A>B")}`,
    want: /^boots/,
  },
  {
    name: "saved_entry from grubenv through load_env",
    cfg: `${HEADER.replace('set default="0"', 'set default="${saved_entry}"')}set timeout=1\n${ENTRY("A", "/boot/missing")}${ENTRY("B")}`,
    files: { "/boot/grub/grubenv": `# GRUB Environment Block\nsaved_entry=B\n${"#".repeat(990)}` },
    want: /^boots/,
  },
  {
    name: "next_entry from grubenv wins for one boot",
    cfg: `${HEADER}set timeout=1\n${ENTRY("A")}${ENTRY("B", "/boot/missing")}`,
    files: { "/boot/grub/grubenv": `# GRUB Environment Block\nnext_entry=B\n${"#".repeat(990)}` },
    want: /^stops: GRUB's default entry "B" does not boot \(\/boot\/missing: file not found on partition 2\)/,
  },
  {
    name: "a configfile stub on the same partition",
    cfg: `search.fs_uuid ${UUID} root\nset prefix=($root)/boot/grub\nconfigfile $prefix/debian.cfg\n`,
    files: { "/boot/grub/debian.cfg": `${HEADER}set timeout=1\n${ENTRY("Debian")}` },
    want: /^boots 2:/,
  },
  {
    name: "configfile keeps only exported variables: a timeout set before it does not carry over",
    cfg: `set timeout=1\nconfigfile /boot/grub/debian.cfg\n`,
    files: { "/boot/grub/debian.cfg": ENTRY("Debian") },
    want: /^stops: GRUB shows its menu and waits/,
  },
  {
    name: "configfile of a missing file goes on with the rest of the script",
    cfg: `configfile /boot/grub/nope.cfg\nset timeout=1\n${ENTRY("Debian")}`,
    want: /^boots/,
  },
  {
    name: "source adds entries to the same menu",
    cfg: `set timeout=1\nsource /boot/grub/entries.cfg\n`,
    files: { "/boot/grub/entries.cfg": ENTRY("Debian") },
    want: /^boots/,
  },
  {
    name: "a missing kernel: the entry fails and GRUB returns to its menu",
    cfg: `set timeout=1\n${ENTRY("Debian", "/boot/vmlinuz-missing")}`,
    want: /^stops: GRUB's default entry "Debian" does not boot \(\/boot\/vmlinuz-missing: file not found/,
  },
  {
    // as a boot of Debian 12 with its initramfs a symlink loop showed: "error: too deep nesting of symlinks", then Linux
    name: "an initramfs GRUB cannot open: it says so and boots the kernel without one",
    cfg: `set timeout=1\nmenuentry 'Debian' {\n  linux ${K} root=/dev/vda1 ro\n  initrd /boot/initrd-missing\n}\n`,
    want: /^boots 2:\/boot\/vmlinuz\S* \[root=\/dev\/vda1 ro\]$/,
  },
  {
    name: "a missing kernel with a fallback entry that works",
    cfg: `set timeout=1\nset fallback=1\n${ENTRY("A", "/boot/vmlinuz-missing")}${ENTRY("B")}`,
    want: /^boots/,
  },
  {
    name: "default and fallback both fail: the message names the default entry's own error",
    cfg: `set timeout=1\nset fallback=1\n${ENTRY("A", "/boot/vmlinuz-a")}${ENTRY("B", "/boot/vmlinuz-b")}`,
    want: /^stops: GRUB's default entry "A" does not boot \(\/boot\/vmlinuz-a: file not found on partition 2\), nor do the fallback entries/,
  },
  {
    name: "a condition our reading cannot decide, both ways booting the same kernel",
    cfg: `set timeout=1\nif loadfont unicode ; then\n  set gfxmode=auto\n  insmod gfxterm\nfi\n${ENTRY("Debian")}`,
    want: /^boots/,
  },
  {
    name: "a condition our reading cannot decide, one way waiting forever",
    cfg: `if keystatus --shift ; then\n  set timeout=-1\nelse\n  set timeout=0\nfi\n${ENTRY("Debian")}`,
    want: /^unsure: .*goes different ways(?=.*boots \/boot\/vmlinuz)(?=.*stops: GRUB shows its menu)/,
  },
  {
    name: "a variable set by a command we do not model decides the kernel",
    cfg: `probe --set=kver --fs-uuid ($root)\nset timeout=1\nmenuentry 'x' {\n linux /boot/vmlinuz-$kver\n}\n`,
    want: /^unsure: our reading of GRUB's config cannot follow it to the end: GRUB loads a kernel whose path our reading does not know/,
  },
  {
    name: "a construct GRUB's parser refuses",
    cfg: `set timeout=1\ntrue && echo x\n${ENTRY("Debian")}`,
    want: /^unsure: .*line 2 is a construct our reading .* does not follow/,
  },
  {
    name: "chainloader is not followed",
    cfg: `set timeout=1\nmenuentry 'other' {\n chainloader +1\n}\n`,
    want: /^unsure: .*chainloader, a loader our reading does not follow/,
  },
  {
    name: "a kernel on a partition our reading cannot open",
    cfg: `set timeout=1\nmenuentry 'x' {\n linux (hd0,gpt3)/vmlinuz\n}\n`,
    extra: [{ number: 3, uuid: "ffff", opaque: true }],
    want: /^unsure: .*partition 3, whose filesystem our reading cannot open/,
  },
  {
    name: "search for a UUID no partition has leaves root as it was",
    cfg: `search --no-floppy --fs-uuid --set=root 0000-0000\nset timeout=1\n${ENTRY("Debian").replace(/\tsearch.*\n/, "")}`,
    want: /^boots 2:/,
  },
  {
    name: "a kernel on a partition the disk does not have",
    cfg: `set timeout=1\nmenuentry 'x' {\n linux (hd0,gpt9)/vmlinuz\n}\n`,
    want: /^stops: GRUB's default entry "x" does not boot \(\(hd0,gpt9\)\/vmlinuz: no such device/,
  },
  {
    name: "functions with positional parameters",
    cfg: `function boot_it {\n linux $1 root=$2\n initrd ${I}\n}\nset timeout=1\nmenuentry 'x' {\n boot_it ${K} /dev/vda2\n}\n`,
    want: /^boots 2:.* \[root=\/dev\/vda2\]/,
  },
  {
    name: "for loops over known words",
    cfg: `for f in /boot/missing ${K}; do\n if [ -f $f ]; then set k=$f; fi\ndone\nlinux $k\ninitrd ${I}\nboot\n`,
    want: /^boots 2:\/boot\/vmlinuz/,
  },
  {
    name: "BLS entries through blscfg, the newest version first",
    cfg: `set timeout=1\nload_env\nblscfg\n`,
    files: {
      "/boot/loader/entries/abc-5.14.0-70.el9.x86_64.conf":
        "title Old\nversion 5.14.0-70\nlinux /vmlinuz-old\ninitrd /initramfs-old.img\noptions $kernelopts\n",
      "/boot/loader/entries/abc-5.14.0-362.el9.x86_64.conf":
        "title New\nversion 5.14.0-362\nlinux /vmlinuz-new\ninitrd /initramfs-new.img\noptions $kernelopts\n",
      "/boot/vmlinuz-new": "k",
      "/boot/initramfs-new.img": "i",
      "/boot/grub/grubenv": `# GRUB Environment Block\nkernelopts=root=/dev/vda2 ro\n${"#".repeat(990)}`,
    },
    want: /^boots 2:\/boot\/vmlinuz-new \[root=\/dev\/vda2 ro\]$/,
  },
  { name: "root set with parentheses", cfg: `set root=(hd0,gpt2)\nlinux ${K}\ninitrd ${I}\nboot\n`, want: /^boots 2:/ },
  {
    name: "root on a second disk, which a Droplet made from the image does not have",
    cfg: `set root='hd1'\nset timeout=1\nmenuentry 'x' {\n linux ${K}\n initrd ${I}\n}\n`,
    want: /^stops: GRUB's default entry "x" does not boot \(\/boot\/vmlinuz\S+: no such device/,
  },
  {
    name: "a variable that doubles itself stops being known past the cap, in bounded memory",
    cfg: `set a=x\n${"set a=$a$a\n".repeat(60)}linux /boot/$a\nboot\n`,
    want: /^unsure: .*a kernel whose path our reading does not know/,
  },
  {
    name: "more BLS entries than any install has is named, not sorted and read",
    cfg: `set timeout=1\nblscfg\n`,
    files: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`/boot/loader/entries/e-${i}.conf`, "title x\nlinux /vmlinuz\n"])),
    want: /^unsure: .*blscfg reads 300 entries in \/loader\/entries|^unsure: .*blscfg reads 300 entries in \/boot\/loader\/entries/,
  },
  { name: "reboot before any kernel", cfg: "reboot\n", want: /^stops: GRUB runs reboot before booting a kernel/ },
  {
    name: "a wildcard GRUB expands against the disk is not guessed at",
    cfg: `insmod regexp\nfor k in /boot/vmlinuz-*; do set kernel=$k; done\nlinux $kernel root=/dev/vda2\ninitrd ${I}\nboot\n`,
    want: /^unsure: .*a for loop over values our reading does not know/,
  },
];

test.each(ROWS.map((r) => [r.name, r]))("%s", async (_name, r) => {
  expect(await verdict(r.cfg, r.files, r.extra)).toMatch(r.want);
});

describe("rewrites GRUB treats the same give the same verdict", () => {
  const base = `${HEADER}set timeout=1\n${ENTRY("Debian GNU/Linux")}`;
  const rewrites: [string, (s: string) => string][] = [
    ["double quotes instead of single", (s) => s.replace(/'/g, '"')],
    ["tabs and extra blanks", (s) => s.replace(/ /g, " \t ")],
    ["semicolons instead of newlines inside the entry", (s) => s.replace(/\n\t/g, ";\t")],
    ["comments and blank lines", (s) => s.replace(/\n/g, "\n# a comment\n\n")],
    ["backslash-newline continuations", (s) => s.replace(/ ro /g, " \\\nro ")],
    ["${var} for $var", (s) => s.replace(/\$menuentry_id_option/g, "${menuentry_id_option}")],
    ["the entry as top-level commands", () => `search --fs-uuid --set=root ${UUID}\nlinux ${K} root=UUID=${UUID} ro console=ttyS0\ninitrd ${I}\nboot\n`],
    ["behind a configfile stub", () => `search.fs_uuid ${UUID} root\nconfigfile ($root)/boot/grub/real.cfg\n`],
  ];
  test.each(rewrites)("%s", async (_name, rewrite) => {
    const want = await verdict(base, { "/boot/grub/real.cfg": base });
    expect(want).toMatch(/^boots 2:/);
    expect(await verdict(rewrite(base), { "/boot/grub/real.cfg": base })).toBe(want);
  });
});

describe("GRUB's kernel before normal mode: core.img's modules, prefix and embedded config", () => {
  const m = machine({ "/boot/grub/grub.cfg": "x" });
  for (const p of m.partitions) p.fsType = p.files ? "ext" : undefined;
  const loadCfg = `search.fs_uuid ${UUID} root hd1\nset prefix=($root)'/boot/grub'\n`;
  test.each([
    [
      "grub-install's usual core: found by UUID",
      ["biosdisk", "part_gpt", "ext2", "search_fs_uuid"],
      "/boot/grub",
      loadCfg,
      /^normal 2:\/boot\/grub\/grub.cfg root=hd0,gpt2$/,
    ],
    [
      "a prefix naming the partition, no embedded config",
      ["biosdisk", "part_gpt", "ext2"],
      "(,gpt2)/boot/grub",
      undefined,
      /^normal 2:\/boot\/grub\/grub.cfg root=hd0,gpt2$/,
    ],
    [
      "no part_gpt: the UUID is not found and the prefix is the whole disk",
      ["biosdisk", "ext2", "search_fs_uuid"],
      "/boot/grub",
      loadCfg,
      /^stop: GRUB's prefix \(hd0\)\/boot\/grub is the whole disk/,
    ],
    [
      "no ext2: the partition's filesystem is unknown to it",
      ["biosdisk", "part_gpt", "search_fs_uuid"],
      "(,gpt2)/boot/grub",
      undefined,
      /^stop: core.img has no ext2 module for partition 2/,
    ],
    [
      "no search_fs_uuid: the command is missing and root stays the disk",
      ["biosdisk", "part_gpt", "ext2"],
      "/boot/grub",
      loadCfg,
      /^stop: GRUB's prefix \(hd0\)\/boot\/grub is the whole disk/,
    ],
    ["a partition the disk does not have", ["biosdisk", "part_gpt", "ext2"], "(,gpt7)/boot/grub", undefined, /^stop: .*the disk has no partition 7/],
  ])("%s", (_name, modules, prefix, config, want) => {
    const s = grubStartup({ modules, prefix, config }, m);
    expect(s.kind === "normal" ? `normal ${s.config.partition}:${s.config.path} root=${s.root}` : `${s.kind}: ${s.message}`).toMatch(want);
  });
});

test("the parser keeps each statement's line, and a block that is never closed becomes an unparsed statement", () => {
  const s = parseScript("set a=1\nif [ x = x ]; then\n  echo y\nfi\nmenuentry 'x' {\n  linux /k\n");
  expect(s.map((x) => `${x.kind}@${x.line}`)).toEqual(["command@1", "if@2", "unparsed@5"]);
});

test("nesting past the bound is an unparsed statement, not a stack overflow", () => {
  const deep = "if true; then\n".repeat(100_000) + "echo x\n" + "fi\n".repeat(100_000);
  const s = parseScript(deep);
  expect(s[s.length - 1]).toMatchObject({ kind: "unparsed", why: "blocks nested more than 64 deep" });
});

test("grubenv: escapes, and nothing read past a broken block", () => {
  expect(parseGrubenv(Buffer.from("# GRUB Environment Block\na=1\nb=x\\\\y\n####"))).toEqual([
    ["a", "1"],
    ["b", "x\\y"],
  ]);
  expect(parseGrubenv(Buffer.from("not an env block"))).toEqual([]);
});

test.each([
  ["5.14.0-362.el9", "5.14.0-70.el9", 1],
  ["1.0~rc1", "1.0", -1],
  ["1.0a", "1.0", 1],
  ["2", "10", -1],
  ["1.0", "1.0", 0],
])("rpm version order: %s vs %s is %d", (a, b, want) => {
  expect(rpmVercmp(a, b)).toBe(want);
});
