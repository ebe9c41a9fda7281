// `do-image completion bash|zsh|fish`: completion scripts generated from the command tree itself, so they never drift.
import type { CommandSpec } from "./args";

interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

function walk(cmd: CommandSpec, path: string[] = []): Node[] {
  const options = (cmd.flags ?? []).flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]);
  const subs = cmd.commands ?? [];
  return [{ path, subcommands: subs.map((c) => c.name), options }, ...subs.flatMap((c) => walk(c, [...path, c.name]))];
}

function bash(nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    "${n.path.join(" ")}") words="${[...n.subcommands, ...n.options, ...(n.path.length === 0 ? ["--help"] : [])].join(" ")}" ;;`)
    .join("\n");
  return `# do-image bash completion: eval "$(do-image completion bash)"
_do_image() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w words
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) case " $(_do_image_words "$path") " in *" $w "*) path="\${path:+$path }$w" ;; esac ;; esac
  done
  words=$(_do_image_words "$path")
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  [[ $cur != -* && \${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
}
_do_image_words() {
  local words=""
  case "$1" in
${cases}
  esac
  echo "$words"
}
complete -o filenames -F _do_image do-image
`;
}

function zsh(nodes: Node[]): string {
  return `#compdef do-image
# do-image zsh completion: do-image completion zsh > "\${fpath[1]}/_do-image"
autoload -U bashcompinit && bashcompinit
${bash(nodes)}`;
}

function fish(nodes: Node[]): string {
  const lines = ["# do-image fish completion: do-image completion fish > ~/.config/fish/completions/do-image.fish", "complete -c do-image -f"];
  for (const n of nodes) {
    const cond = n.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
    for (const s of n.subcommands) lines.push(`complete -c do-image -n '${cond}' -a ${s}`);
    for (const o of n.options) lines.push(`complete -c do-image -n '${cond}' ${o.startsWith("--") ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`}`);
    if (n.subcommands.length === 0 && n.path.length > 0) lines.push(`complete -c do-image -n '${cond}' -F`);
  }
  return `${lines.join("\n")}\n`;
}

export function completionScript(program: CommandSpec, shell: string): string {
  const nodes = walk(program);
  if (shell === "bash") return bash(nodes);
  if (shell === "zsh") return zsh(nodes);
  return fish(nodes);
}
