// The task's state machine (sync/_status.py). The server is authoritative; phones may ask for a few steps.
//
//   assigned → in_progress → submitted → returned ↔ submitted → approved → forwarded → published
//   beside them: held (imported but breaking a rule, waiting for a lead), withdrawn (by the
//   platform), reopened (a correction after forwarding, forwarded again as a new version)
//
// A phone's field edits apply only while the task is EDITABLE; an edit or a transition that
// the current state no longer allows is kept as a late amendment for the lead — neither
// refused nor applied.

export type TaskStatus =
  | "assigned"
  | "in_progress"
  | "submitted"
  | "returned"
  | "approved"
  | "forwarded"
  | "published"
  | "held"
  | "withdrawn"
  | "reopened";

export const ALL: ReadonlySet<string> = new Set<TaskStatus>([
  "assigned",
  "in_progress",
  "submitted",
  "returned",
  "approved",
  "forwarded",
  "published",
  "held",
  "withdrawn",
  "reopened",
]);

export const EDITABLE: ReadonlySet<string> = new Set<TaskStatus>([
  "assigned",
  "in_progress",
  "returned",
  "reopened",
]);

type Transitions = ReadonlyMap<string, ReadonlySet<string>>;

export const SERVER_TRANSITIONS: Transitions = new Map<TaskStatus, ReadonlySet<TaskStatus>>([
  ["held", new Set(["assigned", "withdrawn"])],
  ["assigned", new Set(["in_progress", "withdrawn"])],
  ["in_progress", new Set(["submitted", "withdrawn"])],
  ["submitted", new Set(["returned", "approved", "withdrawn"])],
  ["returned", new Set(["in_progress", "submitted", "withdrawn"])],
  ["approved", new Set(["forwarded", "returned"])],
  ["forwarded", new Set(["published", "reopened"])],
  ["published", new Set(["reopened"])],
  ["reopened", new Set(["submitted"])],
  ["withdrawn", new Set()],
]);

export const CLIENT_TRANSITIONS: Transitions = new Map<TaskStatus, ReadonlySet<TaskStatus>>([
  ["assigned", new Set(["in_progress"])],
  ["in_progress", new Set(["submitted"])],
  ["returned", new Set(["in_progress", "submitted"])],
  ["reopened", new Set(["submitted"])],
]);

export function clientMay(current: string, to: string): boolean {
  return CLIENT_TRANSITIONS.get(current)?.has(to) ?? false;
}

export function serverMay(current: string, to: string): boolean {
  return SERVER_TRANSITIONS.get(current)?.has(to) ?? false;
}
