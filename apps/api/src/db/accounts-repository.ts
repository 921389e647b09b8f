import type { Role, Scope } from '@rosetta/core';
import type {
  AccountChanges,
  AccountName,
  AccountRecord,
  AccountsRepository,
  MemberRecord,
  NewToken,
  SessionWithAccount,
  SpaceKind,
  SpaceRecord,
  TokenKind,
  TokenRecord,
  TokenWithAccount,
} from '../services/auth-ports';
import { us } from './sql-fragments';
import type { SqlClient, SqlExecutor } from './sql';

interface AccountRow {
  id: number;
  name: string;
  host: string;
  password_hash: string | null;
  admin: boolean;
  disabled: boolean;
  personal_space: string;
  created: number;
}

const ACCOUNT_COLUMNS = (a: string, s: string) =>
  `${a}.id, ${a}.name, ${a}.host, ${a}.password_hash, ${a}.admin, ${a}.disabled, ${s}.name AS personal_space,
   ${us(`${a}.created`)} AS created`;

const SELECT_ACCOUNT = `SELECT ${ACCOUNT_COLUMNS('a', 'ps')} FROM accounts a JOIN spaces ps ON ps.id = a.personal_space_id`;

const toAccount = (row: AccountRow): AccountRecord => ({
  id: row.id,
  name: row.name,
  host: row.host,
  passwordHash: row.password_hash,
  admin: row.admin,
  disabled: row.disabled,
  personalSpace: row.personal_space,
  created: row.created,
});

interface TokenRow {
  t_id: number;
  t_account_name: string;
  t_account_host: string;
  kind: TokenKind;
  t_name: string;
  scopes: Scope[];
  read_only: boolean;
  rate_limit: number;
  t_created: number;
  expires: number | null;
  last_used: number | null;
  revoked: number | null;
}

const TOKEN_COLUMNS = `t.id AS t_id, a.name AS t_account_name, a.host AS t_account_host, t.kind, t.name AS t_name,
  t.scopes, t.read_only, t.rate_limit, ${us('t.created')} AS t_created, ${us('t.expires')} AS expires,
  ${us('t.last_used')} AS last_used, ${us('t.revoked')} AS revoked`;

const toToken = (row: TokenRow): TokenRecord => ({
  id: row.t_id,
  account: { name: row.t_account_name, host: row.t_account_host },
  kind: row.kind,
  name: row.t_name,
  scopes: row.scopes,
  readOnly: row.read_only,
  rateLimit: row.rate_limit,
  created: row.t_created,
  expires: row.expires ?? undefined,
  lastUsed: row.last_used ?? undefined,
  revoked: row.revoked ?? undefined,
});

interface SpaceRow {
  name: string;
  id: string;
  kind: SpaceKind;
  created: number;
  role?: Role | null;
}

const SPACE_COLUMNS = `s.name, s.uuid::text AS id, s.kind, ${us('s.created')} AS created`;

/** Inserts a space (with the given UUID, or a random one); undefined when its name or UUID is taken. */
async function insertSpace(
  tx: SqlExecutor,
  name: string,
  kind: SpaceKind,
  uuid: string | undefined,
): Promise<number | undefined> {
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO spaces (name, kind, uuid) VALUES ($1, $2, COALESCE($3::uuid, gen_random_uuid()))
     ON CONFLICT DO NOTHING RETURNING id`,
    [name, kind, uuid ?? null],
  );
  return rows[0]?.id;
}

export class SqlAccountsRepository implements AccountsRepository {
  constructor(private readonly db: SqlClient) {}

  async createAccount(
    account: AccountName & { passwordHash: string | null; admin: boolean; personalSpace: string },
  ): Promise<AccountRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const spaceId = await insertSpace(tx, account.personalSpace, 'personal', undefined);
      if (spaceId === undefined) return undefined;
      const { rows } = await tx.query<{ id: number }>(
        `INSERT INTO accounts (name, host, password_hash, admin, personal_space_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name, host) DO NOTHING RETURNING id`,
        [account.name, account.host, account.passwordHash, account.admin, spaceId],
      );
      const id = rows[0]?.id;
      if (id === undefined) {
        await tx.query('DELETE FROM spaces WHERE id = $1', [spaceId]);
        return undefined;
      }
      await tx.query(`INSERT INTO space_members (space_id, account_id, role) VALUES ($1, $2, 'owner')`, [spaceId, id]);
      const created = await tx.query<AccountRow>(`${SELECT_ACCOUNT} WHERE a.id = $1`, [id]);
      return created.rows.map(toAccount)[0];
    });
  }

  async findAccount(name: AccountName): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<AccountRow>(`${SELECT_ACCOUNT} WHERE a.name = $1 AND a.host = $2`, [
      name.name,
      name.host,
    ]);
    return rows.map(toAccount)[0];
  }

  async findAccountById(id: number): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<AccountRow>(`${SELECT_ACCOUNT} WHERE a.id = $1`, [id]);
    return rows.map(toAccount)[0];
  }

  async listAccounts(afterId: number, limit: number): Promise<AccountRecord[]> {
    const { rows } = await this.db.query<AccountRow>(`${SELECT_ACCOUNT} WHERE a.id > $1 ORDER BY a.id LIMIT $2`, [
      afterId,
      limit,
    ]);
    return rows.map(toAccount);
  }

  async updateAccount(id: number, changes: AccountChanges): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<AccountRow>(
      `WITH a AS (
         UPDATE accounts SET
           password_hash = CASE WHEN $2 THEN $3 ELSE password_hash END,
           admin = coalesce($4, admin),
           disabled = coalesce($5, disabled),
           updated = now()
         WHERE id = $1 RETURNING *)
       SELECT ${ACCOUNT_COLUMNS('a', 'ps')} FROM a JOIN spaces ps ON ps.id = a.personal_space_id`,
      [
        id,
        changes.passwordHash !== undefined,
        changes.passwordHash ?? null,
        changes.admin ?? null,
        changes.disabled ?? null,
      ],
    );
    return rows.map(toAccount)[0];
  }

  async deleteAccount(id: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ personal_space_id: number }>(
        'DELETE FROM accounts WHERE id = $1 RETURNING personal_space_id',
        [id],
      );
      const [row] = rows;
      if (row === undefined) return false;
      await tx.query('DELETE FROM spaces WHERE id = $1', [row.personal_space_id]);
      return true;
    });
  }

  async createSpace(name: string, ownerId: number, uuid: string | undefined): Promise<SpaceRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const id = await insertSpace(tx, name, 'shared', uuid);
      if (id === undefined) return undefined;
      await tx.query(`INSERT INTO space_members (space_id, account_id, role) VALUES ($1, $2, 'owner')`, [id, ownerId]);
      const { rows } = await tx.query<SpaceRow>(`SELECT ${SPACE_COLUMNS} FROM spaces s WHERE s.id = $1`, [id]);
      return rows[0];
    });
  }

  async findSpace(name: string): Promise<SpaceRecord | undefined> {
    const { rows } = await this.db.query<SpaceRow>(`SELECT ${SPACE_COLUMNS} FROM spaces s WHERE s.name = $1`, [name]);
    return rows[0];
  }

  async listSpaces(accountId: number | undefined): Promise<Array<SpaceRecord & { role: Role | undefined }>> {
    const { rows } = await this.db.query<SpaceRow>(
      accountId === undefined
        ? `SELECT ${SPACE_COLUMNS}, NULL AS role FROM spaces s ORDER BY s.name`
        : `SELECT ${SPACE_COLUMNS}, m.role FROM spaces s JOIN space_members m ON m.space_id = s.id
           WHERE m.account_id = $1 ORDER BY s.name`,
      accountId === undefined ? [] : [accountId],
    );
    return rows.map((row) => ({
      name: row.name,
      id: row.id,
      kind: row.kind,
      created: row.created,
      role: row.role ?? undefined,
    }));
  }

  async deleteSpace(name: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM spaces WHERE name = $1', [name]);
    return rowCount > 0;
  }

  async roleOf(accountId: number, space: string): Promise<Role | undefined> {
    const { rows } = await this.db.query<{ role: Role }>(
      {
        name: 'accounts.role',
        text: 'SELECT m.role FROM space_members m JOIN spaces s ON s.id = m.space_id WHERE s.name = $1 AND m.account_id = $2',
      },
      [space, accountId],
    );
    return rows[0]?.role;
  }

  async setMember(space: string, accountId: number, role: Role): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO space_members (space_id, account_id, role) SELECT id, $2, $3 FROM spaces WHERE name = $1
       ON CONFLICT (space_id, account_id) DO UPDATE SET role = excluded.role`,
      [space, accountId, role],
    );
    return rowCount > 0;
  }

  async removeMember(space: string, accountId: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'DELETE FROM space_members m USING spaces s WHERE s.id = m.space_id AND s.name = $1 AND m.account_id = $2',
      [space, accountId],
    );
    return rowCount > 0;
  }

  async listMembers(space: string): Promise<MemberRecord[]> {
    const { rows } = await this.db.query<{ name: string; host: string; role: Role }>(
      `SELECT a.name, a.host, m.role FROM space_members m JOIN spaces s ON s.id = m.space_id
       JOIN accounts a ON a.id = m.account_id WHERE s.name = $1 ORDER BY a.name, a.host`,
      [space],
    );
    return rows.map((row) => ({ space, account: { name: row.name, host: row.host }, role: row.role }));
  }

  async createToken(token: NewToken): Promise<TokenRecord> {
    const { rows } = await this.db.query<TokenRow>(
      `WITH t AS (
         INSERT INTO api_tokens (account_id, kind, name, secret_hash, scopes, read_only, rate_limit, expires)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, CASE WHEN $8::int8 IS NULL THEN NULL ELSE now() + $8::int8 * interval '1 second' END)
         RETURNING *)
       SELECT ${TOKEN_COLUMNS} FROM t JOIN accounts a ON a.id = t.account_id`,
      [
        token.accountId,
        token.kind,
        token.name,
        token.secretHash,
        JSON.stringify(token.scopes),
        token.readOnly,
        token.rateLimit,
        token.expiresInSeconds ?? null,
      ],
    );
    return rows.map(toToken)[0] as TokenRecord;
  }

  async findToken(secretHash: Uint8Array): Promise<TokenWithAccount | undefined> {
    const { rows } = await this.db.query<TokenRow & AccountRow & { expired: boolean }>(
      {
        name: 'accounts.find-token',
        text: `SELECT ${TOKEN_COLUMNS}, ${ACCOUNT_COLUMNS('a', 'ps')}, coalesce(t.expires <= now(), false) AS expired
               FROM api_tokens t JOIN accounts a ON a.id = t.account_id JOIN spaces ps ON ps.id = a.personal_space_id
               WHERE t.secret_hash = $1`,
      },
      [secretHash],
    );
    const [row] = rows;
    return row === undefined ? undefined : { token: toToken(row), account: toAccount(row), expired: row.expired };
  }

  async listTokens(accountId: number): Promise<TokenRecord[]> {
    const { rows } = await this.db.query<TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens t JOIN accounts a ON a.id = t.account_id
       WHERE t.account_id = $1 ORDER BY t.id DESC`,
      [accountId],
    );
    return rows.map(toToken);
  }

  async revokeToken(id: number, accountId: number | undefined): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE api_tokens SET revoked = coalesce(revoked, now())
       WHERE id = $1 AND ($2::int8 IS NULL OR account_id = $2::int8)`,
      [id, accountId ?? null],
    );
    return rowCount > 0;
  }

  async revokeTokensNamed(accountId: number, name: string): Promise<void> {
    await this.db.query(
      'UPDATE api_tokens SET revoked = now() WHERE account_id = $1 AND name = $2 AND revoked IS NULL',
      [accountId, name],
    );
  }

  async touchToken(id: number): Promise<void> {
    await this.db.query(
      {
        name: 'accounts.touch-token',
        text: `UPDATE api_tokens SET last_used = now()
               WHERE id = $1 AND (last_used IS NULL OR last_used < now() - interval '1 minute')`,
      },
      [id],
    );
  }

  async createSession(accountId: number, secretHash: Uint8Array, readOnly: boolean): Promise<number> {
    const { rows } = await this.db.query<{ id: number }>(
      'INSERT INTO sessions (account_id, secret_hash, read_only) VALUES ($1, $2, $3) RETURNING id',
      [accountId, secretHash, readOnly],
    );
    return (rows[0] as { id: number }).id;
  }

  async findSession(secretHash: Uint8Array): Promise<SessionWithAccount | undefined> {
    const { rows } = await this.db.query<AccountRow & { session_id: number; read_only: boolean }>(
      {
        name: 'accounts.find-session',
        text: `UPDATE sessions s SET last_used = now() FROM accounts a JOIN spaces ps ON ps.id = a.personal_space_id
               WHERE s.secret_hash = $1 AND a.id = s.account_id
               RETURNING s.id AS session_id, s.read_only, ${ACCOUNT_COLUMNS('a', 'ps')}`,
      },
      [secretHash],
    );
    const [row] = rows;
    return row === undefined ? undefined : { id: row.session_id, readOnly: row.read_only, account: toAccount(row) };
  }

  async deleteSessions(target: { secretHash: Uint8Array } | { accountId: number }): Promise<number> {
    const { rowCount } =
      'secretHash' in target
        ? await this.db.query('DELETE FROM sessions WHERE secret_hash = $1', [target.secretHash])
        : await this.db.query('DELETE FROM sessions WHERE account_id = $1', [target.accountId]);
    return rowCount;
  }

  async findExternalIdentity(issuer: string, subject: string): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<AccountRow>(
      `${SELECT_ACCOUNT} JOIN external_identities x ON x.account_id = a.id WHERE x.issuer = $1 AND x.subject = $2`,
      [issuer, subject],
    );
    return rows.map(toAccount)[0];
  }

  async linkExternalIdentity(issuer: string, subject: string, accountId: number): Promise<void> {
    await this.db.query(
      `INSERT INTO external_identities (issuer, subject, account_id) VALUES ($1, $2, $3)
       ON CONFLICT (issuer, subject) DO UPDATE SET account_id = excluded.account_id`,
      [issuer, subject, accountId],
    );
  }
}
