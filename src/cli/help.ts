/**
 * Help conventions shared by every relearn command: options the command
 * cannot run without say "(required)" first, so a user reading --help sees
 * what to pass before reading what it means. Commander shows a required
 * option like any other; this marks it.
 */
import { Help, type Command, type Option } from "commander";

/** Marks the required options of `command` and of every subcommand in their --help. */
export function markRequiredOptions(command: Command): Command {
  command.configureHelp({
    optionDescription(this: Help, option: Option): string {
      const text = Help.prototype.optionDescription.call(this, option);
      return option.mandatory ? `(required) ${text}` : text;
    },
  });
  command.commands.forEach(markRequiredOptions);
  return command;
}
