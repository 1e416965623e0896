import { createHash, randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { DanluError } from "../errors.ts";
import { checkName } from "../jobs/paths.ts";

export type Role = "admin" | "user";

export interface User {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  revokedAt: number | null;
}

interface UserRow {
  id: string;
  name: string;
  role: Role;
  created_at: number;
  revoked_at: number | null;
}

/** A token is 256 random bits; only its SHA-256 is stored (a slow hash adds nothing at this entropy). */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function fromRow(row: UserRow): User {
  return { id: row.id, name: row.name, role: row.role, createdAt: row.created_at, revokedAt: row.revoked_at };
}

/** Users and their token hashes, in the data directory's SQLite file (the jobs may share it). */
export class UserStore {
  private readonly db: Database.Database;

  constructor(dbPath: string) {
    this.db = new Database(dbPath);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`CREATE TABLE IF NOT EXISTS users (
      id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER)`);
  }

  /** Creates a user and returns the token, which is shown once and never stored. */
  add(name: string, role: Role): { user: User; token: string } {
    checkName(name, "user name");
    if (this.byName(name)) {
      throw new DanluError(`user '${name}' already exists`, {
        code: "CONFLICT",
        hint: "pick another name, or revoke the old user first (danlu users revoke NAME)",
      });
    }
    const token = `dl_${randomBytes(32).toString("base64url")}`;
    const user: User = {
      id: `u_${randomBytes(8).toString("hex")}`,
      name,
      role,
      createdAt: Date.now(),
      revokedAt: null,
    };
    this.db
      .prepare("INSERT INTO users (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(user.id, name, role, hashToken(token), user.createdAt);
    return { user, token };
  }

  list(): User[] {
    return (this.db.prepare("SELECT * FROM users ORDER BY created_at").all() as UserRow[]).map(fromRow);
  }

  byName(name: string): User | null {
    const row = this.db.prepare("SELECT * FROM users WHERE name = ?").get(name) as UserRow | undefined;
    return row ? fromRow(row) : null;
  }

  byId(id: string): User | null {
    const row = this.db.prepare("SELECT * FROM users WHERE id = ?").get(id) as UserRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** The live (not revoked) user a bearer token belongs to. */
  authenticate(token: string): User | null {
    const row = this.db
      .prepare("SELECT * FROM users WHERE token_hash = ? AND revoked_at IS NULL")
      .get(hashToken(token)) as UserRow | undefined;
    return row ? fromRow(row) : null;
  }

  revoke(name: string): User {
    const user = this.byName(name);
    if (!user)
      throw new DanluError(`no user named '${name}'`, { code: "NOT_FOUND", hint: "danlu users list" });
    this.db.prepare("UPDATE users SET revoked_at = ? WHERE id = ?").run(Date.now(), user.id);
    return { ...user, revokedAt: Date.now() };
  }

  close(): void {
    this.db.close();
  }
}
