import type { RequestListener } from 'node:http';
import request from 'supertest';
import { TEST_ADMIN_TOKEN } from './env';

/**
 * Creates the account `name` (password `<name>-password`) through the gateway's /v1 as the admin,
 * and answers an `Authorization` value for an API token of its own.
 */
export async function accountWithToken(app: RequestListener, name: string): Promise<string> {
  await request(app)
    .post('/v1/admin/accounts')
    .set('authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
    .send({ name, password: `${name}-password` })
    .expect(201);
  const res = await request(app)
    .post('/v1/tokens')
    .set('authorization', `Basic ${Buffer.from(`${name}:${name}-password`).toString('base64')}`)
    .send({})
    .expect(201);
  return `Bearer ${(res.body as { secret: string }).secret}`;
}
