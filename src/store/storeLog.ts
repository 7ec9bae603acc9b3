// What the store reports to operators, and where it goes when nobody listens.

/** pino's Logger fits. */
export interface StoreLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): StoreLog;
}

/** For a store opened without a log (tools and tests): says nothing. */
export const SILENT_LOG: StoreLog = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  child: () => SILENT_LOG,
};
