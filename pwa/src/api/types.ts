// Names for the backend's schemas, from the client generated from its OpenAPI document
// (src/api/schema.d.ts: `npm run api` regenerates it; CI checks it is current).
import type { components } from "./schema";

type S = components["schemas"];
export type TokenPair = S["TokenPair"];
export type Me = S["MeOut"];
export type PullRequest = S["PullRequest"];
export type PullResponse = S["PullResponse"];
export type PulledTask = S["PulledTask"];
export type PulledRecord = S["PulledRecord"];
export type PulledConflict = S["PulledConflict"];
export type PulledRejection = S["PulledRejection"];
export type CodeTable = S["CodeTableOut"];
export type PushResponse = S["PushResponse"];
export type MutationResult = S["MutationResult"];
export type TaskItem = S["TaskItemOut"];
export type ChecklistPoint = S["ChecklistPointOut"];
export type InspectorRef = S["InspectorRef"];
export type Deadlines = S["DeadlinesOut"];
