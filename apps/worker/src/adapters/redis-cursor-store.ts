import type { Redis } from 'ioredis';
import type { CursorStore } from '../ports';

/** The relay cursor in Redis, shared by every worker of a deployment. */
export class RedisCursorStore implements CursorStore {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}relay:cursor`;
  }

  async get(): Promise<string | undefined> {
    return (await this.redis.get(this.key)) ?? undefined;
  }

  async set(position: string): Promise<void> {
    await this.redis.set(this.key, position);
  }
}
