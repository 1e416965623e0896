import type { Command } from "commander";
import { DataDir } from "../jobs/data-dir.ts";
import { UserStore } from "../server/users.ts";
import { DEFAULT_DATA_DIR } from "./serve.ts";

function openStore(data: string): UserStore {
  return new UserStore(new DataDir(data).ensure().dbPath);
}

/** `danlu users add|list|revoke`: the service's users and their tokens (only hashes are stored). */
export function registerUsers(program: Command): void {
  const users = program.command("users").description("manage the API's users and tokens (danlu serve)");
  users
    .command("add")
    .description("create a user and print their token (shown once: only its hash is kept)")
    .argument("<name>", "user name")
    .option("--admin", "may see every user's jobs and set priorities above 5", false)
    .option("--data <dir>", "the server's data directory", DEFAULT_DATA_DIR)
    .action((name: string, flags: { admin: boolean; data: string }) => {
      const store = openStore(flags.data);
      try {
        const { user, token } = store.add(name, flags.admin ? "admin" : "user");
        process.stderr.write(`user ${user.name} (${user.role}, id ${user.id}); the token, shown once:\n`);
        process.stdout.write(`${token}\n`);
      } finally {
        store.close();
      }
    });
  users
    .command("list")
    .description("every user with role and state")
    .option("--data <dir>", "the server's data directory", DEFAULT_DATA_DIR)
    .option("--json", "print JSON", false)
    .action((flags: { data: string; json: boolean }) => {
      const store = openStore(flags.data);
      try {
        const list = store.list();
        if (flags.json) return void process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        for (const user of list) {
          const state = user.revokedAt ? `revoked ${new Date(user.revokedAt).toISOString()}` : "active";
          process.stdout.write(`${user.name}\t${user.role}\t${user.id}\t${state}\n`);
        }
        if (list.length === 0) process.stderr.write("no users yet: danlu users add NAME\n");
      } finally {
        store.close();
      }
    });
  users
    .command("revoke")
    .description("revoke a user's token (their files stay)")
    .argument("<name>", "user name")
    .option("--data <dir>", "the server's data directory", DEFAULT_DATA_DIR)
    .action((name: string, flags: { data: string }) => {
      const store = openStore(flags.data);
      try {
        store.revoke(name);
        process.stdout.write(`revoked ${name}\n`);
      } finally {
        store.close();
      }
    });
}
