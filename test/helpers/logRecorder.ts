// A StoreLog that keeps what the store says, and lets a test wait for a line by its message.
import { type StoreLog } from '../../src/store/storeLog.js';

export interface LogLine {
  level: 'error' | 'warn' | 'info';
  obj: Record<string, unknown>;
  msg: string;
}

export class LogRecorder implements StoreLog {
  readonly lines: LogLine[] = [];
  private readonly waiting: Array<{ pattern: RegExp; resolve: (line: LogLine) => void }> = [];

  constructor(readonly bindings: Record<string, unknown> = {}) {}

  error(obj: object, msg: string): void {
    this.record('error', obj, msg);
  }
  warn(obj: object, msg: string): void {
    this.record('warn', obj, msg);
  }
  info(obj: object, msg: string): void {
    this.record('info', obj, msg);
  }
  /** The child shares the parent's lines (bindings merged in), as pino's does its destination. */
  child(bindings: Record<string, unknown>): StoreLog {
    const parent = this;
    const merged = { ...this.bindings, ...bindings };
    return {
      error: (obj, msg) => parent.record('error', { ...merged, ...obj }, msg),
      warn: (obj, msg) => parent.record('warn', { ...merged, ...obj }, msg),
      info: (obj, msg) => parent.record('info', { ...merged, ...obj }, msg),
      child: (more) => parent.child({ ...merged, ...more }),
    };
  }

  /** Resolves with the first line (past or future) whose message matches. */
  next(pattern: RegExp): Promise<LogLine> {
    const seen = this.lines.find((l) => pattern.test(l.msg));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiting.push({ pattern, resolve }));
  }

  private record(level: LogLine['level'], obj: object, msg: string): void {
    const line = { level, obj: obj as Record<string, unknown>, msg };
    this.lines.push(line);
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i]!;
      if (w.pattern.test(msg)) {
        this.waiting.splice(i, 1);
        w.resolve(line);
      }
    }
  }
}
