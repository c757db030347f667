/**
 * Every error class of the project, in one place (the nats.js `core/src/errors.ts` pattern):
 * each extends Error, sets `name`, and keeps `cause`. Callers branch on the class (`instanceof`)
 * or on structured fields, never on message text.
 */

/** Base class: everything the project throws on purpose. */
export class FailoverError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FailoverError";
  }
}

/** Do not retry: the input or the situation will not get better by trying again. */
export class TerminalError extends FailoverError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** A configuration value (environment variable or option) is missing or wrong. */
export class ConfigError extends TerminalError {
  /** The offending key, e.g. `SENTINEL_ADDRESSES`. */
  readonly key: string;
  constructor(key: string, message: string, options?: ErrorOptions) {
    super(`${key}: ${message}`, options);
    this.name = "ConfigError";
    this.key = key;
  }
}

/** A process of the sandbox could not be started, or died while starting. */
export class ProcessStartError extends FailoverError {
  readonly process: string;
  /** The last lines of the process's log, for the message and for the reader. */
  readonly logTail: string;
  constructor(process: string, reason: string, logTail: string, options?: ErrorOptions) {
    super(`${process}: ${reason}${logTail ? `\n--- last lines of its log ---\n${logTail}` : ""}`, options);
    this.name = "ProcessStartError";
    this.process = process;
    this.logTail = logTail;
  }
}

/** A required binary is not installed. */
export class MissingBinaryError extends FailoverError {
  readonly binary: string;
  constructor(binary: string, hint: string, options?: ErrorOptions) {
    super(`${binary} not found: ${hint}`, options);
    this.name = "MissingBinaryError";
    this.binary = binary;
  }
}

/** A condition was not met before its deadline. */
export class TimeoutError extends FailoverError {
  constructor(what: string, ms: number, options?: ErrorOptions) {
    super(`timed out after ${ms} ms waiting for ${what}`, options);
    this.name = "TimeoutError";
  }
}

/** The Sentinels do not agree (no quorum) on the master of a name. */
export class NoQuorumError extends FailoverError {
  readonly master: string;
  constructor(master: string, detail: string, options?: ErrorOptions) {
    super(`no Sentinel quorum for master ${master}: ${detail}`, options);
    this.name = "NoQuorumError";
    this.master = master;
  }
}

/** Worth another try later (the runtime naks with backoff): a server that is down, a conflict, a throttle. */
export class RetryableError extends FailoverError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RetryableError";
  }
}

/** The apiserver answered 403: the ServiceAccount's Role lacks a permission. */
export class RbacError extends TerminalError {
  readonly verb: string;
  readonly resource: string;
  constructor(verb: string, resource: string, namespace: string | undefined, options?: ErrorOptions) {
    super(
      `RBAC: not allowed to ${verb} ${resource}${namespace ? ` in namespace ${namespace}` : ""}; grant it in the function's Role`,
      options,
    );
    this.name = "RbacError";
    this.verb = verb;
    this.resource = resource;
  }
}

/** An event that does not pass validation (bad headers or data). */
export class InvalidEventError extends TerminalError {
  /** The offending field, e.g. `ce-type` or `data.newMaster.port`. */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`invalid event: ${field}: ${message}`, options);
    this.name = "InvalidEventError";
    this.field = field;
  }
}

/** An init container or preStop hook cannot decide safely (exit non-zero; the kubelet retries). */
export class InitError extends TerminalError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InitError";
  }
}

/** `failover run <spec>`: a function that is not built in and could not be loaded from a path or package. */
export class FunctionLoadError extends TerminalError {
  /** What was asked for: a built-in name, a path or a package name. */
  readonly spec: string;
  constructor(spec: string, message: string, options?: ErrorOptions) {
    super(`${spec}: ${message}`, options);
    this.name = "FunctionLoadError";
    this.spec = spec;
  }
}
