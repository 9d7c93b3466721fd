import { ConfigError } from '../config.ts';

/** A start-up problem worth one plain line rather than the list `ConfigError` prints. */
export class IsolatedConfigError extends ConfigError {
  constructor(message: string) {
    super([message]);
    this.message = message;
  }
}
