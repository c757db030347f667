/**
 * The one logger module. Functions take child loggers (`logger.child({ fn, master })`);
 * messages are constant text, variables go in fields, errors under `err`.
 */
import { pino } from "pino";
import type { Logger } from "pino";

export type { Logger };

export const logger: Logger = pino({
  level: process.env.LOG_LEVEL ?? "info",
  base: { app: "failover-functions" },
  serializers: { err: pino.stdSerializers.err },
  timestamp: pino.stdTimeFunctions.isoTime,
});
