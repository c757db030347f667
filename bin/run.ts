/** `failover run`: the functions runtime, handed the built-in functions by name. */
import { functions } from "../functions/index.ts";
import { runFunctions } from "../shared/runtime/main.ts";

export function main(args: string[]): Promise<number> {
  return runFunctions(args, functions);
}
