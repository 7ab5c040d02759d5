// The daemon's HTTP API, same origin. The key travels only in the Authorization header.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public errors: string[] = [],
  ) {
    super(message);
  }
}

export interface Issue {
  path: string;
  message: string;
}

export async function api<T>(key: string, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The daemon cannot be reached: is `ae bridge serve` running?");
  }
  if (response.status === 204) return undefined as T;
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const err = (data as { error?: { message?: string; errors?: string[] } } | null)?.error;
    throw new ApiError(response.status, err?.message ?? `HTTP ${response.status}`, err?.errors ?? []);
  }
  return data as T;
}

export interface Objective {
  id: string;
  description: string;
  kind: string;
  target: string;
  quantity: number;
  optional: boolean;
  /** ids of the objectives that must be completed before this one can progress */
  requires?: string[];
}
export interface DialogueResponse {
  text: string;
  next: string | null;
}
export interface DialogueNode {
  id: string;
  text: string;
  responses: DialogueResponse[];
}
export interface Npc {
  id: string;
  name: string;
  role: string;
  personality_traits: string[];
  dialogue: string[];
  dialogue_tree?: DialogueNode[];
}
export interface ChoicePoint {
  id: string;
  description: string;
  options: string[];
}
export interface Reward {
  kind: string;
  amount: number;
  item?: string | null;
  faction?: string | null;
}
export interface Encounter {
  id: string;
  title: string;
  description: string;
  category: string;
  difficulty: number;
  estimated_duration: number;
  objectives: Objective[];
  npcs: Npc[];
  choices?: ChoicePoint[];
  rewards: Reward[];
  language: string;
  tags: string[];
  [more: string]: unknown;
}

export const OBJECTIVE_KINDS = [
  "eliminate", "collect", "reach", "talk", "escort", "solve", "survive", "avoid_detection", "defend", "deliver",
];
export const REWARD_KINDS = ["experience", "item", "currency", "reputation"];
export const CATEGORIES = ["combat", "puzzle", "social", "exploration", "stealth"];

/**
 * A new id in the SDK's format (`enc_` and 16 hex digits, as `new_id` makes them), from
 * the browser's secure random source. Published text is moderated, and ids of this form
 * are known to be machine-made: random letters (what `Math.random().toString(36)` gave)
 * can spell words a creator never wrote, and moderation refused the encounter for them.
 */
export function newId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${prefix}_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function newEncounter(): Encounter {
  const id = newId("enc");
  return {
    id,
    title: "Untitled encounter",
    description: "",
    category: "exploration",
    difficulty: 0.5,
    estimated_duration: 15,
    objectives: [],
    npcs: [],
    choices: [],
    rewards: [],
    language: "en",
    tags: [],
    schema_version: 3,
  };
}

export interface PreviewState {
  previewId: string;
  status: string;
  objectives: {
    id: string; description: string; quantity: number; progress: number; completed: boolean; optional: boolean;
    waitingFor: string[];
  }[];
  canComplete: boolean;
  log: string[];
}

/** Raw bytes to the daemon (a zip or a Character Card), the answer read as JSON. */
export async function apiUpload<T>(key: string, path: string, data: ArrayBuffer): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/octet-stream" },
      body: data,
    });
  } catch {
    throw new ApiError(0, "The daemon cannot be reached: is `ae bridge serve` running?");
  }
  const answer: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const err = (answer as { error?: { message?: string; errors?: string[] } } | null)?.error;
    throw new ApiError(response.status, err?.message ?? `HTTP ${response.status}`, err?.errors ?? []);
  }
  return answer as T;
}

/** A file from the daemon (the key goes in the header, so no plain link), saved by the
 * browser under `name`. */
export async function apiDownload(key: string, path: string, name: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${key}` } });
  } catch {
    throw new ApiError(0, "The daemon cannot be reached: is `ae bridge serve` running?");
  }
  if (!response.ok) {
    const data: unknown = await response.json().catch(() => null);
    const err = (data as { error?: { message?: string; errors?: string[] } } | null)?.error;
    throw new ApiError(response.status, err?.message ?? `HTTP ${response.status}`, err?.errors ?? []);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
