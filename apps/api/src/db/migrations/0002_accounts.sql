-- Accounts, memberships and credentials. Secrets (passwords, tokens, sessions) are stored only
-- as hashes: scrypt for passwords, SHA-256 for random tokens (they carry 192+ bits of entropy).

-- A personal space belongs to one account; a shared space (an OpenFn project, a team) to its members.
ALTER TABLE spaces ADD COLUMN kind text NOT NULL DEFAULT 'shared' CHECK (kind IN ('personal', 'shared'));

CREATE TABLE accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL,
  -- The domain of `user@host` logins (Prosody); '' for accounts without one.
  host text COLLATE "C" NOT NULL DEFAULT '',
  -- NULL: no password login (tokens and JWTs only).
  password_hash text,
  admin boolean NOT NULL DEFAULT false,
  disabled boolean NOT NULL DEFAULT false,
  personal_space_id bigint NOT NULL REFERENCES spaces (id),
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, host)
);

CREATE TABLE space_members (
  space_id bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'writer', 'reader')),
  created timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (space_id, account_id)
);
CREATE INDEX space_members_account ON space_members (account_id);

-- API tokens ('token') and run tokens bound to one space ('run').
CREATE TABLE api_tokens (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('token', 'run')),
  name text NOT NULL DEFAULT '',
  secret_hash bytea NOT NULL UNIQUE,
  scopes jsonb NOT NULL DEFAULT '[]',
  read_only boolean NOT NULL DEFAULT false,
  -- Requests per second; 0: the service's default.
  rate_limit integer NOT NULL DEFAULT 0,
  created timestamptz NOT NULL DEFAULT now(),
  expires timestamptz,
  last_used timestamptz,
  revoked timestamptz
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

-- Session tokens from a password login; a logout deletes them.
CREATE TABLE sessions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  secret_hash bytea NOT NULL UNIQUE,
  read_only boolean NOT NULL DEFAULT false,
  created timestamptz NOT NULL DEFAULT now(),
  last_used timestamptz
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Subjects of external JWTs, mapped onto accounts.
CREATE TABLE external_identities (
  issuer text COLLATE "C" NOT NULL,
  subject text COLLATE "C" NOT NULL,
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  PRIMARY KEY (issuer, subject)
);
