// `do-image completion`: the shell completion script, from the same command tree as the parser.
import type { CommandSpec } from "../args";
import { writeOut } from "../output";

/** Takes the whole program, which lists this command too. */
export const completion = (program: () => CommandSpec): CommandSpec => ({
  name: "completion",
  description: 'print a shell completion script: eval "$(do-image completion bash)"; zsh and fish say where to put theirs',
  args: [{ name: "shell", description: "the shell", choices: ["bash", "zsh", "fish"] }],
  run: async ([shell]) => {
    const { completionScript } = await import("../completion");
    writeOut(completionScript(program(), shell as string));
  },
});
