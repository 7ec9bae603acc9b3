// Reading the JSON configuration file: `default` and `queues` blocks of §8 options.
import { readFileSync } from 'node:fs';
import { type ServerQueueConfig, defaultServerQueueConfig } from './config.js';

export function loadConfigFile(path: string): ServerQueueConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read: ${(err as Error).message}`);
  }
  try {
    JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  return defaultServerQueueConfig();
}

/** The largest max_item_size any queue allows. */
export function maxItemSizeOf(config: ServerQueueConfig): number {
  let max = config.defaults.maxItemSize;
  for (const q of config.queues.values()) if (q.maxItemSize !== undefined && q.maxItemSize > max) max = q.maxItemSize;
  return max;
}
