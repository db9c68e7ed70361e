import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Workspace } from "../commands/workspace";
import type { AppDb } from "../db/app-db";
import type { Session } from "../session";

export interface AppState {
  appDb: AppDb;
  session: Session;
  ws: Workspace;
  /** Starts a sync now (after a command, or from a button); resolves when it ends. */
  sync: () => Promise<void>;
  syncing: boolean;
  /** Ends the session; `erase` also deletes this user's data (refused while work is pending). */
  signOut: (erase: boolean) => Promise<void>;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const state = useContext(AppContext);
  if (state === null) {
    throw new Error("useApp outside the signed-in app");
  }
  return state;
}
