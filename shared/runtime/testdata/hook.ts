/** A hook as a user writes it, loaded by path in load-functions.test.ts. */
import { defineFunction } from "../define-function.ts";

export default defineFunction({
  name: "test-hook",
  on: ["switch-master"],
  reconcile: () => Promise.resolve(),
});
