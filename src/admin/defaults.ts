// The admin server's defaults the CLI shows in --help, apart from the server's modules (which
// are loaded only when -admin is given).

/** Per-queue metric series: the deepest N queues, the rest as queue="_other". */
export const DEFAULT_METRICS_MAX_QUEUES = 100;
