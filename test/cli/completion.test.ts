// `do-image completion`: scripts generated from the command tree; bash's is exercised as the shell calls it.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";

const cli = join(__dirname, "..", "..", "dist", "provider", "cli", "main.js");
const script = (shell: string) => execFileSync(process.execPath, [cli, "completion", shell], { encoding: "utf8" });

/** What bash offers after typing `words` (the last one being completed). */
function complete(words: string[]): string[] {
  const cmd = `eval "$(cat)"; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length - 1}; _do_image; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return spawnSync("bash", ["-c", cmd], { input: script("bash"), encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);
}

test("bash completes commands, subcommands and each command's own flags", () => {
  expect(complete(["do-image", "re"])).toEqual(["regions"]);
  expect(complete(["do-image", "regions", ""])).toEqual(["add"]);
  expect(complete(["do-image", "push", "--re"])).toEqual(["--region", "--regions"]);
  expect(complete(["do-image", "-t", "tok", "push", "img.qcow2", "--json", "--bu"])).toEqual(["--bucket"]);
  expect(complete(["do-image", "validate", "--sk"])).toEqual(["--skip"]);
});

test("zsh's script is bash's through bashcompinit; fish's names every command and flag", () => {
  expect(script("zsh")).toMatch(/^#compdef do-image\n[\s\S]*bashcompinit[\s\S]*complete -o filenames -F _do_image do-image/);
  const fish = script("fish");
  for (const c of ["inspect", "validate", "boot", "push", "ls", "regions", "rm", "completion"]) expect(fish).toContain(`-a ${c}\n`);
  expect(fish).toContain("complete -c do-image -n '__fish_seen_subcommand_from push' -l import-timeout");
  expect(fish).toContain("complete -c do-image -n '__fish_seen_subcommand_from regions' -a add");
});
