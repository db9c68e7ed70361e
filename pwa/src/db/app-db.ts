// The app's own small database: who has signed in on this phone, with which device id.
// Each user's work lives in a database of its own (db/user-db.ts); this one never holds it.
import Dexie, { type Table } from "dexie";

export interface Account {
  username: string;
  userId: string;
  /** Made once per install and user: the sync protocol's client_id and the session's device. */
  deviceId: string;
  displayName: string;
  role: string;
  accessToken: string | null;
  accessExpiresAt: string | null;
  refreshToken: string | null;
  refreshExpiresAt: string | null;
  signedInAt: string | null;
  /** The 执法证 shown on site (亮证), kept from the last sign-in so it shows offline. */
  credential?: Credential | null;
}

export interface Credential {
  certificateNo: string;
  validFrom: string;
  validUntil: string;
  department: string;
}

export interface Setting {
  key: string;
  value: string;
}

export class AppDb extends Dexie {
  accounts!: Table<Account, string>;
  settings!: Table<Setting, string>;

  constructor(name = "zsjg-app") {
    super(name);
    this.version(1).stores({
      accounts: "username, userId",
      settings: "key",
    });
  }
}
