import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type IRateLimiterOptions,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { DomainError } from '@rosetta/core';

export interface RateLimitSettings {
  /** Failed password attempts allowed per account within the window. */
  readonly maxFailuresPerAccount: number;
  /** Failed password attempts allowed per client address within the window. */
  readonly maxFailuresPerAddress: number;
  readonly failureWindowSeconds: number;
}

export function rateLimited(retryAfterSeconds: number, what: string): DomainError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new DomainError('RATE_LIMITED', what, {
    publicMessage: `${what}; retry in ${seconds} s`,
    retryAfterSeconds: seconds,
  });
}

/** A limiter in Redis when there is one (falling back to memory while Redis is down), else in memory. */
const limiter = (redis: Redis | undefined, options: IRateLimiterOptions): RateLimiterAbstract =>
  redis === undefined
    ? new RateLimiterMemory(options)
    : new RateLimiterRedis({
        ...options,
        storeClient: redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory(options),
      });

/**
 * Brute-force protection for passwords (logins and HTTP Basic): failures are counted per account
 * and per client address, in Redis when there is one (shared by every api instance) and in
 * memory otherwise. Past either limit every attempt, right or wrong, is refused until the window
 * passes, so a guesser learns nothing from the answers.
 */
export class PasswordAttempts {
  private readonly byAccount: RateLimiterAbstract;
  private readonly byAddress: RateLimiterAbstract;

  constructor(redis: Redis | undefined, prefix: string, settings: RateLimitSettings) {
    const duration = settings.failureWindowSeconds;
    this.byAccount = limiter(redis, {
      keyPrefix: `${prefix}auth-fail-account`,
      points: settings.maxFailuresPerAccount,
      duration,
    });
    this.byAddress = limiter(redis, {
      keyPrefix: `${prefix}auth-fail-address`,
      points: settings.maxFailuresPerAddress,
      duration,
    });
  }

  /** Throws RATE_LIMITED when the account or the address has used up its failures. */
  async check(account: string, address: string): Promise<void> {
    const [forAccount, forAddress] = await Promise.all([
      this.byAccount.get(account),
      address === '' ? null : this.byAddress.get(address),
    ]);
    for (const [state, points, what] of [
      [forAccount, this.byAccount.points, 'too many failed logins for this account'],
      [forAddress, this.byAddress.points, 'too many failed logins from this address'],
    ] as const) {
      if (state !== null && state.consumedPoints >= points) throw rateLimited(state.msBeforeNext / 1000, what);
    }
  }

  async failed(account: string, address: string): Promise<void> {
    await Promise.all([
      this.byAccount.penalty(account, 1),
      address === '' ? undefined : this.byAddress.penalty(address, 1),
    ]);
  }

  async succeeded(account: string): Promise<void> {
    await this.byAccount.delete(account);
  }
}

/**
 * Requests per second per credential (tokens with a rate limit, or the service's default). The
 * counters live in Redis when there is one; once a credential is over its limit it is refused
 * from memory until the second is over, without asking Redis again.
 */
export class RequestRates {
  private readonly limiters = new Map<number, RateLimiterAbstract>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly prefix: string,
  ) {}

  async consume(credential: string, perSecond: number, points: number): Promise<void> {
    let forRate = this.limiters.get(perSecond);
    if (forRate === undefined) {
      forRate = limiter(this.redis, {
        keyPrefix: `${this.prefix}rate-${perSecond}`,
        points: perSecond,
        duration: 1,
        ...(this.redis === undefined ? {} : { inMemoryBlockOnConsumed: perSecond }),
      });
      this.limiters.set(perSecond, forRate);
    }
    try {
      await forRate.consume(credential, Math.min(points, perSecond));
    } catch (error) {
      if (error instanceof RateLimiterRes) throw rateLimited(error.msBeforeNext / 1000, 'request rate limit exceeded');
      throw error;
    }
  }
}
